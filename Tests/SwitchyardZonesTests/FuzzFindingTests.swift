import SwitchyardCore
import SwitchyardZones
import Testing

/// Inputs the zone-file fuzzer (or a reading of the code it pointed at) found to crash the
/// parser; each copy of the fuzzer's input also lives in fuzz/corpus/zone/.
@Suite("Zone-file parser findings")
struct ZoneFileFuzzFindingTests {
    func parse(_ text: String) -> Result<(origin: DomainName, records: [ResourceRecord]), ZoneProblems> {
        ZoneLoader.parseZoneFile(contents: Array(text.utf8), origin: DomainName("kafka.example.")!, path: "f.zone")
    }

    // libldns takes any number after TYPE/CLASS; converting it to 16 bits trapped (a reload
    // of such a file killed the server).
    @Test("a type or class number over 65535 is an error on its line, not a crash", arguments: [
        ("gen TYPE5710203\n", "type number 5710203"),
        ("x TYPE65536 \\# 0\n", "type number 65536"),
        ("x CLASS70000 A 192.0.2.1\n", "class number 70000"),
    ])
    func typeAndClassOver16Bits(_ text: String, _ says: String) {
        guard case .failure(let problems) = parse("@ SOA ns1 h 1 2 3 4 5\n" + text) else {
            Issue.record("accepted \(text)"); return
        }
        #expect(problems.problems.map(\.line) == [2])
        #expect(problems.description.contains(says))
    }

    @Test("the largest 16-bit type number still parses")
    func type65535() throws {
        guard case .success(let parsed) = parse("x TYPE65535 \\# 1 01\n") else { Issue.record("refused TYPE65535"); return }
        #expect(parsed.records.map(\.type.rawValue) == [65535])
    }

    // Found reading the TTL parser after the finding above: the sum was checked only at the
    // end, so enough terms of up to 2^32 weeks overflowed UInt64 and trapped.
    @Test("a $TTL whose terms add up past UInt64 is refused, not a crash")
    func ttlTermsOverflow() {
        let huge = String(repeating: "4294967294w", count: 8000)
        guard case .failure(let problems) = parse("$TTL \(huge)\n") else { Issue.record("accepted a huge $TTL"); return }
        #expect(problems.description.contains("$TTL needs one TTL value"))
    }
}
