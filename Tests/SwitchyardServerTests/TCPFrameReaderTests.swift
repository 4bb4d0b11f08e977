import Testing
import SwitchyardServer

@Suite("TCP framing (RFC 7766 section 8)")
struct TCPFrameReaderTests {
    /// Feeds `stream` in pieces of `sizes` (cycled) and collects every message taken.
    func messages(of stream: [UInt8], in sizes: [Int]) -> (messages: [[UInt8]], inStep: Bool, left: Int) {
        var reader = TCPFrameReader(initialCapacity: 4)
        var found: [[UInt8]] = []
        var offset = 0, turn = 0
        while offset < stream.count {
            let size = min(sizes[turn % sizes.count], stream.count - offset)
            turn += 1
            offset += stream[offset..<(offset + size)].withUnsafeBytes { reader.append($0) }
            guard reader.takeMessages({ found.append(Array($0)) }) else { return (found, false, reader.count) }
        }
        return (found, true, reader.count)
    }

    static let pipelined: [UInt8] = [0, 3, 1, 2, 3, 0, 1, 9, 0, 2, 7, 8]

    @Test("pipelined messages come out whole and in order, however the bytes are split", arguments: [[1], [2, 5], [12], [3, 1, 4]])
    func pipelined(_ sizes: [Int]) {
        let got = messages(of: Self.pipelined, in: sizes)
        #expect(got.messages == [[1, 2, 3], [9], [7, 8]])
        #expect(got.inStep && got.left == 0)
    }

    @Test("a partial message waits for the rest")
    func partial() {
        let got = messages(of: [0, 3, 1, 2, 3, 0, 4, 1, 2], in: [100])
        #expect(got.messages == [[1, 2, 3]])
        #expect(got.inStep && got.left == 4)
    }

    @Test("a zero length puts the stream out of step, after the messages before it")
    func zeroLength() {
        let got = messages(of: [0, 1, 5, 0, 0, 0, 1, 6], in: [8])
        #expect(got.messages == [[5]])
        #expect(!got.inStep)
    }

    @Test("the largest message fits, with room to read ahead; a full buffer holds a whole message")
    func largest() {
        var reader = TCPFrameReader(initialCapacity: 1)
        let big = [0xFF, 0xFF] + [UInt8](repeating: 0xAB, count: 65_535) + [0, 2, 1]
        let stream = big + [UInt8](repeating: 0, count: TCPFrameReader.maxBuffered)
        let taken = stream.withUnsafeBytes { reader.append($0) }
        #expect(taken == TCPFrameReader.maxBuffered)
        #expect(reader.fill { _ in Issue.record("fill called on a full buffer"); return 0 } == nil)
        var sizes: [Int] = []
        _ = reader.takeMessages { sizes.append($0.count) }
        #expect(sizes.first == 65_535)
        #expect(reader.fill { $0.count } != nil)
    }

    @Test("a read that returns nothing or fails keeps the buffer as it was")
    func failedRead() {
        var reader = TCPFrameReader()
        _ = [UInt8]([0, 2, 1]).withUnsafeBytes { reader.append($0) }
        #expect(reader.fill { _ in -1 }?.result == -1)
        #expect(reader.fill { _ in 0 }?.result == 0)
        #expect(reader.count == 3)
    }
}
