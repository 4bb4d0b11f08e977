import Testing
@testable import SwitchyardCore

struct LookupCase: CustomStringConvertible, Sendable {
    var qname: String
    var qtype: RRType
    var rcode: UInt16
    var aa: Bool
    /// Owners and types of the answer section, in order.
    var answer: [String]
    var authority: [String]
    var additional: [String] = []
    var description: String { "\(qname) \(qtype)" }
}

private let soa = "example.test./SOA"

@Suite("Authoritative lookup")
struct LookupTests {
    static let cases: [LookupCase] = [
        .init(qname: "www.example.test.", qtype: .a, rcode: 0, aa: true, answer: ["www.example.test./A"], authority: []),
        .init(qname: "WwW.ExAmPlE.tEsT.", qtype: .aaaa, rcode: 0, aa: true, answer: ["WwW.ExAmPlE.tEsT./AAAA"], authority: []),
        .init(qname: "www.example.test.", qtype: .mx, rcode: 0, aa: true, answer: [], authority: [soa]),
        .init(qname: "nope.example.test.", qtype: .a, rcode: 3, aa: true, answer: [], authority: [soa]),
        .init(qname: "example.test.", qtype: .mx, rcode: 0, aa: true, answer: ["example.test./MX"], authority: [],
              additional: ["mail.example.test./A"]),
        .init(qname: "example.test.", qtype: .ns, rcode: 0, aa: true, answer: ["example.test./NS"], authority: [],
              additional: ["ns1.example.test./A"]),
        // Empty non-terminals exist: NODATA, not NXDOMAIN.
        .init(qname: "b.c.example.test.", qtype: .a, rcode: 0, aa: true, answer: [], authority: [soa]),
        .init(qname: "c.example.test.", qtype: .a, rcode: 0, aa: true, answer: [], authority: [soa]),
        // CNAME chains, into nothing, out of the served zones, and loops.
        .init(qname: "alias2.example.test.", qtype: .a, rcode: 0, aa: true,
              answer: ["alias2.example.test./CNAME", "alias.example.test./CNAME", "www.example.test./A"], authority: []),
        .init(qname: "alias.example.test.", qtype: .cname, rcode: 0, aa: true, answer: ["alias.example.test./CNAME"], authority: []),
        .init(qname: "alias.example.test.", qtype: .txt, rcode: 0, aa: true,
              answer: ["alias.example.test./CNAME"], authority: [soa]),
        .init(qname: "outside.example.test.", qtype: .a, rcode: 0, aa: true, answer: ["outside.example.test./CNAME"], authority: []),
        .init(qname: "loop1.example.test.", qtype: .a, rcode: 0, aa: true,
              answer: ["loop1.example.test./CNAME", "loop2.example.test./CNAME"], authority: []),
        // Wildcards (RFC 4592).
        .init(qname: "x.wild.example.test.", qtype: .a, rcode: 0, aa: true, answer: ["x.wild.example.test./A"], authority: []),
        .init(qname: "a.b.wild.example.test.", qtype: .a, rcode: 0, aa: true, answer: ["a.b.wild.example.test./A"], authority: []),
        .init(qname: "x.wild.example.test.", qtype: .mx, rcode: 0, aa: true, answer: [], authority: [soa]),
        .init(qname: "host.wild.example.test.", qtype: .a, rcode: 0, aa: true, answer: [], authority: [soa]),
        .init(qname: "y.wild.example.test.", qtype: .a, rcode: 0, aa: true, answer: [], authority: [soa]),
        .init(qname: "z.y.wild.example.test.", qtype: .a, rcode: 3, aa: true, answer: [], authority: [soa]),
        // Delegation: referral without AA, glue for the in-bailiwick server only.
        .init(qname: "host.child.example.test.", qtype: .a, rcode: 0, aa: false, answer: [],
              authority: ["child.example.test./NS", "child.example.test./NS"], additional: ["ns1.child.example.test./A"]),
        .init(qname: "child.example.test.", qtype: .a, rcode: 0, aa: false, answer: [],
              authority: ["child.example.test./NS", "child.example.test./NS"], additional: ["ns1.child.example.test./A"]),
        .init(qname: "child.example.test.", qtype: .ds, rcode: 0, aa: true, answer: [], authority: [soa]),
        // Outside every served zone.
        .init(qname: "example.com.", qtype: .a, rcode: 5, aa: false, answer: [], authority: []),
        .init(qname: "test.", qtype: .a, rcode: 5, aa: false, answer: [], authority: []),
        // RFC 3597: a type nobody registered.
        .init(qname: "unknown.example.test.", qtype: RRType(rawValue: 65000), rcode: 0, aa: true,
              answer: ["unknown.example.test./TYPE65000"], authority: []),
    ]

