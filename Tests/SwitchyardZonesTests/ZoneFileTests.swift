import Foundation
import Testing
@testable import SwitchyardCore
@testable import SwitchyardZones

@Suite("Zone file tokenizer")
struct TokenizerTests {
    @Test func joinsParenthesesDropsCommentsAndKeepsStartLines() throws {
        let text = """
            $ORIGIN example.test.
            @ IN SOA ns1 hostmaster ( ; comment
                     1 ; serial
                     3600 600 86400 60 )
              IN NS ns1   ; owner inherited

            txt IN TXT "semi;colon (not a paren)"
            """
        let entries = try ZoneFileTokenizer.entries(of: Array(text.utf8)).get()
        #expect(entries.map(\.line) == [1, 2, 5, 7])
        #expect(entries[1].text.split(separator: " ").filter { !$0.isEmpty }.joined(separator: " ") == "@ IN SOA ns1 hostmaster 1 3600 600 86400 60")
        #expect(entries[2].inheritsOwner)
        #expect(entries[3].text.contains("\"semi;colon (not a paren)\""))
    }

    @Test(arguments: [
        ("a IN A 1.2.3.4\nb IN TXT \"open\n", 2, "unterminated"),
        ("a IN SOA ( 1 2\nb IN A 1.2.3.4\n", 1, "never closed"),
        ("a IN A 1.2.3.4 )\n", 1, "without a matching"),
    ])
    func syntaxErrorsCarryTheirLine(_ text: String, _ line: Int, _ keyword: String) {
        guard case .failure(let error) = ZoneFileTokenizer.entries(of: Array(text.utf8)) else {
            Issue.record("should fail"); return
        }
        #expect(error.line == line && error.message.contains(keyword))
    }
}

@Suite("Zone files through libldns")
struct ZoneLoaderTests {
    static let good = """
        $ORIGIN example.test.
        $TTL 1h
        @       IN SOA ns1 hostmaster ( 2024010101 3600 600 86400 30 )
                IN NS  ns1
        ns1     IN A   192.0.2.1
        WWW     300 IN AAAA 2001:db8::1
        mx      IN MX  10 mail
        unk     IN TYPE65000 \\# 3 0a0b0c
        """

