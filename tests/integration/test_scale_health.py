"""Health checks of hundreds of targets while many do not answer (old VMs a cutover left
behind, whose SYNs go unanswered until the probe's timeout), in a process with few file
descriptors (systemd's default soft limit is 1024; here it is lowered to 160 with `prlimit` so a
few hundred targets show it): a probe that cannot get a socket must not mark a healthy target
down. Each healthy pod target must stay up; the silent vm targets go down.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import backend
from cutoverkit import deployments  # noqa: F401  (fixture)
from fleetgen import Fleet
from stablekit import TcpListenerSet, common_free_port, wait_until

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="health checks are switchyard's own"),
]


@pytest.fixture
def silent_listeners():
    """Listeners that never accept: once their small backlog is full, SYNs go unanswered and a
    connect stays in progress until the prober gives up."""
    opened: list[socket.socket] = []

    def make(hosts, port):
        for host in hosts:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            opened.append(s)
            s.bind((host, port))
            s.listen(0)

    yield make
    for s in opened:
        s.close()


def test_unreachable_targets_never_mark_healthy_ones_down(deployments, silent_listeners):
    fleet = Fleet(clusters={"orders": 300}, records=100,
                  health="{ tcp: true, interval: 1s, timeout: 1s, failures: 1, successes: 1 }")
    ids = fleet.broker_ids("orders")
    vm = [fleet.vm("orders", i) for i in ids]
    pod = [fleet.pod_address("orders", i) for i in ids if not fleet.pod_hostname("orders", i)]
    fleet.port = common_free_port(vm + pod)
    silent_listeners(vm, fleet.port)
    healthy = TcpListenerSet(pod, fleet.port)
    try:
        d = deployments(fleet.files())
        limited = subprocess.run(["prlimit", "--pid", str(d.server.pid), "--nofile=160:"],
                                 capture_output=True, text=True, timeout=10)
        assert limited.returncode == 0, limited.stderr
        # A reload starts the health monitor again, under the lower limit.
        d.server.signal(signal.SIGHUP)
        time.sleep(1.0)

        def target_up() -> dict[str, float]:
            _, text = d.admin.request("GET", "/metrics")
            return {m.group(1): float(m.group(2))
                    for m in re.finditer(r'^switchyard_target_up\{target="([^"]+)"\} (\S+)$', str(text), re.M)}

        # Several probe rounds: every silent vm target down at least once.
        assert wait_until(lambda: sum(1 for t, v in target_up().items() if v == 0 and t.split(":")[0] in vm) >= len(vm) * 0.9,
                          timeout=40.0, step=0.5) is not None, f"the silent targets were not found down: {target_up()}"
        for _ in range(6):
            up = target_up()
            wrongly_down = sorted(t for t, v in up.items() if v == 0 and t.rsplit(":", 1)[0] in pod)
            assert not wrongly_down, (f"{len(wrongly_down)} healthy targets reported down, e.g. {wrongly_down[:5]}; "
                                      f"server log:\n{d.server.stderr_text()[-2000:]}")
            time.sleep(1.0)
        assert healthy.accepted > len(pod)
    finally:
        healthy.close()