    @Test(arguments: cases)
    func lookup(_ expected: LookupCase) throws {
        let response = try #require(Fixture.respond(Fixture.query(expected.qname, expected.qtype)))
        #expect(response.rcode == expected.rcode)
        #expect(response.aa == expected.aa)
        #expect(response.flags & 0x8000 != 0)
        #expect(response.flags & 0x0100 != 0, "RD is copied")
        #expect(response.flags & 0x0080 == 0, "RA is never set")
        #expect(response.questionName == expected.qname)
        func describe(_ records: [Response.Record]) -> [String] {
            records.map { "\($0.owner)/\(RRType(rawValue: $0.type))" }
        }
        #expect(describe(response.answer) == expected.answer)
        #expect(describe(response.authority) == expected.authority)
        #expect(describe(response.additional) == expected.additional)
    }

    @Test func negativeTTLIsMinimumOfSOATTLAndMinimumField() throws {
        // SOA TTL 3600, MINIMUM 60 (RFC 2308 section 3).
        let response = try #require(Fixture.respond(Fixture.query("nope.example.test.", .a)))
        #expect(response.authority.first?.ttl == 60)
        let records = Fixture.exampleRecords.map { record -> ResourceRecord in
            var copy = record
            if copy.type == .soa { copy.ttl = 30; copy.rdata = Fixture.soaRData(minimum: 600) }
            return copy
        }
        let low = try #require(Fixture.respond(Fixture.query("nope.example.test.", .a), snapshot: Fixture.snapshot(records)))
        #expect(low.authority.first?.ttl == 30)
    }

    @Test func wildcardOwnerIsTheQueryName() throws {
        let response = try #require(Fixture.respond(Fixture.query("Some.Wild.example.test.", .a)))
        #expect(response.answer.first?.owner == "Some.Wild.example.test.")
        #expect(response.answer.first?.rdata == [192, 0, 2, 42])
    }

    @Test func anyOverUDPIsOneRRsetAndOverTCPIsAll() throws {
        let udp = try #require(Fixture.respond(Fixture.query("www.example.test.", .any)))
        #expect(udp.rcode == 0 && udp.answer.count == 1)
        let tcp = try #require(Fixture.respond(Fixture.query("www.example.test.", .any), transport: .tcp))
        #expect(Set(tcp.answer.map(\.type)) == [1, 28])
        let missing = try #require(Fixture.respond(Fixture.query("nope.example.test.", .any)))
        #expect(missing.rcode == 3)
    }

    /// Every precompiled answer must equal what the general path computes.
    @Test func precompiledAnswersMatchTheGeneralPath() throws {
        let snapshot = Fixture.shared
        let generalOnly = SnapshotWithoutPrecompiled.make(snapshot)
        #expect(snapshot.precompiledCount > 20)
        for zone in snapshot.zones {
            for node in zone.nodes {
                for type in node.rrsets.map(\.type) + [.a, .aaaa] {
                    let packet = Fixture.query(node.name.description, type)
                    let fast = try #require(Fixture.respond(packet, snapshot: snapshot))
                    let general = try #require(Fixture.respond(packet, snapshot: generalOnly))
                    #expect(fast.bytes == general.bytes, "\(node.name) \(type)")
                }
            }
        }
    }
}

