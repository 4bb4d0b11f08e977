import Testing
@testable import SwitchyardCore

@Suite("Zone validation")
struct ZoneBuilderTests {
    struct Case: Sendable, CustomStringConvertible {
        var label: String
        var records: [ResourceRecord]
        var line: Int
        var keyword: String
        var description: String { label }
    }

    static let soa = Fixture.record("example.test.", .soa, Fixture.soaRData(), line: 1)
    static let ns = Fixture.record("example.test.", .ns, Fixture.name("ns1.example.test.").wire, line: 2)

    static let cases: [Case] = [
        .init(label: "missing SOA", records: [ns], line: 2, keyword: "no SOA"),
        .init(label: "second SOA", records: [soa, ns, Fixture.record("example.test.", .soa, Fixture.soaRData(serial: 2), line: 7)],
              line: 7, keyword: "second SOA"),
        .init(label: "outside origin", records: [soa, ns, Fixture.record("www.example.org.", .a, Fixture.a("192.0.2.1"), line: 4)],
              line: 4, keyword: "outside"),
        .init(label: "CNAME and data", records: [soa, ns,
              Fixture.record("www.example.test.", .a, Fixture.a("192.0.2.1"), line: 5),
              Fixture.record("www.example.test.", .cname, Fixture.name("x.example.test.").wire, line: 6)],
              line: 6, keyword: "CNAME"),
        .init(label: "no NS", records: [soa], line: 1, keyword: "no NS"),
    ]

    @Test(arguments: cases)
    func problems(_ test: Case) {
        guard case .failure(let found) = ZoneBuilder.build(origin: Fixture.name("example.test."), records: test.records, source: "z.zone") else {
            Issue.record("zone should be rejected"); return
        }
        #expect(found.problems.contains { $0.line == test.line && $0.message.contains(test.keyword) }, "\(found)")
        #expect(found.problems.allSatisfy { $0.file == "z.zone" })
    }

    @Test func duplicatesCollapseAndRRsetTTLIsTheLowest() throws {
        let zone = try ZoneBuilder.build(origin: Fixture.name("example.test."), records: [
            ZoneBuilderTests.soa, ZoneBuilderTests.ns,
            Fixture.record("www.example.test.", .a, Fixture.a("192.0.2.1"), ttl: 300),
            Fixture.record("WWW.example.test.", .a, Fixture.a("192.0.2.1"), ttl: 300),
            Fixture.record("www.example.test.", .a, Fixture.a("192.0.2.2"), ttl: 100),
        ], source: "z").get()
        let rrset = try #require(zone.node(named: Fixture.name("www.example.test."))?.rrset(.a))
        #expect(rrset.rdatas.count == 2)
        #expect(rrset.ttl == 100)
    }
}

@Suite("Domain names")
struct DomainNameTests {
    @Test(arguments: [
        ("www.example.test.", "www.example.test."),
        ("WWW.Example.TEST.", "WWW.Example.TEST."),
        (".", "."),
        ("a\\.b.test.", "a\\.b.test."),
        ("\\065.test.", "A.test."),
    ])
    func roundTrip(_ input: String, _ output: String) throws {
        #expect(try #require(DomainName(input)).description == output)
    }

    @Test func invalidNames() {
        #expect(DomainName(String(repeating: "a", count: 64) + ".test.") == nil)
        #expect(DomainName("a..b.") == nil)
        #expect(DomainName("relative") == nil)
        #expect(DomainName(String(repeating: "abcdefg.", count: 40)) == nil)
    }

    @Test func relationships() throws {
        let name = try #require(DomainName("a.b.example.test."))
        #expect(name.isSubdomain(of: DomainName("EXAMPLE.test.")!))
        #expect(!name.isSubdomain(of: DomainName("b.test.")!))
        #expect(name.parent == DomainName("b.example.test."))
        #expect(name.labelCount == 4)
        #expect(DomainName("www", origin: DomainName("example.test.")) == DomainName("www.example.test."))
    }

    /// Owners whose records are together take the run path, scattered ones the sorted path:
    /// both must make the same zone, and a duplicate split across the file still collapses.
    @Test func scatteredOwnersBuildTheSameZoneAsGroupedOnes() throws {
        let www1 = Fixture.record("www.example.test.", .a, Fixture.a("192.0.2.1"))
        let www2 = Fixture.record("www.example.test.", .aaaa, [UInt8](repeating: 1, count: 16))
        let www3 = Fixture.record("www.example.test.", .a, Fixture.a("192.0.2.1"))
        let mail = Fixture.record("mail.example.test.", .a, Fixture.a("192.0.2.9"))
        let grouped = try ZoneBuilder.build(origin: Fixture.name("example.test."), records: [
            ZoneBuilderTests.soa, ZoneBuilderTests.ns, www1, www2, www3, mail], source: "z").get()
        let scattered = try ZoneBuilder.build(origin: Fixture.name("example.test."), records: [
            ZoneBuilderTests.soa, www1, mail, ZoneBuilderTests.ns, www2, www3], source: "z").get()
        func records(_ zone: Zone) -> [String] {
            RecordValues.contents(of: zone, stableNames: []).map { "\($0.owner) \($0.type) \($0.ttl) \($0.rdatas)" }
        }
        #expect(records(grouped) == records(scattered))
        #expect(scattered.node(named: Fixture.name("www.example.test."))?.rrset(.a)?.rdatas.count == 1)
        #expect(scattered.node(named: Fixture.name("www.example.test."))?.rrset(.aaaa) != nil)
        #expect(scattered.node(named: Fixture.name("example.test."))?.rrset(.ns) != nil)
    }
}
