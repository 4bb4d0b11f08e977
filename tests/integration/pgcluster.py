"""A private PostgreSQL cluster for the fleet tests: `initdb` in a temporary directory, run as
an unprivileged user (`postgres` when the tests run as root), listening on 127.0.0.1 only at a
free port, with its socket in its own directory. Stopped by its postmaster PID at teardown.

Nothing here touches the machine's own clusters (Debian's `main` on 5432, if any).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import free_port

USER = "switchyard"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def available() -> bool:
    return _bin_dir() is not None


class Cluster:
    def __init__(self) -> None:
        bindir = _bin_dir()
        assert bindir is not None, "PostgreSQL server binaries not installed (apt-get install postgresql)"
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="switchyard-pg-"))
        self.data = self.dir / "data"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the Debian package's `postgres` user does it.
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8")
        self._make_certificate()
        self.start()

    def _make_certificate(self) -> None:
        """A self-signed certificate, so clients may ask for TLS (`sslmode=require`); plain
        connections stay allowed."""
        key, cert = self.dir / "server.key", self.dir / "server.crt"
        r = subprocess.run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1",
                            "-newkey", "rsa:2048", "-keyout", str(key), "-out", str(cert)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        os.chmod(key, 0o600)
        if self.run_as:
            owner = pwd.getpwnam("postgres")
            for f in (key, cert):
                os.chown(f, owner.pw_uid, owner.pw_gid)

    def _run(self, tool: str, *args: str) -> str:
        r = subprocess.run(self.run_as + [str(self.bindir / tool), *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{tool} {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                   "-c max_connections=100 -c log_min_messages=warning "
                   f"-c ssl=on -c ssl_cert_file={self.dir}/server.crt -c ssl_key_file={self.dir}/server.key")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stops the postmaster; `immediate` is the abrupt kind (no checkpoint)."""
        pid = self.pid()
        if pid is None:
            return
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        r = subprocess.run([str(self.bindir / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", USER, "-d", database, "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        assert r.returncode == 0, f"psql {sql!r} failed:\n{r.stderr}"
        return r.stdout.strip()

    def new_database(self, name: str) -> str:
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        pid = self.pid()
        try:
            self.stop("immediate")
        except AssertionError:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.5)
        shutil.rmtree(self.dir, ignore_errors=True)
