"""The admin endpoint's bearer token, and the journal surviving restarts.

- Without a token, or with a wrong one, every endpoint but GET /healthz answers 401 and
  changes nothing (a refused shift leaves the generation, the SOA serial and the answers as
  they were); GET /healthz works without a token.
- On first start the server writes <state>/admin.token with mode 0600 (and an explicit
  --admin-token-file likewise); a restart keeps the same token.
- A shift is journaled before it is served: after a restart (graceful or kill -9) the shifted
  answer is still served and the SOA serial did not go backwards.
"""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from conftest import backend
from stablekit import wait_until
from cutoverkit import (  # noqa: F401  (fixtures)
    POD,
    VM,
    broker_name,
    deployments,
    orders_zones,
    read_token,
    serial_after,
)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="the admin endpoint is switchyard's own")

BROKER_PORT = 19092   # no gates run here: nothing connects to it
SHIFT = {"request": {"broker": {"cluster": "orders", "id": 1, "pool": "pod"}},
         "actor": "pytest", "reason": "must not happen"}
WRONG_TOKENS = [
    pytest.param(None, id="missing"),
    pytest.param("0" * 64, id="wrong"),
    pytest.param("", id="empty"),
]


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def deployment(deployments):
    return deployments(orders_zones(BROKER_PORT, ttl=2))


def test_token_file_created_0600_and_kept(deployment):
    token_path = deployment.state_dir / "admin.token"
    assert token_path.is_file(), f"no {token_path} after first start: {deployment.server.describe()}"
    assert mode_of(token_path) == 0o600, f"{token_path} has mode {oct(mode_of(token_path))}"
    token = read_token(token_path)
    assert len(token) >= 16, f"token too short: {token!r}"
    status, _ = deployment.admin.request("GET", "/v1/status")
    assert status == 200
    deployment.stop()
    deployment.start()
    assert read_token(token_path) == token, "a restart replaced the existing token"
    assert mode_of(token_path) == 0o600


def test_explicit_token_file_created_0600(deployments, tmp_path):
    path = tmp_path / "secrets" / "admin.token"
    d = deployments(orders_zones(BROKER_PORT), token_file=path)
    assert path.is_file(), f"--admin-token-file {path} was not created: {d.server.describe()}"
    assert mode_of(path) == 0o600, f"{path} has mode {oct(mode_of(path))}"
    assert not (d.state_dir / "admin.token").exists(), "wrote the default token file anyway"
    status, _ = d.admin.request("GET", "/v1/status")
    assert status == 200


def test_healthz_without_token(deployment):
    status, body = deployment.admin.request("GET", "/healthz", token=None)
    assert status == 200, body
    assert isinstance(body, dict) and body.get("status") == "ok", body


@pytest.mark.parametrize("token", WRONG_TOKENS)
@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/status"),
    ("GET", "/metrics"),
    ("GET", "/v1/history"),
    ("GET", "/v1/runs/orders"),
    ("POST", "/v1/cutover/plan"),
])
def test_read_endpoints_need_the_token(deployment, method, path, token):
    body = {"cluster": "orders", "toPool": "pod"} if method == "POST" else None
    status, reply = deployment.admin.request(method, path, body, token=token)
    assert status == 401, f"{method} {path} with token {token!r}: HTTP {status} {reply}"
    # The good token still works.
    if path in ("/v1/status", "/metrics", "/v1/history"):
        status, reply = deployment.admin.request(method, path)
        assert status == 200, f"{method} {path} with the right token: HTTP {status} {reply}"


