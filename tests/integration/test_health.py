"""TCP health checks of stable-name targets, against real listeners this test opens on
127.0.0.x loopback addresses (the whole 127/8 is loopback on Linux).

health: { tcp: true, interval: 200ms, timeout: 200ms, failures: 1, successes: 1, ... }
- a target whose listener is closed leaves its pool's answers within ~2 s, and comes back
  after the listener opens again;
- every target down with on_all_down: open answers as if all were healthy; closed: SERVFAIL;
- a weighted name whose weight-100 pool is all down fails over to its weight-0 pool.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import dns.rcode
import pytest

from conftest import backend
from stablekit import (
    TcpListener,
    answer_addresses,
    common_free_port,
    sample_answers,
    wait_until,
    zone_text,
)

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="health checks are switchyard's own")

DETECT = 2.0          # seconds a change of a target's health may take to show in answers
HEALTH = "{ tcp: true, interval: 200ms, timeout: 200ms, failures: 1, successes: 1, on_all_down: %s }"

OPEN_CLUSTER = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
CLOSED_CLUSTER = ["127.0.0.24", "127.0.0.25"]
FO_MAIN = ["127.0.0.41", "127.0.0.42"]
FO_SPARE = ["127.0.0.43"]
ALL_TARGETS = OPEN_CLUSTER + CLOSED_CLUSTER + FO_MAIN + FO_SPARE


def inventory(port: int, marker: bool = False) -> str:
    extra = ("  marker:\n    pools:\n      only: { weight: 1, targets: [10.9.9.9] }\n"
             if marker else "")
    return f"""\
clusters:
  hopen:
    port: {port}
    pools: [vm]
    brokers:
      1: {{ vm: {OPEN_CLUSTER[0]} }}
      2: {{ vm: {OPEN_CLUSTER[1]} }}
      3: {{ vm: {OPEN_CLUSTER[2]} }}
    health: {HEALTH % "open"}
  hclosed:
    port: {port}
    pools: [vm]
    brokers:
      1: {{ vm: {CLOSED_CLUSTER[0]} }}
      2: {{ vm: {CLOSED_CLUSTER[1]} }}
    health: {HEALTH % "closed"}
names:
  fo:
    pools:
      main:  {{ weight: 100, targets: [{", ".join(FO_MAIN)}] }}
      spare: {{ weight: 0,   targets: [{", ".join(FO_SPARE)}] }}
    health: {{ tcp: true, port: {port}, interval: 200ms, timeout: 200ms, failures: 1, successes: 1, on_all_down: closed }}
