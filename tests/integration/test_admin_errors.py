"""Errors of the admin API: the right status, a message a person can act on, nothing committed.

- A body over the 1 MiB limit gets 413 with a JSON error on every POST route (never a 500),
  whether it announces its length or is sent chunked.
- Malformed JSON says so (with the parser's position); valid JSON of the wrong shape or with a
  value out of range gets 400 naming the field by its JSON path and the allowed range, never a
  Swift type name and never "The given data was not valid JSON".
- Refusals of the control logic (unknown cluster, pool or name; partial weights on a broker
  name) are 400; a second run while one is active is 409; no token is 401.
- After all of them the generation, the SOA serial and the journal are as they were.
"""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from conftest import V4, backend
from cutoverkit import (  # noqa: F401  (fixtures)
    CLUSTER,
    cutover_options,
    deployments,
    orders_zones,
    wait_for_run,
)
from stablekit import wait_until

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="the admin endpoint is switchyard's own")

BROKER_PORT = 19092      # nothing listens: no gate is reached within these tests
LIMIT = 1 << 20
ACTOR = "pytest-admin-errors"
SWIFT_WORDS = ("ShiftRequest", "CutoverOptions", "RollbackBody", "RunBody", "UInt8", "UInt32",
               "Dictionary<", "CodingKeys", "DecodingError", "NIOTooManyBytesError",
               "The given data was not valid JSON")

POST_ROUTES = ["/v1/shift", "/v1/cutover/plan", "/v1/rollback/plan", "/v1/runs",
               f"/v1/runs/{CLUSTER}/pause", f"/v1/runs/{CLUSTER}/resume"]


def shift(request) -> dict:
    return {"request": request, "actor": ACTOR, "reason": "must not be committed"}


def weights(name: str, **pools) -> dict:
    return shift({"weights": {"name": name, "weights": pools}})


