/// What a secondary receives by zone transfer (RFC 5936, RFC 1995), and the messages that
/// carry it. Pure: the server decides who may transfer, signs and sends.
///
/// A secondary cannot draw by weight, so stable names travel flattened (issue #10, rule 5):
/// an exclusive (broker) name as its live pool's targets; a weighted name as the targets of
/// its highest-weight pool (ties: the first pool declared), at most `max_answers` per type;
/// a pool of hostnames as a CNAME to the first of them.
public enum ZoneTransfer {
    /// The records a stable name is transferred as.
    public static func flatten(_ spec: StableNameSpec) -> [RRSet] {
        let withTargets = spec.pools.filter { !$0.targets.isEmpty }
        let pool: StablePool?
        switch spec.kind {
        case .exclusive:
            pool = withTargets.first { $0.weight > 0 } ?? withTargets.first
        case .weighted:
            // max(by:) keeps the last of equal elements; ties must go to the first pool.
            pool = withTargets.reduce(nil as StablePool?) { best, next in
                guard let best else { return next }
                return next.weight > best.weight ? next : best
            }
        }
        guard let pool else { return [] }
        var v4: [[UInt8]] = [], v6: [[UInt8]] = [], hostnames: [DomainName] = []
        for target in pool.targets {
            switch target {
            case .ipv4(let bytes): if v4.count < spec.maxAnswers, !v4.contains(bytes) { v4.append(bytes) }
            case .ipv6(let bytes): if v6.count < spec.maxAnswers, !v6.contains(bytes) { v6.append(bytes) }
            case .hostname(let name): hostnames.append(name)
            }
        }
        var sets: [RRSet] = []
        if !v4.isEmpty { sets.append(RRSet(owner: spec.name, type: .a, ttl: spec.ttl, rdatas: v4)) }
        if !v6.isEmpty { sets.append(RRSet(owner: spec.name, type: .aaaa, ttl: spec.ttl, rdatas: v6)) }
        if sets.isEmpty, let first = hostnames.first {
            sets.append(RRSet(owner: spec.name, type: .cname, ttl: spec.ttl, rdatas: [first.wire]))
        }
        return sets
    }

    /// Only the flattened stable names of `zone`, in node order: all that differs between two
    /// generations serving the same zone data, so an IXFR between them is computed from these
    /// (a few records per stable name) instead of from every record of the zone.
    public static func stableContents(of zone: Zone, stableNames: [StableNameSpec]) -> [RRSet] {
        var sets: [RRSet] = []
        for node in zone.storage.nodes where node.stable >= 0 && Int(node.stable) < stableNames.count {
            sets.append(contentsOf: flatten(stableNames[Int(node.stable)]))
        }
        return sets
    }

    /// The SOA of `zone` with `serial` in place of its own.
    public static func soa(of zone: Zone, serial: UInt32) -> RRSet {
        zone.withSerial(serial).soa
    }

    /// RFC 1995 section 4, condensed into one difference: what to delete from `old` and add
    /// to reach `new` (SOA records excluded; the caller frames them).
    public static func difference(from old: [RRSet], to new: [RRSet]) -> (deleted: [RRSet], added: [RRSet]) {
        struct Key: Hashable { let owner: [UInt8]; let type: UInt16; let ttl: UInt32; let rdata: [UInt8] }
        func records(_ sets: [RRSet]) -> [(Key, RRSet, Int)] {
            var out: [(Key, RRSet, Int)] = []
            for set in sets where set.type != .soa {
                for (index, rdata) in set.rdatas.enumerated() {
                    out.append((Key(owner: set.owner.key, type: set.type.rawValue, ttl: set.ttl, rdata: rdata), set, index))
                }
            }
            return out
        }
        let before = records(old), after = records(new)
        let beforeKeys = Set(before.map(\.0)), afterKeys = Set(after.map(\.0))
        func collect(_ list: [(Key, RRSet, Int)], missingFrom other: Set<Key>) -> [RRSet] {
            list.filter { !other.contains($0.0) }.map { RRSet(owner: $0.1.owner, type: $0.1.type, ttl: $0.1.ttl, rdatas: [$0.1.rdata(at: $0.2)]) }
        }
        return (collect(before, missingFrom: afterKeys), collect(after, missingFrom: beforeKeys))
    }

