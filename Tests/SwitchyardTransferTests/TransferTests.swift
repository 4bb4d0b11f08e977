import Foundation
import Logging
import Synchronization
import Testing
import SwitchyardCore
@testable import SwitchyardTransfer

@Suite struct KeyFileTests {
    @Test func readsSeveralKeys() throws {
        let text = """
        # made with tsig-keygen
        key "xfr" {
            algorithm hmac-sha256;
            secret "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        };
        key notify. { algorithm HMAC-SHA512; secret "YWJj"; }; // second
        /* a comment */
        """
        let ring = try TSIGKeyFile.parse(text, file: "k.conf")
        #expect(ring.keys.count == 2)
        #expect(ring.key(named: "xfr")?.algorithm == .hmacSHA256)
        #expect(ring.key(named: "notify")?.algorithm == .hmacSHA512)
        #expect(ring.key(named: "notify")?.secret == Array("abc".utf8))
    }

    @Test(arguments: [
        ("key \"a\" { algorithm hmac-md5; secret \"YWJj\"; };", 1, "not supported"),
        ("key \"a\" {\n algorithm hmac-sha256;\n secret \"!!!\";\n};", 3, "not valid base64"),
        ("key \"a\" {\n algorithm hmac-sha256;\n};", 1, "has no `secret`"),
        ("key \"a\" { algorithm hmac-sha256; secret \"YWJj\"; }", 1, "ends where"),
        ("kee \"a\" { };", 1, "expected `key"),
        ("key \"a\" {\n\n colour red; };", 3, "unknown field"),
    ])
    func reportsFileAndLine(text: String, line: Int, message: String) {
        do {
            _ = try TSIGKeyFile.parse(text, file: "k.conf")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("k.conf:\(line): "))
            #expect(error.message.contains(message), "\(error)")
        }
    }
}

@Suite struct TSIGTests {
    let key = TSIGKey(name: DomainName("xfr.")!, algorithm: .hmacSHA256, secret: Array("0123456789abcdef".utf8))

