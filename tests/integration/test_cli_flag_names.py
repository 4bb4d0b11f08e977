"""A value out of range is refused by the server, which names the field by its JSON path
(`ramp[0]`, `toGeneration`): right for API clients. The CLI's user typed a flag, so the CLI
names the flag (`--ramp`, `--to-generation`): the server's error reply carries the field apart
(`field`) and the CLI rewords it. Checked through the real binary against a real server."""

from __future__ import annotations

import pytest

from conftest import backend
from cutoverkit import (  # noqa: F401  (fixtures)
    ALL_TARGETS,
    broker_listeners,
    cli,
    deployments,
    describe_run,
    orders_zones,
)

pytestmark = [
    pytest.mark.skipif(backend() == "nsd", reason="the control plane is switchyard's own"),
]

# (CLI arguments, what the CLI must say, the API's name for the field it must not say)
CASES = [
    (["cutover", "plan", "orders", "--to", "pod", "--ramp", "0,100"],
     "switchyard: --ramp, value 1: ramp percentage must be a whole number from 1 to 100, not 0", "ramp["),
    (["cutover", "plan", "orders", "--to", "pod", "--batch", "0"],
     "switchyard: --batch: batch (brokers per step) must be a whole number from 1 to 2147483647, not 0", "switchyard: batch:"),
    (["cutover", "plan", "orders", "--to", "pod", "--cutover-ttl", "3000000000"],
     "switchyard: --cutover-ttl: cutover TTL must be a whole number from 0 to 2147483647, not 3000000000", "cutoverTTL"),
    (["cutover", "apply", "orders", "--to", "pod", "--verify-timeout", "0"],
     "switchyard: --verify-timeout: verify timeout seconds must be a whole number from 1", "verifyTimeoutSeconds"),
    (["rollback", "orders", "--to-generation", "0", "--plan-only"],
     "switchyard: --to-generation: a generation number must be a whole number from 1", "toGeneration"),
    (["rollback", "orders", "--run", "0"],
     "switchyard: --run: a run id must be a whole number from 1", "rollback.run"),
    (["shift", "orders", "broker-1", "--ttl", "3000000000"],
     "switchyard: --ttl: TTL must be a whole number from 0 to 2147483647, not 3000000000", "request.ttl"),
]


@pytest.fixture
def deployment(deployments, broker_listeners):
    port, _ = broker_listeners(ALL_TARGETS)
    return deployments(orders_zones(port, ttl=1))


@pytest.mark.parametrize("args,says,api_name", CASES, ids=[" ".join(c[0][:2] + c[0][-2:]) for c in CASES])
def test_the_cli_names_the_flag_the_user_typed(deployment, args, says, api_name):
    before = deployment.admin.generation()["number"]
    result = cli(deployment, *args)
    assert result.returncode == 1, describe_run(result)
    assert says in result.stderr, describe_run(result)
    assert api_name not in result.stderr, describe_run(result)
    # Refused, so nothing changed.
    assert deployment.admin.generation()["number"] == before


def test_api_clients_still_see_the_api_field_names(deployment):
    status, reply = deployment.admin.request("POST", "/v1/cutover/plan",
                                             {"cluster": "orders", "toPool": "pod", "ramp": [0, 100]})
    assert status == 400, reply
    assert reply["error"] == "ramp[0]: ramp percentage must be a whole number from 1 to 100, not 0", reply
    assert reply["field"] == "ramp[0]", reply
    status, reply = deployment.admin.request("POST", "/v1/runs", {"rollback": {"cluster": "orders", "toGeneration": 0}})
    assert status == 400, reply
    assert reply["error"].startswith("rollback.toGeneration: a generation number must be"), reply
    assert reply["field"] == "rollback.toGeneration", reply
    # An error about no field in particular has none.
    status, reply = deployment.admin.request("POST", "/v1/runs", {})
    assert status == 400 and "field" not in reply, reply
