/// The receive side of DNS over TCP framing (RFC 1035 section 4.2.2, RFC 7766 section 8):
/// every message is preceded by its length in two bytes, network order, and the bytes of a
/// stream arrive split anywhere. This collects them and hands out whole messages in order.
///
/// It does no I/O, so the TCP loop and the fuzzer drive the same code: the loop lets
/// `fill` read from the socket, the fuzzer copies chunks of its input.
public struct TCPFrameReader {
    /// Largest framed message plus room to read ahead into the next one.
    public static let maxBuffered = 2 + 65_535 + 4096

    private var buffer: [UInt8]
    /// Bytes received and not yet handed out as messages.
    public private(set) var count = 0

    public init(initialCapacity: Int = 1024) {
        buffer = Array(repeating: 0, count: max(2, min(initialCapacity, Self.maxBuffered)))
    }

    /// Lets `body` write into the free space after the buffered bytes, growing the buffer
    /// (doubling, up to ``maxBuffered``) when it is full. `body` returns what `read(2)` would:
    /// a positive count of bytes written is kept; zero or less is returned untouched for the
    /// caller to judge. Returns nil, without calling `body`, when the buffer is at its limit:
    /// it then holds at least one whole message (every message fits), so the caller should
    /// take messages before reading more.
    public mutating func fill(_ body: (UnsafeMutableRawBufferPointer) -> Int) -> (result: Int, room: Int)? {
        if count == buffer.count {
            guard buffer.count < Self.maxBuffered else { return nil }
            buffer.append(contentsOf: repeatElement(0, count: min(buffer.count, Self.maxBuffered - buffer.count)))
        }
        let start = count
        let room = buffer.count - start
        let result = buffer.withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
        // A writer claiming more than it was offered would corrupt the stream; never trust it.
        precondition(result <= room, "TCPFrameReader.fill: \(result) bytes written into \(room)")
        if result > 0 { count += result }
        return (result, room)
    }

    /// Appends `bytes` as far as there is room (up to ``maxBuffered``); returns how many were taken.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        var taken = 0
        while taken < bytes.count {
            let step = fill { room in
                let n = min(room.count, bytes.count - taken)
                room.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[taken..<(taken + n)]))
                return n
            }
            guard let step, step.result > 0 else { break }
            taken += step.result
        }
        return taken
    }

    /// Calls `message` with every whole message buffered, in order, then drops them (a
    /// partial one stays for the next read). Returns false when the stream cannot be DNS:
    /// a zero length announces no message, so the peer is out of step with the framing.
    /// The bytes passed to `message` are valid only during the call.
    public mutating func takeMessages(_ message: (UnsafeRawBufferPointer) -> Void) -> Bool {
        takeMessages(while: { message($0); return true })
    }

    /// The same, stopping after a message for which `message` returns false: the messages
    /// behind it stay buffered for a later call.
    public mutating func takeMessages(while message: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        var consumed = 0
        let available = count
        let inStep = buffer.withUnsafeBytes { input -> Bool in
            while available - consumed >= 2 {
                let length = Int(input[consumed]) << 8 | Int(input[consumed + 1])
                if length == 0 { return false }
                guard available - consumed >= 2 + length else { break }
                let goOn = message(UnsafeRawBufferPointer(rebasing: input[(consumed + 2)..<(consumed + 2 + length)]))
                consumed += 2 + length
                if !goOn { break }
            }
            return true
        }
        if consumed > 0 {
            let remaining = count - consumed
            if remaining > 0 {
                buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: $0.baseAddress! + consumed, byteCount: remaining) }
            }
            count = remaining
        }
        return inStep
    }
}