    /// The records of an incremental answer from `oldSOA` to `newSOA` (RFC 1995 section 4).
    public static func ixfrRecords(oldSOA: RRSet, newSOA: RRSet, deleted: [RRSet], added: [RRSet]) -> [RRSet] {
        [newSOA, oldSOA] + deleted + [newSOA] + added + [newSOA]
    }

    /// Encodes `records` as consecutive response messages to the query whose header and
    /// question are `query[0..<questionEnd]`, each at most `maxSize - reserve` bytes (leave
    /// `reserve` for a TSIG record), names compressed within each message (RFC 5936 section
    /// 2.2). Every message repeats the question only in the first (RFC 5936 section 2.2.1
    /// allows either; BIND, NSD and Knot do the same).
    public static func encode(records: [RRSet], query: UnsafeRawBufferPointer, questionEnd: Int,
                              maxSize: Int = 16_384, reserve: Int = 0) -> [[UInt8]] {
        Array(TransferMessages(records: TransferRecords(records), query: query, questionEnd: questionEnd,
                               maxSize: maxSize, reserve: reserve))
    }

    /// The messages of an AXFR of `zone` (SOA, every record, stable names flattened, SOA), made
    /// one at a time from the zone's storage as they are asked for: a million-name zone is
    /// never copied into record values, and a caller may send each message before making the next.
    public static func axfrMessages(of zone: Zone, stableNames: [StableNameSpec], query: UnsafeRawBufferPointer,
                                    questionEnd: Int, maxSize: Int = 16_384, reserve: Int = 0) -> TransferMessages {
        TransferMessages(records: TransferRecords(zone: zone, stableNames: stableNames), query: query,
                         questionEnd: questionEnd, maxSize: maxSize, reserve: reserve)
    }

    /// A single response with an empty answer and `rcode`, echoing the question (errors and
    /// the up-to-date IXFR answer are built from this). `answer` records are added, if any.
    public static func reply(query: UnsafeRawBufferPointer, questionEnd: Int, rcode: RCode, answer: [RRSet] = []) -> [UInt8] {
        let messages = encode(records: answer, query: query, questionEnd: questionEnd, maxSize: 65_535)
        var message = messages.first ?? []
        if message.count >= 4 {
            message[3] = (message[3] & 0xF0) | UInt8(rcode.rawValue & 0xF)
            // AA only on answers we are authoritative for.
            if rcode != .noError { message[2] &= ~0x04 }
        }
        return message
    }
}

/// The records of a transfer in order, one at a time: a list of RRsets (IXFR, replies, tests),
/// or a whole zone read from its storage (AXFR: the generation's SOA, every node's RRsets but
/// the stored SOA, each stable name flattened where its node is, the SOA again).
public struct TransferRecords {
    private enum Phase { case leadingSOA, nodes, trailingSOA, list, done }
    private let sets: [RRSet]
    private let zone: Zone?
    private let stableNames: [StableNameSpec]
    private var phase: Phase
    /// List: index into `sets`. Zone: the node, and the slot within it (its stored RRsets,
    /// then its flattened stable name's sets).
    private var set = 0, node = 0, slot = 0
    /// The record within the current set, and where its RDATA starts in the set's packed
    /// bytes (after its length, when the set has several), so each record is found in O(1).
    private var record = 0, offset = 0
    private var flattened: [RRSet] = []

    init(_ sets: [RRSet]) {
        self.sets = sets; zone = nil; stableNames = []; phase = .list
        settle()
    }

    init(zone: Zone, stableNames: [StableNameSpec]) {
        sets = []; self.zone = zone; self.stableNames = stableNames; phase = .leadingSOA
        enterNode()
        settle()
    }

    var isAtEnd: Bool { phase == .done }

    /// Lends the current record (its set, and its RDATA) to `body`; nil at the end.
    func withCurrent<R>(_ body: (RRSetBytes, UnsafeRawBufferPointer) -> R) -> R? {
        let offset = self.offset
        func lend(_ set: RRSetBytes) -> R { body(set, set.rdata(at: offset)) }
        switch phase {
        case .list: return sets[set].withBytes(lend)
        case .leadingSOA, .trailingSOA: return zone!.soa.withBytes(lend)
        case .nodes:
            let zone = zone!, range = zone.storage.rrsetRange(of: node)
            if slot < range.count { return zone.storage.withRRSet(at: range.lowerBound + slot, node: node, lend) }
            return flattened[slot - range.count].withBytes(lend)
        case .done: return nil
        }
    }

