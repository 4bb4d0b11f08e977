"""Starting on a state directory that cannot be written (a read-only file system).

A disk the kernel remounted read-only after an error stays so until e2fsck; DNS must not wait
for that. `serve` on such a directory, when it holds a journal, serves the journal's latest
generation read-only:

- the same answers as a normal start (the last shift included), over dig;
- every change refused with 503 (CLI: exit 1) naming the directory and EROFS; /healthz
  `degraded` with `journal_writable: false`; `switchyard_journal_writable 0`; a SIGHUP of
  unchanged files still works;
- no second server can claim the directory meanwhile;
- once the file system is read-write again the server takes the lock and reopens the journal
  read-write by itself: the next shift succeeds without a restart, as the next generation.

A read-only directory without a journal has nothing to serve: `serve` exits 1 as before.

Needs root (a tmpfs remounted read-only); skipped otherwise.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import V4, backend, free_port, start_server, switchyard_bin
from cutoverkit import Admin
from stablekit import ONE_BROKER_INVENTORY, wait_until, zone_text

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the state directory is switchyard's own"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs"),
]

INVENTORY = ONE_BROKER_INVENTORY
ZONES = {"example.test.zone": zone_text("example.test", serial=2024010101), "example.test.yaml": INVENTORY}
BROKER = "broker-1.orders.example.test."


class StateMount:
    """A tmpfs for the state directory; `close()` remounts it read-write and unmounts it
    (lazily if something still holds it), whatever failed before."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(path)], check=True)
        self.mounted = True

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True, text=True)

    def close(self) -> None:
        if not self.mounted:
            return
        subprocess.run(["mount", "-o", "remount,rw", str(self.path)], capture_output=True)
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        self.mounted = False


@pytest.fixture
def state_mount(tmp_path):
    mount = StateMount(tmp_path / "state-fs")
    yield mount
    mount.close()


@pytest.fixture
def servers():
    """Every server started here, stopped by PID at teardown (before the mount goes)."""
    started = []
    yield started
    for server in started:
        server.stop()


def serve(workdir: Path, state: Path, admin_port: int, servers: list):
    server = start_server(workdir, ZONES, ["--state", str(state), "--admin", f"{V4}:{admin_port}"])
    servers.append(server)
    return server


def dig(server, name: str, qtype: str = "A") -> list[str]:
    r = subprocess.run(["dig", f"@{V4}", "-p", str(server.port), "+short", "+norecurse", "+time=2", "+tries=2", name, qtype],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.split())


def admin_for(state: Path, port: int) -> Admin:
    return Admin(port, (state / "admin.token").read_text().strip())


def shift(admin: Admin, pool: str) -> tuple[int, object]:
    return admin.request("POST", "/v1/shift", {"request": {"broker": {"cluster": "orders", "id": 1, "pool": pool}},
                                               "actor": "pytest", "reason": "read-only state test"})


def healthz(port: int) -> dict:
    return Admin(port, "").healthz()


def metric(admin: Admin, name: str) -> float | None:
    return admin.metric(name)


def cli(state: Path, admin_port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(switchyard_bin()), *args, "--admin", f"{V4}:{admin_port}",
                           "--admin-token-file", str(state / "admin.token")],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def serve_refused(workdir: Path, state: Path) -> subprocess.CompletedProcess:
    """A `serve` expected to exit by itself; killed (by PID) if it does not."""
    port = free_port()
    cmd = [str(switchyard_bin()), "serve", "--zones", str(workdir / "zones"), "--listen", f"{V4}:{port}",
           "--threads", "1", "--state", str(state), "--admin", "none"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=5)
        pytest.fail(f"`serve` was not refused within 30s:\n{err}", pytrace=False)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.parametrize("stop", ["sigterm", "kill9"])
