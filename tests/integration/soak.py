#!/usr/bin/env python3
"""Faults under load (issue 13, part 4): one `switchyard serve` answering continuous UDP and TCP
queries while cutovers and rollbacks loop and faults are injected, one kind after another:

- SIGHUP reloads with a good zone file, and with a bad zone file or inventory (then fixed);
- the admin API flooded with bad requests (malformed JSON, 2 MiB bodies, wrong or no token,
  unknown paths and methods, bytes that are not HTTP) while a cutover runs;
- the state directory (its own small file system: a 32 MiB ext4 on a loop device, or a tmpfs
  where loop devices are missing) filled to ENOSPC, then freed; also in the middle of a cutover;
- the discovery directory (a tmpfs) remounted read-only, then read-write;
- kill -9 in the middle of a cutover, restart, resume;
- the state directory read-only. `mount -o remount,ro` is refused by the kernel (EBUSY) while
  the server holds its journal open for writing; on ext4 (`errors=remount-ro`) an injected
  error (`/sys/fs/ext4/<dev>/trigger_fs_error`) makes the kernel remount it read-only under the
  running server, as a failing disk does. Changes must be refused (503, EROFS), DNS keep
  answering; a clean stop, then `serve` on the read-only directory serves its journal read-only
  (DNS up, changes refused with EROFS), then stop, e2fsck, mount, start. On a tmpfs it is made
  read-only across a kill -9 instead, and made read-write again under the read-only server,
  which must take writes again without a restart.

Throughout, every answer for a stable name is checked against the targets the inventory gives
it on either side of the cutover: never a wrong address, an empty answer, NXDOMAIN or SERVFAIL.
A query that gets no answer while the server is down (killed, restarting) counts as "server
down", apart from one unanswered while it is up. Every generation the admin API acknowledged
must still be in the journal, unchanged, after every restart and fault. Faults must show in
/healthz and /metrics, and clear once the fault is gone.

Run `python3 tests/integration/soak.py --seconds 600` as root (it mounts file systems), or
`make soak`. `test_soak.py` runs one pass of every fault and a little more. Only loopback
addresses are used; every process started is stopped by its PID and every file system is
unmounted (the loop device goes with it), also on failure.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import make_query  # noqa: E402
from cutoverkit import CLUSTER, ORIGIN, POD, VM, bootstrap_name, serial_after, soa_serial_of  # noqa: E402
from soakkit import (  # noqa: E402
    FAST, DownWatch, Ext4Image, Flooder, Ledger, Querier, SoakFailure, SoakServer, Tmpfs, check, cutover_options,
    fill, inventory_text, log, running_now, soak_main, udp_query)
from stablekit import TcpListener, common_free_port, zone_text  # noqa: E402

# The WAL alone grows to ~4 MB (SQLite checkpoints at 1000 pages) before the database file
# takes its pages: room for both, so only the filler fills it.
STATE_TMPFS_SIZE = "32m"
STATE_EXT4_MB = 32
DISCOVERY_TMPFS_SIZE = "1m"


# ---------------------------------------------------------------------------------------------
# The soak
# ---------------------------------------------------------------------------------------------

@dataclass
class Figures:
    started: float = field(default_factory=time.monotonic)
    faults: Counter = field(default_factory=Counter)
    recoveries: Counter = field(default_factory=Counter)
    cutover_runs: int = 0
    rollback_runs: int = 0
    shifts_refused: int = 0
    flood_requests: Counter = field(default_factory=Counter)
    read_only_starts: int = 0      # `serve` on a read-only state directory, serving it read-only
    accepted_while_full: int = 0   # commits that fitted in the WAL's existing pages
    kill_states: Counter = field(default_factory=Counter)   # run status found after each kill -9
    notes: list = field(default_factory=list)


class Soak:
    def __init__(self, workdir: Path, seconds: float, seed: int = 13):
        self.workdir = workdir
        self.seconds = seconds
        self.rng = random.Random(seed)
        # The state directory is on ext4 where loop devices work (the kernel can then be made to
        # remount it read-only under the running server), else on a tmpfs.
        if Ext4Image.available():
            self.state_fs = Ext4Image(workdir / "state-fs", workdir / "state.ext4", STATE_EXT4_MB)
        else:
            self.state_fs = Tmpfs(workdir / "state-fs", STATE_TMPFS_SIZE)
        self.discovery_fs = Tmpfs(workdir / "discovery-fs", DISCOVERY_TMPFS_SIZE)
        self.server = SoakServer(workdir, self.state_fs.path / "state", self.discovery_fs.path / "discovery")
        self.watch = DownWatch()
        self.ledger = Ledger()
        self.figures = Figures()
        self.listeners: list[TcpListener] = []
        self.queriers: list[Querier] = []
        self.serial = 2024010101
        self.zookeeper_round = 0

    # -- setup and teardown ------------------------------------------------------------------

    def setup(self) -> None:
        hosts = list(VM.values()) + list(POD.values())
        self.broker_port = common_free_port(hosts)
        self.listeners = [TcpListener(h, self.broker_port).open() for h in hosts]
        self.state_fs.mount()
        self.discovery_fs.mount()
        self.server.zones_dir.mkdir(parents=True, exist_ok=True)
        self.write_zone()
        self.write_inventory()
        self.server.start()
        self.ledger.verify(self.server, "at start")
        self.queriers = [Querier(self.server.port, False, self.watch, rate=300),
                         Querier(self.server.port, True, self.watch, rate=100)]
        for q in self.queriers:
            q.start()

    def teardown(self) -> None:
        """Idempotent; the mounts go last and always, whatever failed before them."""
        try:
            for q in self.queriers:
                q.stop()
            self.server.stop()
            for listener in self.listeners:
                listener.close()
        finally:
            try:
                self.discovery_fs.unmount()
            finally:
                self.state_fs.unmount()

    def write_zone(self, broken: bool = False) -> None:
        extra = ["www IN A 192.0.2.10"]
        if broken:
            extra.append("broken IN A 999.1.2.3")
        (self.server.zones_dir / "example.test.zone").write_text(zone_text("example.test", extra, serial=self.serial))

    def write_inventory(self, broken: bool = False) -> None:
        text = inventory_text(self.broker_port, f"zk-{self.zookeeper_round}.example.test:2181/orders")
        if broken:
            text += "names:\n  registry:\n    policy: weighted\n    pools:\n      vm: { weight: 300, targets: [127.0.0.31] }\n"
        (self.server.zones_dir / "example.test.yaml").write_text(text)

    # -- helpers ------------------------------------------------------------------------------

    def alive(self, when: str) -> None:
        check(self.server.alive(), f"server died {when} (exit {self.server.proc.returncode}):\n{self.server.stderr_tail()}")

    def generation(self) -> int:
        return int(self.server.admin.generation()["number"])

    def wait(self, predicate, timeout: float, what: str, step: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive(f"while waiting for {what}")
            if predicate():
                return
            time.sleep(step)
        raise SoakFailure(f"timed out after {timeout}s waiting for {what}")

    def shift_body(self, pod_weight: int) -> dict:
        return {"request": {"weights": {"name": f"bootstrap.{CLUSTER}", "weights": {"vm": 100 - pod_weight, "pod": pod_weight}}},
                "actor": "soak", "reason": "soak shift"}

    def shift(self, expect_ok: bool = True) -> tuple[int, object]:
        """Moves bootstrap's weights a little, always to other weights than the live ones, so
        every shift is a change (a new generation, or a refusal)."""
        live = self.server.admin.generation()["state"]["weights"].get(bootstrap_name(), {}).get("pod", 0)
        pod = self.rng.choice([w for w in range(0, 6) if w != live])
        status, reply = self.server.admin.request("POST", "/v1/shift", self.shift_body(pod))
        if status == 200 and isinstance(reply, dict) and reply.get("changed", True):
            self.ledger.acknowledge(int(reply["generation"]["number"]))
        if expect_ok:
            check(status == 200, f"shift -> {status}: {reply}")
        return status, reply

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        r = self.server.cli(*args)
        check(r.returncode == 0, f"`switchyard {' '.join(args)}` exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def acknowledge_run(self) -> None:
        run = self.server.admin.run()
        gens = (run or {}).get("progress", {}).get("generations") or {}
        if isinstance(gens, list):
            gens = dict(zip(gens[0::2], gens[1::2]))
        for number in gens.values():
            self.ledger.acknowledge(int(number))

    # -- faults -------------------------------------------------------------------------------

    def cutover_and_rollback(self, flood: bool) -> None:
        """A whole cutover to pod and its rollback, through the CLI; with `flood`, the admin
        API is flooded with bad requests all the while."""
        flooder = Flooder(self.server, self.figures.flood_requests) if flood else None
        if flooder:
            flooder.start()
            self.figures.faults["admin flood"] += 1
        try:
            self.run_cli("cutover", "apply", CLUSTER, "--to", "pod", "--ramp", "50,100", "--batch", "2", *FAST)
            self.figures.cutover_runs += 1
            self.acknowledge_run()
            self.run_cli("rollback", CLUSTER, "--ramp", "100", "--batch", "3", *FAST)
            self.figures.rollback_runs += 1
            self.acknowledge_run()
        finally:
            if flooder:
                flooder.stop()
        self.alive("after a cutover and rollback")
        if flooder:
            check(flooder.unexpected == Counter(), f"admin flood: unexpected replies {flooder.unexpected}")
            health = self.server.healthz()
            check(health["status"] == "ok", f"/healthz after the flood: {health}")
            self.figures.recoveries["admin flood"] += 1
        self.ledger.verify(self.server, "after a cutover and rollback")

    def soa_serial(self) -> int:
        data = udp_query(self.server.port, make_query(ORIGIN, "SOA").to_wire())
        serial = soa_serial_of(data) if data is not None else None
        check(serial is not None, "no SOA answer")
        return serial

    def reload_good(self) -> None:
        """A zone file with a new serial: the reload is served with a serial after every one
        served so far (a new generation), and /healthz reports no reload problem."""
        before = self.server.healthz()
        served = self.soa_serial()
        self.serial += 1
        self.write_zone()
        self.server.sighup()
        self.figures.faults["SIGHUP good"] += 1
        self.wait(lambda: serial_after(self.soa_serial(), served), 15, "the reloaded zone's new serial")
        after = self.server.healthz()
        check(after["reload_failures"] == before["reload_failures"], f"a good reload counted as failed: {after}")
        check("reload" not in after["problems"], f"/healthz after a good reload: {after}")
        self.figures.recoveries["SIGHUP good"] += 1

    def reload_bad(self) -> None:
        kind = self.rng.choice(["zone", "inventory"])
        failures = int(self.server.healthz()["reload_failures"])
        generation = self.generation()
        if kind == "zone":
            self.serial += 1
            self.write_zone(broken=True)
        else:
            self.write_inventory(broken=True)
        self.server.sighup()
        self.figures.faults[f"SIGHUP bad {kind}"] += 1
        self.wait(lambda: int(self.server.healthz()["reload_failures"]) > failures, 15, "the bad reload to be reported")
        health = self.server.healthz()
        check(health["status"] == "degraded" and "last reload rejected" in health["problems"]
              and "example.test" in health["problems"], f"/healthz after a bad reload: {health}")
        check(self.server.metric("switchyard_reload_ok") == 0, "switchyard_reload_ok is not 0 after a bad reload")
        check(self.generation() == generation, "a bad reload changed the generation")
        time.sleep(1)  # answers keep being checked meanwhile
        self.serial += 1
        self.write_zone()
        self.write_inventory()
        self.server.sighup()
        self.wait(lambda: "reload" not in self.server.healthz()["problems"], 15, "the fixed reload to clear /healthz")
        check(self.server.metric("switchyard_reload_ok") == 1, "switchyard_reload_ok is not 1 after the fix")
        self.figures.recoveries[f"SIGHUP bad {kind}"] += 1

    def truncate_wal(self) -> None:
        """Checkpoints the journal and truncates its WAL (what SQLite itself does, from a
        second connection), so the next commit needs new blocks: without it, commits keep
        fitting in the WAL's old pages for hundreds of changes after the disk is full."""
        con = sqlite3.connect(str(self.server.state_dir / "switchyard.db"), timeout=10)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            con.close()

    def disk_full_mid_cutover(self) -> None:
        """The state directory fills up while a cutover runs: the step that cannot be
        journaled stops the run (nothing half-applied is served), and once there is space
        again `cutover resume` finishes it."""
        status, reply = self.server.admin.request("POST", "/v1/runs", {"options": cutover_options(ramp=(25, 50, 100), batch=1)})
        check(status == 202, f"start cutover -> {status}: {reply}")
        self.figures.cutover_runs += 1
        self.wait(lambda: bool(((self.server.admin.run() or {}).get("progress") or {}).get("generations")), 60,
                  "the cutover's first step", step=0.02)
        self.truncate_wal()
        filler, _size = fill(self.state_fs.path)
        self.figures.faults["state dir full mid-cutover (ENOSPC)"] += 1
        try:
            self.wait(lambda: not running_now(self.server), 60, "the run to stop on the full disk")
            run = self.server.admin.run()
            self.figures.notes.append(f"run on a full disk: {run['progress']['status']}: {run['progress'].get('message', '')[:200]}")
            # The journal could not take the run's end; status still tells it, with the reason.
            check(run["status"] == "failed" and run["progress"]["status"] == "failed", f"the stopped run's status: {run}")
            check("ENOSPC" in run["progress"].get("message", ""), f"the stopped run does not say why: {run['progress'].get('message')}")
            self.acknowledge_run()
        finally:
            filler.unlink()
        self.wait(lambda: self.server.healthz()["journal_writable"] == "true", 10, "the journal to be writable again")
        self.ledger.verify(self.server, "after the disk filled up mid-cutover")
        run = self.server.admin.run()
        if run["progress"]["status"] != "completed":
            self.run_cli("cutover", "resume", CLUSTER)
        run = self.server.admin.run()
        check(run["progress"]["status"] == "completed", f"the resumed run did not complete: {run['progress']}")
        self.acknowledge_run()
        self.run_cli("rollback", CLUSTER, "--ramp", "100", "--batch", "3", *FAST)
        self.figures.rollback_runs += 1
        self.acknowledge_run()
        self.ledger.verify(self.server, "after the resumed run and its rollback")
        self.figures.recoveries["state dir full mid-cutover (ENOSPC)"] += 1

    def disk_full(self) -> None:
        generation = self.generation()
        errors_before = int(self.server.healthz()["journal_write_errors"])
        self.truncate_wal()
        filler, size = fill(self.state_fs.path)
        self.figures.faults["state dir full (ENOSPC)"] += 1
        try:
            # SQLite reuses the WAL file's pages once they were checkpointed, so commits that
            # fit there still succeed (durably) on a full disk; the first that needs a new
            # block is refused. Every accepted one is a generation like any other.
            for attempt in range(1000):
                status, reply = self.shift(expect_ok=False)
                if status != 200:
                    break
                generation = self.generation()
                self.figures.accepted_while_full += 1
            text = json.dumps(reply)
            check(status == 503, f"shift on a full state dir -> {status}: {reply}")
            check("ENOSPC" in text and str(self.server.state_dir) in text, f"503 does not name ENOSPC and the state dir: {reply}")
            self.figures.shifts_refused += 1
            for attempt in range(20):
                r = self.server.cli("shift", CLUSTER, "bootstrap", "--weights", f"vm={90 - attempt},pod={10 + attempt}")
                if r.returncode != 0:
                    break
                generation = self.generation()
                self.ledger.acknowledge(generation)
                self.figures.accepted_while_full += 1
            check(r.returncode != 0 and "ENOSPC" in r.stderr + r.stdout, f"CLI shift on a full disk: exit {r.returncode} {r.stderr}")
            self.figures.shifts_refused += 1
            status, reply = self.server.admin.request(
                "POST", "/v1/runs", {"options": cutover_options()})
            check(status == 503, f"cutover start on a full state dir -> {status}: {reply}")
            health = self.server.healthz()
            check(health["status"] == "degraded" and health["journal_writable"] == "false"
                  and "ENOSPC" in health["problems"], f"/healthz on a full state dir: {health}")
            check(int(health["journal_write_errors"]) > errors_before, f"write errors not counted: {health}")
            check(self.server.metric("switchyard_journal_writable") == 0, "switchyard_journal_writable is not 0")
            check((self.server.metric("switchyard_journal_write_errors_total") or 0) > 0, "no switchyard_journal_write_errors_total")
            check(self.generation() == generation, "the live generation moved while the journal could not be written")
            time.sleep(1)
        finally:
            filler.unlink()
        self.wait(lambda: self.server.healthz()["journal_writable"] == "true", 10, "the journal to be writable again")
        check(self.server.metric("switchyard_journal_writable") == 1, "switchyard_journal_writable is not 1 after the fix")
        self.shift()
        check(self.generation() == generation + 1, "the first change after the fault did not make the next generation")
        self.figures.recoveries["state dir full (ENOSPC)"] += 1
        self.figures.notes.append(f"filler {size} bytes")
        self.ledger.verify(self.server, "after the state directory was full")

    def discovery_read_only(self) -> None:
        r = self.discovery_fs.remount("ro")
        check(r.returncode == 0, f"remount the discovery dir read-only: {r.stderr}")
        self.figures.faults["discovery dir read-only (EROFS)"] += 1
        try:
            # A new ZooKeeper string changes the discovery file, so the reload must write it.
            self.zookeeper_round += 1
            self.write_inventory()
            self.server.sighup()
            self.wait(lambda: "discovery publish failed" in self.server.healthz()["problems"], 15,
                      "the read-only discovery dir to be reported")
            health = self.server.healthz()
            check("Read-only file system" in health["problems"] or "EROFS" in health["problems"],
                  f"/healthz does not say why discovery failed: {health}")
            check(self.server.metric("switchyard_discovery_publish_ok") == 0, "switchyard_discovery_publish_ok is not 0")
        finally:
            self.discovery_fs.remount("rw")
        # No SIGHUP and no change: the server retries the failed publish by itself (1, 2, 4, 8 s).
        self.wait(lambda: "discovery" not in self.server.healthz()["problems"], 20, "discovery to publish again on its own")
        text = (self.server.discovery_dir / "standard.yaml").read_text()
        check(f"zk-{self.zookeeper_round}.example.test" in text, f"discovery file not republished:\n{text}")
        self.figures.recoveries["discovery dir read-only (EROFS)"] += 1

    def kill_mid_cutover(self) -> None:
        """kill -9 once the run has committed at least one step and is still running (so a
        generation of the run is acknowledged and the run is left half done), restart, and
        finish it with `cutover resume`; then roll it back."""
        status, reply = self.server.admin.request("POST", "/v1/runs", {"options": cutover_options(ramp=(25, 50, 100), batch=1)})
        check(status == 202, f"start cutover -> {status}: {reply}")
        self.figures.cutover_runs += 1

        def mid_run() -> bool:
            run = self.server.admin.run() or {}
            progress = run.get("progress", {})
            return bool(progress.get("generations")) or progress.get("status") not in (None, "running")
        self.wait(mid_run, 60, "the cutover's first step", step=0.02)
        time.sleep(self.rng.uniform(0.0, 1.0))
        self.acknowledge_run()
        self.ledger.verify(self.server, "before kill -9")
        self.watch.set_down(True)
        self.server.kill9()
        self.figures.faults["kill -9 mid-cutover"] += 1
        self.server.start()
        self.watch.set_down(False)
        self.ledger.verify(self.server, "after kill -9 and restart")
        run = self.server.admin.run()
        state = run["progress"]["status"] if run else None
        self.figures.kill_states[state] += 1
        if state in ("running", "paused"):
            self.run_cli("cutover", "resume", CLUSTER)
        run = self.server.admin.run()
        check(run is not None and run["progress"]["status"] == "completed", f"the resumed run did not complete: {run}")
        self.acknowledge_run()
        self.ledger.verify(self.server, "after the resumed cutover")
        self.run_cli("rollback", CLUSTER, "--ramp", "100", "--batch", "3", *FAST)
        self.figures.rollback_runs += 1
        self.acknowledge_run()
        self.figures.recoveries["kill -9 mid-cutover"] += 1

    def state_read_only(self) -> None:
        """The state directory becomes read-only. `mount -o remount,ro` is refused by the
        kernel (EBUSY) while the journal is open for writing; on ext4 an error makes the kernel
        remount it read-only under the running server, as a failing disk does."""
        r = self.state_fs.remount("ro")
        check(r.returncode != 0, "the state file system was remounted read-only under a running server")
        self.figures.notes.append(f"remount ro while serving: {r.stderr.strip().splitlines()[0] if r.stderr else r.returncode}")
        self.ledger.verify(self.server, "before the state dir goes read-only")
        if isinstance(self.state_fs, Ext4Image):
            self.state_forced_read_only()
        else:
            self.state_read_only_across_restart()

    def state_forced_read_only(self) -> None:
        """ext4 remounted read-only by the kernel under the server: changes refused with 503
        naming EROFS, DNS answering, /healthz and /metrics saying so. An aborted ext4 journal
        needs e2fsck, so recovery is: stop the server (cleanly), start it on the read-only
        directory (it serves the journal read-only), stop it, repair, start; every generation
        acknowledged is still there."""
        generation = self.generation()
        self.state_fs.force_error()
        self.figures.faults["state dir read-only (EROFS)"] += 1
        status, reply = self.shift(expect_ok=False)
        text = json.dumps(reply)
        check(status == 503 and "EROFS" in text and str(self.server.state_dir) in text,
              f"shift on a read-only state dir -> {status}: {reply}")
        r = self.server.cli("shift", CLUSTER, "bootstrap", "--weights", "vm=93,pod=7")
        check(r.returncode != 0 and "EROFS" in r.stderr + r.stdout, f"CLI shift on a read-only state dir: exit {r.returncode} {r.stderr}")
        self.figures.shifts_refused += 2
        health = self.server.healthz()
        check(health["status"] == "degraded" and health["journal_writable"] == "false" and "EROFS" in health["problems"],
              f"/healthz on a read-only state dir: {health}")
        check(self.server.metric("switchyard_journal_writable") == 0, "switchyard_journal_writable is not 0")
        check(self.generation() == generation, "the live generation moved while the journal was read-only")
        time.sleep(1)  # answers keep being checked meanwhile
        self.watch.set_down(True)
        code = self.server.stop()
        check(code == 0, f"SIGTERM with a read-only journal: exit {code}\n{self.server.stderr_tail()}")
        self.read_only_start(generation)
        self.watch.set_down(True)
        code = self.server.stop()
        check(code == 0, f"SIGTERM of the read-only server: exit {code}\n{self.server.stderr_tail()}")
        self.figures.notes.append(f"e2fsck exit {self.state_fs.repair()}")
        self.server.start()
        self.watch.set_down(False)
        self.ledger.verify(self.server, "after the state dir was read-only")
        self.shift()
        self.figures.recoveries["state dir read-only (EROFS)"] += 1

    def read_only_start(self, generation: int) -> None:
        """`serve` on the read-only state directory (the watch is down while it starts) must
        serve the journal's latest generation, answers checked as always, and refuse changes
        naming the directory and EROFS."""
        self.server.start()
        self.watch.set_down(False)
        self.figures.read_only_starts += 1
        check(self.generation() == generation, f"the read-only start serves generation {self.generation()}, not {generation}")
        check("serving its journal's latest generation read-only" in self.server.stderr_tail(100_000),
              f"no read-only warning:\n{self.server.stderr_tail()}")
        status, reply = self.shift(expect_ok=False)
        text = json.dumps(reply)
        check(status == 503 and "EROFS" in text and str(self.server.state_dir) in text,
              f"shift on a read-only start -> {status}: {reply}")
        self.figures.shifts_refused += 1
        health = self.server.healthz()
        check(health["status"] == "degraded" and health["journal_writable"] == "false" and "EROFS" in health["problems"],
              f"/healthz after a read-only start: {health}")
        time.sleep(1)  # answers keep being checked meanwhile

    def state_read_only_across_restart(self) -> None:
        """Without ext4 on a loop device the directory can only go read-only with the server
        gone: kill -9, remount read-only, start read-only, remount read-write under the
        server, which takes writes again by itself."""
        generation = self.generation()
        self.watch.set_down(True)
        self.server.kill9()
        self.figures.faults["state dir read-only (EROFS), kill -9"] += 1
        r = self.state_fs.remount("ro")
        check(r.returncode == 0, f"remount the state dir read-only: {r.stderr}")
        try:
            self.read_only_start(generation)
        finally:
            self.state_fs.remount("rw")
        self.wait(lambda: self.server.healthz()["journal_writable"] == "true", 10, "the journal to be written again without a restart")
        self.ledger.verify(self.server, "after the state dir was read-only")
        self.shift()
        self.figures.recoveries["state dir read-only (EROFS), kill -9"] += 1

    # -- the loop -----------------------------------------------------------------------------

    def one_pass(self, index: int) -> None:
        steps = [
            ("cutover+rollback under an admin flood", lambda: self.cutover_and_rollback(flood=True)),
            ("SIGHUP good", self.reload_good),
            ("SIGHUP bad", self.reload_bad),
            ("state dir full", self.disk_full),
            ("state dir full mid-cutover", self.disk_full_mid_cutover),
            ("discovery dir read-only", self.discovery_read_only),
            ("kill -9 mid-cutover", self.kill_mid_cutover),
            ("state dir read-only", self.state_read_only),
            ("cutover+rollback", lambda: self.cutover_and_rollback(flood=False)),
        ]
        if index > 0:
            self.rng.shuffle(steps)
        for name, step in steps:
            log(f"pass {index + 1}: {name}")
            step()
            self.alive(f"after {name}")

    def run(self) -> dict:
        try:
            self.setup()
            index = 0
            while True:
                self.one_pass(index)
                index += 1
                if time.monotonic() - self.figures.started >= self.seconds:
                    break
            self.ledger.verify(self.server, "at the end")
            for q in self.queriers:
                q.stop()
            code = self.server.stop()
            if code != 0:
                self.server.unexpected_exits.append(f"SIGTERM at the end -> exit {code}")
            return self.report(index)
        finally:
            # Also after a failure in setup or a pass: queriers, server, listeners, mounts.
            self.teardown()

    def report(self, passes: int) -> dict:
        per = {q.stats.transport: q.stats for q in self.queriers}
        total = lambda attr: sum(getattr(s, attr) for s in per.values())  # noqa: E731
        bad = Counter()
        for s in per.values():
            bad.update(s.bad)
        return {
            "seconds": round(time.monotonic() - self.figures.started, 1),
            "passes": passes,
            "queries_sent": {t: s.sent for t, s in per.items()},
            "answers": total("answered"),
            "answers_checked": total("checked"),
            "answers_ok": total("ok"),
            "soa_ok": total("soa_ok"),
            "bad_answers": dict(bad),
            "bad_examples": [e for s in per.values() for e in s.bad_examples],
            "unanswered_server_down": total("down"),
            "unanswered_server_up": total("lost"),
            "lost_examples": [e for s in per.values() for e in s.lost_examples],
            "faults": dict(self.figures.faults),
            "recoveries": dict(self.figures.recoveries),
            "cutover_runs": self.figures.cutover_runs,
            "rollback_runs": self.figures.rollback_runs,
            "changes_refused": self.figures.shifts_refused,
            "changes_accepted_while_full": self.figures.accepted_while_full,
            "admin_flood_requests": dict(self.figures.flood_requests),
            "server_starts": self.server.starts,
            "read_only_starts": self.figures.read_only_starts,
            "state_file_system": type(self.state_fs).__name__,
            "run_status_after_kill": dict(self.figures.kill_states),
            "generations_kept": len(self.ledger.seen),
            "generations_acknowledged": len(self.ledger.acknowledged),
            "newest_generation": self.ledger.highest,
            "journal_checks": self.ledger.checks,
            "unexpected_exits": self.server.unexpected_exits,
            "notes": self.figures.notes[:10],
            "workdir": str(self.workdir),
        }


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def problems_of(report: dict) -> list[str]:
    """What makes a soak report a failure."""
    problems = []
    if report["bad_answers"]:
        problems.append(f"bad answers {report['bad_answers']}: {report['bad_examples'][:5]}")
    if report["unanswered_server_up"]:
        problems.append(f"{report['unanswered_server_up']} queries unanswered while the server was up: "
                        f"{report['lost_examples'][:5]}")
    if report["unexpected_exits"]:
        problems.append(f"unexpected exits: {report['unexpected_exits']}")
    for kind, count in report["faults"].items():
        if report["recoveries"].get(kind, 0) != count:
            problems.append(f"{kind}: {count} injected, {report['recoveries'].get(kind, 0)} recovered")
    if report["answers_checked"] == 0:
        problems.append("no answer was checked")
    return problems


