import Testing
@testable import SwitchyardCore

@Suite("Zone transfer encoding and the slow-path hand-off")
struct ZoneTransferTests {
    @Test(arguments: [RRType.axfr, RRType.ixfr])
    func transfersAreDeferredOnlyWhenAsked(type: RRType) {
        let responder = Responder(defersSlowPath: true)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { out.deallocate() }
        let packet = Fixture.query("example.test.", type)
        let length = packet.withUnsafeBytes { responder.respond(to: $0, transport: .tcp, snapshot: Fixture.shared, into: out) }
        #expect(length == 0 && responder.outcome.deferred)
        let plain = Fixture.query("www.example.test.", .a)
        let answered = plain.withUnsafeBytes { responder.respond(to: $0, transport: .udp, snapshot: Fixture.shared, into: out) }
        #expect(answered > 0 && !responder.outcome.deferred)
    }

    @Test func signedQueriesAreDeferred() {
        let responder = Responder(defersSlowPath: true)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { out.deallocate() }
        var packet = Fixture.query("www.example.test.", .a)
        packet[11] = 1
        // A TSIG record (contents do not matter to the Responder): owner "k.", type 250.
        packet += [1, 0x6B, 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0]
        let length = packet.withUnsafeBytes { responder.respond(to: $0, transport: .udp, snapshot: Fixture.shared, into: out) }
        #expect(length == 0 && responder.outcome.deferred)
    }

    @Test func largeTransfersSplitWithSOAFirstAndLast() throws {
        var records = Fixture.exampleRecords
        for i in 0..<500 { records.append(Fixture.record("host-\(i).example.test.", .a, [10, 0, UInt8(i / 256), UInt8(i % 256)])) }
        let snapshot = Fixture.snapshot(records)
        let zone = try #require(snapshot.zones.first { $0.origin == Fixture.name("example.test.") })
        let contents = RecordValues.contents(of: zone, stableNames: snapshot.stableNames)
        let query = Fixture.query("example.test.", .axfr)
        let messages = query.withUnsafeBytes {
            ZoneTransfer.encode(records: RecordValues.axfrRecords(contents), query: $0, questionEnd: query.count, maxSize: 2048)
        }
        #expect(messages.count > 5)
        #expect(messages.allSatisfy { $0.count <= 2048 })
        let parsed = messages.compactMap(Response.init)
        #expect(parsed.count == messages.count)
        let answers = parsed.flatMap(\.answer)
        #expect(answers.first?.type == RRType.soa.rawValue && answers.last?.type == RRType.soa.rawValue)
        #expect(answers.count == contents.reduce(0) { $0 + $1.rdatas.count } + 1)
        #expect(parsed[0].qdcount == 1 && parsed.dropFirst().allSatisfy { $0.qdcount == 0 })
    }

    @Test func anIncrementalDifferenceNeedsOnlyTheStableNames() throws {
        // A broker moving pools and a weighted name changing its heaviest pool, zone data the same.
        let before = [StableNameTests.broker(live: 0), StableNameTests.weighted([3, 1])]
        let after = [StableNameTests.broker(live: 1), StableNameTests.weighted([1, 3])]
        let zone = try #require(StableNameTests.snapshot(before).zones.first)
        let full = ZoneTransfer.difference(from: RecordValues.contents(of: zone, stableNames: before),
                                           to: RecordValues.contents(of: zone, stableNames: after))
        let stable = ZoneTransfer.difference(from: ZoneTransfer.stableContents(of: zone, stableNames: before),
                                             to: ZoneTransfer.stableContents(of: zone, stableNames: after))
        func text(_ sets: [RRSet]) -> [String] { sets.map { "\($0.owner) \($0.type.rawValue) \($0.ttl) \($0.rdatas)" } }
        #expect(!full.deleted.isEmpty && !full.added.isEmpty)
        #expect(text(stable.deleted) == text(full.deleted))
        #expect(text(stable.added) == text(full.added))
    }

    @Test func anAXFRReadFromStorageEqualsOneBuiltFromRecordValues() throws {
        // Stable names flattened where their nodes are, the stored SOA replaced by the generation's.
        let snapshot = StableNameTests.snapshot([StableNameTests.broker(live: 1), StableNameTests.weighted([1, 3])])
        let zone = try #require(snapshot.zones.first).withSerial(4242)
        let query = Fixture.query("example.test.", .axfr)
        for size in [512, 2048, 16_384] {
            let fromValues = query.withUnsafeBytes {
                ZoneTransfer.encode(records: RecordValues.axfrRecords(RecordValues.contents(of: zone, stableNames: snapshot.stableNames)),
                                    query: $0, questionEnd: query.count, maxSize: size)
            }
            let fromStorage = query.withUnsafeBytes {
                Array(ZoneTransfer.axfrMessages(of: zone, stableNames: snapshot.stableNames, query: $0, questionEnd: query.count, maxSize: size))
            }
            #expect(fromStorage == fromValues, "messages of at most \(size) bytes")
            let answers = fromStorage.compactMap(Response.init).flatMap(\.answer)
            #expect(answers.first?.type == RRType.soa.rawValue && answers.last?.type == RRType.soa.rawValue)
            #expect(answers.filter { $0.type == RRType.soa.rawValue }.count == 2)
            #expect(answers.contains { $0.owner == "broker-1.orders.example.test." && $0.type == RRType.cname.rawValue })
        }
    }
}

/// An AXFR built the plain way, as record values from the zone's public view (`Zone.nodes`):
/// the oracle the storage walk (`TransferRecords`) is compared with.
enum RecordValues {
    /// SOA first and not repeated; ordinary data verbatim; stable names flattened in place.
    static func contents(of zone: Zone, stableNames: [StableNameSpec]) -> [RRSet] {
        var sets: [RRSet] = [zone.soa]
        for node in zone.nodes {
            for rrset in node.rrsets where !(rrset.type == .soa && node.name == zone.origin) {
                sets.append(rrset)
            }
            if node.stable >= 0 && Int(node.stable) < stableNames.count {
                sets.append(contentsOf: ZoneTransfer.flatten(stableNames[Int(node.stable)]))
            }
        }
        return sets
    }

    /// SOA, everything else, SOA.
    static func axfrRecords(_ contents: [RRSet]) -> [RRSet] {
        guard let soa = contents.first else { return [] }
        return contents + [soa]
    }
}
