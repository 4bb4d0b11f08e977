"""`switchyard check --zones DIR` validates the inventory `DIR/<origin>yaml` beside each
`DIR/<origin>zone`: every problem is printed to stderr as `PATH:LINE: FIELD: message` and the
exit status is 1. A handful of representative errors, each checked for path, line and field,
plus the repo's own example zones/ passing."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import dns.rcode
import pytest

from conftest import REPO, backend, free_port, switchyard_bin
from stablekit import zone_text

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="`check` is switchyard's own command")

ZONE = zone_text("example.test", [
    "www IN A 192.0.2.10",
    "schema-registry IN A 192.0.2.30",
])

# A valid inventory; the cases below change one thing each. Line numbers on the right.
GOOD = [
    "ttl: 60",                                          # 1
    "clusters:",                                        # 2
    "  orders:",                                        # 3
    "    port: 9092",                                   # 4
    "    pools: [vm, pod]",                             # 5
    "    brokers:",                                     # 6
    "      1: { vm: 10.0.1.11, pod: 10.8.1.11 }",       # 7
    "      2: { vm: 10.0.1.12 }",                       # 8
    "names:",                                           # 9
    "  registry:",                                      # 10
    "    pools:",                                       # 11
    "      vm:  { weight: 100, targets: [10.0.2.5] }",  # 12
    "      pod: { weight: 0, targets: [10.8.2.5] }",    # 13
]


def run_check(zone_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(switchyard_bin()), "check", "--zones", str(zone_dir)],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def write(tmp_path: Path, inventory_lines: list[str], zone: str = ZONE) -> Path:
    d = tmp_path / "zones"
    d.mkdir()
    (d / "example.test.zone").write_text(zone)
    (d / "example.test.yaml").write_text("\n".join(inventory_lines) + "\n")
    return d


def errors_for(proc, path: Path) -> list[tuple[int, str, str]]:
    """(line, field, message) of every stderr line `PATH:LINE: FIELD: message` for path."""
    pat = re.compile(rf"^{re.escape(str(path))}:(\d+): (\S+): (.+)$")
    out = []
    for line in proc.stderr.splitlines():
        m = pat.match(line.strip())
        if m:
            out.append((int(m.group(1)), m.group(2), m.group(3)))
    return out


def assert_inventory_error(proc, path: Path, line: int, field: str, *,
                           field_prefix: bool = False) -> None:
    assert proc.returncode == 1, (f"check must exit 1 on a bad inventory, got {proc.returncode}"
                                  f"\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    errs = errors_for(proc, path)
    assert errs, f"no `{path}:LINE: FIELD: message` line on stderr:\n{proc.stderr}"

    def field_ok(f: str) -> bool:
        return f == field or (field_prefix and f.startswith(field + "."))
    hits = [e for e in errs if e[0] == line and field_ok(e[1])]
    assert hits, (f"want an error at line {line} for field {field!r}"
                  f"{' (or below it)' if field_prefix else ''}; got:\n{proc.stderr}")
    assert all(msg.strip() for _l, _f, msg in hits), "each error needs a message"


def with_lines(replace: dict[int, str] | None = None, insert: dict[int, list[str]] | None = None,
               base: list[str] = GOOD) -> list[str]:
    """GOOD with line numbers (1-based) replaced, then lines inserted *after* given numbers."""
    lines = list(base)
    for n, text in (replace or {}).items():
        lines[n - 1] = text
    for n in sorted(insert or {}, reverse=True):
        lines[n:n] = insert[n]
    return lines


def test_good_inventory_passes(tmp_path):
    d = write(tmp_path, GOOD)
    proc = run_check(d)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def test_unknown_key(tmp_path):
    d = write(tmp_path, with_lines(insert={4: ["    prot: 9093"]}))       # line 5
    assert_inventory_error(run_check(d), d / "example.test.yaml", 5, "clusters.orders.prot")


def test_unknown_top_level_key(tmp_path):
    d = write(tmp_path, with_lines(insert={1: ["clusterz: {}"]}))          # line 2
    assert_inventory_error(run_check(d), d / "example.test.yaml", 2, "clusterz")


def test_broker_id_not_a_number(tmp_path):
    d = write(tmp_path, with_lines(replace={8: "      two: { vm: 10.0.1.12 }"}))
    assert_inventory_error(run_check(d), d / "example.test.yaml", 8, "clusters.orders.brokers.two")


def test_broker_pool_not_in_pools(tmp_path):
    d = write(tmp_path, with_lines(replace={7: "      1: { vm: 10.0.1.11, k8s: 10.8.1.11 }"}))
    assert_inventory_error(run_check(d), d / "example.test.yaml", 7,
                           "clusters.orders.brokers.1.k8s")


def test_weight_out_of_range(tmp_path):
    d = write(tmp_path, with_lines(replace={12: "      vm:  { weight: 300, targets: [10.0.2.5] }"}))
    assert_inventory_error(run_check(d), d / "example.test.yaml", 12,
                           "names.registry.pools.vm.weight")


def test_partial_weights_on_a_broker(tmp_path):
    """Broker names are exclusive: weights on a broker are refused (in block style, so the
    offending line is unambiguous)."""
    d = write(tmp_path, with_lines(replace={7: "      1:"}, insert={7: [
        "        vm: 10.0.1.11",                        # 8
        "        pod: 10.8.1.11",                       # 9
        "        weights: { vm: 50, pod: 50 }",         # 10
    ]}))
    assert_inventory_error(run_check(d), d / "example.test.yaml", 10,
                           "clusters.orders.brokers.1", field_prefix=True)


def test_partial_weight_inside_a_broker_pool(tmp_path):
    d = write(tmp_path, with_lines(replace={7: "      1:"}, insert={7: [
        "        vm: { target: 10.0.1.11, weight: 50 }",   # 8
        "        pod: 10.8.1.11",                          # 9
    ]}))
    assert_inventory_error(run_check(d), d / "example.test.yaml", 8,
                           "clusters.orders.brokers.1", field_prefix=True)


def test_name_collides_with_zone_record(tmp_path):
    # The zone has `schema-registry IN A 192.0.2.30`.
    d = write(tmp_path, with_lines(replace={10: "  schema-registry:"}))
    assert_inventory_error(run_check(d), d / "example.test.yaml", 10, "names.schema-registry")


def test_every_problem_reported(tmp_path):
    lines = with_lines(
        replace={8: "      two: { vm: 10.0.1.12 }",
                 12: "      vm:  { weight: 300, targets: [10.0.2.5] }"},
        insert={4: ["    prot: 9093"]})
    # After the insert: prot at 5, broker "two" at 9, weight 300 at 13.
    d = write(tmp_path, lines)
    proc = run_check(d)
    path = d / "example.test.yaml"
    assert_inventory_error(proc, path, 5, "clusters.orders.prot")
    assert_inventory_error(proc, path, 9, "clusters.orders.brokers.two")
    assert_inventory_error(proc, path, 13, "names.registry.pools.vm.weight")


def test_zone_without_inventory_still_fine(tmp_path):
    d = tmp_path / "zones"
    d.mkdir()
    (d / "example.test.zone").write_text(ZONE)
    proc = run_check(d)
    assert proc.returncode == 0, proc.stderr


def test_repo_example_zones_pass():
    zones = REPO / "zones"
    assert (zones / "kafka.example.zone").is_file() and (zones / "kafka.example.yaml").is_file()
    proc = run_check(zones)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "kafka.example" in proc.stdout


def test_serve_refuses_a_bad_inventory_at_startup(tmp_path):
    """Like a bad zone file, a bad inventory at startup is reported as PATH:LINE: FIELD and
    the server exits 1 instead of serving half the data."""
    d = write(tmp_path, with_lines(replace={12: "      vm:  { weight: 300, targets: [10.0.2.5] }"}))
    port = free_port()
    proc = subprocess.Popen(
        [str(switchyard_bin()), "serve", "--zones", str(d), "--listen", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        pytest.fail("serve kept running with an invalid inventory")
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_inventory_error(result, d / "example.test.yaml", 12, "names.registry.pools.vm.weight")


EMPTY_INVENTORIES = {"empty": "", "blank lines": "\n\n", "comments only": "# nothing yet\n\n  # more later\n"}


@pytest.mark.parametrize("text", EMPTY_INVENTORIES.values(), ids=EMPTY_INVENTORIES.keys())
def test_an_empty_inventory_is_an_error(tmp_path, text):
    """No YAML document at all is an emptied or truncated file far more often than a wish:
    served, it would take every stable name of the zone away at once."""
    d = tmp_path / "zones"
    d.mkdir()
    (d / "example.test.zone").write_text(ZONE)
    (d / "example.test.yaml").write_text(text)
    proc = run_check(d)
    assert_inventory_error(proc, d / "example.test.yaml", 1, "(document)")
    assert "the inventory is empty" in proc.stderr and "zone example.test." in proc.stderr, proc.stderr
    assert "clusters: {}" in proc.stderr and "delete the file" in proc.stderr, proc.stderr


@pytest.mark.parametrize("lines", [["clusters: {}"], ["ttl: 30"]], ids=["clusters {}", "ttl only"])
def test_an_inventory_that_declares_nothing_passes_with_a_warning(tmp_path, lines):
    d = write(tmp_path, lines)
    proc = run_check(d)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert f"{d / 'example.test.yaml'}: ok, 0 clusters" in proc.stdout, proc.stdout
    assert (f"warning: {d / 'example.test.yaml'}: declares no clusters and no names, "
            "so zone example.test. serves no stable names") in proc.stderr, proc.stderr
    # A real inventory gets no such warning.
    other = tmp_path / "other"
    other.mkdir()
    (other / "zones").mkdir()
    (other / "zones" / "example.test.zone").write_text(ZONE)
    (other / "zones" / "example.test.yaml").write_text("\n".join(GOOD) + "\n")
    good = run_check(other / "zones")
    assert good.returncode == 0 and "warning:" not in good.stderr, good.stderr


def answers_a(server, name: str) -> bool:
    r = server.query(name, "A")
    return r.rcode() == dns.rcode.NOERROR and bool(r.answer)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_serve_keeps_its_names_when_the_inventory_is_emptied_and_warns_when_it_declares_nothing(server_factory):
    """A reload of an inventory truncated to nothing is rejected (the stable names keep
    answering); one that declares nothing on purpose is served, with a warning in the log."""
    zone = zone_text("example.test", ["www IN A 192.0.2.10"])
    registry = ("names:\n  registry:\n    pools:\n      vm: { weight: 100, targets: [10.0.2.5] }\n"
                "      pod: { weight: 0, targets: [10.8.2.5] }\n")
    srv = server_factory(zones={"example.test.zone": zone, "example.test.yaml": registry})
    name = "registry.example.test"
    assert answers_a(srv, name)
    inventory = srv.zone_dir / "example.test.yaml"

    inventory.write_text("# emptied by a deploy\n")
    log_before = len(srv.stderr_text())
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: "the inventory is empty" in srv.stderr_text()[log_before:]), srv.describe()
    assert "reload rejected" in srv.stderr_text()[log_before:], srv.describe()
    assert answers_a(srv, name), "the stable name must keep answering after a rejected reload"

    inventory.write_text("clusters: {}\n")
    log_before = len(srv.stderr_text())
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: "declares no clusters and no names" in srv.stderr_text()[log_before:]), srv.describe()
    assert wait_for(lambda: not answers_a(srv, name)), "declared nothing, served nothing"
    assert srv.alive()