def run_soak(seconds: float, workdir: Path | None = None) -> dict:
    check(os.geteuid() == 0, "the soak mounts tmpfs file systems: run it as root")
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="switchyard-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return Soak(workdir, seconds).run()


def render(report: dict) -> str:
    lines = [f"duration: {report['seconds']} s, {report['passes']} passes of every fault"]
    for transport, sent in report["queries_sent"].items():
        lines.append(f"queries sent {transport}: {sent}")
    lines += [
        f"answers: {report['answers']} (stable-name answers checked: {report['answers_checked']}, correct: "
        f"{report['answers_ok']}; SOA answers: {report['soa_ok']})",
        f"wrong/empty/NXDOMAIN/SERVFAIL answers: {sum(report['bad_answers'].values())} {report['bad_answers'] or ''}",
        f"unanswered while the server was down (kill -9, restart): {report['unanswered_server_down']}",
        f"unanswered while the server was up: {report['unanswered_server_up']}",
        "faults injected / recovered:",
    ]
    for kind, count in sorted(report["faults"].items()):
        lines.append(f"  {kind}: {count} / {report['recoveries'].get(kind, 0)}")
    lines += [
        f"cutover runs: {report['cutover_runs']}, rollback runs: {report['rollback_runs']}, "
        f"changes refused while the journal could not be written: {report['changes_refused']} "
        f"(accepted on a full disk, fitting in the WAL's existing pages: {report['changes_accepted_while_full']})",
        f"admin flood requests: {sum(report['admin_flood_requests'].values())} {report['admin_flood_requests']}",
        f"state directory on: {report['state_file_system']}",
        f"server starts: {report['server_starts']}, of which on a read-only state dir (served read-only): {report['read_only_starts']} (run status found after kill -9: {report['run_status_after_kill']})",
        f"generations: {report['generations_kept']} in the journal (newest {report['newest_generation']}), "
        f"{report['generations_acknowledged']} acknowledged by the admin API, all kept; journal checked "
        f"{report['journal_checks']} times",
        f"zones, server logs and CLI output: {report['workdir']}",
    ]
    return "\n".join(lines)


def main() -> int:
    return soak_main(__doc__.split("\n\n")[0], "SOAK_SECONDS", "where the zones, logs and mounts go (default: a new temp dir)", run_soak, render, problems_of)


if __name__ == "__main__":
    sys.exit(main())