# (id, method, path, body (dict, or raw bytes), status, substrings of the error message)
CASES = [
    ("malformed-json", "POST", "/v1/shift", b'{"request": {"broker": {"cluster" 1}}', 400,
     ["not valid JSON", "character"]),
    ("empty-body", "POST", "/v1/shift", b"", 400, ["empty"]),
    ("not-an-object", "POST", "/v1/shift", shift([1]), 400, ["request", "expected an object"]),
    ("unknown-kind", "POST", "/v1/shift", shift({"wights": {}}), 400,
     ["request", "one of the keys broker, weights, ttl"]),
    ("two-kinds", "POST", "/v1/shift",
     shift({"ttl": {"name": "bootstrap.orders"}, "broker": {"cluster": "orders", "id": 1, "pool": "pod"}}),
     400, ["one of the keys broker, weights, ttl"]),
    ("missing-field", "POST", "/v1/shift", shift({"broker": {"cluster": "orders", "id": 1}}), 400,
     ["request.broker.pool", "missing"]),
    ("wrong-type", "POST", "/v1/shift", shift({"broker": {"cluster": "orders", "id": 1, "pool": 3}}),
     400, ["request.broker.pool", "expected a string"]),
    ("missing-actor", "POST", "/v1/shift",
     {"request": {"broker": {"cluster": "orders", "id": 1, "pool": "pod"}}, "reason": "x"}, 400,
     ["actor", "missing"]),
    ("weight-negative", "POST", "/v1/shift", weights("bootstrap.orders", pod=-1), 400,
     ["request.weights.weights.pod", "weight must be a whole number from 0 to 255"]),
    ("weight-300", "POST", "/v1/shift", weights("bootstrap.orders", pod=300), 400,
     ["request.weights.weights.pod", "from 0 to 255", "300"]),
    ("weight-fraction", "POST", "/v1/shift", weights("bootstrap.orders", pod=1.5), 400,
     ["request.weights.weights.pod", "whole number"]),
    ("weight-string", "POST", "/v1/shift", weights("bootstrap.orders", pod="ten"), 400,
     ["request.weights.weights.pod", "expected a number"]),
    ("ttl-too-big", "POST", "/v1/shift", shift({"ttl": {"name": "bootstrap.orders", "ttl": 2**32 - 1}}),
     400, ["request.ttl.ttl", "from 0 to 2147483647"]),
    ("broker-id-negative", "POST", "/v1/shift", shift({"broker": {"cluster": "orders", "id": -1, "pool": "pod"}}),
     400, ["request.broker.id", "must be a whole number from 0 to 2147483647"]),
    ("broker-id-zero-unknown", "POST", "/v1/shift", shift({"broker": {"cluster": "orders", "id": 0, "pool": "pod"}}),
     400, ["cluster orders has no broker 0", "its brokers are 1, 2 and 3"]),
    ("unknown-cluster", "POST", "/v1/shift", shift({"broker": {"cluster": "nope", "id": 1, "pool": "pod"}}),
     400, ["no cluster named nope", "orders"]),
    ("unknown-pool", "POST", "/v1/shift", weights("bootstrap.orders", k8s=10), 400,
     ["no pool k8s", "vm and pod"]),
    ("unknown-broker-pool", "POST", "/v1/shift",
     shift({"broker": {"cluster": "orders", "id": 1, "pool": "k8s"}}), 400, ["no pool k8s"]),
    ("broker-partial-weights", "POST", "/v1/shift", weights("broker-1.orders", vm=50, pod=50), 400,
     ["broker name", "partial weights", "refused"]),
    ("unknown-name", "POST", "/v1/shift", weights("nothing-here", vm=1), 400, ["no stable name nothing-here"]),
    ("plan-ramp-out-of-range", "POST", "/v1/cutover/plan", cutover_options(ramp=(10, 500)), 400,
     ["ramp[1]", "from 1 to 100", "500"]),
    ("plan-batch-zero", "POST", "/v1/cutover/plan", cutover_options(batch=0), 400,
     ["batch", "from 1"]),
    ("plan-negative-ttl", "POST", "/v1/cutover/plan", cutover_options(cutover_ttl=-5), 400,
     ["cutoverTTL", "from 0 to 2147483647"]),
    ("plan-unknown-cluster", "POST", "/v1/cutover/plan", cutover_options(cluster="nope"), 400,
     ["no cluster named nope"]),
    ("plan-missing-pool", "POST", "/v1/cutover/plan", {"cluster": "orders"}, 400, ["toPool", "missing"]),
    # A misspelt optional field must not fall back to its default without a word.
    ("plan-misspelt-field", "POST", "/v1/cutover/plan", {**cutover_options(), "dwelSeconds": 0}, 400,
     ["dwelSeconds: unknown field", "dwellSeconds"]),
    ("shift-misspelt-field", "POST", "/v1/shift", {**shift({"ttl": {"name": "bootstrap.orders"}}), "expectGeneration": 1},
     400, ["expectGeneration: unknown field", "expectedGeneration"]),
    ("rollback-misspelt-field", "POST", "/v1/rollback/plan", {"cluster": "orders", "step": 1}, 400,
     ["step: unknown field", "steps"]),
    ("rollback-steps-negative", "POST", "/v1/rollback/plan", {"cluster": "orders", "steps": -2}, 400,
     ["steps", "from 1"]),
    ("rollback-both", "POST", "/v1/rollback/plan", {"cluster": "orders", "steps": 1, "toGeneration": 1},
     400, ["at most one of run, toGeneration and steps"]),
    ("run-neither", "POST", "/v1/runs", {}, 400, ["one of the keys options", "rollback"]),
    ("run-bad-options", "POST", "/v1/runs", {"options": cutover_options(ramp=(0,))}, 400,
     ["options.ramp[0]", "from 1 to 100"]),
    # A misspelt cluster is named as such (it used to read "no cutover runs", as if runs were lost).
    ("runs-unknown-cluster", "GET", "/v1/runs/nope", None, 404, ["no cluster named nope", "orders"]),
    # A path the API does not serve: JSON like every refusal, naming the endpoints.
    ("unknown-endpoint", "GET", "/v1/stauts", None, 404, ["no endpoint GET /v1/stauts", "GET /v1/status"]),
    ("unknown-endpoint-post", "POST", "/v1/shifts", shift({"ttl": {"name": "bootstrap.orders"}}), 404,
     ["no endpoint POST /v1/shifts", "POST /v1/shift"]),
    ("pause-not-running", "POST", f"/v1/runs/{CLUSTER}/pause", {}, 400, ["no running cutover"]),
    ("history-unknown-cluster", "GET", "/v1/history?cluster=nope", None, 400, ["no cluster named nope"]),
    # These were ignored (50 entries) or answered with an empty list.
    ("history-limit-not-a-number", "GET", "/v1/history?limit=abc", None, 400, ["limit", "from 1", "'abc'"]),
    ("history-limit-negative", "GET", "/v1/history?limit=-5", None, 400, ["limit", "from 1", "'-5'"]),
]


