import Testing
@testable import SwitchyardCore

/// Weighted and exclusive stable names, with the draws injected.
@Suite("Stable names")
struct StableNameTests {
    static let v4a = StableTarget.ipv4([10, 0, 0, 1])
    static let v4b = StableTarget.ipv4([10, 0, 0, 2])
    static let v4c = StableTarget.ipv4([10, 8, 0, 1])
    static let v6Bytes: [UInt8] = [0xFD] + Array(repeating: 0, count: 14) + [1]
    static let v6 = StableTarget.ipv6(v6Bytes)

    static func weighted(_ weights: [UInt8], selection: StableNameSpec.Selection = .random,
                         allDown: StableNameSpec.AllDown = .open, healthPort: UInt16? = nil,
                         targets: [[StableTarget]] = [[v4a, v4b], [v4c]]) -> StableNameSpec {
        StableNameSpec(name: Fixture.name("bootstrap.orders.example.test."), kind: .weighted, ttl: 30,
                       selection: selection, allDown: allDown,
                       pools: zip(["vm", "pod", "extra"], zip(weights, targets)).map { StablePool(name: $0.0, weight: $0.1.0, targets: $0.1.1) },
                       healthPort: healthPort)
    }

    static func broker(live: Int, allDown: StableNameSpec.AllDown = .open) -> StableNameSpec {
        StableNameSpec(name: Fixture.name("broker-1.orders.example.test."), kind: .exclusive, ttl: 30, maxAnswers: 1,
                       allDown: allDown,
                       pools: [StablePool(name: "vm", weight: live == 0 ? 1 : 0, targets: [v4a]),
                               StablePool(name: "pod", weight: live == 1 ? 1 : 0, targets: [.hostname(Fixture.name("pod-1.example.test."))])],
                       healthPort: 9092)
    }

    static func snapshot(_ specs: [StableNameSpec], down: Set<HealthKey> = [], precompile: Bool = true) -> Snapshot {
        let records = Fixture.exampleRecords + [Fixture.record("pod-1.example.test.", .a, Fixture.a("10.8.1.1"))]
        let stable = specs.enumerated().map { StableNode(name: $0.element.name, index: $0.offset) }
        let zone = try! ZoneBuilder.build(origin: Fixture.name("example.test."), records: records, source: "t", stableNames: stable).get()
        return try! Snapshot(zones: [zone], stableNames: specs, down: down, precompile: precompile)
    }

    static func set(_ spec: StableNameSpec, down: Set<HealthKey> = []) -> StableAnswers.NameSet {
        snapshot([spec], down: down).zoneSet.stable.sets[0]
    }

    /// A draw whose top 32 bits sit at `fraction` of the range.
    static func draw(_ fraction: Double) -> UInt64 { UInt64(fraction * 4_294_967_296) << 32 }

    @Test func ipv6TargetsAreSpelledTheRFC5952Way() {
        let bytes: [UInt8] = [0xfd, 0, 0, 8] + Array(repeating: 0, count: 11) + [5]
        #expect(StableTarget.ipv6(bytes).description == "fd00:8::5")
        #expect(HealthKey(target: .ipv6(bytes), port: 9092).description == "[fd00:8::5]:9092")
        #expect(StableTarget.ipv4([10, 0, 0, 11]).description == "10.0.0.11")
    }

    @Test(arguments: [(0.0, 0), (0.5, 0), (0.7499, 0), (0.75, 1), (0.99, 1)])
    func weightsSplitTheDrawRange(_ fraction: Double, _ pool: Int) {
        let set = Self.set(Self.weighted([75, 25]))
        #expect(set.choose(random: Self.draw(fraction), clientHash: 0)?.pool == pool)
    }

    @Test func allZeroWeightsShareEqually() {
        let set = Self.set(Self.weighted([0, 0]))
        #expect(set.choose(random: Self.draw(0.49), clientHash: 0)?.pool == 0)
        #expect(set.choose(random: Self.draw(0.51), clientHash: 0)?.pool == 1)
    }

