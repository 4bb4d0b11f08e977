"""`switchyard check --zones DIR`: exit 0 and one line per zone when all is good; otherwise exit 1
and one `PATH:LINE: message` line per error on stderr."""

import re
import subprocess
from pathlib import Path

import dns.rcode
import pytest

from conftest import DEFAULT_ZONES, backend, switchyard_bin

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="`check` is switchyard's own command")

HEAD = [
    "$ORIGIN example.test.",                                         # 1
    "$TTL 300",                                                      # 2
    "@ IN SOA ns1 hostmaster 2024010101 3600 600 86400 300",         # 3
    "@ IN NS ns1",                                                   # 4
    "ns1 IN A 192.0.2.53",                                           # 5
]


def run_check(zone_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(switchyard_bin()), "check", "--zones", str(zone_dir)],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "zones"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def error_lines(proc, path: Path) -> list[tuple[int, str]]:
    """(line, message) for every stderr line of the form `PATH:LINE: message` for this path."""
    pat = re.compile(rf"^{re.escape(str(path))}:(\d+): (.+)$")
    out = []
    for line in proc.stderr.splitlines():
        m = pat.match(line.strip())
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def assert_error(proc, path: Path, lines: set[int] | None, keyword: str | None):
    assert proc.returncode == 1, (
        f"check must exit 1 on a bad zone, got {proc.returncode}\nstdout:{proc.stdout}\n"
        f"stderr:{proc.stderr}")
    errs = error_lines(proc, path)
    assert errs, f"no `{path}:LINE: message` line on stderr:\n{proc.stderr}"
    hits = [(n, msg) for n, msg in errs
            if (lines is None or n in lines) and (keyword is None or keyword.lower() in msg.lower())]
    assert hits, (f"want an error at line {sorted(lines) if lines else 'any'}"
                  f"{' mentioning ' + repr(keyword) if keyword else ''}; got:\n{proc.stderr}")


def test_check_good(tmp_path):
    d = write(tmp_path, DEFAULT_ZONES)
    (d / "notes.txt").write_text("not a zone file: only *.zone files are zones\n")
    proc = run_check(d)
    assert proc.returncode == 0, f"stderr:\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, f"want one line per zone:\n{proc.stdout}"
    assert any("example.test" in line for line in lines)
    assert any("other.test" in line for line in lines)


def test_check_missing_soa(tmp_path):
    text = "\n".join(["$ORIGIN example.test.", "$TTL 300", "@ IN NS ns1", "ns1 IN A 192.0.2.53"])
    d = write(tmp_path, {"example.test.zone": text + "\n"})
    proc = run_check(d)
    assert_error(proc, d / "example.test.zone", None, "SOA")


def test_check_outside_origin(tmp_path):
    text = "\n".join(HEAD + ["www.example.com. IN A 192.0.2.2"]) + "\n"   # line 6
    d = write(tmp_path, {"example.test.zone": text})
    assert_error(run_check(d), d / "example.test.zone", {6}, "outside")


def test_check_cname_and_other_data(tmp_path):
    text = "\n".join(HEAD + ["www IN A 192.0.2.2",                         # line 6
                             "www IN CNAME ns1"]) + "\n"                   # line 7
    d = write(tmp_path, {"example.test.zone": text})
    assert_error(run_check(d), d / "example.test.zone", {6, 7}, "CNAME")


def test_check_bad_rdata(tmp_path):
    text = "\n".join(HEAD + ["mail IN A 192.0.2.25",                       # line 6
                             "www IN A 300.1.1.1",                         # line 7
                             "txt IN TXT ok"]) + "\n"
    d = write(tmp_path, {"example.test.zone": text})
    assert_error(run_check(d), d / "example.test.zone", {7}, None)


def test_check_include_unsupported(tmp_path):
    text = "\n".join(HEAD + ["$INCLUDE other.inc"]) + "\n"                 # line 6
    d = write(tmp_path, {"example.test.zone": text})
    (d / "other.inc").write_text("x IN A 192.0.2.9\n")
    assert_error(run_check(d), d / "example.test.zone", {6}, "INCLUDE")


def test_check_second_soa(tmp_path):
    text = "\n".join(HEAD + ["www IN A 192.0.2.2",                          # line 6
                             "@ IN SOA ns1 hostmaster 2 3600 600 86400 300"]) + "\n"  # line 7
    d = write(tmp_path, {"example.test.zone": text})
    assert_error(run_check(d), d / "example.test.zone", {7}, "SOA")