def test_a_read_only_state_directory_is_served_and_written_again_once_writable(tmp_path, state_mount, servers, stop):
    """`sigterm`: SQLite folds the WAL into the file on a clean stop and removes it, so the
    journal is read from the file alone. `kill9`: the last commits are in the -wal left behind
    (as after a disk that went read-only under a running server), and must be read from it."""
    state = state_mount.path / "state"
    workdir = tmp_path / "work"
    admin_port = free_port()

    first = serve(workdir, state, admin_port, servers)
    admin = admin_for(state, admin_port)
    assert dig(first, BROKER) == ["127.0.0.11"]
    status, reply = shift(admin, "pod")
    assert status == 200, reply
    shifted = reply["generation"]["number"]
    assert dig(first, BROKER) == ["127.0.0.21"]
    serial = dig(first, "example.test.", "SOA")
    if stop == "sigterm":
        assert first.stop() == 0, first.describe()
        assert not (state / "switchyard.db-wal").exists()
    else:
        first.signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        assert (state / "switchyard.db-wal").stat().st_size > 0

    state_mount.remount("ro")
    second = serve(workdir, state, admin_port, servers)
    # The same answers as a normal start: the shifted broker, the same serial.
    assert dig(second, BROKER) == ["127.0.0.21"]
    assert dig(second, "example.test.", "SOA") == serial
    log = second.stderr_text()
    assert "serving its journal's latest generation read-only" in log and str(state) in log and "EROFS: Read-only file system" in log, log
    assert admin.generation()["number"] == shifted

    # Every change refused, naming the directory and the errno; nothing served changes.
    status, reply = shift(admin, "vm")
    assert status == 503, reply
    text = str(reply)
    assert f"{state}: the state directory cannot be written (EROFS: Read-only file system)" in text, text
    assert "nothing was changed and the last generation keeps serving" in text, text
    r = cli(state, admin_port, "shift", "orders", "broker-1", "--to", "vm")
    assert r.returncode == 1 and "EROFS" in r.stderr + r.stdout and str(state) in r.stderr + r.stdout, (r.returncode, r.stdout, r.stderr)
    assert dig(second, BROKER) == ["127.0.0.21"]
    health = healthz(admin_port)
    assert health["status"] == "degraded" and health["journal_writable"] == "false" and "EROFS" in health["problems"], health
    assert metric(admin, "switchyard_journal_writable") == 0

    # A reload of unchanged files writes nothing, so it works.
    second.signal(signal.SIGHUP)
    assert wait_until(lambda: second.stderr_text().count("serving generation") >= 2, timeout=10), second.stderr_text()
    assert healthz(admin_port)["reload_failures"] == "0"

    # The directory stays this server's: another `serve` is refused as on a writable one.
    other = serve_refused(workdir, state)
    assert other.returncode == 1 and "in use by another switchyard serve" in other.stderr and f"pid {second.pid}" in other.stderr, other.stderr

    # Writable again: the server takes the lock and reopens the journal by itself.
    state_mount.remount("rw")
    assert wait_until(lambda: healthz(admin_port)["journal_writable"] == "true", timeout=10), healthz(admin_port)
    assert wait_until(lambda: "the state directory takes writes again" in second.stderr_text(), timeout=5), second.stderr_text()
    assert healthz(admin_port)["status"] == "ok"
    assert metric(admin, "switchyard_journal_writable") == 1
    status, reply = shift(admin, "vm")
    assert status == 200, reply
    assert reply["generation"]["number"] == shifted + 1
    assert dig(second, BROKER) == ["127.0.0.11"]
    assert (state / "lock").read_text() == f"pid {second.pid}\nzones {workdir / 'zones'}\n"
    other = serve_refused(workdir, state)
    assert other.returncode == 1 and "in use by another switchyard serve" in other.stderr, other.stderr
    assert second.alive() and second.stop() == 0, second.describe()


def test_a_read_only_state_directory_without_a_journal_is_still_refused(tmp_path, state_mount):
    workdir = tmp_path / "work"
    (workdir / "zones").mkdir(parents=True)
    for name, text in ZONES.items():
        (workdir / "zones" / name).write_text(text)
    state = state_mount.path / "state"
    state.mkdir()
    state_mount.remount("ro")
    r = serve_refused(workdir, state)
    assert r.returncode == 1 and f"{state}/lock: cannot lock the state directory (Read-only file system)" in r.stderr, r.stderr
    missing = state_mount.path / "missing"
    r = serve_refused(workdir, missing)
    assert r.returncode == 1 and f"{missing}: cannot lock the state directory (cannot create the state directory" in r.stderr, r.stderr
    assert "read only" in r.stderr.lower().replace("-", " "), r.stderr
