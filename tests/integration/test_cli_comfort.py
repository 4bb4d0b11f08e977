"""Operator comfort: the CLI finds the admin endpoint through the environment, progress is
stamped and arrives line by line through a pipe, and a clean stop of `serve` logs no error.

- `SWITCHYARD_ADMIN` and `SWITCHYARD_ADMIN_TOKEN_FILE` are used when --admin and
  --admin-token-file are not given; the flags win over them; a wrong token file named by the
  variable fails with a message naming the file and the variable. From the directory `serve`
  ran in, the defaults (127.0.0.1:8053 aside) find state/admin.token without any flag.
- `cutover apply` and `rollback` print progress lines that each start with an ISO 8601 time
  and are flushed one by one, also when stdout is a pipe: the first line arrives long before
  the command ends.
- SIGTERM or SIGINT of `serve` with its admin endpoint (and an idle keep-alive connection to
  it) exits 0 with no error-level log line.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import V4, backend, switchyard_bin
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    FAST,
    POD,
    VM,
    all_in,
    broker_listeners,
    deployments,
    orders_zones,
    served_state_problems,
)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="the admin endpoint is switchyard's own")

BROKER_PORT = 19092
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:?\d\d)( |$)")
ERROR_LINE = re.compile(r"^\S+ (error|critical) ", re.M)


def run_cli(args: list[str], env_extra: dict[str, str], cwd: Path,
            timeout: float = 60.0) -> subprocess.CompletedProcess:
    """The CLI with a clean environment: no SWITCHYARD_* from outside, plus `env_extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_ADMIN")}
    env.update(env_extra)
    return subprocess.run([str(switchyard_bin()), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def show(r: subprocess.CompletedProcess) -> str:
    return f"`{' '.join(r.args[1:])}` exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"


@pytest.fixture
def deployment(deployments):
    return deployments(orders_zones(BROKER_PORT, ttl=2))


# ---------------------------------------------------------------------------------------------
# Environment variables
# ---------------------------------------------------------------------------------------------

def test_status_with_only_the_environment(deployment, tmp_path):
    env = {"SWITCHYARD_ADMIN": f"{V4}:{deployment.admin_port}",
           "SWITCHYARD_ADMIN_TOKEN_FILE": str(deployment.token_file)}
    r = run_cli(["status"], env, cwd=tmp_path)   # no state/ here: only the variables can help
    assert r.returncode == 0, show(r)
    assert "broker-1.orders.example.test." in r.stdout, show(r)
    r = run_cli(["history"], env, cwd=tmp_path)
    assert r.returncode == 0, show(r)


def test_default_token_file_from_the_serve_directory(deployment):
    """serve ran in deployment.workdir with --state state: the CLI's default state/admin.token
    is the same file when run from there."""
    r = run_cli(["status"], {"SWITCHYARD_ADMIN": f"{V4}:{deployment.admin_port}"}, cwd=deployment.workdir)
    assert r.returncode == 0, show(r)


def test_missing_token_file_from_the_environment(deployment, tmp_path):
    missing = tmp_path / "no-such.token"
    r = run_cli(["status"], {"SWITCHYARD_ADMIN": f"{V4}:{deployment.admin_port}",
                             "SWITCHYARD_ADMIN_TOKEN_FILE": str(missing)}, cwd=tmp_path)
    assert r.returncode == 1, show(r)
    assert str(missing) in r.stderr and "SWITCHYARD_ADMIN_TOKEN_FILE" in r.stderr, show(r)
    assert "cannot read the admin token file" in r.stderr, show(r)


def test_wrong_token_from_the_environment(deployment, tmp_path):
    wrong = tmp_path / "wrong.token"
    wrong.write_text("0" * 64 + "\n")
    r = run_cli(["status"], {"SWITCHYARD_ADMIN": f"{V4}:{deployment.admin_port}",
                             "SWITCHYARD_ADMIN_TOKEN_FILE": str(wrong)}, cwd=tmp_path)
    assert r.returncode == 1, show(r)
    assert "refused the token" in r.stderr and str(wrong) in r.stderr, show(r)
    assert "SWITCHYARD_ADMIN_TOKEN_FILE" in r.stderr, show(r)


def test_flags_win_over_the_environment(deployment, tmp_path):
    wrong = tmp_path / "wrong.token"
    wrong.write_text("0" * 64 + "\n")
    bad_env = {"SWITCHYARD_ADMIN": f"{V4}:1", "SWITCHYARD_ADMIN_TOKEN_FILE": str(wrong)}
    r = run_cli(["status", "--admin", f"{V4}:{deployment.admin_port}",
                 "--admin-token-file", str(deployment.token_file)], bad_env, cwd=tmp_path)
    assert r.returncode == 0, show(r)
    # ... and the other way round: a wrong flag beats a good variable.
    good_env = {"SWITCHYARD_ADMIN": f"{V4}:{deployment.admin_port}",
                "SWITCHYARD_ADMIN_TOKEN_FILE": str(deployment.token_file)}
    r = run_cli(["status", "--admin-token-file", str(wrong)], good_env, cwd=tmp_path)
    assert r.returncode == 1 and "--admin-token-file" in r.stderr, show(r)
    r = run_cli(["status", "--admin", f"{V4}:1"], good_env, cwd=tmp_path)
    assert r.returncode == 1 and "cannot reach the admin endpoint" in r.stderr, show(r)


# ---------------------------------------------------------------------------------------------
# Progress through a pipe
# ---------------------------------------------------------------------------------------------

class PipedCli:
    """The CLI with stdout on a pipe, each line recorded with the time it arrived."""

    def __init__(self, args: list[str], env_extra: dict[str, str], cwd: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_ADMIN")}
        env.update(env_extra)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([str(switchyard_bin()), *args], env=env, cwd=cwd,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def finish(self, timeout: float) -> tuple[int, float, str]:
        """(exit code, seconds the command took, stderr)."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            pytest.fail(f"the CLI did not finish in {timeout} s: {self.lines}")
        ended = time.monotonic()
        self.reader.join(timeout=5)
        return code, ended, self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def check_progress(run: PipedCli, what: str) -> None:
    code, ended, err = run.finish(timeout=120)
    lines = run.lines
    assert code == 0, f"{what}: exit {code}\nstdout: {lines}\nstderr: {err}"
    assert lines, f"{what}: no output"
    unstamped = [line for _, line in lines if not STAMP.match(line)]
    assert not unstamped, f"{what}: lines without a timestamp: {unstamped}"
    first = lines[0][0]
    assert ended - first >= 1.0, (
        f"{what}: the first line arrived {ended - first:.2f} s before the end: block-buffered?\n"
        + "\n".join(line for _, line in lines))
    # Progress kept coming while the run went on, not in one burst at the end.
    assert len({round(t - run.started, 1) for t, _ in lines}) >= 2, f"{what}: all lines at once"


def test_apply_and_rollback_progress_is_stamped_and_line_flushed(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    d = deployments(orders_zones(port, ttl=1))
    env = {"SWITCHYARD_ADMIN": f"{V4}:{d.admin_port}", "SWITCHYARD_ADMIN_TOKEN_FILE": str(d.token_file)}
    g0 = d.admin.generation()["number"]
    apply = PipedCli(["cutover", "apply", "orders", "--to", "pod", "--ramp", "50,100", "--batch", "2",
                      *FAST], env, cwd=d.workdir)
    try:
        check_progress(apply, "cutover apply")
    finally:
        apply.stop()
    assert not served_state_problems(d, all_in("pod"))
    rollback = PipedCli(["rollback", "orders", "--to-generation", str(g0), *FAST], env, cwd=d.workdir)
    try:
        check_progress(rollback, "rollback")
    finally:
        rollback.stop()
    assert not served_state_problems(d, all_in("vm"))


# ---------------------------------------------------------------------------------------------
# A clean stop logs no error
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_clean_stop_logs_no_error(deployment, sig):
    # An idle keep-alive connection to the admin endpoint must not spoil the stop either.
    conn = http.client.HTTPConnection(V4, deployment.admin_port, timeout=10)
    try:
        conn.request("GET", "/v1/status", headers={"Authorization": f"Bearer {deployment.admin.token}"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        server = deployment.server
        server.signal(sig)
        try:
            code = server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve did not stop within 10 s of {sig.name}: {server.describe()}")
    finally:
        conn.close()
    log = server.stderr_text() + server.out_path.read_text(errors="replace")
    assert code == 0, f"{sig.name}: exit {code}\n{log[-3000:]}"
    errors = ERROR_LINE.findall(log)
    assert not errors, f"a clean stop logged errors:\n" + "\n".join(
        line for line in log.splitlines() if ERROR_LINE.match(line))
    assert "CancellationError" not in log, log[-3000:]
    assert "stopped" in log, f"no 'stopped' line: {log[-3000:]}"