def test_check_reports_every_bad_file(tmp_path):
    bad1 = "\n".join(HEAD + ["www IN A 300.1.1.1"]) + "\n"                 # line 6
    bad2 = "\n".join(["$ORIGIN other.test.", "$TTL 300",
                      "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1",
                      "ns1 IN AAAA 2001:db8::zz"]) + "\n"                  # line 5
    d = write(tmp_path, {"example.test.zone": bad1, "other.test.zone": bad2,
                         "good.test.zone": DEFAULT_ZONES["other.test.zone"]
                         .replace("other.test.", "good.test.")})
    proc = run_check(d)
    assert_error(proc, d / "example.test.zone", {6}, None)
    assert_error(proc, d / "other.test.zone", {5}, None)
    assert not error_lines(proc, d / "good.test.zone"), proc.stderr


def test_check_origin_from_file_name(tmp_path):
    # No $ORIGIN and relative owners: the origin comes from the file name.
    text = "\n".join(["$TTL 300", "@ IN SOA ns1 hostmaster 1 3600 600 86400 300",
                      "@ IN NS ns1", "ns1 IN A 192.0.2.53", "broker-1 IN A 10.0.1.11"]) + "\n"
    d = write(tmp_path, {"kafka.example.zone": text})
    proc = run_check(d)
    assert proc.returncode == 0, proc.stderr
    assert "kafka.example" in proc.stdout


def test_serve_origin_from_file_name(server_factory):
    text = "\n".join(["$TTL 300", "@ IN SOA ns1 hostmaster 1 3600 600 86400 300",
                      "@ IN NS ns1", "ns1 IN A 192.0.2.53", "broker-1 IN A 10.0.1.11"]) + "\n"
    srv = server_factory(zones={"kafka.example.zone": text})
    r = srv.query("broker-1.kafka.example", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert {x.to_text() for x in r.answer[0]} == {"10.0.1.11"}


def test_check_missing_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    proc = run_check(missing)
    assert proc.returncode != 0, "checking a directory that does not exist must fail"
    assert str(missing) in proc.stderr, f"the error should name the directory:\n{proc.stderr}"


def test_check_line_numbers_after_multiline_records(tmp_path):
    text = "\n".join([
        "; comment line 1",                                   # 1
        "$ORIGIN example.test.",                              # 2
        "$TTL 300",                                           # 3
        "@ IN SOA ns1 hostmaster (",                          # 4
        "        2024010101 ; serial",                        # 5
        "        3600       ; refresh",                       # 6
        "        600        ; retry",                         # 7
        "        86400      ; expire",                        # 8
        "        300 )      ; minimum",                       # 9
        "",                                                   # 10
        "@ IN NS ns1",                                        # 11
        'txt IN TXT "a ( b" "c ; d"',                         # 12: parens/semicolon in strings
        "ns1 IN A 192.0.2.53",                                # 13
        "; another comment",                                  # 14
        "www IN A 300.1.1.1",                                 # 15
    ]) + "\n"
    d = write(tmp_path, {"example.test.zone": text})
    proc = run_check(d)
    assert_error(proc, d / "example.test.zone", {15}, None)
    assert all(n == 15 for n, _ in error_lines(proc, d / "example.test.zone")), proc.stderr


def test_serve_with_bad_zone_at_startup_reports_file_line(tmp_path):
    """Not specified whether serve refuses to start or serves the good zones; either way the
    error must name file:line and the process must not hang silently."""
    import time
    from conftest import OTHER_ZONE, free_port, udp_exchange, make_query, V4
    d = write(tmp_path, {"other.test.zone": OTHER_ZONE,
                         "example.test.zone": "\n".join(HEAD + ["www IN A 300.1.1.1"]) + "\n"})
    port = free_port()
    err_path = tmp_path / "stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([str(switchyard_bin()), "serve", "--zones", str(d),
                                 "--listen", f"127.0.0.1:{port}", "--threads", "2"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 10
        served = False
        while time.monotonic() < deadline and proc.poll() is None:
            w = udp_exchange(V4, port, make_query("other.test", "SOA").to_wire(), timeout=0.2)
            if w is not None:
                served = True
                break
        stderr = err_path.read_text(errors="replace")
        assert served or proc.poll() is not None, "neither serving nor exited after 10 s"
        if not served:
            assert proc.returncode != 0, "a failed start must exit non-zero"
        pattern = rf"example\.test\.zone:6\b"
        deadline = time.monotonic() + 3
        while not re.search(pattern, stderr) and time.monotonic() < deadline:
            time.sleep(0.1)
            stderr = err_path.read_text(errors="replace")
        assert re.search(pattern, stderr), f"stderr must name example.test.zone:6:\n{stderr}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