""" + extra


class Env:
    def __init__(self, server, listeners: dict[str, TcpListener]):
        self.server = server
        self.listeners = listeners

    def close(self, *hosts: str) -> None:
        for h in hosts:
            self.listeners[h].close()

    def open(self, *hosts: str) -> None:
        for h in hosts:
            if not self.listeners[h].is_open:
                self.listeners[h].open()

    def answer(self, name: str) -> tuple[str, frozenset[str]]:
        rcode, addrs = answer_addresses(self.server, name)
        return (dns.rcode.to_text(rcode) if rcode >= 0 else "TIMEOUT"), addrs

    def settles_to(self, name: str, rcode: str, addrs: set[str], timeout: float = DETECT,
                   confirm: int = 15) -> float | None:
        """Seconds until `name` answers (rcode, addrs) on `confirm` queries in a row."""
        want = (rcode, frozenset(addrs))
        streak = [0]

        def ok() -> bool:
            if self.answer(name) == want:
                streak[0] += 1
            else:
                streak[0] = 0
            return streak[0] >= confirm
        return wait_until(ok, timeout=timeout + confirm * 0.01, step=0.01)

    def assert_settles(self, name: str, rcode: str, addrs: set[str], why: str,
                       timeout: float = DETECT) -> None:
        took = self.settles_to(name, rcode, addrs, timeout)
        if took is None:
            recent = sample_answers(self.server, name, 20)
            pytest.fail(f"{name}: {why}: want {rcode} {sorted(addrs)} within {timeout}s; last "
                        f"20 answers: {dict(recent)}\nlisteners open: "
                        f"{[h for h, l in self.listeners.items() if l.is_open]}\n"
                        f"server: {self.server.describe()}", pytrace=False)


@pytest.fixture
def env(server_factory):
    port = common_free_port(ALL_TARGETS)
    listeners = {h: TcpListener(h, port).open() for h in ALL_TARGETS}
    try:
        srv = server_factory(zones={
            "example.test.zone": zone_text("example.test"),
            "example.test.yaml": inventory(port),
        })
        e = Env(srv, listeners)
        # Everything is up: each name settles to its full healthy answer.
        e.assert_settles("bootstrap.hopen.example.test", "NOERROR", set(OPEN_CLUSTER),
                         "all listeners open", timeout=5.0)
        e.assert_settles("bootstrap.hclosed.example.test", "NOERROR", set(CLOSED_CLUSTER),
                         "all listeners open", timeout=5.0)
        e.assert_settles("fo.example.test", "NOERROR", set(FO_MAIN), "all listeners open",
                         timeout=5.0)
        yield e
    finally:
        for listener in listeners.values():
            listener.close()


def test_probes_reach_the_listeners(env):
    time.sleep(0.6)
    silent = [h for h, l in env.listeners.items() if l.accepted == 0]
    assert not silent, f"no TCP health probe reached {silent} (interval 200ms)"


def test_down_target_leaves_and_comes_back(env):
    down = OPEN_CLUSTER[1]
    env.close(down)
    env.assert_settles("bootstrap.hopen.example.test", "NOERROR",
                       set(OPEN_CLUSTER) - {down}, f"{down} refuses connections")
    # It stays out while it is down.
    time.sleep(0.5)
    seen = sample_answers(env.server, "bootstrap.hopen.example.test", 30)
    assert set(seen) == {("NOERROR", tuple(sorted(set(OPEN_CLUSTER) - {down})))}, dict(seen)

    env.open(down)
    env.assert_settles("bootstrap.hopen.example.test", "NOERROR", set(OPEN_CLUSTER),
                       f"{down} accepts connections again")


def test_two_down_then_all_down_open(env):
    env.close(OPEN_CLUSTER[0], OPEN_CLUSTER[1])
    env.assert_settles("bootstrap.hopen.example.test", "NOERROR", {OPEN_CLUSTER[2]},
                       "two of three targets down")
    env.close(OPEN_CLUSTER[2])
    # Health-wise nothing is left; on_all_down: open answers as if all were healthy.
    env.assert_settles("bootstrap.hopen.example.test", "NOERROR", set(OPEN_CLUSTER),
                       "all targets down with on_all_down: open")
    time.sleep(0.6)   # several probe rounds later it still fails open
    seen = sample_answers(env.server, "bootstrap.hopen.example.test", 30)
    assert set(seen) == {("NOERROR", tuple(sorted(OPEN_CLUSTER)))}, dict(seen)
    # One comes back: only it answers.
    env.open(OPEN_CLUSTER[0])
    env.assert_settles("bootstrap.hopen.example.test", "NOERROR", {OPEN_CLUSTER[0]},
                       "one target back after all were down")


def test_all_down_closed_servfail(env):
    env.close(CLOSED_CLUSTER[0])
    env.assert_settles("bootstrap.hclosed.example.test", "NOERROR", {CLOSED_CLUSTER[1]},
                       "one of two targets down")
    env.close(CLOSED_CLUSTER[1])
    env.assert_settles("bootstrap.hclosed.example.test", "SERVFAIL", set(),
                       "all targets down with on_all_down: closed")
    env.open(*CLOSED_CLUSTER)
    env.assert_settles("bootstrap.hclosed.example.test", "NOERROR", set(CLOSED_CLUSTER),
                       "targets back")
    # The other cluster's names were never affected.
    assert env.answer("bootstrap.hopen.example.test") == ("NOERROR", frozenset(OPEN_CLUSTER))


def test_weighted_name_fails_over_to_zero_weight_pool(env):
    # While main is healthy the weight-0 pool never answers.
    seen = sample_answers(env.server, "fo.example.test", 50)
    assert set(seen) == {("NOERROR", tuple(sorted(FO_MAIN)))}, dict(seen)

    env.close(FO_MAIN[0])
    env.assert_settles("fo.example.test", "NOERROR", {FO_MAIN[1]}, "one main target down")
    env.close(FO_MAIN[1])
    env.assert_settles("fo.example.test", "NOERROR", set(FO_SPARE),
                       "the weight-100 pool is all down: the weight-0 pool answers")
    # Spare down too, with on_all_down: closed → SERVFAIL.
    env.close(*FO_SPARE)
    env.assert_settles("fo.example.test", "SERVFAIL", set(),
                       "every pool down with on_all_down: closed")
    env.open(*FO_SPARE)
    env.assert_settles("fo.example.test", "NOERROR", set(FO_SPARE), "spare back")
    env.open(*FO_MAIN)
    env.assert_settles("fo.example.test", "NOERROR", set(FO_MAIN),
                       "main back: traffic returns to the weight-100 pool")


def test_reload_keeps_health_state(env):
    """SIGHUP with unchanged files must not bring a dead target back into answers until the
    next probe: the health state of unchanged targets survives the reload."""
    down = OPEN_CLUSTER[0]
    env.close(down)
    env.assert_settles("bootstrap.hopen.example.test", "NOERROR",
                       set(OPEN_CLUSTER) - {down}, f"{down} refuses connections")
    log_before = len(env.server.stderr_text())
    # Same clusters; one new name, so we can tell when the new inventory is live.
    (env.server.zone_dir / "example.test.yaml").write_text(inventory(env.listeners[down].port,
                                                                     marker=True))
    env.server.signal(signal.SIGHUP)
    seen: Counter = Counter()
    reloaded_at = None
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        rcode, addrs = env.answer("bootstrap.hopen.example.test")
        seen[(rcode, tuple(sorted(addrs)))] += 1
        if reloaded_at is None and env.answer("marker.example.test")[1] == {"10.9.9.9"}:
            reloaded_at = time.monotonic()
        if reloaded_at is not None and time.monotonic() - reloaded_at > 1.0:
            break
    assert reloaded_at is not None, f"reload not applied: {env.server.describe()}"
    assert env.server.alive()
    bad = {k: v for k, v in seen.items() if down in k[1] or k[0] != "NOERROR"}
    assert not bad, (f"after SIGHUP the dead target {down} was answered again: {dict(seen)}\n"
                     f"log: {env.server.stderr_text()[log_before:][-2000:]}")