    func write(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zones-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: (directory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func loadsRecordsWithUnitsCaseAndUnknownTypes() throws {
        let directory = try write(["example.test.zone": Self.good])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let zone = try ZoneLoader.loadZone(path: directory + "/example.test.zone").get()
        #expect(zone.origin == DomainName("example.test."))
        #expect(zone.serial == 2024010101)
        let ns1 = try #require(zone.node(named: DomainName("ns1.example.test.")!)?.rrset(.a))
        #expect(ns1.ttl == 3600 && ns1.rdatas == [[192, 0, 2, 1]])
        let www = try #require(zone.node(named: DomainName("www.example.test.")!))
        #expect(www.name.description == "WWW.example.test.", "the zone file's case is kept")
        #expect(www.rrset(.aaaa)?.ttl == 300)
        #expect(zone.node(named: DomainName("unk.example.test.")!)?.rrset(RRType(rawValue: 65000))?.rdatas == [[10, 11, 12]])
        #expect(zone.node(named: DomainName("mx.example.test.")!)?.rrset(.mx)?.targets == [DomainName("mail.example.test.")!])
    }

    @Test func originComesFromTheFileNameWithoutOrigin() throws {
        let text = "@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n  IN NS ns1\nns1 IN A 192.0.2.1\n"
        let directory = try write(["other.test.zone": text])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let zone = try ZoneLoader.loadZone(path: directory + "/other.test.zone").get()
        #expect(zone.origin == DomainName("other.test."))
        #expect(zone.node(named: DomainName("ns1.other.test.")!) != nil)
    }

    struct BadCase: Sendable, CustomStringConvertible {
        var label: String
        var text: String
        var line: Int
        var keyword: String
        var description: String { label }
    }

    static let header = "$ORIGIN example.test.\n@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n  IN NS ns1\nns1 IN A 192.0.2.1\n"

    @Test(arguments: [
        BadCase(label: "bad rdata", text: header + "www IN A 300.1.1.1\n", line: 5, keyword: "cannot parse"),
        BadCase(label: "outside the origin", text: header + "www.example.org. IN A 192.0.2.9\n", line: 5, keyword: "outside"),
        BadCase(label: "CNAME beside data", text: header + "www IN A 192.0.2.9\nwww IN CNAME ns1\n", line: 6, keyword: "CNAME"),
        BadCase(label: "$INCLUDE", text: header + "$INCLUDE other.zone\n", line: 5, keyword: "$INCLUDE"),
        BadCase(label: "second SOA", text: header + "@ IN SOA ns1 hostmaster 2 3600 600 86400 30\n", line: 5, keyword: "second SOA"),
        BadCase(label: "missing SOA", text: "$ORIGIN example.test.\n@ IN NS ns1\nns1 IN A 192.0.2.1\n", line: 2, keyword: "no SOA"),
        BadCase(label: "unknown directive", text: header + "$GENERATE 1-3 host$ A 192.0.2.$\n", line: 5, keyword: "unknown directive"),
    ])
    func problemsNameFileAndLine(_ bad: BadCase) throws {
        let directory = try write(["example.test.zone": bad.text])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/example.test.zone"
        guard case .failure(let problems) = ZoneLoader.loadZone(path: path) else {
            Issue.record("\(bad.label) should be rejected"); return
        }
        #expect(problems.problems.contains { $0.file == path && $0.line == bad.line && $0.message.contains(bad.keyword) }, "\(problems)")
    }

    @Test func aSnapshotNeedsEveryZoneValid() throws {
        let directory = try write(["example.test.zone": Self.good, "broken.test.zone": "@ IN A 1.2.3.4\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: ZoneProblems.self) { try ZoneLoader.load(directory: directory) }
    }

    @Test(arguments: [("3600", 3600), ("1h30m", 5400), ("2d", 172_800), ("1w", 604_800)] as [(String, UInt32)])
    func ttlUnits(_ text: String, _ seconds: UInt32) {
        #expect(ZoneFileParser.parseTTL(text) == seconds)
    }
}

@Suite("Inventories become stable names")
struct InventoryStableNameTests {
    @Test func exampleDirectoryLoadsWithStableNamesAndOverrides() throws {
        let zones = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("zones").path
        let loaded = try ZoneLoader.load(directory: zones)
        let names = loaded.snapshot.stableNames.map(\.name.description)
        #expect(names.contains("broker-1.orders.kafka.example."))
        #expect(names.contains("bootstrap.orders.kafka.example."))
        // Moving broker 1 to pod moves it out of the vm bootstrap pool too.
        let moved = ZoneLoader.stableNames(of: loaded.inventories,
                                           applying: StableOverrides(livePools: ["broker-1.orders.kafka.example.": "pod"]))
        let bootstrap = try #require(moved.first { $0.name.description == "bootstrap.orders.kafka.example." })
        #expect(!(bootstrap.pools.first { $0.name == "vm" }?.targets.contains(.ipv4([10, 0, 1, 11])) ?? true))
        let broker = try #require(moved.first { $0.name.description == "broker-1.orders.kafka.example." })
        #expect(broker.pools.first { $0.weight > 0 }?.name == "pod")
    }
}

@Suite("TTL defaults")
struct TTLDefaultTests {
    @Test func withoutTTLDirectiveTheLastExplicitTTLCarriesOver() throws {
        let text = "$ORIGIN example.test.\n@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 30\n  IN NS ns1\nns1 IN A 192.0.2.1\nwww 120 IN A 192.0.2.2\nmail IN A 192.0.2.3\n"
        let parsed = ZoneFileParser.parse(contents: Array(text.utf8), origin: DomainName("example.test.")!, path: "t")
        #expect(parsed.problems.isEmpty)
        #expect(parsed.records.map(\.ttl) == [300, 300, 300, 120, 120])
        let withDirective = "$TTL 60\n" + text
        let again = ZoneFileParser.parse(contents: Array(withDirective.utf8), origin: DomainName("example.test.")!, path: "t")
        #expect(again.records.map(\.ttl) == [300, 60, 60, 120, 60])
    }
}

@Suite("Nested zones: a parent delegating a child, both served")
struct NestedZoneTests {
    static let parent = """
        $ORIGIN example.
        $TTL 3600
        @       IN SOA ns1 hostmaster 1 3600 600 86400 60
                IN NS  ns1
        ns1     IN A   192.0.2.1
        www     IN A   192.0.2.80
        kafka   IN NS  ns1.kafka
        ns1.kafka IN A 192.0.2.53
        """
    static let child = """
        $ORIGIN kafka.example.
        $TTL 3600
        @       IN SOA ns1 hostmaster 1 3600 600 86400 60
                IN NS  ns1
        ns1     IN A   192.0.2.53
        """
    static let inventory = """
        clusters:
          orders:
            port: 9092
            pools: [vm, pod]
            brokers:
              0: { vm: 10.0.1.10, pod: 10.8.1.10 }
        """

    func write(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zones-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: (directory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func eachStableNameLandsInTheDeepestServedZone() throws {
        let directory = try write(["example.zone": Self.parent, "kafka.example.zone": Self.child, "kafka.example.yaml": Self.inventory])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loaded = try ZoneLoader.load(directory: directory)
        let stableIn = Dictionary(uniqueKeysWithValues: loaded.snapshot.zones.map { zone in
            (zone.origin.description, Set(zone.nodes.filter { $0.stable >= 0 }.map(\.name.description)))
        })
        #expect(stableIn["example."] == [])
        #expect(stableIn["kafka.example."] == ["bootstrap.orders.kafka.example.", "broker-0.orders.kafka.example."])
    }

    @Test func aParentInventoryNameInsideTheChildIsTheChilds() throws {
        let names = "names:\n  registry.kafka.example.:\n    pools:\n      vm: { weight: 1, targets: [10.0.2.5] }\n"
        let directory = try write(["example.zone": Self.parent, "example.yaml": names, "kafka.example.zone": Self.child])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loaded = try ZoneLoader.load(directory: directory)
        let child = try #require(loaded.snapshot.zones.first { $0.origin.description == "kafka.example." })
        #expect(child.nodes.contains { $0.stable >= 0 && $0.name.description == "registry.kafka.example." })
    }

    @Test func aNameDeclaredByParentAndChildInventoriesIsReportedOnce() throws {
        let names = "names:\n  bootstrap.orders.kafka.example.:\n    pools:\n      vm: { weight: 1, targets: [10.0.2.5] }\n"
        let directory = try write(["example.zone": Self.parent, "example.yaml": names,
                                   "kafka.example.zone": Self.child, "kafka.example.yaml": Self.inventory])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let problems = try #require(throws: ZoneProblems.self) { try ZoneLoader.load(directory: directory) }
        #expect(problems.problems.count == 1, "\(problems)")
        let problem = try #require(problems.problems.first)
        #expect(problem.file.hasSuffix("/kafka.example.yaml") && problem.line == 2, "\(problem)")
        #expect(problem.message.hasPrefix("clusters.orders: stable name bootstrap.orders.kafka.example. is also declared in ")
                && problem.message.contains("example.yaml:2 (names.bootstrap.orders.kafka.example.)"), "\(problem)")
    }

    @Test func aStableNameBelowADelegationOfItsOwnZoneNamesTheInventoryLine() throws {
        // The child itself delegates orders.kafka.example. to someone else.
        let child = Self.child + "\norders  IN NS  ns.elsewhere.test.\n"
        let directory = try write(["example.zone": Self.parent, "kafka.example.zone": child, "kafka.example.yaml": Self.inventory])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let problems = try #require(throws: ZoneProblems.self) { try ZoneLoader.load(directory: directory) }
        let yaml = (directory as NSString).appendingPathComponent("kafka.example.yaml")
        let zone = (directory as NSString).appendingPathComponent("kafka.example.zone")
        #expect(!problems.problems.isEmpty)
        for problem in problems.problems {
            #expect(problem.file == yaml && problem.line == 2, "\(problem)")
            #expect(problem.message.contains("lies below the delegation orders.kafka.example.") && problem.message.contains("\(zone):6"), "\(problem)")
        }
        #expect(problems.problems.contains { $0.message.hasPrefix("clusters.orders.brokers.0: stable name broker-0.orders.kafka.example.") })
        #expect(!problems.description.contains("example.zone:0"))
    }

    @Test func aDelegationOfAnUnservedChildStillRefusesNamesBelowIt() throws {
        let names = "names:\n  registry.kafka.example.:\n    pools:\n      vm: { weight: 1, targets: [10.0.2.5] }\n"
        let directory = try write(["example.zone": Self.parent, "example.yaml": names])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let problems = try #require(throws: ZoneProblems.self) { try ZoneLoader.load(directory: directory) }
        let problem = try #require(problems.problems.first)
        #expect(problem.file.hasSuffix("/example.yaml") && problem.line == 2, "\(problem)")
        #expect(problem.message.contains("delegation kafka.example.") && problem.message.contains("example.zone:7"), "\(problem)")
    }
}

@Suite("Plain records parsed without libldns")
struct PlainRecordTests {
    /// Every shape the Swift parser takes must give what libldns gives; the rest it leaves.
    @Test(arguments: [
        "www 300 IN A 192.0.2.1", "www IN 300 A 192.0.2.1", "www A 192.0.2.1", "WWW.Example.TEST. 60 in a 10.0.0.1",
        "v6 IN AAAA 2001:db8::1", "v6 IN aaaa ::ffff:192.0.2.1", "alias IN CNAME www", "alias IN CNAME www.example.org.",
        "sub IN NS ns1.sub", "1.2 IN PTR host.example.test.", "*.wild 30 IN A 192.0.2.9", "_srv._tcp IN CNAME x",
    ])
    func sameAsLibldns(_ line: String) throws {
        let origin = DomainName("example.test.")!
        var state = PlainRecordParser.State()
        let plain = try #require(Array(line.utf8).withUnsafeBytes {
            PlainRecordParser.parse($0, inheritsOwner: false, origin: origin, defaultTTL: 77, state: &state)
        })
        // `$TTL` first, so libldns sees the same default.
        let parsed = ZoneFileParser.parse(contents: Array(("$TTL 77\n" + line + " ; comment\n").utf8), origin: origin, path: "t")
        let ldns = try #require(parsed.records.first)
        #expect(plain.owner.wire == ldns.owner.wire && plain.type == ldns.type && plain.ttl == ldns.ttl && plain.rdata == ldns.rdata, "\(line)")
    }

    @Test(arguments: ["www IN A 300.1.1.1", "www IN A 01.2.3.4", "www IN TXT hello", "www 1h IN A 192.0.2.1",
                      "www CH A 192.0.2.1", "w\\.x IN A 192.0.2.1", "www IN CNAME @", "www IN A 192.0.2.1 extra"])
    func leavesTheRestToLibldns(_ line: String) {
        var state = PlainRecordParser.State()
        let plain = Array(line.utf8).withUnsafeBytes {
            PlainRecordParser.parse($0, inheritsOwner: false, origin: DomainName("example.test.")!, defaultTTL: 77, state: &state)
        }
        #expect(plain == nil, "\(line)")
    }
}

@Suite("Reloading unchanged files")
struct ZoneReuseTests {
    @Test func anUnchangedFileKeepsItsZoneAndAnEditedOneIsRebuilt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zones-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("example.test.zone")
        try ZoneLoaderTests.good.write(toFile: path, atomically: true, encoding: .utf8)
        let first = try ZoneLoader.load(directory: directory)
        let again = try ZoneLoader.load(directory: directory)
        #expect(first.snapshot.zones[0] === again.snapshot.zones[0])
        try (ZoneLoaderTests.good + "\nnew IN A 192.0.2.77\n").write(toFile: path, atomically: true, encoding: .utf8)
        let edited = try ZoneLoader.load(directory: directory)
        #expect(edited.snapshot.zones[0] !== first.snapshot.zones[0])
        #expect(edited.snapshot.zones[0].node(named: DomainName("new.example.test.")!)?.rrset(.a) != nil)
    }

    /// The fleet's local copy records these to tell a zone file edited under the same serial.
    @Test func eachZoneCarriesItsFilesFingerprintWhichAnEditUnderTheSameSerialChanges() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zones-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("example.test.zone")
        try ZoneLoaderTests.good.write(toFile: path, atomically: true, encoding: .utf8)
        let origin = DomainName("example.test.")!
        let loaded = try ZoneLoader.load(directory: directory)
        let first = try #require(loaded.fileFingerprints[origin])
        #expect(first.size == ZoneLoaderTests.good.utf8.count)
        #expect(first.description == "\(first.size):\(String(first.hash, radix: 16))")
        // Reused on reload, the zone keeps the fingerprint it was built from.
        #expect(try ZoneLoader.load(directory: directory).fileFingerprints == [origin: first])
        try (ZoneLoaderTests.good + "\nnew IN A 192.0.2.77\n").write(toFile: path, atomically: true, encoding: .utf8)
        let edited = try ZoneLoader.load(directory: directory)
        #expect(edited.snapshot.zones[0].serial == loaded.snapshot.zones[0].serial)
        #expect(edited.fileFingerprints[origin] != first)
    }
}

@Suite("Content fingerprints")
struct ContentFingerprintTests {
    /// Hashing gives pages back every 4 MiB; the chunks must not change the hash, or an
    /// unchanged file would look edited (or an edited one unchanged) after an upgrade.
    @Test(arguments: [0, 7, 8, 4 << 20, (4 << 20) + 5, (9 << 20) + 3])
    func chunksHashLikeOnePass(size: Int) {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        var reported: [Int] = []
        let chunked = bytes.withUnsafeBytes { ContentFingerprint($0) { reported.append($0) } }
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
        var offset = 0
        while offset + 8 <= size {
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
            hash = (hash ^ word) &* 0x1000_0000_01B3
            hash ^= hash >> 29
            offset += 8
        }
        for byte in bytes[offset...] { hash = (hash ^ UInt64(byte)) &* 0x1000_0000_01B3 }
        #expect(chunked.hash == hash)
        #expect(chunked.size == size)
        #expect(reported.last == size)
        #expect(reported == reported.sorted())
        // At most 4 MiB is held between two reports.
        #expect(zip([0] + reported, reported).allSatisfy { $1 - $0 <= 4 << 20 })
    }
}
