"""Response-rate limiting (--rrl-rate, --rrl-slip, --rrl-whitelist) against the real binary:
a flood from one loopback address is held to the rate, with every slip-th limited answer sent
truncated (TC=1, no records), while another /24 is answered in full, a whitelisted prefix is
never limited, TCP is never limited, and /metrics counts what was dropped and slipped."""

from __future__ import annotations

import http.client
import re
import socket
import time

import dns.flags
import dns.message
import pytest

from conftest import V4, backend, free_port, make_query

pytestmark = pytest.mark.skipif(backend() == "nsd", reason="switchyard's own rate limiting")

RATE = 20
SLIP = 2
NAME = "www.example.test."


def flood(port: int, source: str, count: int) -> tuple[int, int, float]:
    """Sends `count` A queries from `source` in bursts of 10 every 2 ms (about 5,000 a second:
    far over the rate, yet within what the server's socket buffers take on a busy machine),
    then collects answers until the line has been quiet for a second. Returns (full answers,
    truncated answers, seconds the sending took)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    wires = []
    for i in range(count):
        q = make_query(NAME, "A")
        q.id = i
        wires.append(q.to_wire())
    start = time.monotonic()
    for i, wire in enumerate(wires):
        s.sendto(wire, (V4, port))
        if i % 10 == 9:
            time.sleep(0.002)
    sent_in = time.monotonic() - start
    full = truncated = 0
    s.settimeout(1.0)
    try:
        while True:
            data, _ = s.recvfrom(4096)
            reply = dns.message.from_wire(data)
            if reply.flags & dns.flags.TC:
                assert not reply.answer and not reply.authority, "a slipped answer carries records"
                truncated += 1
            else:
                assert reply.answer, f"an unlimited answer without records: {reply}"
                full += 1
    except socket.timeout:
        pass
    finally:
        s.close()
    return full, truncated, sent_in


def metrics(admin_port: int) -> str:
    conn = http.client.HTTPConnection(V4, admin_port, timeout=5)
    conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
    return conn.getresponse().read().decode()


token = ""


def test_a_flood_is_held_to_the_rate_with_slipped_answers(server_factory, tmp_path):
    global token
    admin_port = free_port()
    token_file = tmp_path / "token"
    token = "rrl-test-token-0123456789"
    token_file.write_text(token + "\n")
    srv = server_factory(extra_args=["--rrl-rate", str(RATE), "--rrl-slip", str(SLIP),
                                     "--rrl-whitelist", "127.0.2.0/24", "--state", str(tmp_path / "state"),
                                     "--admin", f"{V4}:{admin_port}", "--admin-token-file", str(token_file)])
    count = 400
    full, truncated, took = flood(srv.port, "127.0.0.1", count)
    # The bucket holds RATE answers and refills at RATE per second while the flood lasts.
    assert RATE <= full <= RATE + RATE * (took + 0.5) + 2, (full, truncated, took)
    assert truncated >= (count - full) * 0.8 / SLIP, (full, truncated)

    # Another /24 is answered in full meanwhile; so is a whitelisted one, however fast.
    other_full, other_truncated, _ = flood(srv.port, "127.0.1.7", RATE - 5)
    assert (other_full, other_truncated) == (RATE - 5, 0)
    white_full, white_truncated, _ = flood(srv.port, "127.0.2.9", 300)
    assert white_truncated == 0 and white_full >= 290, (white_full, white_truncated)

    # TCP from the flooding address is never limited.
    for _ in range(RATE * 2):
        reply = srv.query(NAME, "A", tcp=True)
        assert reply is not None and reply.answer and not (reply.flags & dns.flags.TC)

    text = metrics(admin_port)
    dropped = re.search(r'switchyard_rrl_limited_responses_total\{action="dropped"\} (\d+)', text)
    slipped = re.search(r'switchyard_rrl_limited_responses_total\{action="slipped"\} (\d+)', text)
    assert dropped and slipped, text[-2000:]
    # Every slipped answer arrived; every SLIP-th limited response was one.
    limited = int(dropped.group(1)) + int(slipped.group(1))
    assert int(slipped.group(1)) == truncated
    assert abs(truncated - limited / SLIP) <= 2, f"{truncated} slipped of {limited} limited"
    print(f"flood of {count} in {took * 1000:.0f} ms: {full} answered, {truncated} slipped, "
          f"{limited - truncated} dropped")


def test_rate_limiting_is_off_by_default(server):
    full, truncated, _ = flood(server.port, "127.0.0.1", 300)
    assert truncated == 0 and full >= 290, (full, truncated)


@pytest.mark.parametrize("args,message", [
    (["--rrl-rate", "-1"], "--rrl-rate"),
    (["--rrl-slip", "101"], "--rrl-slip"),
    (["--rrl-whitelist", "10.0.0.0/33"], "--rrl-whitelist 10.0.0.0/33"),
])
def test_bad_rate_limit_options_are_refused(args, message, tmp_path):
    import subprocess
    from conftest import switchyard_bin
    r = subprocess.run([str(switchyard_bin()), "serve", "--zones", str(tmp_path), *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and message in r.stderr, r.stderr
