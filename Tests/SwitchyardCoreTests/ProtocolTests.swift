import Testing
@testable import SwitchyardCore

@Suite("Message handling")
struct ProtocolTests {
    @Test func shortPacketsAndResponsesGetNoAnswer() {
        #expect(Fixture.respond([0, 1, 2]) == nil)
        #expect(Fixture.respond(Fixture.query("www.example.test.", .a, flags: 0x8000)) == nil)
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        var label: String
        var packet: [UInt8]
        var rcode: UInt16
        var description: String { label }
    }

    static let errorCases: [ErrorCase] = {
        var twoQuestions = Fixture.query("www.example.test.", .a, qdcount: 2)
        twoQuestions += DomainName("www.example.test.")!.wire + [0, 1, 0, 1]
        var withAnswer = Fixture.query("www.example.test.", .a)
        withAnswer[7] = 1
        var twoOPT = Fixture.query("www.example.test.", .a, edns: 1232)
        twoOPT[11] = 2
        twoOPT += [0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]
        var badOption = Fixture.query("www.example.test.", .a, edns: 1232)
        badOption[badOption.count - 1] = 4  // RDLENGTH 4 with no option bytes behind it
        let truncatedQuestion = Array(Fixture.query("www.example.test.", .a).dropLast(3))
        var pointerInQuestion = Fixture.query("www.example.test.", .a)
        pointerInQuestion[12] = 0xC0; pointerInQuestion[13] = 12
        return [
            .init(label: "no question", packet: Fixture.query("www.example.test.", .a, qdcount: 0), rcode: 1),
            .init(label: "two questions", packet: twoQuestions, rcode: 1),
            .init(label: "answer in a query", packet: withAnswer, rcode: 1),
            .init(label: "two OPT records", packet: twoOPT, rcode: 1),
            .init(label: "malformed OPT", packet: badOption, rcode: 1),
            .init(label: "truncated question", packet: truncatedQuestion, rcode: 1),
            .init(label: "compressed question", packet: pointerInQuestion, rcode: 1),
            .init(label: "opcode STATUS", packet: Fixture.query("www.example.test.", .a, flags: 2 << 11), rcode: 4),
            .init(label: "opcode UPDATE", packet: Fixture.query("www.example.test.", .a, flags: 5 << 11), rcode: 4),
            .init(label: "AXFR", packet: Fixture.query("example.test.", .axfr), rcode: 5),
            .init(label: "IXFR", packet: Fixture.query("example.test.", .ixfr), rcode: 5),
            .init(label: "outside", packet: Fixture.query("example.org.", .a), rcode: 5),
        ]
    }()

    @Test(arguments: errorCases)
    func errors(_ test: ErrorCase) throws {
        let response = try #require(Fixture.respond(test.packet))
        #expect(response.rcode == test.rcode)
        #expect(response.id == 0x1234)
        #expect(!response.aa)
        #expect(response.answer.isEmpty)
    }

    @Test func chaosClassIsRefused() throws {
        var packet = Fixture.query("version.bind.", .txt)
        packet[packet.count - 1] = 3
        let response = try #require(Fixture.respond(packet))
        #expect(response.rcode == 5)
    }

    @Test func ednsIsEchoedWithOurSize() throws {
        let response = try #require(Fixture.respond(Fixture.query("www.example.test.", .a, edns: 4096)))
        let opt = try #require(response.opt)
        #expect(opt.owner == ".")
        #expect(response.u16(response.bytes.count - 8) == 1232, "our UDP size in the OPT class")
        #expect(opt.ttl == 0)
        let plain = try #require(Fixture.respond(Fixture.query("www.example.test.", .a)))
        #expect(plain.opt == nil)
    }

    @Test func unknownEDNSVersionGetsBadVers() throws {
        let response = try #require(Fixture.respond(Fixture.query("www.example.test.", .a, edns: 1232, ednsVersion: 1)))
        let opt = try #require(response.opt)
        #expect(response.rcode == 0)
        #expect(opt.ttl >> 24 == 1, "extended RCODE 1 + header 0 = BADVERS (16)")
        #expect(response.answer.isEmpty)
    }

    @Test func largeAnswersAreTruncatedOverUDPOnly() throws {
        // Three 201-byte TXT records: about 650 bytes.
        let plain = try #require(Fixture.respond(Fixture.query("big.example.test.", .txt)))
        #expect(plain.tc)
        #expect(plain.bytes.count <= 512)
        #expect(plain.questionName == "big.example.test.")
        let edns = try #require(Fixture.respond(Fixture.query("big.example.test.", .txt, edns: 1232)))
        #expect(!edns.tc && edns.answer.count == 3 && edns.opt != nil)
        let small = try #require(Fixture.respond(Fixture.query("big.example.test.", .txt, edns: 600)))
        #expect(small.tc && small.bytes.count <= 600 && small.opt != nil)
        let tcp = try #require(Fixture.respond(Fixture.query("big.example.test.", .txt), transport: .tcp))
        #expect(!tcp.tc && tcp.answer.count == 3)
        // The server's own cap applies even when the client offers more.
        let capped = try #require(Fixture.respond(Fixture.query("big.example.test.", .txt, edns: 4096), responder: Responder(maxUDPSize: 512)))
        #expect(capped.tc && capped.bytes.count <= 512)
    }

    @Test func randomPacketsNeverCrashAndAnswersParse() {
        var generator = SplitMix64(seed: 42)
        let valid = Fixture.query("www.example.test.", .a, edns: 1232)
        let responder = Responder()
        for round in 0..<20_000 {
            var packet = valid
            if round % 4 == 0 {
                packet = (0..<Int(generator.next() % 80)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            } else {
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    let index = Int(generator.next() % UInt64(packet.count))
                    packet[index] = UInt8(truncatingIfNeeded: generator.next())
                }
                if round % 3 == 0 { packet = Array(packet.prefix(Int(generator.next() % UInt64(packet.count + 1)))) }
            }
            if packet.count > 2 { packet[2] &= 0x7F }  // keep QR clear so most packets get an answer
            if let response = Fixture.respond(packet, responder: responder) {
                #expect(response.bytes.count <= 1232)
            }
        }
    }
}

/// A small deterministic generator for fuzz-style tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