@Suite("Answers prepared on first use")
struct AnswerCacheTests {
    /// A zone set above the eager limit: each thread prepares an answer when first asked,
    /// then copies it; both times the bytes equal the general path's, with the live serial.
    @Test func answersPreparedOnFirstUseMatchTheGeneralPath() throws {
        let base = Fixture.shared
        let lazy = try Snapshot(zones: base.zones, eagerLimit: 0)
        #expect(lazy.precompiledCount == 0)
        let renumbered = try lazy.updating(serials: [Fixture.name("example.test."): 77])
        let generalOnly = try Snapshot(zones: renumbered.zones, precompile: false)
        let responder = Responder()
        var names = base.zones.flatMap { zone in zone.nodes.map(\.name.description) }
        names += ["nope.example.test.", "x.wild.example.test.", "outside.invalid."]
        for name in names {
            for type in [RRType.a, .aaaa, .mx, .soa, .ns, .txt] {
                let packet = Fixture.query(name, type, edns: 1232)
                let general = try #require(Fixture.respond(packet, snapshot: generalOnly))
                for round in 1...2 {
                    let cached = try #require(Fixture.respond(packet, snapshot: renumbered, responder: responder))
                    #expect(cached.bytes == general.bytes, "\(name) \(type), round \(round)")
                }
            }
        }
    }
}

/// The same zones with an empty precompiled table, to exercise the general path.
enum SnapshotWithoutPrecompiled {
    static func make(_ snapshot: Snapshot) -> Snapshot {
        try! Snapshot(zones: snapshot.zones, precompile: false)
    }
}

@Suite("Serial changes")
struct SerialTests {
    /// A generation moves the serial without re-encoding the zone: prepared answers get the
    /// new serial patched in and still equal the general path byte for byte.
    @Test func preparedAnswersCarryTheNewSerial() throws {
        let before = Fixture.shared
        let after = try before.updating(serials: [Fixture.name("example.test."): 4_000_000_000])
        #expect(after.precompiledCount == before.precompiledCount)
        let generalOnly = try Snapshot(zones: after.zones, precompile: false)
        for (name, type) in [("nope.example.test.", RRType.a), ("example.test.", .soa), ("www.example.test.", .mx),
                             ("b.c.example.test.", .a), ("x.wild.example.test.", .mx)] {
            let packet = Fixture.query(name, type, edns: 1232)
            let fast = try #require(Fixture.respond(packet, snapshot: after))
            let general = try #require(Fixture.respond(packet, snapshot: generalOnly))
            #expect(fast.bytes == general.bytes, "\(name) \(type)")
            let soa = try #require((fast.answer + fast.authority).first { $0.type == 6 })
            #expect(serial(of: soa.rdata) == 4_000_000_000)
        }
        // The original snapshot still serves its own serial.
        let old = try #require(Fixture.respond(Fixture.query("nope.example.test.", .a), snapshot: before))
        #expect(serial(of: old.authority[0].rdata) == 1)
    }

