"""The main positive and negative answers as real clients see them: dig, kdig and drill, over
UDP and TCP, IPv4 and IPv6. Always an explicit server address and port: never resolv.conf."""

import re
import shutil
import subprocess

import pytest

from conftest import MAIN_NEG_TTL, V4, V6

CLIENTS = ["dig", "kdig", "drill"]


def client_cmd(client: str, server: str, port: int, qname: str, qtype: str, tcp: bool):
    if client == "dig":
        cmd = ["dig", "+norec", "+time=2", "+tries=1", f"@{server}", "-p", str(port),
               qname, qtype]
        if tcp:
            cmd.append("+tcp")
    elif client == "kdig":
        cmd = ["kdig", "+norec", "+time=2", "+retry=0", f"@{server}", "-p", str(port),
               qname, qtype]
        if tcp:
            cmd.append("+tcp")
    else:
        # drill: "-o rd" clears the RD bit (lower case unsets).
        cmd = ["drill", "-o", "rd", "-p", str(port)]
        if tcp:
            cmd.append("-t")
        cmd += [qname, f"@{server}", qtype]
    return cmd


def parse_output(text: str) -> dict:
    status = re.search(r"->>HEADER<<- opcode: QUERY[,;] (?:status|rcode): (\w+)", text)
    flags = re.search(r";; [Ff]lags: ([a-z ]*?)\s*;", text)
    sections: dict[str, list[list[str]]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL|QUESTION) SECTION:", line)
        if m:
            current = m.group(1)
            sections[current] = []
        elif not line.strip():
            current = None
        elif line.startswith(";"):
            continue
        elif current in ("ANSWER", "AUTHORITY", "ADDITIONAL"):
            sections[current].append(line.split())
    assert status, f"no status line in client output:\n{text}"
    assert flags, f"no flags line in client output:\n{text}"
    return {"status": status.group(1), "flags": set(flags.group(1).split()),
            "answer": sections.get("ANSWER", []), "authority": sections.get("AUTHORITY", [])}


def run_client(client, server, qname, qtype, tcp, v6):
    if shutil.which(client) is None:
        pytest.fail(f"{client} is not installed (apt: dnsutils / knot-dnsutils / ldnsutils)")
    cmd = client_cmd(client, V6 if v6 else V4, server.port, qname, qtype, tcp)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=15,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{out}"
    return parse_output(proc.stdout), out


@pytest.mark.parametrize("client", CLIENTS)
def test_client_a(server, client, via):
    res, out = run_client(client, server, "www.example.test.", "A", **via)
    assert res["status"] == "NOERROR", out
    assert "aa" in res["flags"] and "qr" in res["flags"], out
    assert "ra" not in res["flags"], out
    answer = [(r[0].lower(), r[1], r[2], r[3], r[4]) for r in res["answer"]]
    assert answer == [("www.example.test.", "300", "IN", "A", "192.0.2.10")], out


@pytest.mark.parametrize("client", CLIENTS)
def test_client_nxdomain(server, client, via):
    res, out = run_client(client, server, "nope.example.test.", "A", **via)
    assert res["status"] == "NXDOMAIN", out
    assert "aa" in res["flags"], out
    assert res["answer"] == [], out
    soa = [r for r in res["authority"] if r[3] == "SOA"]
    assert len(soa) == 1, out
    assert soa[0][0].lower() == "example.test." and soa[0][1] == str(MAIN_NEG_TTL), out


@pytest.mark.parametrize("client", CLIENTS)
def test_client_nodata(server, client, via):
    res, out = run_client(client, server, "mail.example.test.", "AAAA", **via)
    assert res["status"] == "NOERROR", out
    assert "aa" in res["flags"], out
    assert res["answer"] == [], out
    soa = [r for r in res["authority"] if r[3] == "SOA"]
    assert len(soa) == 1 and soa[0][1] == str(MAIN_NEG_TTL), out


@pytest.mark.parametrize("client", CLIENTS)
def test_client_refused(server, client):
    res, out = run_client(client, server, "example.com.", "A", False, False)
    assert res["status"] == "REFUSED", out
    assert "aa" not in res["flags"], out
