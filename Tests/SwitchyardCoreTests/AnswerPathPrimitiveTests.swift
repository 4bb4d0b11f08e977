import Testing
@testable import SwitchyardCore

/// The word-at-a-time helpers of the answer path against their byte-at-a-time definitions.
@Suite("Answer path primitives")
struct AnswerPathPrimitiveTests {
    @Test func lowercasingAWordAtATimeMatchesByteByByte() {
        // Every byte value at every position of an 8-byte word, and every tail length.
        let bytes = (0...255).map(UInt8.init)
        for count in 0...19 {
            for start in stride(from: 0, to: 256, by: 3) {
                let source = (0..<count).map { bytes[(start + $0 * 37) % 256] }
                var target = [UInt8](repeating: 0xEE, count: count + 1)
                source.withUnsafeBytes { from in
                    target.withUnsafeMutableBytes { to in
                        copyLowercase(from: from.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, to: to.baseAddress!, count: count)
                    }
                }
                #expect(Array(target.prefix(count)) == source.map(asciiLowercase), "count \(count) start \(start)")
                #expect(target[count] == 0xEE, "wrote past the end")
            }
        }
    }

    @Test func mixedCaseQuestionsFindTheirAnswers() throws {
        // Long enough for whole words and a tail; the question keeps the client's case.
        for name in ["WWW.Example.TEST.", "www.EXAMPLE.test.", "wWw.eXaMpLe.TeSt.", "A.B.C.EXAMPLE.TEST."] {
            let response = try #require(Fixture.respond(Fixture.query(name, .a)))
            #expect(response.rcode == 0 && response.answer.count == 1, "\(name)")
            #expect(response.questionName == name, "\(name)")
        }
    }

    @Test func wordEqualityAndHashAgreeWithTheBytes() {
        var table = NameTable()
        let keys: [[UInt8]] = (0..<2_000).map { index in
            let label = Array("host-\(index)".utf8)
            return [UInt8(label.count)] + label + [7] + Array("example".utf8) + [0]
        } + [[0], [1, 65], Array(repeating: 9, count: 255)]
        for (index, key) in keys.enumerated() { #expect(table.insert(key) == index) }
        for (index, key) in keys.enumerated() {
            #expect(table.find(key) == index)
            var other = key
            other[other.count - 1] ^= 1  // differs in the last byte only: caught by the tail compare
            #expect(table.find(other) == nil)
        }
    }
}
