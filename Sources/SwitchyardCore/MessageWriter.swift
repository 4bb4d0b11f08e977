/// Writes a DNS message into a caller-owned buffer: big-endian fields, names with
/// compression (RFC 1035 section 4.1.4), and whole RRsets that either fit or leave the
/// buffer as it was, so a full packet is cut cleanly at an RRset boundary.
struct MessageWriter {
    let base: UnsafeMutableRawPointer
    /// Bytes written so far.
    private(set) var count: Int
    /// The message may not grow past this.
    var limit: Int
    private let compression: UnsafeMutablePointer<UInt16>
    private let compressionCapacity: Int
    private var compressionCount = 0

    init(buffer: UnsafeMutableRawBufferPointer, limit: Int, compression: UnsafeMutableBufferPointer<UInt16>) {
        self.base = buffer.baseAddress!
        self.count = 0
        self.limit = min(limit, buffer.count)
        self.compression = compression.baseAddress!
        self.compressionCapacity = compression.count
    }

    struct Mark { var count: Int; var compressionCount: Int }
    var mark: Mark { Mark(count: count, compressionCount: compressionCount) }
    mutating func rewind(to mark: Mark) {
        count = mark.count; compressionCount = mark.compressionCount
    }

    @inline(__always) func hasRoom(_ bytes: Int) -> Bool { count + bytes <= limit }

    @inline(__always) mutating func u8(_ value: UInt8) -> Bool {
        guard hasRoom(1) else { return false }
        base.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
        count += 1
        return true
    }

    @inline(__always) mutating func u16(_ value: UInt16) -> Bool {
        guard hasRoom(2) else { return false }
        base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt16.self)
        count += 2
        return true
    }

    @inline(__always) mutating func u32(_ value: UInt32) -> Bool {
        guard hasRoom(4) else { return false }
        base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt32.self)
        count += 4
        return true
    }

    mutating func bytes(_ source: UnsafeRawBufferPointer) -> Bool {
        guard hasRoom(source.count) else { return false }
        if source.count > 0 { (base + count).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        count += source.count
        return true
    }

    mutating func bytes(_ source: [UInt8]) -> Bool { source.withUnsafeBytes { bytes($0) } }

    func patch16(_ value: UInt16, at offset: Int) {
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Registers a name already in the message (e.g. the question) for compression.
    mutating func registerName(at offset: Int) {
        var position = offset
        while position < count {
            let length = Int(base.load(fromByteOffset: position, as: UInt8.self))
            if length == 0 || length & 0xC0 != 0 { return }
            remember(position)
            position += 1 + length
        }
    }

    private mutating func remember(_ offset: Int) {
        guard offset < 0x4000, compressionCount < compressionCapacity else { return }
        compression[compressionCount] = UInt16(offset)
        compressionCount += 1
    }

    /// Writes an uncompressed wire-format name, pointing at an earlier copy of its longest
    /// matching suffix when `compress` is set.
    mutating func name(_ wire: UnsafeRawBufferPointer, compress: Bool) -> Bool {
        var position = 0
        let start = count
        while true {
            let length = Int(wire[position])
            if length == 0 { return u8(0) }
            if compress, let pointer = findSuffix(wire, from: position) {
                return u16(0xC000 | UInt16(pointer))
            }
            guard hasRoom(1 + length) else { count = start; return false }
            remember(count)
            (base + count).copyMemory(from: wire.baseAddress! + position, byteCount: 1 + length)
            count += 1 + length
            position += 1 + length
        }
    }

    mutating func name(_ name: DomainName, compress: Bool) -> Bool {
        name.wire.withUnsafeBytes { self.name($0, compress: compress) }
    }

    /// Offset of an earlier name in the message equal (ignoring case) to the suffix of
    /// `wire` starting at `from`.
    private func findSuffix(_ wire: UnsafeRawBufferPointer, from: Int) -> Int? {
        for index in 0..<compressionCount {
            let offset = Int(compression[index])
            if messageName(at: offset, equals: wire, from: from) { return offset }
        }
        return nil
    }

    private func messageName(at offset: Int, equals wire: UnsafeRawBufferPointer, from: Int) -> Bool {
        var position = offset, other = from, hops = 0
        while true {
            var length = Int(base.load(fromByteOffset: position, as: UInt8.self))
            while length & 0xC0 == 0xC0 {
                hops += 1
                guard hops < 64 else { return false }
                position = (length & 0x3F) << 8 | Int(base.load(fromByteOffset: position + 1, as: UInt8.self))
                length = Int(base.load(fromByteOffset: position, as: UInt8.self))
            }
            guard length == Int(wire[other]) else { return false }
            if length == 0 { return true }
            for i in 1...length where asciiLowercase(base.load(fromByteOffset: position + i, as: UInt8.self)) != asciiLowercase(wire[other + i]) {
                return false
            }
            position += 1 + length
            other += 1 + length
        }
    }

    /// Writes a whole RRset or nothing. `ownerAt` writes the owner as a pointer to that
    /// offset (the question name); otherwise `owner` (or the set's own owner) is written, compressed.
    mutating func rrset(_ rrset: RRSetBytes, owner: UnsafeRawBufferPointer?, ownerAt: Int?) -> Int? {
        let saved = mark
        let written = rrset.forEachRData { rdata in
            record(rrset, rdata: rdata, owner: owner ?? rrset.owner, ownerAt: ownerAt)
        }
        guard written else {
            rewind(to: saved)
            return nil
        }
        return rrset.count
    }

    private mutating func record(_ rrset: RRSetBytes, rdata: UnsafeRawBufferPointer, owner: UnsafeRawBufferPointer, ownerAt: Int?) -> Bool {
        if let ownerAt {
            guard u16(0xC000 | UInt16(ownerAt)) else { return false }
        } else {
            guard name(owner, compress: true) else { return false }
        }
        guard u16(rrset.type.rawValue), u16(RRClass.in.rawValue), u32(rrset.ttl), hasRoom(2) else { return false }
        let lengthAt = count
        count += 2
        let ok: Bool
        switch rrset.type {
        case .ns, .cname, .ptr:
            ok = name(rdata, compress: true)
        case .mx:
            ok = bytes(UnsafeRawBufferPointer(rebasing: rdata[0..<2]))
                && name(UnsafeRawBufferPointer(rebasing: rdata[2...]), compress: true)
        case .soa:
            if let mnameEnd = uncompressedNameEnd(rdata, from: 0), let rnameEnd = uncompressedNameEnd(rdata, from: mnameEnd) {
                ok = name(UnsafeRawBufferPointer(rebasing: rdata[0..<mnameEnd]), compress: true)
                    && name(UnsafeRawBufferPointer(rebasing: rdata[mnameEnd..<rnameEnd]), compress: true)
                    && bytes(UnsafeRawBufferPointer(rebasing: rdata[rnameEnd...]))
            } else {
                ok = bytes(rdata)
            }
        default:
            ok = bytes(rdata)
        }
        guard ok else { return false }
        patch16(UInt16(count - lengthAt - 2), at: lengthAt)
        return true
    }
}

/// Index just past the uncompressed name starting at `from`, or nil when it runs off the end.
func uncompressedNameEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
    var position = from
    while position < bytes.count {
        let length = Int(bytes[position])
        if length == 0 { return position + 1 }
        guard length <= 63 else { return nil }
        position += 1 + length
    }
    return nil
}
