#!/usr/bin/env python3
"""Faults in a fleet while cutovers run: three `switchyard serve` members on one private
PostgreSQL journal (pgcluster.py; test_fleet.py's `Member`), continuous UDP and TCP queries to
every member for the stable names, and cutover / rollback runs looping, each started (or
resumed) through another member, while faults are injected one after another, most of them
in the middle of a running step:

- PostgreSQL stopped (`pg_ctl -m fast`, `-m immediate`) and its postmaster killed -9, then
  started again: members keep answering, changes are refused (503), /healthz and /metrics
  say so, and everything goes on once it is back;
- the member running the cutover frozen (SIGSTOP) for longer than its lease, then SIGCONT:
  another member takes the run over, and the frozen one, back, must not commit, drain or
  report anything over the member that took over (fencing);
- the member running the cutover killed -9 and restarted with the same --cache-dir;
- a member restarted while PostgreSQL is down: it serves its local copy, then catches up;
- one member's zone file changed on disk and SIGHUP'd: every member reports the divergence,
  staged runs are refused; put back, it clears.

Judged throughout: every answer of every member for a managed name is a target the
inventory allows (never NXDOMAIN, empty, SERVFAIL or a wrong address); no member's SOA serial
or served generation ever goes back; at most one run per cluster is running in the journal,
and at most one member executes it (a member just back from SIGSTOP gets a grace period to
notice it lost the lease, never a commit); every drain command ran on the member holding the
run's lease. After each pass, once the faults are cleared: the run is finished (resumed or
rolled back), `cutover status` / `history` (API and CLI) agree on every member, every
generation the admin API acknowledged is in the journal unchanged, /healthz and /metrics are
clear.

Run `python3 tests/integration/fleet_soak.py --seconds 600` (as root, PostgreSQL runs as the
`postgres` user), or `make fleet-soak`. `test_fleet_soak.py` runs two passes. Loopback only;
every process started is stopped by its PID, also on failure.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgcluster  # noqa: E402
from conftest import make_query  # noqa: E402
from cutoverkit import ALL_TARGETS, CLUSTER, ORIGIN, cli, committed_generations, cutover_options, serial_after  # noqa: E402
from soakkit import DownWatch, Ledger, Querier, SoakFailure, check, inventory_text, judge, log, soak_main  # noqa: E402
from stablekit import TcpListener, common_free_port, zone_text  # noqa: E402
from test_fleet import FLEET_ARGS, Member  # noqa: E402

LEASE_SECONDS = float(FLEET_ARGS[FLEET_ARGS.index("--lease-seconds") + 1])
# A weighted name outside the cluster: shifted through varying members while runs go on.
REGISTRY = f"registry.{ORIGIN}"
REGISTRY_TARGETS = {"vm": "127.0.0.31", "pod": "127.0.0.32"}
ADMIN_TIMEOUT = 8.0
# A member cut off past its lease (frozen, or the database away) may still think it runs the
# run until its next heartbeat finds the lease gone (each second) and its runner reaches a
# slice boundary: two members "active" that long is the lease design (its writes are fenced);
# longer is a finding.
OVERLAP_GRACE = 3.5
ZONE_SERIAL = 2024010101
TRANSIENT = (OSError, http.client.HTTPException, ValueError)


def zone_file(extra: list[str] | None = None, serial: int = ZONE_SERIAL) -> str:
    return zone_text("example.test", ["www IN A 192.0.2.10"] + (extra or []), serial=serial)


def inventory(port: int) -> str:
    pools = "\n".join(f"      {pool}: {{ weight: {100 if pool == 'vm' else 0}, targets: [{target}] }}"
                      for pool, target in REGISTRY_TARGETS.items())
    return inventory_text(port) + f"names:\n  registry:\n    policy: weighted\n    pools:\n{pools}\n"


def judge_answer(name: str, rcode: int, addresses: frozenset) -> str:
    """soakkit's judge, and for `registry` one pool's target exactly (one answer draws one pool)."""
    if name != REGISTRY or rcode != 0 or not addresses:
        return judge(name, rcode, addresses)
    return "ok" if any(addresses == {t} for t in REGISTRY_TARGETS.values()) else "wrong"


class MemberQuerier(Querier):
    """soakkit's querier for one member: follows the member's DNS port across restarts, asks
    the weighted `registry` name too, and records every SOA serial that goes back."""

    def __init__(self, member: Member, tcp: bool, watch: DownWatch, rate: float):
        super().__init__(member.port, tcp, watch, rate)
        self.member = member
        self.name = f"{member.name}-{'tcp' if tcp else 'udp'}"
        self.stats.transport = f"{member.name} {self.stats.transport}"
        self.wires.append((REGISTRY, make_query(REGISTRY, "A").to_wire()))
        self.last_serial: int | None = None
        self.backwards: list[tuple[str, int, int]] = []

    def _socket(self):
        if self.member.port != self.port:
            self._drop()
            self.port = self.member.port
        return super()._socket()

    def judge(self, name: str, rcode: int, addresses: frozenset) -> str:
        return judge_answer(name, rcode, addresses)

    def note_serial(self, serial: int) -> None:
        last = self.last_serial
        if last is not None and serial != last and not serial_after(serial, last):
            self.backwards.append((time.strftime("%H:%M:%S"), last, serial))
        if last is None or serial_after(serial, last):
            self.last_serial = serial


@dataclass
class Figures:
    started: float = field(default_factory=time.monotonic)
    faults: Counter = field(default_factory=Counter)
    recoveries: Counter = field(default_factory=Counter)
    runs_started: Counter = field(default_factory=Counter)     # "cutover via member-1"
    resumes: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)         # expected refusals, by kind
    shifts: Counter = field(default_factory=Counter)
    takeovers: int = 0
    overlaps: int = 0          # monitor samples with one run active on two members (brief: fine)
    drains: int = 0
    violations: list = field(default_factory=list)
    notes: list = field(default_factory=list)


class FleetSoak:
    def __init__(self, workdir: Path, seconds: float, members: int = 3, seed: int = 29):
        self.workdir = workdir
        self.seconds = seconds
        self.count = members
        self.rng = random.Random(seed)
        self.figures = Figures()
        self.ledger = Ledger()
        self.lock = threading.Lock()
        self.ledger_lock = threading.Lock()
        self.pg: pgcluster.Cluster | None = None
        self.pg_up = False
        self.members: list[Member] = []
        self.watch: dict[str, DownWatch] = {}
        self.unavailable: set[str] = set()     # killed, frozen or restarting: nobody asks them
        self.queriers: list[MemberQuerier] = []
        self.listeners: list[TcpListener] = []
        self.stop_event = threading.Event()
        self.quiet = threading.Event()         # set: the driver starts no new runs
        self.threads: list[threading.Thread] = []
        self.generations_seen: dict[str, int] = {}
        self.rotation = 0
        self.drain_log = workdir / "drains.log"

    # -- setup and teardown ------------------------------------------------------------------

    def setup(self) -> None:
        self.pg = pgcluster.Cluster()
        self.pg_up = True
        hosts = list(ALL_TARGETS) + list(REGISTRY_TARGETS.values())
        self.broker_port = common_free_port(hosts)
        self.listeners = [TcpListener(h, self.broker_port).open() for h in hosts]
        self.database = "fleet_soak_" + uuid.uuid4().hex[:8]
        url = self.pg.new_database(self.database)
        self.zones = {"example.test.zone": zone_file(), "example.test.yaml": inventory(self.broker_port)}
        for i in range(self.count):
            workdir = self.workdir / f"member{i}"
            workdir.mkdir(parents=True, exist_ok=True)
            member = Member(workdir, self.zones, url, f"member-{i}", FLEET_ARGS)
            self.members.append(member)
            self.watch[member.name] = DownWatch()
            member.start()
        self.ledger.verify(self.members[0], "at start")
        for m in self.members:
            self.queriers += [MemberQuerier(m, False, self.watch[m.name], rate=120),
                              MemberQuerier(m, True, self.watch[m.name], rate=40)]
        for q in self.queriers:
            q.start()
        for target in (self.drive, self.monitor):
            t = threading.Thread(target=self.guarded(target), daemon=True, name=target.__name__)
            t.start()
            self.threads.append(t)

    def teardown(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        for q in self.queriers:
            q.stop()
        for m in self.members:
            if m.server is not None and m.server.alive():
                os.kill(m.server.pid, signal.SIGCONT)
            m.stop_all()
        for listener in self.listeners:
            listener.close()
        if self.pg is not None:
            self.pg.destroy()

    def guarded(self, loop):
        def run():
            try:
                loop()
            except BaseException as e:  # a crash of a helper thread is a finding, not a hang
                self.violation(f"{loop.__name__} thread crashed: {type(e).__name__}: {e}")
        return run

    def violation(self, text: str) -> None:
        with self.lock:
            if len(self.figures.violations) < 200:
                self.figures.violations.append(f"{time.strftime('%H:%M:%S')} {text}")
        log(f"VIOLATION: {text}")

    # -- members ------------------------------------------------------------------------------

    def available(self) -> list[Member]:
        with self.lock:
            return [m for m in self.members if m.name not in self.unavailable and m.server.alive()]

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def next_member(self, avoid: str | None = None) -> Member | None:
        """The members in turn, so runs, resumes and shifts go through each of them."""
        choices = [m for m in self.available() if m.name != avoid] or self.available()
        if not choices:
            return None
        self.rotation += 1
        return choices[self.rotation % len(choices)]

    def set_unavailable(self, m: Member, down: bool) -> None:
        with self.lock:
            (self.unavailable.add if down else self.unavailable.discard)(m.name)

    def restart(self, m: Member) -> None:
        """Starts `m` again on its DNS port (the queriers keep asking it) and --cache-dir, keeping its last log."""
        log_path = m.workdir / "server.stderr"
        if log_path.exists():
            log_path.rename(m.workdir / f"server.stderr.{len(m.history)}")
        m.start(same_dns_port=True)

    def crash(self, m: Member) -> None:
        self.set_unavailable(m, True)
        self.watch[m.name].set_down(True)
        m.crash()

    def healthz(self, m: Member) -> dict:
        status, body = m.admin.request("GET", "/healthz", token=None, timeout=ADMIN_TIMEOUT)
        check(status == 200 and isinstance(body, dict), f"{m.name} /healthz -> {status}: {body}")
        return body

    def metric(self, m: Member, name: str) -> float | None:
        status, text = m.admin.request("GET", "/metrics", timeout=ADMIN_TIMEOUT)
        check(status == 200, f"{m.name} /metrics -> {status}")
        for line in str(text).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name:
                return float(parts[1])
        return None

    def wait(self, predicate, timeout: float, what: str, step: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except TRANSIENT + (SoakFailure,) as e:
                last_error = e
            time.sleep(step)
        raise SoakFailure(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))

    def run_of(self, m: Member) -> dict | None:
        status, reply = m.admin.request("GET", f"/v1/runs/{CLUSTER}", timeout=ADMIN_TIMEOUT)
        if status == 404:
            return None
        check(status == 200 and isinstance(reply, dict), f"{m.name} GET run -> {status}: {reply}")
        return reply

    def psql(self, sql: str) -> str:
        return self.pg.psql(self.database, sql)

    # -- the driver: runs started, resumed, rolled back through varying members ---------------

    def run_options(self, to_pool: str) -> dict:
        options = cutover_options(to_pool, ramp=(50, 100), batch=2, dwell=1, verify_timeout=10)
        # Who drained what, and who held the run's lease just then (fencing of drains).
        owner = (f"{self.pg.bindir}/psql -X -A -t -h 127.0.0.1 -p {self.pg.port} -U {pgcluster.USER} -d {self.database} "
                 "-c \"SELECT owner FROM run_lease WHERE run_id = {run}\" 2>/dev/null")
        options["drainCommand"] = (f"echo \"{{run}} $SWITCHYARD_BROKER {{generation}} $PPID $(PGCONNECT_TIMEOUT=2 {owner})\" "
                                   f">> {self.drain_log}")
        return options

    def drive(self) -> None:
        want = "cutover"
        stuck: Counter = Counter()   # run id -> resumes refused
        shift_at = time.monotonic()
        while not self.stop_event.is_set():
            time.sleep(0.3)
            m = self.next_member()
            if m is None:
                continue
            try:
                if time.monotonic() >= shift_at and not self.quiet.is_set():
                    shift_at = time.monotonic() + 2.0
                    self.shift_registry(m)
                run = self.run_of(m)
            except TRANSIENT + (SoakFailure,):
                continue
            status = run["status"] if run else None
            if status == "running":
                continue
            if run:
                self.acknowledge(run)
            try:
                if status in ("paused", "failed"):
                    if stuck[run["id"]] >= 3:
                        self.start(m, {"rollback": {"cluster": CLUSTER, "run": run["id"], "options": self.run_options("")}},
                                   f"rollback of stuck run via {m.name}")
                        continue
                    code, reply = m.admin.request("POST", f"/v1/runs/{CLUSTER}/resume", {}, timeout=ADMIN_TIMEOUT)
                    if code in (200, 202):
                        self.figures.resumes[m.name] += 1
                    elif code in (409, 503):
                        self.figures.refusals[f"resume {code}"] += 1
                        if code == 409 and "other data" not in json.dumps(reply) and "being run by server" not in json.dumps(reply):
                            stuck[run["id"]] += 1
                    else:
                        stuck[run["id"]] += 1
                        self.figures.notes.append(f"resume via {m.name} -> {code}: {str(reply)[:200]}")
                    continue
                if self.quiet.is_set():
                    continue
                if run and status == "completed":
                    want = "rollback" if run["progress"]["plan"]["purpose"] == "cutover" else "cutover"
                body = ({"options": self.run_options("pod")} if want == "cutover"
                        else {"rollback": {"cluster": CLUSTER, "options": self.run_options("")}})
                if not self.start(m, body, f"{want} via {m.name}"):
                    want = "rollback" if want == "cutover" else "cutover"
            except TRANSIENT:
                continue

    def start(self, m: Member, body: dict, what: str) -> bool:
        code, reply = m.admin.request("POST", "/v1/runs", body, timeout=ADMIN_TIMEOUT)
        if code in (200, 202):
            self.figures.runs_started[what.split(" via ")[0]] += 1
            self.figures.runs_started[f"via {m.name}"] += 1
            return True
        text = json.dumps(reply)
        if "is being run by server" in text:
            # The run was made, then another member took it over before this one leased it.
            self.violation(f"{what} -> {code}: the run it created went to another member: {text[:300]}")
        if code in (409, 503):
            self.figures.refusals[f"start {code}" + (" (members diverge)" if "other data" in text else "")] += 1
            return "already active" in text or code == 503 or "other data" in text
        # "nothing to do": the cluster already is where this run would take it.
        self.figures.notes.append(f"{what} -> {code}: {text[:200]}")
        return False

    def shift_registry(self, m: Member) -> None:
        pod = self.rng.choice([0, 10, 30, 50])
        body = {"request": {"weights": {"name": "registry", "weights": {"vm": 100 - pod, "pod": pod}}},
                "actor": "fleet-soak", "reason": f"registry shift via {m.name}"}
        code, reply = m.admin.request("POST", "/v1/shift", body, timeout=ADMIN_TIMEOUT)
        if code == 200 and isinstance(reply, dict):
            if reply.get("changed", True):
                with self.ledger_lock:
                    self.ledger.acknowledge(int(reply["generation"]["number"]))
            self.figures.shifts[f"ok via {m.name}"] += 1
        elif code == 503:
            self.figures.shifts["refused 503 (journal unreachable)"] += 1
        else:
            self.figures.shifts[f"HTTP {code}"] += 1
            if code >= 500:
                self.violation(f"shift via {m.name} -> {code}: {str(reply)[:300]}")

    def acknowledge(self, run: dict) -> None:
        with self.ledger_lock:
            for number in committed_generations(run.get("progress") or {}).values():
                self.ledger.acknowledge(number)

    # -- the monitor: invariants judged while faults happen ------------------------------------

    def monitor(self) -> None:
        double_since: float | None = None
        reported = False
        while not self.stop_event.is_set():
            time.sleep(0.5)
            active: dict[str, int] = {}
            for m in self.available():
                try:
                    health = self.healthz(m)
                    generation = int(health["generation"] or 0)
                    before = self.generations_seen.get(m.name, 0)
                    if generation < before:
                        self.violation(f"{m.name} serves generation {generation} after {before}")
                    self.generations_seen[m.name] = max(before, generation)
                    run = self.run_of(m)
                    if run and run.get("active"):
                        active[m.name] = run["id"]
                except TRANSIENT + (SoakFailure,):
                    continue
            if len(active) > 1 and len(set(active.values())) == 1:
                double_since = double_since or time.monotonic()
                self.figures.overlaps += 1
                if time.monotonic() - double_since >= OVERLAP_GRACE and not reported:
                    reported = True
                    self.violation(f"run {active[next(iter(active))]} executes on several members for "
                                   f"{OVERLAP_GRACE:.0f} s: {sorted(active)}")
            else:
                double_since, reported = None, False
            if self.pg_up:
                try:
                    running = int(self.psql(f"SELECT count(*) FROM cutover_run WHERE cluster = '{CLUSTER}' AND status = 'running'"))
                except AssertionError:
                    continue
                if running > 1:
                    self.violation(f"{running} runs of cluster {CLUSTER} are running in the journal")

    def check_drains(self) -> None:
        """Every drain ran on the member that held the run's lease then (by its PID)."""
        if not self.drain_log.exists():
            return
        pids = {s.pid: m.name for m in self.members for s in m.history}
        lines = self.drain_log.read_text().splitlines()
        self.figures.drains = len(lines)
        for line in lines:
            parts = line.split()
            if len(parts) < 5:
                continue   # the database was down: the owner could not be read
            run, broker, generation, pid, owner = parts[:5]
            runner = pids.get(int(pid))
            if runner is not None and runner != owner:
                self.violation(f"run {run} drained broker {broker} (generation {generation}) on {runner}, "
                               f"while {owner} held the run's lease")

    # -- faults -------------------------------------------------------------------------------

    def running_run(self, timeout: float) -> dict | None:
        """A run in the middle of its steps (one committed, or committing), as some member
        reports it; None if none came within `timeout`."""
        found: list[dict] = []

        def mid_run() -> bool:
            for m in self.available():
                run = self.run_of(m)
                progress = (run or {}).get("progress") or {}
                if run and run["status"] == "running" and run.get("runningOn") and \
                        (committed_generations(progress) or progress.get("committingStep") is not None):
                    found.append(run)
                    return True
            return False
        try:
            self.wait(mid_run, timeout, "a run in the middle of its steps", step=0.1)
        except SoakFailure:
            return None
        time.sleep(self.rng.uniform(0.0, 1.0))
        return found[0]

    def pg_outage(self, mode: str) -> None:
        """PostgreSQL stopped (fast, immediate) or its postmaster killed -9, mid-step."""
        kind = f"PostgreSQL {mode}"
        self.running_run(30)
        if mode == "kill -9":
            os.kill(self.pg.pid(), signal.SIGKILL)
        else:
            self.pg.stop(mode)
        self.pg_up = False
        self.figures.faults[kind] += 1
        try:
            for m in self.available():
                self.wait(lambda: self.healthz(m)["status"] == "degraded" and self.metric(m, "switchyard_journal_reachable") == 0,
                          20, f"{m.name} to report the journal unreachable")
            m = self.next_member()
            body = {"request": {"weights": {"name": "registry", "weights": {"vm": 77, "pod": 23}}}, "actor": "fleet-soak", "reason": "outage"}
            code, reply = m.admin.request("POST", "/v1/shift", body, timeout=30)
            check(code == 503 and "unreachable" in json.dumps(reply), f"a shift during the outage via {m.name} -> {code}: {reply}")
            self.figures.refusals["shift 503 during an outage"] += 1
            time.sleep(self.rng.uniform(1.0, 3.0))
        finally:
            self.start_pg()
        for m in self.available():
            self.wait(lambda: self.metric(m, "switchyard_journal_reachable") == 1 and self.metric(m, "switchyard_fleet_following") == 1,
                      30, f"{m.name} to follow the journal again")
        self.figures.recoveries[kind] += 1

    def start_pg(self) -> None:
        """Starts PostgreSQL again; after a kill -9 of the postmaster its orphaned backends
        may hold the shared memory for a moment, so it is retried."""
        deadline = time.monotonic() + 60
        while True:
            try:
                self.pg.start()
                break
            except AssertionError as e:
                if time.monotonic() > deadline:
                    raise SoakFailure(f"PostgreSQL did not start again: {e}")
                time.sleep(1)
        self.pg_up = True

    def freeze_runner(self) -> None:
        """The member running the run frozen (SIGSTOP) for longer than its lease, then SIGCONT:
        another takes the run over; the frozen one, back, must stand down."""
        run = self.running_run(40)
        owner = self.member(run["runningOn"]) if run else self.next_member()
        others = [m for m in self.available() if m is not owner]
        self.set_unavailable(owner, True)
        self.watch[owner.name].set_down(True)
        os.kill(owner.server.pid, signal.SIGSTOP)
        self.figures.faults["member frozen (SIGSTOP) past its lease"] += 1
        try:
            self.wait(lambda: self.metric(others[0], "switchyard_fleet_live_members") == len(self.members) - 1, 15,
                      f"{others[0].name} to count {owner.name} out")
            if run:
                def moved() -> bool:
                    now = self.run_of(others[0]) or {}
                    return now.get("id") != run["id"] or now.get("status") != "running" or \
                        now.get("runningOn") not in (None, owner.name)
                self.wait(moved, LEASE_SECONDS + 15, f"run {run['id']} to be taken over from frozen {owner.name}")
                taken = self.run_of(others[0]) or {}
                if taken.get("id") == run["id"] and taken.get("runningOn"):
                    self.figures.takeovers += 1
            time.sleep(self.rng.uniform(0.0, 2.0))
        finally:
            os.kill(owner.server.pid, signal.SIGCONT)
        self.watch[owner.name].set_down(False)
        self.set_unavailable(owner, False)
        self.wait(lambda: self.metric(others[0], "switchyard_fleet_live_members") == len(self.members), 15,
                  f"{owner.name} to count again")
        self.watch_agreement(f"after {owner.name} came back from SIGSTOP", LEASE_SECONDS + 4)
        self.figures.recoveries["member frozen (SIGSTOP) past its lease"] += 1

    def views(self) -> dict[str, tuple]:
        """What each available member says of the cluster's latest run: (id, status, next step)."""
        views = {}
        for m in self.available():
            run = self.run_of(m) or {}
            views[m.name] = (run.get("id"), run.get("status"), ((run.get("progress") or {}).get("nextStep")))
        return views

    def watch_agreement(self, when: str, seconds: float, persisting: float = 3.0) -> None:
        """For `seconds`, the members' views of the run are read again and again: views that
        differ for `persisting` seconds on end are a violation (a run moving on between two
        reads differs for a moment only)."""
        end = time.monotonic() + seconds
        since: float | None = None
        while time.monotonic() < end:
            try:
                views = self.views()
            except TRANSIENT + (SoakFailure,):
                time.sleep(0.3)
                continue
            if len({(v[0], v[1]) for v in views.values()}) > 1:
                since = since or time.monotonic()
                if time.monotonic() - since >= persisting:
                    self.violation(f"{when}: members disagree on the cluster's run for {persisting:.0f} s: {views}")
                    return
            else:
                since = None
            time.sleep(0.3)
        self.runs_agree(when)

    def runs_agree(self, when: str, timeout: float = 15) -> None:
        """Every available member says the same about the cluster's latest run (id, status,
        next step), read at nearly the same moment; a run moving on is read again."""
        seen: list = []

        def agree() -> bool:
            views = self.views()
            seen[:] = [views]
            return len(set(views.values())) == 1
        try:
            self.wait(agree, timeout, "members to agree on the run", step=0.3)
        except SoakFailure:
            self.violation(f"{when}: members disagree on the cluster's run: {seen[0] if seen else '?'}")

    def kill_runner(self) -> None:
        """The member running the run killed -9 mid-step and restarted on its --cache-dir."""
        run = self.running_run(40)
        victim = self.member(run["runningOn"]) if run else self.next_member()
        self.crash(victim)
        self.figures.faults["runner killed -9, restarted"] += 1
        time.sleep(self.rng.uniform(0.0, 2.0))
        self.restart(victim)
        self.watch[victim.name].set_down(False)
        self.set_unavailable(victim, False)
        health = self.healthz(victim)
        check(health["status"] in ("ok", "degraded"), f"{victim.name} after restart: {health}")
        with self.ledger_lock:
            self.ledger.verify(victim, f"after {victim.name} was killed -9 and restarted")
        self.figures.recoveries["runner killed -9, restarted"] += 1

    def restart_during_outage(self) -> None:
        """A member restarted while PostgreSQL is down serves its local copy, then catches up."""
        victim = self.next_member()
        served = int(self.healthz(victim)["generation"])
        self.crash(victim)
        self.pg.stop("immediate")
        self.pg_up = False
        self.figures.faults["member restarted during an outage (local copy)"] += 1
        try:
            self.restart(victim)
            self.watch[victim.name].set_down(False)
            self.set_unavailable(victim, False)
            health = self.healthz(victim)
            check(health["status"] == "degraded" and "serving the local copy of generation" in health["problems"]
                  and int(health["generation"]) >= served, f"{victim.name} started during the outage: {health}")
            check(self.metric(victim, "switchyard_fleet_local_copy_serving") == 1, "switchyard_fleet_local_copy_serving is not 1")
            time.sleep(self.rng.uniform(1.0, 3.0))
        finally:
            self.start_pg()
        self.wait(lambda: self.metric(victim, "switchyard_fleet_local_copy_serving") == 0
                  and self.metric(victim, "switchyard_journal_reachable") == 1, 30, f"{victim.name} to catch up after the outage")
        self.figures.recoveries["member restarted during an outage (local copy)"] += 1

    def zone_edit(self) -> None:
        """One member's zone file changed (a record added, a new serial) and SIGHUP'd: every
        member sees the divergence, staged runs are refused; put back, it clears."""
        victim = self.next_member()
        other = self.next_member(avoid=victim.name)
        path = victim.workdir / "zones" / "example.test.zone"
        original = path.read_text()
        path.write_text(zone_file(["soak-edit IN A 192.0.2.77"], serial=ZONE_SERIAL + 1))
        victim.server.signal(signal.SIGHUP)
        self.figures.faults["zone file changed on one member (SIGHUP)"] += 1
        try:
            for m in (victim, other):
                self.wait(lambda: (self.metric(m, "switchyard_fleet_members_diverging") or 0) >= 1, 15, f"{m.name} to see the divergence")
                health = self.healthz(m)
                check(health["status"] == "degraded" and health["fleet_diverging"], f"{m.name} /healthz while diverging: {health}")
            code, reply = other.admin.request("POST", "/v1/runs", {"options": self.run_options("pod")}, timeout=ADMIN_TIMEOUT)
            check(code == 409, f"a cutover while members diverge -> {code}: {reply}")
            self.figures.refusals["start 409 (members diverge)"] += 1
            time.sleep(self.rng.uniform(0.5, 2.0))
        finally:
            path.write_text(original)
            victim.server.signal(signal.SIGHUP)
        for m in self.available():
            self.wait(lambda: self.metric(m, "switchyard_fleet_members_diverging") == 0 and not self.healthz(m)["fleet_diverging"],
                      15, f"{m.name} to see the divergence clear")
        self.figures.recoveries["zone file changed on one member (SIGHUP)"] += 1

    # -- after a pass: the faults are gone, everything must agree -----------------------------

    def settle(self, when: str) -> None:
        """New runs stop; the last one is finished (the driver resumes or rolls it back); then
        run status, history (API and CLI), the ledger, /healthz and /metrics agree everywhere."""
        self.quiet.set()
        try:
            first = self.members[0]

            def finished() -> bool:
                run = self.run_of(first)
                return run is None or run["status"] in ("completed", "rolledBack")
            self.wait(finished, 180, "the last run to finish", step=0.5)
            self.runs_agree(when)
            for m in self.members:
                self.wait(lambda: self.healthz(m)["status"] == "ok", 20, f"{m.name} /healthz ok")
                for name, value in (("switchyard_journal_reachable", 1), ("switchyard_fleet_live_members", len(self.members)),
                                    ("switchyard_fleet_members_diverging", 0), ("switchyard_fleet_local_copy_serving", 0)):
                    self.wait(lambda: self.metric(m, name) == value, 10, f"{m.name} {name} {value}")
            generations = {m.name: self.healthz(m)["generation"] for m in self.members}
            check(len(set(generations.values())) == 1, f"{when}: members serve different generations: {generations}")
            histories = {}
            statuses = {}
            for m in self.members:
                with self.ledger_lock:
                    self.ledger.verify(m, f"{when} ({m.name})")
                code, history = m.admin.request("GET", "/v1/history?limit=100000", timeout=30)
                check(code == 200, f"{m.name} history -> {code}")
                histories[m.name] = json.dumps(history, sort_keys=True)
                shown = cli(m, "cutover", "status", CLUSTER)
                listed = cli(m, "history", "--limit", "20")
                check(shown.returncode == 0 and listed.returncode == 0,
                      f"{m.name}: cutover status exit {shown.returncode}, history exit {listed.returncode}: {shown.stderr} {listed.stderr}")
                statuses[m.name] = (self.normalized(shown.stdout), listed.stdout)
            if len(set(histories.values())) != 1:
                for name, text in histories.items():
                    (self.workdir / f"history-{name}.json").write_text(text)
                raise SoakFailure(f"{when}: members' /v1/history differ (written to {self.workdir}/history-*.json)")
            if len(set(statuses.values())) != 1:
                self.violation(f"{when}: `cutover status` / `history` differ between members: "
                               + json.dumps({n: s[0][-400:] for n, s in statuses.items()}))
            running = int(self.psql(f"SELECT count(*) FROM cutover_run WHERE cluster = '{CLUSTER}' AND status = 'running'"))
            check(running == 0, f"{when}: {running} runs still running in the journal")
            self.check_drains()
        finally:
            self.quiet.clear()

    @staticmethod
    def normalized(text: str) -> str:
        """`cutover status` as any member prints it: relative times vary with the moment asked."""
        return re.sub(r"\d+(\.\d+)? ?(s|ms|min|h) ago", "_ ago", text)

    # -- the loop -----------------------------------------------------------------------------

    def one_pass(self, index: int) -> None:
        steps = [
            ("PostgreSQL stopped (fast) mid-step", lambda: self.pg_outage("fast")),
            ("runner frozen past its lease", self.freeze_runner),
            ("PostgreSQL stopped (immediate) mid-step", lambda: self.pg_outage("immediate")),
            ("runner killed -9 and restarted", self.kill_runner),
            ("zone file changed on one member", self.zone_edit),
            ("PostgreSQL killed -9 mid-step", lambda: self.pg_outage("kill -9")),
            ("member restarted during an outage", self.restart_during_outage),
        ]
        if index > 0:
            self.rng.shuffle(steps)
        for name, step in steps:
            log(f"pass {index + 1}: {name}")
            step()
            for m in self.members:
                check(m.server.alive(), f"{m.name} died after {name} (exit {m.server.proc.returncode}):\n{m.server.stderr_text()[-3000:]}")
        log(f"pass {index + 1}: settling")
        self.settle(f"after pass {index + 1}")

    def run(self) -> dict:
        try:
            self.setup()
            index = 0
            while True:
                self.one_pass(index)
                index += 1
                if time.monotonic() - self.figures.started >= self.seconds:
                    break
            return self.report(index)
        finally:
            self.teardown()

    def report(self, passes: int) -> dict:
        total = lambda attr: sum(getattr(q.stats, attr) for q in self.queriers)  # noqa: E731
        bad = Counter()
        for q in self.queriers:
            bad.update(q.stats.bad)
        return {
            "seconds": round(time.monotonic() - self.figures.started, 1),
            "passes": passes,
            "members": len(self.members),
            "queries_sent": {q.stats.transport: q.stats.sent for q in self.queriers},
            "answers_checked": total("checked"),
            "answers_ok": total("ok"),
            "soa_ok": total("soa_ok"),
            "bad_answers": dict(bad),
            "bad_examples": [e for q in self.queriers for e in q.stats.bad_examples][:20],
            "unanswered_member_down": total("down"),
            "unanswered_member_up": total("lost"),
            "lost_examples": [(q.name, *e) for q in self.queriers for e in q.stats.lost_examples][:20],
            "serials_backwards": [(q.name, *e) for q in self.queriers for e in q.backwards],
            "faults": dict(self.figures.faults),
            "recoveries": dict(self.figures.recoveries),
            "runs_started": dict(self.figures.runs_started),
            "resumes": dict(self.figures.resumes),
            "refusals": dict(self.figures.refusals),
            "shifts": dict(self.figures.shifts),
            "takeovers": self.figures.takeovers,
            "overlap_samples": self.figures.overlaps,
            "drains": self.figures.drains,
            "generations_acknowledged": len(self.ledger.acknowledged),
            "generations_kept": len(self.ledger.seen),
            "journal_checks": self.ledger.checks,
            "violations": self.figures.violations,
            "notes": self.figures.notes[:20],
            "workdir": str(self.workdir),
        }