    mutating func advance() {
        guard phase != .done else { return }
        offset += withCurrent { set, rdata in set.count == 1 ? 0 : 2 + rdata.count } ?? 0
        record += 1
        settle()
    }

    private mutating func enterNode() {
        flattened = []
        guard let zone, node < zone.storage.nodes.count else { return }
        let stable = Int(zone.storage.nodes[node].stable)
        if stable >= 0 && stable < stableNames.count { flattened = ZoneTransfer.flatten(stableNames[stable]) }
    }

    /// Moves forward to the next record that exists (past empty sets, the stored SOA and
    /// finished sets), or to the end.
    private mutating func settle() {
        while true {
            switch phase {
            case .done: return
            case .list:
                if set >= sets.count { phase = .done; return }
                if record < sets[set].rdataCount { return }
                set += 1; record = 0; offset = 0
            case .leadingSOA:
                if record < zone!.soa.rdataCount { return }
                phase = .nodes; record = 0; offset = 0
            case .trailingSOA:
                if record < zone!.soa.rdataCount { return }
                phase = .done
            case .nodes:
                let storage = zone!.storage
                if node >= storage.nodes.count { phase = .trailingSOA; record = 0; offset = 0; continue }
                let range = storage.rrsetRange(of: node)
                let count: Int
                if slot < range.count {
                    let entry = storage.rrsets[range.lowerBound + slot]
                    // The apex's stored SOA is sent first and last, with this generation's serial.
                    count = entry.type == RRType.soa.rawValue ? 0 : Int(entry.count)
                } else if slot - range.count < flattened.count {
                    count = flattened[slot - range.count].rdataCount
                } else {
                    node += 1; slot = 0; record = 0; offset = 0
                    enterNode()
                    continue
                }
                if record < count { return }
                slot += 1; record = 0; offset = 0
            }
        }
    }
}

/// The response messages of a transfer, made one at a time (`next()`): each at most
/// `maxSize - reserve` bytes (leave `reserve` for a TSIG record), names compressed within each
/// (RFC 5936 section 2.2), the question only in the first (RFC 5936 section 2.2.1 allows
/// either; BIND, NSD and Knot do the same). There is always a first message, even for no records.
public struct TransferMessages: Sequence, IteratorProtocol {
    private var records: TransferRecords
    private let header: [UInt8]
    private let question: [UInt8]
    private let questionName: [UInt8]?
    private let limit: Int
    private let reserve: Int
    private var sent = 0

    init(records: TransferRecords, query: UnsafeRawBufferPointer, questionEnd: Int, maxSize: Int, reserve: Int) {
        self.records = records
        let opcodeAndRD = (UInt16(query[2]) << 8 | UInt16(query[3])) & 0x7900
        header = [query[0], query[1], UInt8((0x8400 | opcodeAndRD) >> 8), UInt8(opcodeAndRD & 0xFF), 0, 0, 0, 0, 0, 0, 0, 0]
        question = Array(query[12..<questionEnd])
        let name = Array(query[12..<Swift.max(12, questionEnd - 4)])
        questionName = DomainName.validate(name[...]) == name.count ? name : nil
        limit = maxSize - reserve
        self.reserve = reserve
    }

    /// How many messages were made so far.
    public var count: Int { sent }

    public mutating func next() -> [UInt8]? {
        guard sent == 0 || !records.isAtEnd else { return nil }
        let first = sent == 0
        var writer = TransferWriter(header: header)
        if first {
            writer.bytes[5] = 1
            writer.bytes += question
            if let questionName { questionName.withUnsafeBytes { writer.register($0, at: 12) } }
        }
        var count: UInt16 = 0
        while let fits = records.withCurrent({ set, rdata -> Bool in
            // Compression only shrinks a record: the uncompressed size bounds it.
            let bound = set.owner.count + 10 + rdata.count
            if writer.bytes.count + bound > limit && (count > 0 || writer.bytes.count + bound > 65_535 - reserve) { return false }
            writer.record(set, rdata: rdata)
            return true
        }) {
            if !fits {
                if count == 0 { records.advance() }  // larger than any message: skipped
                break
            }
            count += 1
            records.advance()
        }
        writer.bytes[6] = UInt8(count >> 8); writer.bytes[7] = UInt8(count & 0xFF)
        sent += 1
        return writer.bytes
    }
}