    @Test func downPoolsAreSkippedAndZeroWeightPoolsTakeOver() {
        let down: Set<HealthKey> = [HealthKey(target: Self.v4a, port: 9092), HealthKey(target: Self.v4b, port: 9092)]
        let set = Self.set(Self.weighted([100, 0], healthPort: 9092), down: down)
        for fraction in [0.0, 0.5, 0.99] {
            #expect(set.choose(random: Self.draw(fraction), clientHash: 0)?.pool == 1)
        }
    }

    @Test func oneDownTargetLeavesItsPoolWithTheOthers() throws {
        let snapshot = Self.snapshot([Self.weighted([100, 0], healthPort: 9092)], down: [HealthKey(target: Self.v4a, port: 9092)])
        let response = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: snapshot))
        #expect(response.answer.map(\.rdata) == [[10, 0, 0, 2]])
    }

    @Test func everythingDownOpenAnswersAnywayClosedFails() throws {
        let down: Set<HealthKey> = [HealthKey(target: Self.v4a, port: 9092), HealthKey(target: Self.v4b, port: 9092),
                                    HealthKey(target: Self.v4c, port: 9092)]
        let open = Self.snapshot([Self.weighted([100, 0], healthPort: 9092)], down: down)
        let answer = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: open))
        #expect(answer.rcode == 0 && Set(answer.answer.map(\.rdata)) == [[10, 0, 0, 1], [10, 0, 0, 2]])
        let closed = Self.snapshot([Self.weighted([100, 0], allDown: .closed, healthPort: 9092)], down: down)
        let failure = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: closed))
        #expect(failure.rcode == 2 && failure.answer.isEmpty)
    }

    @Test func exclusiveNamesAnswerTheLivePoolOnly() throws {
        let vm = Self.snapshot([Self.broker(live: 0)])
        for seed in 0..<20 as Range<UInt64> {
            let response = try #require(Fixture.respond(Fixture.query("broker-1.orders.example.test.", .a), snapshot: vm,
                                                        responder: Responder(seed: seed)))
            #expect(response.answer.map(\.rdata) == [[10, 0, 0, 1]])
            #expect(response.answer.first?.ttl == 30 && response.aa)
        }
        // The pod target is a hostname inside the zone: a CNAME, chased.
        let pod = Self.snapshot([Self.broker(live: 1)])
        let chased = try #require(Fixture.respond(Fixture.query("broker-1.orders.example.test.", .a), snapshot: pod))
        #expect(chased.answer.map(\.type) == [5, 1])
        #expect(chased.answer.last?.rdata == [10, 8, 1, 1])
        // A down live target stays the answer when open; closed gives SERVFAIL.
        let down: Set<HealthKey> = [HealthKey(target: Self.v4a, port: 9092)]
        let open = try #require(Fixture.respond(Fixture.query("broker-1.orders.example.test.", .a),
                                                snapshot: Self.snapshot([Self.broker(live: 0)], down: down)))
        #expect(open.answer.map(\.rdata) == [[10, 0, 0, 1]])
        let closed = try #require(Fixture.respond(Fixture.query("broker-1.orders.example.test.", .a),
                                                  snapshot: Self.snapshot([Self.broker(live: 0, allDown: .closed)], down: down)))
        #expect(closed.rcode == 2)
    }

    @Test func otherTypesGetNoDataAndParentsAreEmptyNonTerminals() throws {
        let snapshot = Self.snapshot([Self.weighted([100, 0])])
        for (name, type) in [("bootstrap.orders.example.test.", RRType.aaaa), ("bootstrap.orders.example.test.", .mx),
                             ("orders.example.test.", .a)] {
            let response = try #require(Fixture.respond(Fixture.query(name, type), snapshot: snapshot))
            #expect(response.rcode == 0 && response.answer.isEmpty && response.authority.map(\.type) == [6], "\(name) \(type)")
        }
        let v6 = Self.snapshot([Self.weighted([100, 0], targets: [[Self.v6], [Self.v4c]])])
        let aaaa = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .aaaa), snapshot: v6))
        #expect(aaaa.answer.count == 1 && aaaa.answer[0].type == 28)
    }

    @Test func rotationsLeadWithEveryTargetAndRespectMaxAnswers() throws {
        var spec = Self.weighted([100, 0], targets: [[Self.v4a, Self.v4b, Self.v4c], []])
        spec.maxAnswers = 2
        let snapshot = Self.snapshot([spec])
        var leaders = Set<[UInt8]>()
        let responder = Responder(seed: 7)
        for _ in 0..<200 {
            let response = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: snapshot, responder: responder))
            #expect(response.answer.count == 2)
            leaders.insert(response.answer[0].rdata)
        }
        #expect(leaders.count == 3)
    }

    @Test func hashedSelectionMovesOnlyClientsCrossingTheBoundary() {
        let before = Self.set(Self.weighted([90, 10], selection: .hashed))
        let after = Self.set(Self.weighted([80, 20], selection: .hashed))
        var generator = SplitMix64(seed: 1)
        var moved = 0
        let clients = 20_000
        for _ in 0..<clients {
            let hash = generator.next()
            let old = before.choose(random: generator.next(), clientHash: hash)!.pool
            // The same client always lands in the same pool, whatever the random draw.
            #expect(before.choose(random: generator.next(), clientHash: hash)!.pool == old)
            let new = after.choose(random: 0, clientHash: hash)!.pool
            if old != new {
                moved += 1
                #expect(old == 0 && new == 1)
            }
        }
        let share = Double(moved) / Double(clients)
        #expect(share > 0.08 && share < 0.12, "moved \(share)")
    }

    /// The precompiled rotations give the same bytes as the general path for the same draws.
    @Test func precompiledStableAnswersMatchTheGeneralPath() throws {
        let specs = [Self.weighted([60, 40]), Self.broker(live: 1)]
        let fast = Self.snapshot(specs), slow = Self.snapshot(specs, precompile: false)
        #expect(fast.precompiledCount > slow.precompiledCount)
        let a = Responder(seed: 99), b = Responder(seed: 99)
        for _ in 0..<300 {
            for name in ["bootstrap.orders.example.test.", "broker-1.orders.example.test."] {
                for type in [RRType.a, .aaaa] {
                    let packet = Fixture.query(name, type)
                    let x = try #require(Fixture.respond(packet, snapshot: fast, responder: a))
                    let y = try #require(Fixture.respond(packet, snapshot: slow, responder: b))
                    #expect(x.bytes == y.bytes)
                }
            }
        }
    }

    @Test func weightUpdatesKeepZonesAndChangeAnswers() throws {
        let snapshot = Self.snapshot([Self.weighted([100, 0])])
        let moved = try snapshot.updating(stableNames: [Self.weighted([0, 100])])
        let response = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: moved))
        #expect(response.answer.map(\.rdata) == [[10, 8, 0, 1]])
        #expect(moved.zones.first === snapshot.zones.first)
        #expect(throws: ZoneProblem.self) { try snapshot.updating(stableNames: []) }
    }
}

