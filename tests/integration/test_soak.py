"""Faults under load, the short version of `make soak` (issue 13, part 4): at least one pass of
every fault (cutover and rollback under an admin flood, SIGHUP good and bad, the state
directory full, also mid-cutover, the discovery directory read-only, kill -9 mid-cutover, the
state directory made read-only by the kernel under the running server) while UDP and TCP queriers check every answer.
See soak.py for what each fault expects; `make soak` runs the same for SOAK_SECONDS.
"""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import backend
from soak import problems_of, render, run_soak
from soakkit import judge
from cutoverkit import POD, VM, bootstrap_name, broker_name

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the soak drives switchyard's control plane"),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None,
                       reason="the soak mounts tmpfs file systems: needs root"),
]

SHORT_SOAK_SECONDS = float(os.environ.get("SOAK_TEST_SECONDS", 45))


def test_the_judge_refuses_what_a_stable_name_must_never_answer():
    b1 = broker_name(1)
    assert judge(b1, 0, frozenset([VM[1]])) == "ok"
    assert judge(b1, 0, frozenset([POD[1]])) == "ok"
    assert judge(b1, 0, frozenset([VM[2]])) == "wrong"
    assert judge(b1, 0, frozenset()) == "empty"
    assert judge(b1, 2, frozenset()) == "servfail"
    assert judge(b1, 3, frozenset()) == "nxdomain"
    boot = bootstrap_name()
    assert judge(boot, 0, frozenset([VM[1], VM[3]])) == "ok"
    assert judge(boot, 0, frozenset([VM[1], POD[3]])) == "wrong", "one answer draws one pool"
    assert judge(boot, 0, frozenset(["192.0.2.1"])) == "wrong"


def test_short_soak_every_fault_under_load(tmp_path):
    report = run_soak(SHORT_SOAK_SECONDS, tmp_path / "soak")
    print(render(report))
    assert not problems_of(report), "\n".join(problems_of(report)) + "\n\n" + render(report)
    assert report["passes"] >= 1
    for kind in ("admin flood", "SIGHUP good", "state dir full (ENOSPC)", "state dir full mid-cutover (ENOSPC)",
                 "discovery dir read-only (EROFS)", "kill -9 mid-cutover"):
        assert report["faults"].get(kind, 0) >= 1 and report["recoveries"][kind] == report["faults"][kind], kind
    # Under the running server where ext4 on a loop device is available, else across a restart.
    read_only = [k for k in report["faults"] if k.startswith("state dir read-only")]
    assert read_only and all(report["recoveries"][k] == report["faults"][k] for k in read_only), report["faults"]
    assert report["read_only_starts"] >= 1
    assert report["answers_checked"] > 1000
    assert report["generations_acknowledged"] > 0