/// Writes the records of a transfer message with name compression through a hash table of
/// the suffixes already written (the answer path's `MessageWriter` scans its table, which is
/// right for a few names and far too slow for the thousands in a 16 KiB transfer message).
struct TransferWriter {
    var bytes: [UInt8]
    /// Lowercase wire suffix → its offset in the message.
    private var suffixes: [ArraySlice<UInt8>: UInt16] = [:]

    init(header: [UInt8]) {
        bytes = header
        bytes.reserveCapacity(16_384 + 512)
    }

    /// Makes the suffixes of the name at `offset` (already in `bytes`) available as pointers.
    mutating func register(_ wire: UnsafeRawBufferPointer, at offset: Int) {
        let key = lowercased(wire)
        var position = 0
        while key[position] != 0 && offset + position < 0x4000 {
            suffixes[key[position...]] = suffixes[key[position...]] ?? UInt16(offset + position)
            position += 1 + Int(key[position])
        }
    }

    /// Appends an uncompressed wire name, compressed against the names before it.
    mutating func name(_ wire: UnsafeRawBufferPointer) {
        let key = lowercased(wire)
        var position = 0
        while true {
            let length = Int(wire[position])
            if length == 0 { bytes.append(0); return }
            if let pointer = suffixes[key[position...]] {
                bytes.append(UInt8(0xC0 | pointer >> 8)); bytes.append(UInt8(pointer & 0xFF))
                return
            }
            if bytes.count < 0x4000 { suffixes[key[position...]] = UInt16(bytes.count) }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: wire[position...(position + length)]))
            position += 1 + length
        }
    }

    private func lowercased(_ wire: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: wire.count) { buffer, initialized in
            if wire.count > 0 { copyLowercase(from: wire.baseAddress!, to: UnsafeMutableRawPointer(buffer.baseAddress!), count: wire.count) }
            initialized = wire.count
        }
    }

    /// One record; names in NS, CNAME, PTR, MX and SOA data compressed (RFC 3597 section 4:
    /// only the types of RFC 1035), everything else verbatim.
    mutating func record(_ set: RRSetBytes, rdata: UnsafeRawBufferPointer) {
        name(set.owner)
        let ttl = set.ttl
        bytes += [UInt8(set.type.rawValue >> 8), UInt8(set.type.rawValue & 0xFF), 0, 1,
                  UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF), 0, 0]
        let lengthAt = bytes.count - 2
        switch set.type {
        case .ns, .cname, .ptr, .mx:
            if let target = RRSetBytes.target(in: rdata, type: set.type), set.type != .mx || rdata.count >= 2 {
                if set.type == .mx { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: rdata[0..<2])) }
                name(target)
            } else {
                bytes.append(contentsOf: rdata)
            }
        case .soa:
            if let mEnd = uncompressedNameEnd(rdata, from: 0), let rEnd = uncompressedNameEnd(rdata, from: mEnd) {
                name(UnsafeRawBufferPointer(rebasing: rdata[0..<mEnd]))
                name(UnsafeRawBufferPointer(rebasing: rdata[mEnd..<rEnd]))
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: rdata[rEnd...]))
            } else {
                bytes.append(contentsOf: rdata)
            }
        default:
            bytes.append(contentsOf: rdata)
        }
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8); bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}

extension RRSetBytes {
    /// The RDATA that starts at byte `offset` of the packed bytes (its length before it when
    /// the set has several records); empty past the end.
    func rdata(at offset: Int) -> UnsafeRawBufferPointer {
        if count == 1 { return packed }
        guard offset + 2 <= packed.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let length = Int(packed[offset]) << 8 | Int(packed[offset + 1])
        guard offset + 2 + length <= packed.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: packed[(offset + 2)..<(offset + 2 + length)])
    }
}