@Suite("Zone data pointing at stable names")
struct ZoneToStableTests {
    @Test func aCNAMEToAWeightedNameIsNotFrozenAtBuildTime() throws {
        let spec = StableNameTests.weighted([50, 50])
        let records = Fixture.exampleRecords + [Fixture.record("kafka.example.test.", .cname, Fixture.name("bootstrap.orders.example.test.").wire)]
        let zone = try ZoneBuilder.build(origin: Fixture.name("example.test."), records: records, source: "t",
                                         stableNames: [StableNode(name: spec.name, index: 0)]).get()
        let snapshot = try Snapshot(zones: [zone], stableNames: [spec])
        let responder = Responder(seed: 3)
        var finals = Set<[UInt8]>()
        for _ in 0..<100 {
            let response = try #require(Fixture.respond(Fixture.query("kafka.example.test.", .a), snapshot: snapshot, responder: responder))
            #expect(response.answer.first?.type == 5)
            if let last = response.answer.last { finals.insert(last.rdata) }
        }
        #expect(finals.contains([10, 8, 0, 1]) && (finals.contains([10, 0, 0, 1]) || finals.contains([10, 0, 0, 2])))
    }

    @Test func aStableNameBesideZoneRecordsIsRejected() {
        let records = Fixture.exampleRecords
        let result = ZoneBuilder.build(origin: Fixture.name("example.test."), records: records, source: "t",
                                       stableNames: [StableNode(name: Fixture.name("www.example.test."), index: 0)])
        guard case .failure(let problems) = result else { Issue.record("should fail"); return }
        #expect(problems.description.contains("stable name"))
    }
}