    /// The serial of an SOA RDATA as sent (its names may be compressed).
    func serial(of rdata: [UInt8]) -> UInt32 {
        rdata[(rdata.count - 20)..<(rdata.count - 16)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

@Suite("Negative answers")
struct NegativeAnswerTests {
    /// Names no table holds, of many lengths, in mixed case, with and without EDNS: the
    /// prepared negative body, its pointers moved, equals the general path byte for byte.
    @Test func negativeBodiesMatchTheGeneralPath() throws {
        let eager = Fixture.shared
        let renumbered = try eager.updating(serials: [Fixture.name("example.test."): 3_000_000_007])
        let lazy = try Snapshot(zones: eager.zones, eagerLimit: 0)
        var names = ["nope.example.test.", "A.B.NOPE.Example.Test.", "b.c.example.test.", "c.example.test.",
                     "y.wild.example.test.", "x.wild.example.test.", "deep.er.than.any.name.in.the.example.test."]
        names.append(String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 63) + ".example.test.")
        for (snapshot, serial) in [(eager, UInt32(1)), (renumbered, 3_000_000_007), (lazy, 1)] {
            let general = try Snapshot(zones: snapshot.zones, precompile: false)
            for name in names {
                for type in [RRType.a, .mx, .txt, RRType(rawValue: 65000)] {
                    for edns: UInt16? in [nil, 1232] {
                        let packet = Fixture.query(name, type, edns: edns)
                        let fast = try #require(Fixture.respond(packet, snapshot: snapshot))
                        let slow = try #require(Fixture.respond(packet, snapshot: general))
                        #expect(fast.bytes == slow.bytes, "\(name) \(type) edns \(String(describing: edns))")
                        if fast.answer.isEmpty {
                            #expect(fast.authority.count == 1 && fast.authority[0].type == 6, "\(name) \(type)")
                            #expect(soaNames(fast) == ["ns1.example.test.", "hostmaster.example.test.", "\(serial)"], "\(name) \(type)")
                        }
                    }
                }
            }
        }
    }

    /// Under `ns1.example.test.` (a name the SOA's MNAME shares with the question) the
    /// general path points into the question; the prepared body points to the apex. Both
    /// carry the same record.
    @Test func aNameSharedWithTheSOAIsStillTheSameRecord() throws {
        let packet = Fixture.query("x.Ns1.example.test.", .a)
        let fast = try #require(Fixture.respond(packet))
        let slow = try #require(Fixture.respond(packet, snapshot: SnapshotWithoutPrecompiled.make(Fixture.shared)))
        #expect(fast.rcode == 3 && slow.rcode == 3)
        #expect(fast.authority[0].owner == slow.authority[0].owner && fast.authority[0].ttl == slow.authority[0].ttl)
        #expect(soaNames(fast) == soaNames(slow))
        #expect(soaNames(fast)?.first == "ns1.example.test.")
    }

    /// Zones whose SOA names lie outside them, one nested in the other: each zone's own
    /// SOA, the nested one's pointers moved from its own apex.
    @Test func nestedZonesAndOutsideNamesMatchTheGeneralPath() throws {
        func zone(_ origin: String, mname: String, rname: String, serial: UInt32) throws -> Zone {
            var soa = Fixture.name(mname).wire + Fixture.name(rname).wire
            for value in [serial, 3600, 600, 86400, 30] {
                soa += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
            }
            return try ZoneBuilder.build(origin: Fixture.name(origin), records: [
                Fixture.record(origin, .soa, soa, ttl: 600),
                Fixture.record(origin, .ns, Fixture.name("ns.elsewhere.test.").wire),
                Fixture.record("www." + origin, .a, Fixture.a("192.0.2.9")),
            ], source: origin + "zone").get()
        }
        let parent = try zone("kafka.example.", mname: "ns.elsewhere.test.", rname: "root.", serial: 5)
        let child = try zone("orders.kafka.example.", mname: "ns.elsewhere.test.", rname: "hostmaster.elsewhere.test.", serial: 6)
        let fast = try Snapshot(zones: [parent, child])
        let slow = try Snapshot(zones: [parent, child], precompile: false)
        for name in ["nope.kafka.example.", "x.y.kafka.example.", "nope.orders.kafka.example.", "A.B.C.Orders.Kafka.Example.",
                     "www.orders.kafka.example."] {
            for type in [RRType.a, .aaaa, .txt] {
                let packet = Fixture.query(name, type, edns: 1232)
                let a = try #require(Fixture.respond(packet, snapshot: fast))
                let b = try #require(Fixture.respond(packet, snapshot: slow))
                #expect(a.bytes == b.bytes, "\(name) \(type)")
            }
        }
    }

    /// A zone holding the type the template is prepared with has no template, and answers
    /// through the general path as before.
    @Test func aZoneHoldingThePrivateTypeFallsBackToTheGeneralPath() throws {
        let snapshot = Fixture.snapshot(Fixture.exampleRecords + [Fixture.record("example.test.", RRType(rawValue: 0xFF00), [9])])
        #expect(snapshot.negative.template(zone: 0) == nil)
        #expect(Fixture.shared.negative.template(zone: 0) != nil)
        let packet = Fixture.query("nope.example.test.", .a)
        let response = try #require(Fixture.respond(packet, snapshot: snapshot))
        let general = try #require(Fixture.respond(packet, snapshot: SnapshotWithoutPrecompiled.make(snapshot)))
        #expect(response.bytes == general.bytes && response.rcode == 3)
    }

    /// MNAME, RNAME and serial of the single authority SOA, names decompressed.
    private func soaNames(_ response: Response) -> [String]? {
        guard let soa = response.authority.first, soa.type == 6 else { return nil }
        let start = response.bytes.count - (response.opt == nil ? 0 : 11) - soa.rdata.count
        guard let (mname, afterM) = response.readName(start), let (rname, afterR) = response.readName(afterM) else { return nil }
        let serial = response.bytes[afterR..<(afterR + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return [mname.lowercased(), rname.lowercased(), "\(serial)"]
    }
}
