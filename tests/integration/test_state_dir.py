"""One server per state directory.

- `serve` holds an flock on `<state>/lock` for its whole life: a second `serve` on the same
  directory exits 1 before binding anything, naming the directory and the holder (PID and
  zones directory), and the first keeps serving unchanged.
- The kernel drops the lock with the process: after `kill -9` a new server starts at once.
- The journal records the zones directory it belongs to: a state directory of another zones
  directory is refused (exit 1, both directories named) unless `--adopt-state`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import V4, V6, backend, free_port, make_query, start_server, switchyard_bin
from stablekit import wait_until, zone_text

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the state directory is switchyard's own"),
]

INVENTORY = """clusters:
  orders:
    port: 9092
    pools: [vm, pod]
    brokers:
      0: { vm: 127.0.0.10, pod: 127.0.0.20 }
"""


def zones_for(serial: int) -> dict[str, str]:
    return {"example.test.zone": zone_text("example.test", serial=serial),
            "example.test.yaml": INVENTORY}


def serve_args(state: Path, *extra: str) -> list[str]:
    return ["--state", str(state), "--admin", "none", *extra]


def serve_once(workdir: Path, state: Path, port: int, *extra: str,
               timeout: float = 30.0) -> subprocess.CompletedProcess:
    """`serve` expected to exit by itself (refused); stopped by PID if it does not."""
    cmd = [str(switchyard_bin()), "serve", "--zones", str(workdir / "zones"),
           "--listen", f"{V4}:{port}", "--listen", f"[{V6}]:{port}", "--threads", "1",
           *serve_args(state, *extra)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=workdir)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=5)
        pytest.fail(f"`serve` was not refused within {timeout}s:\n{err}", pytrace=False)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def make_workdir(tmp_path: Path, name: str, serial: int) -> Path:
    workdir = tmp_path / name
    (workdir / "zones").mkdir(parents=True)
    for file, text in zones_for(serial).items():
        (workdir / "zones" / file).write_text(text)
    return workdir


def soa_serial(server) -> int:
    r = server.query("example.test.", "SOA")
    return next(iter(r.answer[0])).serial


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.stop()


def test_a_second_server_on_the_same_state_is_refused(tmp_path, servers):
    state = tmp_path / "state"
    a = make_workdir(tmp_path, "a", 11)
    first = start_server(a, zones_for(11), serve_args(state))
    servers.append(first)
    before = first.query("broker-0.orders.example.test.", "A")
    serial = soa_serial(first)
    lock_text = (state / "lock").read_text()
    assert lock_text.startswith(f"pid {first.pid}\n"), lock_text

    # Same state, on the first one's own port even: nothing may be bound, nothing changed.
    b = make_workdir(tmp_path, "b", 22)
    r = serve_once(b, state, first.port)
    assert r.returncode == 1, r.stderr
    zones_a = os.path.realpath(a / "zones")
    assert f"{os.path.realpath(state)}: the state directory is in use by another switchyard serve " \
           f"(pid {first.pid}, zones {zones_a})" in r.stderr, r.stderr
    assert "serving" not in r.stderr, f"the refused server got as far as serving:\n{r.stderr}"

    assert first.alive(), first.describe()
    for _ in range(20):
        after = first.query("broker-0.orders.example.test.", "A")
        assert after.answer == before.answer
        assert soa_serial(first) == serial
    assert (state / "lock").read_text() == lock_text


def test_after_kill_9_a_new_server_starts(tmp_path, servers):
    state = tmp_path / "state"
    a = make_workdir(tmp_path, "a", 11)
    first = start_server(a, zones_for(11), serve_args(state))
    servers.append(first)
    first.signal(signal.SIGKILL)
    first.proc.wait(timeout=5)
    assert (state / "lock").exists()  # the file stays; the lock went with the process

    second = start_server(a, zones_for(11), serve_args(state))
    servers.append(second)
    assert soa_serial(second) >= 11
    assert (state / "lock").read_text().startswith(f"pid {second.pid}\n")


def test_a_state_of_another_zones_directory_needs_adopt_state(tmp_path, servers):
    state = tmp_path / "state"
    a = make_workdir(tmp_path, "a", 11)
    first = start_server(a, zones_for(11), serve_args(state))
    servers.append(first)
    assert first.stop() == 0

    b = make_workdir(tmp_path, "b", 22)
    r = serve_once(b, state, free_port())
    assert r.returncode == 1, r.stderr
    zones_a, zones_b = os.path.realpath(a / "zones"), os.path.realpath(b / "zones")
    assert f"{os.path.realpath(state)}: this state directory belongs to the zones directory {zones_a}, " \
           f"not {zones_b}" in r.stderr, r.stderr
    assert "--adopt-state" in r.stderr

    adopted = start_server(b, zones_for(22), serve_args(state, "--adopt-state"))
    servers.append(adopted)
    # Poll rather than read once: one CI run found the log still empty at this point.
    assert wait_until(lambda: "state directory adopted" in adopted.stderr_text(), 5) is not None, \
        adopted.stderr_text()
    assert soa_serial(adopted) >= 22
    assert adopted.stop() == 0

    # Now it is b's: b starts without the flag, a is the one refused.
    again = start_server(b, zones_for(22), serve_args(state))
    servers.append(again)
    assert again.stop() == 0
    r = serve_once(a, state, free_port())
    assert r.returncode == 1 and f"belongs to the zones directory {zones_b}, not {zones_a}" in r.stderr, r.stderr