@Suite("Stable names never answer empty")
struct NeverEmptyTests {
    @Test func aQueriesPickOnlyPoolsWithIPv4() throws {
        let spec = StableNameTests.weighted([50, 50], targets: [[StableNameTests.v4a], [StableNameTests.v6]])
        let snapshot = StableNameTests.snapshot([spec])
        let responder = Responder(seed: 11)
        for _ in 0..<200 {
            let a = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: snapshot, responder: responder))
            #expect(a.answer.map(\.rdata) == [[10, 0, 0, 1]])
            let aaaa = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .aaaa), snapshot: snapshot, responder: responder))
            #expect(aaaa.answer.count == 1 && aaaa.answer[0].type == 28)
        }
    }

    /// The example's schema-registry: vm (weight 100) has only IPv4 targets, pod (weight 0)
    /// has an IPv6 one. AAAA answered NODATA until the zero-weight rule applied per type.
    @Test func aZeroWeightPoolAnswersATypeNoWeightedPoolHas() throws {
        let spec = StableNameTests.weighted([100, 0], targets: [[StableNameTests.v4a, StableNameTests.v4b], [StableNameTests.v4c, StableNameTests.v6]])
        for precompile in [true, false] {
            let snapshot = StableNameTests.snapshot([spec], precompile: precompile)
            let responder = Responder(seed: 3)
            for _ in 0..<50 {
                let aaaa = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .aaaa), snapshot: snapshot, responder: responder))
                #expect(aaaa.rcode == 0 && aaaa.answer.map(\.rdata) == [StableNameTests.v6Bytes], "precompiled: \(precompile)")
                let a = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: snapshot, responder: responder))
                #expect(Set(a.answer.map(\.rdata)) == [[10, 0, 0, 1], [10, 0, 0, 2]], "the weighted pool keeps every A query")
            }
        }
    }

    /// A broker name is exclusive: its live pool answers, or nothing does.
    @Test func aBrokerNameNeverAnswersFromAPoolThatIsNotLive() throws {
        let spec = StableNameSpec(name: Fixture.name("broker-1.orders.example.test."), kind: .exclusive, ttl: 30, maxAnswers: 1,
                                  pools: [StablePool(name: "vm", weight: 1, targets: [StableNameTests.v4a]),
                                          StablePool(name: "pod", weight: 0, targets: [StableNameTests.v6])])
        let snapshot = StableNameTests.snapshot([spec])
        let aaaa = try #require(Fixture.respond(Fixture.query("broker-1.orders.example.test.", .aaaa), snapshot: snapshot))
        #expect(aaaa.rcode == 0 && aaaa.answer.isEmpty)
    }

    @Test func hostnamesOutsideTheZonesRotateAsCNAMEs() throws {
        let outside = [StableTarget.hostname(Fixture.name("kafka-1.svc.cluster.local.")), .hostname(Fixture.name("kafka-2.svc.cluster.local."))]
        let spec = StableNameTests.weighted([0, 100], targets: [[StableNameTests.v4a], outside])
        let snapshot = StableNameTests.snapshot([spec])
        let responder = Responder(seed: 5)
        var seen = Set<[UInt8]>()
        for _ in 0..<100 {
            let response = try #require(Fixture.respond(Fixture.query("bootstrap.orders.example.test.", .a), snapshot: snapshot, responder: responder))
            #expect(response.rcode == 0 && response.answer.count == 1 && response.answer[0].type == 5)
            seen.insert(response.answer[0].rdata)
        }
        #expect(seen.count == 2)
    }
}