    /// RFC 4231 test case 2: HMAC-SHA256 of "what do ya want for nothing?" with key "Jefe".
    @Test func hmacIsOpenSSLs() {
        let jefe = TSIGKey(name: DomainName("k.")!, algorithm: .hmacSHA256, secret: Array("Jefe".utf8))
        let mac = TSIG.hmac(jefe, Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test(arguments: TSIGAlgorithm.all)
    func signedQueryVerifies(algorithm: TSIGAlgorithm) throws {
        let key = TSIGKey(name: DomainName("k1.")!, algorithm: algorithm, secret: Array("secret!".utf8))
        var packet = MessageReader.query(id: 0x1234, name: DomainName("example.")!, type: .soa)
        let mac = TSIG.sign(&packet, key: key, keyName: key.name, algorithm: algorithm.wireName, time: 1_700_000_000,
                            originalID: 0x1234, priorMAC: nil)
        #expect(mac.count == algorithm.macLength)
        try packet.withUnsafeBytes { bytes in
            guard case .signed(let record) = TSIG.find(in: bytes) else { Issue.record("no TSIG found"); return }
            #expect(record.timeSigned == 1_700_000_000)
            #expect(TSIG.verify(bytes, record: record, key: key, priorMAC: nil))
            let other = TSIGKey(name: key.name, algorithm: algorithm, secret: Array("wrong".utf8))
            #expect(!TSIG.verify(bytes, record: record, key: other, priorMAC: nil))
            _ = try #require(Optional(record))
        }
    }

    @Test func unsignedAndMalformed() {
        let packet = MessageReader.query(id: 1, name: DomainName("example.")!, type: .a)
        packet.withUnsafeBytes { bytes in
            guard case .unsigned = TSIG.find(in: bytes) else { Issue.record("expected unsigned"); return }
        }
    }
}

@Suite struct TransferRuleTests {
    let ring = TSIGKeyring([TSIGKey(name: DomainName("xfr.")!, algorithm: .hmacSHA256, secret: [1, 2, 3])])

    @Test func prefixesMatch() throws {
        let rule = try TransferRule("10.0.0.0/8,key=xfr", keyring: ring)
        #expect(rule.contains([10, 1, 2, 3]))
        #expect(!rule.contains([11, 1, 2, 3]))
        #expect(rule.key == DomainName("xfr.")!)
        let host = try TransferRule("127.0.0.1", keyring: ring)
        #expect(host.contains([127, 0, 0, 1]) && !host.contains([127, 0, 0, 2]))
        let v6 = try TransferRule("::1/128", keyring: ring)
        #expect(v6.contains(Array(repeating: 0, count: 15) + [1]))
    }

    @Test(arguments: ["10.0.0.0/33", "nonsense", "10.0.0.0/8,key=missing", "10.0.0.0/8,colour=red"])
    func badRulesSayWhy(text: String) {
        #expect(throws: TransferRuleError.self) { try TransferRule(text, keyring: ring) }
    }
}

@Suite struct FlattenTests {
    func spec(_ kind: StableNameSpec.Kind, _ pools: [StablePool], max: Int = 8) -> StableNameSpec {
        StableNameSpec(name: DomainName("b.example.")!, kind: kind, ttl: 30, maxAnswers: max, pools: pools)
    }

    @Test func exclusiveIsTheLivePool() {
        let sets = ZoneTransfer.flatten(spec(.exclusive, [StablePool(name: "vm", weight: 0, targets: [.ipv4([10, 0, 0, 1])]),
                                                          StablePool(name: "pod", weight: 1, targets: [.ipv4([10, 8, 0, 1])])]))
        #expect(sets.count == 1 && sets[0].type == .a && sets[0].rdatas == [[10, 8, 0, 1]])
    }

    @Test func weightedIsTheHeaviestPoolFirstOnTies() {
        let pools = [StablePool(name: "vm", weight: 50, targets: [.ipv4([10, 0, 0, 1]), .ipv4([10, 0, 0, 2]), .ipv4([10, 0, 0, 3])]),
                     StablePool(name: "pod", weight: 50, targets: [.ipv4([10, 8, 0, 1])])]
        let sets = ZoneTransfer.flatten(spec(.weighted, pools, max: 2))
        #expect(sets.count == 1 && sets[0].rdatas == [[10, 0, 0, 1], [10, 0, 0, 2]])
        var heavier = pools
        heavier[1].weight = 51
        #expect(ZoneTransfer.flatten(spec(.weighted, heavier))[0].rdatas == [[10, 8, 0, 1]])
    }

    @Test func hostnamesBecomeACNAME() {
        let sets = ZoneTransfer.flatten(spec(.exclusive, [StablePool(name: "pod", weight: 1, targets: [.hostname(DomainName("p.svc.")!)])]))
        #expect(sets.count == 1 && sets[0].type == .cname && sets[0].rdatas == [DomainName("p.svc.")!.wire])
    }

    @Test func differenceIsPerRecord() {
        let owner = DomainName("b.example.")!
        let old = [RRSet(owner: owner, type: .a, ttl: 30, rdatas: [[1, 1, 1, 1], [2, 2, 2, 2]])]
        let new = [RRSet(owner: owner, type: .a, ttl: 30, rdatas: [[2, 2, 2, 2], [3, 3, 3, 3]])]
        let (deleted, added) = ZoneTransfer.difference(from: old, to: new)
        #expect(deleted.flatMap(\.rdatas) == [[1, 1, 1, 1]])
        #expect(added.flatMap(\.rdatas) == [[3, 3, 3, 3]])
    }
}

@Suite struct SlowPathRobustnessTests {
    @Test func mutatedSignedPacketsNeverCrash() {
        let key = TSIGKey(name: DomainName("xfr.")!, algorithm: .hmacSHA256, secret: Array("secret".utf8))
        let zone = try! ZoneBuilder.build(origin: DomainName("example.test.")!, records: [
            ResourceRecord(owner: DomainName("example.test.")!, type: .soa, ttl: 300,
                           rdata: DomainName("ns.example.test.")!.wire + DomainName("h.example.test.")!.wire + [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
            ResourceRecord(owner: DomainName("example.test.")!, type: .ns, ttl: 300, rdata: DomainName("ns.example.test.")!.wire),
            ResourceRecord(owner: DomainName("ns.example.test.")!, type: .a, ttl: 300, rdata: [192, 0, 2, 1]),
        ], source: "t").get()
        let snapshot = try! Snapshot(zones: [zone])
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let slow = TransferResponder(keyring: TSIGKeyring([key]), rules: [try! TransferRule("127.0.0.1", keyring: TSIGKeyring([key]))],
                                     logger: quiet)
        let responder = Responder(defersSlowPath: true)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 16)
        defer { scratch.deallocate() }
        var generator = SystemRandomNumberGenerator()
        let seeds: [[UInt8]] = [RRType.a, .axfr, .ixfr].map { type in
            var packet = MessageReader.query(id: 7, name: DomainName("example.test.")!, type: type)
            TSIG.sign(&packet, key: key, keyName: key.name, algorithm: key.algorithm.wireName, time: UInt64(Date().timeIntervalSince1970),
                      originalID: 7, priorMAC: nil)
            return packet
        }
        for round in 0..<20_000 {
            var packet = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<packet.count, using: &generator)
                packet[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if round % 7 == 0 { packet = Array(packet.prefix(Int.random(in: 0...packet.count, using: &generator))) }
            for transport in [Transport.udp, .tcp] {
                let messages = packet.withUnsafeBytes {
                    slow.respond(to: $0, transport: transport, client: [127, 0, 0, 1], snapshot: snapshot, responder: responder, scratch: scratch)
                }
                #expect(messages.allSatisfy { $0.count >= 12 && $0.count <= 65_535 })
            }
        }
    }
}

/// Lines a client can cause at will are rate-limited, and what was held back is said.
@Suite struct LogThrottleTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [(String, Logger.Metadata)] = []
        func append(_ line: String, _ metadata: Logger.Metadata) { lock.withLock { stored.append((line, metadata)) } }
        var all: [(String, Logger.Metadata)] { lock.withLock { stored } }
    }

    struct Collecting: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            lines.append(message.description, metadata ?? [:])
        }
    }

    @Test func aFloodOfBadSignaturesLogsTenLinesASecond() throws {
        let key = TSIGKey(name: DomainName("xfr.")!, algorithm: .hmacSHA256, secret: Array("secret".utf8))
        let zone = try ZoneBuilder.build(origin: DomainName("example.test.")!, records: [
            ResourceRecord(owner: DomainName("example.test.")!, type: .soa, ttl: 300,
                           rdata: DomainName("ns.example.test.")!.wire + DomainName("h.example.test.")!.wire + Array(repeating: 0, count: 20)),
            ResourceRecord(owner: DomainName("example.test.")!, type: .ns, ttl: 300, rdata: DomainName("ns.example.test.")!.wire),
        ], source: "t").get()
        let snapshot = try Snapshot(zones: [zone])
        let lines = Lines()
        let second = Mutex<UInt64>(1_000)
        let slow = TransferResponder(keyring: TSIGKeyring([key]), logger: Logger(label: "t") { _ in Collecting(lines: lines) },
                                     clock: { second.withLock { $0 } })
        let responder = Responder(defersSlowPath: true)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 16)
        defer { scratch.deallocate() }
        // Signed with another secret: BADSIG every time.
        let forged = TSIGKey(name: key.name, algorithm: key.algorithm, secret: Array("guess".utf8))
        var packet = MessageReader.query(id: 9, name: DomainName("example.test.")!, type: .a)
        TSIG.sign(&packet, key: forged, keyName: forged.name, algorithm: forged.algorithm.wireName, time: 1_000, originalID: 9, priorMAC: nil)
        func send(_ times: Int) {
            for _ in 0..<times {
                let replies = packet.withUnsafeBytes {
                    slow.respond(to: $0, transport: .udp, client: [127, 0, 0, 1], snapshot: snapshot, responder: responder, scratch: scratch)
                }
                #expect(replies.count == 1)  // every packet is still answered (NOTAUTH, BADSIG)
            }
        }
        send(500)
        #expect(lines.all.count == 10)
        #expect(lines.all.allSatisfy { $0.0 == "TSIG check failed" && $0.1["held_back_before"] == "0" })
        second.withLock { $0 += 1 }
        send(1)
        #expect(lines.all.count == 11)
        #expect(lines.all.last?.1["held_back_before"] == "490")
        #expect(slow.stats.tsigErrors["BADSIG"] == 501)
    }
}