def problems_of(report: dict) -> list[str]:
    problems = []
    if report["bad_answers"]:
        problems.append(f"bad answers {report['bad_answers']}: {report['bad_examples'][:5]}")
    if report["unanswered_member_up"]:
        problems.append(f"{report['unanswered_member_up']} queries unanswered while their member was up: {report['lost_examples'][:5]}")
    if report["serials_backwards"]:
        problems.append(f"SOA serials went back: {report['serials_backwards'][:5]}")
    for v in report["violations"]:
        problems.append(v)
    for kind, count in report["faults"].items():
        if report["recoveries"].get(kind, 0) != count:
            problems.append(f"{kind}: {count} injected, {report['recoveries'].get(kind, 0)} recovered")
    if report["answers_checked"] == 0:
        problems.append("no answer was checked")
    return problems


def render(report: dict) -> str:
    lines = [f"duration: {report['seconds']} s, {report['passes']} passes of every fault, {report['members']} members"]
    lines += [f"queries sent {t}: {n}" for t, n in report["queries_sent"].items()]
    lines += [
        f"stable-name answers checked: {report['answers_checked']}, correct: {report['answers_ok']}; SOA answers: {report['soa_ok']}",
        f"wrong/empty/NXDOMAIN/SERVFAIL answers: {sum(report['bad_answers'].values())} {report['bad_answers'] or ''}",
        f"unanswered while the member was down (killed, frozen, restarting): {report['unanswered_member_down']}",
        f"unanswered while the member was up: {report['unanswered_member_up']}",
        f"SOA serials that went back: {len(report['serials_backwards'])}",
        "faults injected / recovered:",
    ]
    lines += [f"  {k}: {n} / {report['recoveries'].get(k, 0)}" for k, n in sorted(report["faults"].items())]
    lines += [
        f"runs started: {report['runs_started']}",
        f"resumes: {report['resumes']}, takeovers seen: {report['takeovers']}, drains: {report['drains']}, "
        f"samples with a run active on two members (each under {OVERLAP_GRACE} s): {report['overlap_samples']}",
        f"refused as expected: {report['refusals']}",
        f"registry shifts: {report['shifts']}",
        f"generations: {report['generations_kept']} in the journal, {report['generations_acknowledged']} acknowledged, all kept "
        f"(checked {report['journal_checks']} times)",
        f"violations: {len(report['violations'])}",
        f"logs: {report['workdir']}",
    ]
    return "\n".join(lines)


def run_fleet_soak(seconds: float, workdir: Path | None = None) -> dict:
    check(pgcluster.available(), "PostgreSQL's server binaries are missing (apt-get install postgresql)")
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="switchyard-fleet-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return FleetSoak(workdir, seconds).run()


def main() -> int:
    return soak_main(__doc__.split("\n\n")[0], "FLEET_SOAK_SECONDS", "where the members' zones, caches and logs go (default: a new temp dir)",
                     run_fleet_soak, render, problems_of)


if __name__ == "__main__":
    sys.exit(main())
