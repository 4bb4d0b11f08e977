/// How a query arrived: it decides the size limit and how ANY is answered.
public enum Transport: Sendable {
    case udp
    case tcp
}

/// Turns one query packet into one response packet. One per worker thread: it owns the
/// scratch space, so the answer path allocates nothing.
public final class Responder {
    /// The UDP payload size we advertise and never exceed (RFC 6891 section 6.2.5;
    /// 1232 avoids IP fragmentation on common paths).
    public let maxUDPSize: Int
    private let scratch = LookupScratch()
    // One thread owns a responder (see above), so the runtime's exclusivity checks on its
    // mutable state are pure cost on the answer path.
    @exclusivity(unchecked) private var resolution = Resolution()
    private let compression = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: 256)
    @exclusivity(unchecked) private var random: SplitMix
    /// The EDNS Client Subnet of the current query: family, prefix length, masked address.
    private let clientSubnet = UnsafeMutableRawBufferPointer.allocate(byteCount: 20, alignment: 8)
    /// Zone answers of large zone sets, prepared by this thread on first use; made on first
    /// need (about 1 MiB), so responders serving small zones never pay for it.
    private lazy var cache = AnswerCache()

    /// When set, signed queries (a TSIG record) and zone transfers are not answered here:
    /// `respond` returns 0 with `outcome.deferred` set, and the server hands the packet to
    /// its transfer and TSIG handler. The fast path pays one branch for it.
    public let defersSlowPath: Bool

    /// `seed` fixes the weighted-selection draws (tests); by default they are random.
    public init(maxUDPSize: Int = 1232, seed: UInt64? = nil, defersSlowPath: Bool = false) {
        self.maxUDPSize = max(512, min(maxUDPSize, 65_535))
        self.defersSlowPath = defersSlowPath
        self.random = SplitMix(seed: seed ?? UInt64.random(in: .min ... .max))
    }

    deinit { compression.deallocate(); clientSubnet.deallocate() }

    /// What the last `respond` call answered, for metrics: indexes into the snapshot's
    /// zones and stable names (-1 when none), the pool drawn, and the response code.
    public struct Outcome: Sendable {
        public var zone: Int32 = -1
        public var stable: Int32 = -1
        public var pool: Int32 = -1
        public var rcode: UInt16 = 0
        /// The packet needs the slow path (TSIG or a zone transfer); nothing was written.
        public var deferred = false
    }
    @exclusivity(unchecked) public private(set) var outcome = Outcome()

    /// What the query parser learned from the packet.
    struct Query {
        var id: UInt16 = 0
        /// RD and CD bits, copied to the response.
        var copiedFlags: UInt16 = 0
        var opcode: UInt16 = 0
        var questionEnd = 0
        var qtype = RRType(rawValue: 0)
        var qclass: UInt16 = 0
        var hasEDNS = false
        var ednsVersion: UInt8 = 0
        var udpSize = 512
        /// The DO bit, copied into our OPT (RFC 3225 section 3).
        var dnssecOK = false
        /// Bytes of `clientSubnet` in use; 0 without an ECS option.
        var clientSubnetLength = 0
        /// The additional section holds a TSIG record (RFC 8945).
        var signed = false
    }

    /// Answers `packet` into `response`. Returns the response length, or 0 when the packet
    /// gets no answer at all (too short to be a query, or a response itself). `client` is
    /// the sender's address bytes (4 or 16), which hashed selection uses.
    public func respond(to packet: UnsafeRawBufferPointer, transport: Transport, snapshot: Snapshot,
                        client: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                        into response: UnsafeMutableRawBufferPointer) -> Int {
        outcome = Outcome()
        guard packet.count >= 12 else { return 0 }
        let flags = be16(packet, 2)
        guard flags & 0x8000 == 0 else { return 0 }  // never answer a response
        var query = Query()
        query.id = be16(packet, 0)
        query.copiedFlags = flags & 0x0110
        query.opcode = (flags >> 11) & 0xF

        let questionOK = be16(packet, 4) == 1 && parseQuestion(packet, into: &query)
        guard query.opcode == 0 else {
            // RFC 1035 section 4.1.1 / RFC 8906 section 3.1.5: unknown opcodes get NOTIMP.
            return error(.notImp, query: query, withQuestion: questionOK, packet: packet, transport: transport, into: response)
        }
        // An IXFR query carries the client's SOA in authority (RFC 1995 section 3).
        guard questionOK, be16(packet, 6) == 0, be16(packet, 8) == 0 || query.qtype == .ixfr else {
            return error(.formErr, query: query, withQuestion: questionOK, packet: packet, transport: transport, into: response)
        }
        guard parseAdditional(packet, count: Int(be16(packet, 10)), into: &query) else {
            query.hasEDNS = false
            return error(.formErr, query: query, withQuestion: true, packet: packet, transport: transport, into: response)
        }
        if defersSlowPath && (query.signed || query.qtype == .axfr || query.qtype == .ixfr) {
            outcome.deferred = true
            return 0
        }
        if query.hasEDNS && query.ednsVersion > 0 {
            return error(.badVers, query: query, withQuestion: true, packet: packet, transport: transport, into: response)
        }
        guard query.qclass == RRClass.in.rawValue || query.qclass == RRClass.any.rawValue else {
            return error(.refused, query: query, withQuestion: true, packet: packet, transport: transport, into: response)
        }
        if query.qtype == .axfr || query.qtype == .ixfr {
            // Zone transfer out is not offered (yet).
            return error(.refused, query: query, withQuestion: true, packet: packet, transport: transport, into: response)
        }
        if query.qtype.isMetaType && query.qtype != .any {
            return error(.notImp, query: query, withQuestion: true, packet: packet, transport: transport, into: response)
        }

        let limit = sizeLimit(query, transport)
        // Only stable names draw; zone data never needs the client's hash.
        let hashes = !snapshot.stableNames.isEmpty
        let draw = Draw(random: random.next(),
                        clientHash: !hashes ? 0 : query.clientSubnetLength > 0
                            ? stableHash(UnsafeRawBufferPointer(rebasing: clientSubnet[0..<query.clientSubnetLength]))
                            : stableHash(client))
        if query.qtype != .any,
           let length = precompiled(query, packet: packet, snapshot: snapshot, draw: draw, limit: limit, into: response) {
            return length
        }
        resolution.reset()
        snapshot.zoneSet.resolve(qtype: query.qtype, fullAny: transport == .tcp, draw: draw, scratch: scratch, into: &resolution)
        outcome = Outcome(zone: resolution.zone, stable: resolution.stable, pool: resolution.pool, rcode: resolution.rcode.rawValue)
        if let length = negative(query, packet: packet, snapshot: snapshot, limit: limit, into: response) {
            return length
        }
        return encode(query, packet: packet, zoneSet: snapshot.zoneSet, limit: limit, into: response)
    }

    // MARK: Parsing

    /// Copies the question name, lowercased, into the scratch space. Rejects compression
    /// pointers (a lone question has nothing earlier to point at) and overlong names.
    private func parseQuestion(_ packet: UnsafeRawBufferPointer, into query: inout Query) -> Bool {
        var position = 12
        var labels = 0
        while true {
            guard position < packet.count else { return false }
            let length = Int(packet[position])
            guard length <= 63, position - 12 + 1 + length <= 255 else { return false }
            scratch.labels[labels] = position - 12
            if length == 0 { position += 1; break }
            guard position + 1 + length <= packet.count else { return false }
            position += 1 + length
            labels += 1
        }
        // Length bytes are at most 63, never a capital letter, so the whole name is
        // lowercased in one pass, a word at a time.
        copyLowercase(from: packet.baseAddress! + 12, to: scratch.name.baseAddress!, count: position - 12)
        scratch.nameLength = position - 12
        scratch.labelCount = labels
        guard position + 4 <= packet.count else { return false }
        query.qtype = RRType(rawValue: be16(packet, position))
        query.qclass = be16(packet, position + 2)
        query.questionEnd = position + 4
        return true
    }

    /// Walks the additional section for the OPT record (RFC 6891 section 6.1.1: at most one,
    /// owned by the root). Other records (e.g. TSIG, not supported) are skipped.
    private func parseAdditional(_ packet: UnsafeRawBufferPointer, count: Int, into query: inout Query) -> Bool {
        var position = query.questionEnd
        for _ in 0..<count {
            let nameStart = position
            guard let nameEnd = skipName(packet, from: position) else { return false }
            position = nameEnd
            guard position + 10 <= packet.count else { return false }
            let type = be16(packet, position)
            let rdlength = Int(be16(packet, position + 8))
            let rdataStart = position + 10
            guard rdataStart + rdlength <= packet.count else { return false }
            if type == RRType.opt.rawValue {
                guard !query.hasEDNS, nameEnd == nameStart + 1 else { return false }
                query.hasEDNS = true
                query.udpSize = max(512, Int(be16(packet, position + 2)))
                query.ednsVersion = packet[position + 5]
                query.dnssecOK = packet[position + 6] & 0x80 != 0
                // Options must be well-formed; their contents are ignored (RFC 6891 6.1.2).
                var option = rdataStart
                while option < rdataStart + rdlength {
                    guard option + 4 <= rdataStart + rdlength else { return false }
                    let length = Int(be16(packet, option + 2))
                    guard option + 4 + length <= rdataStart + rdlength else { return false }
                    if be16(packet, option) == 8 {
                        guard readClientSubnet(UnsafeRawBufferPointer(rebasing: packet[(option + 4)..<(option + 4 + length)]), into: &query) else { return false }
                    }
                    option += 4 + length
                }
                guard option == rdataStart + rdlength else { return false }
            } else if type == RRType.tsig.rawValue {
                query.signed = true
            }
            position = rdataStart + rdlength
        }
        return true
    }

    /// EDNS Client Subnet (RFC 7871 section 6): family, source prefix, scope 0, and the
    /// address cut to the prefix. Kept masked so that stray bits never change the hash.
    private func readClientSubnet(_ option: UnsafeRawBufferPointer, into query: inout Query) -> Bool {
        guard option.count >= 4 else { return false }
        let family = be16(option, 0)
        let prefix = Int(option[2])
        let maxPrefix = family == 1 ? 32 : family == 2 ? 128 : -1
        guard maxPrefix > 0, prefix <= maxPrefix, option[3] == 0, option.count - 4 == (prefix + 7) / 8 else { return false }
        clientSubnet[0] = option[0]; clientSubnet[1] = option[1]; clientSubnet[2] = UInt8(prefix)
        for i in 0..<(prefix + 7) / 8 {
            let keep = min(8, prefix - i * 8)
            clientSubnet[3 + i] = option[4 + i] & UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        query.clientSubnetLength = 3 + (prefix + 7) / 8
        return true
    }

    private func skipName(_ packet: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var position = start
        while position < packet.count {
            let length = Int(packet[position])
            if length == 0 { return position + 1 }
            if length & 0xC0 == 0xC0 { return position + 2 <= packet.count ? position + 2 : nil }
            guard length <= 63 else { return nil }
            position += 1 + length
        }
        return nil
    }

    private func sizeLimit(_ query: Query, _ transport: Transport) -> Int {
        switch transport {
        case .tcp: return 65_535
        case .udp: return query.hasEDNS ? min(query.udpSize, maxUDPSize) : 512
        }
    }

    // MARK: Answering

    private func precompiled(_ query: Query, packet: UnsafeRawBufferPointer, snapshot: Snapshot, draw: Draw, limit: Int,
                             into response: UnsafeMutableRawBufferPointer) -> Int? {
        let keyLength = scratch.nameLength + 2
        scratch.name[scratch.nameLength] = UInt8(query.qtype.rawValue >> 8)
        scratch.name[scratch.nameLength + 1] = UInt8(query.qtype.rawValue & 0xFF)
        let key = UnsafeRawBufferPointer(rebasing: scratch.name[0..<keyLength])
        // Each store's bytes are handed down borrowed: no retain and release per answer.
        if let found = snapshot.precompiled.find(key) {
            return write(found, body: snapshot.precompiled.store.body, query, packet: packet, snapshot: snapshot, limit: limit, into: response)
        }
        if let found = snapshot.precompiledStable.find(key, stable: snapshot.zoneSet.stable,
                                                      random: draw.random, clientHash: draw.clientHash) {
            return write(found, body: snapshot.precompiledStable.store.body, query, packet: packet, snapshot: snapshot, limit: limit, into: response)
        }
        if !snapshot.precompiled.complete, let found = cache.answer(key, type: query.qtype, snapshot: snapshot) {
            return write(found, body: cache.store.body, query, packet: packet, snapshot: snapshot, limit: limit, into: response)
        }
        return nil
    }

    /// An NXDOMAIN or NODATA resolution: the zone's prepared negative body, its compression
    /// pointers moved past the labels the question has above the apex (`NegativeAnswers`).
    private func negative(_ query: Query, packet: UnsafeRawBufferPointer, snapshot: Snapshot, limit: Int,
                          into response: UnsafeMutableRawBufferPointer) -> Int? {
        guard resolution.answer.isEmpty, resolution.additional.isEmpty, resolution.authority.count == 1,
              resolution.authority[0].negativeSOA, let template = snapshot.negative.template(zone: resolution.authority[0].zone)
        else { return nil }
        var entry = template.entry
        entry.flags = ResponseEncoder.flags(for: resolution)
        entry.zone = resolution.zone; entry.stable = resolution.stable; entry.pool = resolution.pool
        guard let length = write(entry, body: snapshot.negative.store.body, query, packet: packet, snapshot: snapshot,
                                 limit: limit, into: response) else { return nil }
        let shift = UInt16(query.questionEnd - 16 - template.apexLength)
        let body = response.baseAddress! + query.questionEnd
        func move(_ offset: Int16) {
            guard offset >= 0 else { return }
            let pointer = UInt16(bigEndian: body.loadUnaligned(fromByteOffset: Int(offset), as: UInt16.self))
            body.storeBytes(of: (pointer + shift).bigEndian, toByteOffset: Int(offset), as: UInt16.self)
        }
        move(template.pointers.0); move(template.pointers.1); move(template.pointers.2)
        return length
    }

    /// Header, the query's question, the prepared sections, and our OPT when the query had one.
    @inline(__always)
    private func write(_ entry: PreparedAnswer, body: [UInt8], _ query: Query, packet: UnsafeRawBufferPointer, snapshot: Snapshot,
                       limit: Int, into response: UnsafeMutableRawBufferPointer) -> Int? {
        let optLength = self.optLength(query)
        let total = query.questionEnd + Int(entry.bodyLength) + optLength
        outcome = Outcome(zone: entry.zone, stable: entry.stable, pool: entry.pool, rcode: entry.flags & 0xF)
        guard total <= limit, total <= response.count else { return nil }
        let out = response.baseAddress!
        out.storeBytes(of: query.id.bigEndian, toByteOffset: 0, as: UInt16.self)
        out.storeBytes(of: (0x8000 | entry.flags | query.copiedFlags).bigEndian, toByteOffset: 2, as: UInt16.self)
        out.storeBytes(of: UInt16(1).bigEndian, toByteOffset: 4, as: UInt16.self)
        out.storeBytes(of: entry.answerCount.bigEndian, toByteOffset: 6, as: UInt16.self)
        out.storeBytes(of: entry.authorityCount.bigEndian, toByteOffset: 8, as: UInt16.self)
        out.storeBytes(of: (entry.additionalCount + (query.hasEDNS ? 1 : 0)).bigEndian, toByteOffset: 10, as: UInt16.self)
        (out + 12).copyMemory(from: packet.baseAddress! + 12, byteCount: query.questionEnd - 12)
        body.withUnsafeBytes { body in
            (out + query.questionEnd).copyMemory(from: body.baseAddress! + Int(entry.bodyStart), byteCount: Int(entry.bodyLength))
        }
        if entry.serialOffset >= 0 {
            out.storeBytes(of: snapshot.zoneSet.serials[Int(entry.serialZone)].bigEndian,
                           toByteOffset: query.questionEnd + Int(entry.serialOffset), as: UInt32.self)
        }
        if query.hasEDNS {
            writeOPT(at: query.questionEnd + Int(entry.bodyLength), extendedRCode: 0, query: query,
                     scope: subnetScope(query, stable: entry.stable, snapshot: snapshot), into: out)
        }
        return total
    }

    private func encode(_ query: Query, packet: UnsafeRawBufferPointer, zoneSet: ZoneSet, limit: Int,
                        into response: UnsafeMutableRawBufferPointer) -> Int {
        let optLength = self.optLength(query)
        var writer = MessageWriter(buffer: response, limit: limit - optLength, compression: compression)
        guard writeHeaderAndQuestion(query, packet: packet, writer: &writer) else { return 0 }
        let counts = ResponseEncoder.encodeSections(resolution, zoneSet: zoneSet, writer: &writer) ?? .init()
        var flags = 0x8000 | ResponseEncoder.flags(for: resolution) | query.copiedFlags
        if counts.truncated { flags |= 0x0200 }
        writer.patch16(flags, at: 2)
        writer.patch16(counts.answer, at: 6)
        writer.patch16(counts.authority, at: 8)
        writer.patch16(counts.additional + (query.hasEDNS ? 1 : 0), at: 10)
        var length = writer.count
        if query.hasEDNS {
            writeOPT(at: length, extendedRCode: 0, query: query,
                     scope: subnetScope(query, stable: resolution.stable, zoneSet: zoneSet), into: response.baseAddress!)
            length += optLength
        }
        return length
    }

    private func writeHeaderAndQuestion(_ query: Query, packet: UnsafeRawBufferPointer, writer: inout MessageWriter) -> Bool {
        guard writer.u16(query.id), writer.u16(0), writer.u16(1), writer.u16(0), writer.u16(0), writer.u16(0),
              writer.bytes(UnsafeRawBufferPointer(rebasing: packet[12..<query.questionEnd])) else { return false }
        writer.registerName(at: 12)
        return true
    }

    /// A response with no records: FORMERR, NOTIMP, REFUSED, BADVERS.
    private func error(_ rcode: RCode, query: Query, withQuestion: Bool, packet: UnsafeRawBufferPointer,
                       transport: Transport, into response: UnsafeMutableRawBufferPointer) -> Int {
        guard response.count >= 12 + 11 + 20 else { return 0 }
        outcome.rcode = rcode.rawValue
        let out = response.baseAddress!
        var length = 12
        let hasQuestion = withQuestion && query.questionEnd > 12 && query.questionEnd + optLength(query) <= response.count
        if hasQuestion {
            (out + 12).copyMemory(from: packet.baseAddress! + 12, byteCount: query.questionEnd - 12)
            length = query.questionEnd
        }
        let opcodeBits = (query.opcode & 0xF) << 11
        out.storeBytes(of: query.id.bigEndian, toByteOffset: 0, as: UInt16.self)
        out.storeBytes(of: (0x8000 | opcodeBits | query.copiedFlags | (rcode.rawValue & 0xF)).bigEndian, toByteOffset: 2, as: UInt16.self)
        out.storeBytes(of: UInt16(hasQuestion ? 1 : 0).bigEndian, toByteOffset: 4, as: UInt16.self)
        out.storeBytes(of: UInt32(0), toByteOffset: 6, as: UInt32.self)
        out.storeBytes(of: UInt16(query.hasEDNS ? 1 : 0).bigEndian, toByteOffset: 10, as: UInt16.self)
        if query.hasEDNS {
            writeOPT(at: length, extendedRCode: UInt8(rcode.rawValue >> 4), query: query, scope: 0, into: out)
            length += optLength(query)
        }
        return length
    }

    /// Bytes of our OPT record for this query: 11, plus the echoed Client Subnet option.
    private func optLength(_ query: Query) -> Int {
        guard query.hasEDNS else { return 0 }
        return query.clientSubnetLength > 0 ? 11 + 4 + 1 + query.clientSubnetLength : 11
    }

    /// RFC 7871 section 7.2.1: the scope is the source prefix when the answer was chosen by
    /// the client's subnet (hashed selection), else 0 (valid for every client).
    private func subnetScope(_ query: Query, stable: Int32, snapshot: Snapshot) -> UInt8 {
        subnetScope(query, stable: stable, zoneSet: snapshot.zoneSet)
    }

    private func subnetScope(_ query: Query, stable: Int32, zoneSet: ZoneSet) -> UInt8 {
        guard query.clientSubnetLength > 0, stable >= 0, zoneSet.stable.sets[Int(stable)].selection == .hashed else { return 0 }
        return clientSubnet[2]
    }

    /// Our OPT record: root owner, our UDP size, version 0, the query's DO bit, and the
    /// query's Client Subnet option echoed with `scope`.
    private func writeOPT(at offset: Int, extendedRCode: UInt8, query: Query, scope: UInt8, into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: UInt8(0), toByteOffset: offset, as: UInt8.self)
        out.storeBytes(of: RRType.opt.rawValue.bigEndian, toByteOffset: offset + 1, as: UInt16.self)
        out.storeBytes(of: UInt16(maxUDPSize).bigEndian, toByteOffset: offset + 3, as: UInt16.self)
        let flags: UInt32 = query.dnssecOK ? 0x8000 : 0
        out.storeBytes(of: (UInt32(extendedRCode) << 24 | flags).bigEndian, toByteOffset: offset + 5, as: UInt32.self)
        guard query.clientSubnetLength > 0 else {
            out.storeBytes(of: UInt16(0), toByteOffset: offset + 9, as: UInt16.self)
            return
        }
        // Option: code 8, length, family, source prefix, scope prefix, address.
        let optionLength = query.clientSubnetLength + 1
        out.storeBytes(of: UInt16(4 + optionLength).bigEndian, toByteOffset: offset + 9, as: UInt16.self)
        out.storeBytes(of: UInt16(8).bigEndian, toByteOffset: offset + 11, as: UInt16.self)
        out.storeBytes(of: UInt16(optionLength).bigEndian, toByteOffset: offset + 13, as: UInt16.self)
        out.storeBytes(of: clientSubnet[0], toByteOffset: offset + 15, as: UInt8.self)
        out.storeBytes(of: clientSubnet[1], toByteOffset: offset + 16, as: UInt8.self)
        out.storeBytes(of: clientSubnet[2], toByteOffset: offset + 17, as: UInt8.self)
        out.storeBytes(of: scope, toByteOffset: offset + 18, as: UInt8.self)
        for i in 0..<(query.clientSubnetLength - 3) {
            out.storeBytes(of: clientSubnet[3 + i], toByteOffset: offset + 19 + i, as: UInt8.self)
        }
    }
}

@inline(__always)
func be16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

/// SplitMix64: a fast generator for per-query draws (not for secrets).
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }
}

@inline(__always)
func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// A well-mixed 64-bit hash of a client address or subnet: the same client always maps to
/// the same point, and nearby addresses land far apart.
@inline(__always)
func stableHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return mix(hash)
}
