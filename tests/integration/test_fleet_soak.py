"""Faults in a fleet while cutovers run, the short version of `make fleet-soak`: two passes of
every fault (PostgreSQL stopped fast, immediate and killed -9 mid-step; the runner frozen
past its lease; the runner killed -9 and restarted; a member restarted during an outage; one
member's zone file changed and SIGHUP'd) while every member's answers are judged. See
fleet_soak.py for what each fault expects and what is checked after it.
"""

from __future__ import annotations

import os

import pytest

import pgcluster
from conftest import backend
from fleet_soak import REGISTRY, judge_answer, problems_of, render, run_fleet_soak

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the fleet is switchyard's own"),
    pytest.mark.skipif(not pgcluster.available(), reason="PostgreSQL's server binaries are not installed"),
]

# Passes go on until this many seconds have passed: 60 makes two passes of every fault (the
# second in shuffled order), about two minutes.
SHORT_SECONDS = float(os.environ.get("FLEET_SOAK_TEST_SECONDS", 60))
FAULTS = ("PostgreSQL fast", "PostgreSQL immediate", "PostgreSQL kill -9", "member frozen (SIGSTOP) past its lease",
          "runner killed -9, restarted", "member restarted during an outage (local copy)",
          "zone file changed on one member (SIGHUP)")


def test_the_registry_judge_wants_one_pool_exactly():
    judge = judge_answer
    assert judge(REGISTRY, 0, frozenset(["127.0.0.31"])) == "ok"
    assert judge(REGISTRY, 0, frozenset(["127.0.0.32"])) == "ok"
    assert judge(REGISTRY, 0, frozenset(["127.0.0.31", "127.0.0.32"])) == "wrong"
    assert judge(REGISTRY, 0, frozenset()) == "empty"
    assert judge(REGISTRY, 3, frozenset()) == "nxdomain"
    assert judge(REGISTRY, 2, frozenset()) == "servfail"


def test_one_pass_of_every_fleet_fault(tmp_path):
    report = run_fleet_soak(SHORT_SECONDS, tmp_path / "fleet-soak")
    print(render(report))
    assert not problems_of(report), "\n".join(problems_of(report)) + "\n\n" + render(report)
    for kind in FAULTS:
        assert report["faults"].get(kind, 0) >= 1 and report["recoveries"][kind] == report["faults"][kind], kind
    assert report["answers_checked"] > 2000
    assert report["generations_acknowledged"] > 0
    assert sum(n for k, n in report["runs_started"].items() if k.startswith("via ")) >= 2, report["runs_started"]