@pytest.mark.parametrize("token", WRONG_TOKENS)
def test_refused_shift_changes_nothing(deployment, token):
    admin = deployment.admin
    before = admin.generation()
    serial = deployment.soa_serial()
    status, reply = admin.request("POST", "/v1/shift", SHIFT, token=token)
    assert status == 401, f"POST /v1/shift with token {token!r}: HTTP {status} {reply}"
    # A wrong token that differs only in its last character, and one with extra text.
    real = admin.token
    for near in (real[:-1] + ("0" if real[-1] != "0" else "1"), real + "x", real.upper()
                 if real.upper() != real else real + "X"):
        status, reply = admin.request("POST", "/v1/shift", SHIFT, token=near)
        assert status == 401, f"POST /v1/shift with a near-miss token: HTTP {status} {reply}"
    # Raw header variants: not a bearer token.
    for header in (f"Basic {real}", real, f"bearer{real}"):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", deployment.admin_port, timeout=10)
        try:
            conn.request("POST", "/v1/shift", body=json.dumps(SHIFT).encode(),
                         headers={"Authorization": header, "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        assert resp.status == 401, f"Authorization: {header[:12]}...: HTTP {resp.status}"
        assert resp.getheader("WWW-Authenticate", "").startswith("Bearer"), "a 401 names the Bearer scheme (RFC 6750)"
    after = admin.generation()
    assert after["number"] == before["number"], f"generation moved: {before['number']} -> {after['number']}"
    assert after["state"] == before["state"]
    assert deployment.soa_serial() == serial, "the SOA serial moved after refused shifts"
    assert deployment.ask(broker_name(1)) == (0, frozenset([VM[1]])), "broker-1 moved"
    status, history = admin.request("GET", "/v1/history?limit=50")
    assert status == 200
    assert all(e["generation"]["actor"] != "pytest" for e in history), f"a refused shift is in the journal: {history}"
    # Runs cannot be started, paused or resumed without the token either.
    options = {"cluster": "orders", "toPool": "pod", "ramp": [100], "batch": 1, "cutoverTTL": 1,
               "jvmCacheSeconds": 1, "resolverFloorSeconds": 0, "dwellSeconds": 0,
               "gateCommands": [], "invalidationHooks": [], "verifyTimeoutSeconds": 5}
    for method, path, body in (("POST", "/v1/runs", {"options": options}),
                               ("POST", "/v1/runs", {"rollback": {"cluster": "orders", "steps": 1}}),
                               ("POST", "/v1/rollback/plan", {"cluster": "orders", "steps": 1}),
                               ("POST", "/v1/runs/orders/pause", {}),
                               ("POST", "/v1/runs/orders/resume", {})):
        status, reply = admin.request(method, path, body, token=token)
        assert status == 401, f"{method} {path} with token {token!r}: HTTP {status} {reply}"
    assert admin.run() is None, "a run was started without the token"
    assert admin.generation()["number"] == before["number"]
    # ... and the same shift with the right token does happen.
    reply = admin.shift_broker(1, "pod")
    assert reply["generation"]["number"] == before["number"] + 1
    assert deployment.ask(broker_name(1)) == (0, frozenset([POD[1]]))


def test_metrics_with_token(deployment):
    """Workers fold their query counts in about once a second: poll for a few seconds while
    asking, then the counter of broker-2 (pool vm, NOERROR) must be there."""
    want = re.compile(r'switchyard_queries_total\{[^}]*name="broker-2\.orders\.example\.test\."'
                      r'[^}]*\} [1-9]')
    text = ""

    def counted() -> bool:
        nonlocal text
        deployment.ask(broker_name(2))
        status, text = deployment.admin.request("GET", "/metrics")
        assert status == 200, text
        return isinstance(text, str) and bool(want.search(text))

    took = wait_until(counted, timeout=4.0, step=0.2)
    assert took is not None, f"no switchyard_queries_total for broker-2 after 4 s:\n{text[:2000]}"
    line = next(l for l in text.splitlines() if want.search(l))
    for label in ('zone="example.test."', 'pool="vm"', 'rcode="NOERROR"'):
        assert label in line, f"{label} missing from {line}"
    for metric in ("switchyard_generation", "switchyard_zone_serial", "switchyard_target_up",
                   "switchyard_hook_failures_total"):
        if metric == "switchyard_target_up":
            continue  # only for health-checked targets; this inventory has none
        assert metric in text, f"{metric} missing from /metrics:\n{text[:2000]}"
    assert re.search(r"^switchyard_generation 1(\.0)?$", text, re.M), text[:2000]


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_shift_survives_restart(deployment, how):
    admin = deployment.admin
    serial0 = deployment.soa_serial()
    reply = admin.shift_broker(2, "pod")
    number = reply["generation"]["number"]
    serial1 = deployment.soa_serial()
    assert serial1 == (serial0 + 1) & 0xFFFFFFFF, f"one generation moved the serial {serial0} -> {serial1}"
    assert deployment.ask(broker_name(2)) == (0, frozenset([POD[2]]))
    if how == "kill9":
        deployment.crash()
    else:
        deployment.stop()   # its exit status is test_sigterm_with_admin_exits_0's business
    deployment.start()
    assert deployment.ask(broker_name(2)) == (0, frozenset([POD[2]])), (
        f"broker-2 lost its shift across a restart ({how}): {deployment.server.describe()}")
    assert deployment.ask(broker_name(1)) == (0, frozenset([VM[1]]))
    serial2 = deployment.soa_serial()
    assert serial2 == serial1 or serial_after(serial2, serial1), (
        f"SOA serial went backwards across a restart: {serial1} -> {serial2}")
    generation = deployment.admin.generation()
    assert generation["number"] >= number, f"generation went backwards: {number} -> {generation['number']}"
    assert generation["state"]["brokerPools"][broker_name(2)] == "pod"
    # A further change after the restart moves the serial forward again.
    deployment.admin.shift_broker(2, "vm")
    serial3 = deployment.soa_serial()
    assert serial_after(serial3, serial2), f"serial {serial2} -> {serial3} after a shift"
    assert deployment.ask(broker_name(2)) == (0, frozenset([VM[2]]))


def test_sigterm_with_admin_exits_0(deployment):
    """SIGTERM stops the server cleanly (exit 0) also when the admin endpoint runs, as it does
    without one (test_reload.py)."""
    code = deployment.stop()
    assert code == 0, f"SIGTERM with --admin: exit {code} (negative: killed by that signal)\n" \
                      f"{deployment.server.describe()}"


def test_shift_survives_reload(deployment):
    """SIGHUP reloads zones and inventory; the journal's generation keeps serving."""
    import signal as _signal
    from stablekit import wait_until as _wait
    deployment.admin.shift_broker(3, "pod")
    number = deployment.admin.generation()["number"]
    serial = deployment.soa_serial()
    deployment.server.signal(_signal.SIGHUP)
    assert _wait(lambda: "reloaded" in deployment.server.stderr_text(), timeout=10.0) is not None, \
        f"no reload logged after SIGHUP: {deployment.server.describe()}"
    for _ in range(20):
        assert deployment.ask(broker_name(3)) == (0, frozenset([POD[3]])), \
            f"broker-3 lost its shift on SIGHUP: {deployment.server.describe()}"
    assert deployment.admin.generation()["number"] == number
    after = deployment.soa_serial()
    assert after == serial or serial_after(after, serial), f"serial {serial} -> {after} on reload"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer  "])
def test_the_scheme_is_case_insensitive(deployment, scheme):
    # RFC 9110 section 11.1: "bearer", "BEARER" and extra spaces before the token are all
    # the Bearer scheme; the token itself is still compared exactly.
    import http.client
    real = deployment.admin.token
    for token, want in ((real, 200), (real.swapcase() if real.swapcase() != real else real + "x", 401)):
        conn = http.client.HTTPConnection("127.0.0.1", deployment.admin_port, timeout=10)
        try:
            conn.request("GET", "/v1/status", headers={"Authorization": f"{scheme} {token}"})
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        assert resp.status == want, f"Authorization: {scheme} <token>: HTTP {resp.status}, want {want}"