def raw_request(port: int, method: str, path: str, body: bytes | None, token: str | None,
                chunked: bool = False, timeout: float = 60.0) -> tuple[int, object]:
    """One request with a raw body (http.client); (status, parsed JSON or text)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection(V4, port, timeout=timeout)
    try:
        if chunked:
            conn.putrequest(method, path)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            step = 64 * 1024
            try:
                for i in range(0, len(body), step):
                    piece = body[i:i + step]
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass   # the server answered and closed before taking it all: read its answer
        else:
            try:
                conn.request(method, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    text = raw.decode(errors="replace")
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def error_of(reply) -> str:
    assert isinstance(reply, dict) and isinstance(reply.get("error"), str), \
        f"not a JSON error reply: {reply!r}"[:2000]
    return reply["error"]


def assert_plain(message: str) -> None:
    for word in SWIFT_WORDS:
        assert word not in message, f"the error message shows {word!r}: {message}"


def big_body(size: int) -> bytes:
    """Valid JSON of `size` bytes: the size alone is wrong."""
    head = b'{"request": {"ttl": {"name": "bootstrap.orders"}}, "actor": "' + ACTOR.encode() + b'", "reason": "'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.fixture
def deployment(deployments):
    # Inventory TTL 30: a cutover's first wait (the old TTL) keeps a run active for 30 s.
    return deployments(orders_zones(BROKER_PORT, ttl=30))


def journal_view(admin) -> tuple[int, str, list]:
    status, history = admin.request("GET", "/v1/history?limit=200")
    assert status == 200, history
    generation = admin.generation()
    return generation["number"], json.dumps(generation["state"], sort_keys=True), history


def test_errors_table(deployment):
    admin = deployment.admin
    before = journal_view(admin)
    serial = deployment.soa_serial()
    failures = []
    for case_id, method, path, body, want_status, substrings in CASES:
        raw = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        status, reply = raw_request(deployment.admin_port, method, path, raw, admin.token)
        message = reply.get("error", "") if isinstance(reply, dict) else str(reply)
        problems = []
        if status != want_status:
            problems.append(f"HTTP {status}, want {want_status}")
        if not isinstance(reply, dict) or "error" not in reply:
            problems.append("no JSON error")
        problems += [f"no {s!r}" for s in substrings if s not in message]
        problems += [f"shows {w!r}" for w in SWIFT_WORDS if w in message]
        if problems:
            failures.append(f"{case_id}: {', '.join(problems)}: {message[:300]}")
    assert not failures, "\n".join(failures)
    assert journal_view(admin) == before, "a refused request changed the journal"
    assert deployment.soa_serial() == serial


@pytest.mark.parametrize("path", POST_ROUTES)
def test_oversize_body_is_413_on_every_post_route(deployment, path):
    admin = deployment.admin
    before = journal_view(admin)
    size = 50 * LIMIT if path == "/v1/shift" else 2 * LIMIT
    status, reply = raw_request(deployment.admin_port, "POST", path, big_body(size), admin.token)
    assert status == 413, f"POST {path} with {size} bytes: HTTP {status} {str(reply)[:300]}"
    message = error_of(reply)
    assert "too large" in message and str(LIMIT) in message, message
    assert_plain(message)
    # Just under the limit is read (and refused for what it says, not for its size).
    status, reply = raw_request(deployment.admin_port, "POST", path, big_body(LIMIT - 10), admin.token)
    assert status != 413 and status < 500, f"POST {path} with {LIMIT - 10} bytes: HTTP {status} {str(reply)[:300]}"
    assert deployment.server.alive()
    assert journal_view(admin) == before


def test_oversize_chunked_body_is_413(deployment):
    admin = deployment.admin
    before = journal_view(admin)
    status, reply = raw_request(deployment.admin_port, "POST", "/v1/shift", big_body(3 * LIMIT),
                                admin.token, chunked=True)
    assert status == 413, f"chunked 3 MiB: HTTP {status} {str(reply)[:300]}"
    assert "too large" in error_of(reply)
    assert journal_view(admin) == before


@pytest.mark.parametrize("path", ["/v1/shift", "/v1/runs", "/v1/cutover/plan"])
def test_no_token_is_401_before_anything_else(deployment, path):
    status, reply = raw_request(deployment.admin_port, "POST", path, b"{not json", None)
    assert status == 401, f"POST {path} without a token: HTTP {status} {reply}"
    assert "bearer token" in error_of(reply)


def test_second_run_is_409_and_changes_nothing(deployment):
    admin = deployment.admin
    options = cutover_options(cutover_ttl=1, jvm_cache=1, verify_timeout=5)
    start = admin.generation()["number"]
    status, reply = admin.request("POST", "/v1/runs", {"options": options})
    assert status == 202, f"first run: HTTP {status} {reply}"
    # The run lowers the TTLs (one generation), then waits out the old TTL of 30 s.
    assert wait_until(lambda: admin.generation()["number"] == start + 1, timeout=10.0) is not None, \
        f"the run did not lower the TTLs: {admin.run()}"
    run = wait_for_run(admin, lambda r: r["active"] and r["status"] == "running", timeout=5.0)
    assert run is not None, f"the run is not active: {admin.run()}"
    before = journal_view(admin)
    for method, path, body in (("POST", "/v1/runs", {"options": options}),
                               ("POST", "/v1/runs", {"rollback": {"cluster": CLUSTER, "steps": 1}}),
                               ("POST", f"/v1/runs/{CLUSTER}/resume", {})):
        status, reply = admin.request(method, path, body)
        assert status == 409, f"{method} {path} while run {run['id']} is active: HTTP {status} {reply}"
        message = error_of(reply)
        assert f"a run is already active for cluster {CLUSTER}" in message, message
        assert_plain(message)
    assert journal_view(admin) == before, "a refused run changed the journal"
    now = admin.run()
    assert now["id"] == run["id"] and now["active"], f"the first run was disturbed: {now}"
    admin.request("POST", f"/v1/runs/{CLUSTER}/pause", {})
