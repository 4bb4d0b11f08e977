import SwitchyardCore
import SwitchyardServer

extension FuzzHarness {
    /// One UDP datagram, answered as a UDP worker answers it.
    func query(_ packet: UnsafeRawBufferPointer) {
        answer(packet, transport: .udp, snapshot: snapshot)
    }

    /// Answers `packet` the way the workers do: the responder, and the slow path when it defers.
    /// Checks every reply: a response (QR) to the same ID, within the transport's size limit.
    func answer(_ packet: UnsafeRawBufferPointer, transport: Transport, snapshot: Snapshot) {
        let length = Self.clientV4.withUnsafeBytes { client in
            responder.respond(to: packet, transport: transport, snapshot: snapshot, client: client, into: response)
        }
        if responder.outcome.deferred {
            precondition(length == 0, "a deferred query wrote \(length) bytes")
            let messages = transfers.respond(to: packet, transport: transport, client: Self.clientV4, snapshot: snapshot,
                                             responder: responder, scratch: response)
            for message in transport == .udp ? Array(messages.prefix(1)) : messages {
                message.withUnsafeBytes { check(reply: $0, to: packet, transport: transport) }
            }
        } else if length > 0 {
            check(reply: UnsafeRawBufferPointer(rebasing: response[0..<length]), to: packet, transport: transport)
        }
    }

    func check(reply: UnsafeRawBufferPointer, to query: UnsafeRawBufferPointer, transport: Transport) {
        precondition(reply.count >= 12, "a reply of \(reply.count) bytes has no header")
        precondition(reply.count <= 65_535, "a reply of \(reply.count) bytes cannot be framed")
        precondition(reply[2] & 0x80 != 0, "a reply without QR")
        precondition(reply[0] == query[0] && reply[1] == query[1], "a reply with another ID")
        if transport == .udp {
            // Without any additional record there is no OPT: the client gets at most 512 bytes
            // (RFC 1035 section 4.2.1); with one, never more than we advertise (RFC 6891).
            let arcount = Int(query[10]) << 8 | Int(query[11])
            let limit = arcount == 0 ? 512 : responder.maxUDPSize
            precondition(reply.count <= limit, "a UDP reply of \(reply.count) bytes over the limit \(limit)")
        }
    }

    /// The first byte picks how the rest is cut into reads (1 byte to 4 KiB at a time, varying);
    /// the rest is the stream. Every whole message is answered over TCP, as the event loop does,
    /// and the messages taken must be exactly those a straight walk of the stream finds.
    func tcpStream(_ input: UnsafeRawBufferPointer) {
        guard let seed = input.first else { return }
        let stream = UnsafeRawBufferPointer(rebasing: input[1...])
        let expected = Self.frames(of: stream)
        var reader = TCPFrameReader(initialCapacity: 64)
        var taken: [ArraySlice<UInt8>] = []
        var offset = 0
        var step = UInt32(seed) | 1
        var inStep = true
        while offset < stream.count && inStep {
            // A small LCG: cheap, and each seed gives its own pattern of short and long reads.
            step = step &* 1_103_515_245 &+ 12_345
            let chunk = min(stream.count - offset, seed & 0x80 != 0 ? Int(step >> 20) + 1 : Int(step >> 28) + 1)
            let accepted = reader.append(UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + chunk)]))
            offset += accepted
            let before = taken.count
            inStep = reader.takeMessages { (message: UnsafeRawBufferPointer) -> Void in
                taken.append(ArraySlice(message))
                answer(message, transport: .tcp, snapshot: snapshot)
            }
            // A reader that takes no bytes and hands out no message would stall the connection.
            precondition(accepted > 0 || taken.count > before || !inStep, "the reader is stuck with \(reader.count) bytes")
        }
        precondition(inStep == expected.inStep, "the reader and a straight walk disagree on the framing")
        precondition(taken == expected.messages, "the reader took other messages than the stream holds")
    }

    /// Reference framing: walks the whole stream at once.
    static func frames(of stream: UnsafeRawBufferPointer) -> (messages: [ArraySlice<UInt8>], inStep: Bool) {
        var messages: [ArraySlice<UInt8>] = []
        var offset = 0
        while stream.count - offset >= 2 {
            let length = Int(stream[offset]) << 8 | Int(stream[offset + 1])
            if length == 0 { return (messages, false) }
            guard stream.count - offset - 2 >= length else { break }
            messages.append(ArraySlice(stream[(offset + 2)..<(offset + 2 + length)]))
            offset += 2 + length
        }
        return (messages, true)
    }
}
