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

    /// A zone's RRsets as transferred, SOA first (and not repeated; the encoder closes with
    /// it): ordinary data verbatim (glue and wildcard owners included), stable names
    /// flattened from `stableNames` (the snapshot's own by default, or a past generation's).
    public static func contents(of zone: Zone, stableNames: [StableNameSpec]) -> [RRSet] {
        var sets: [RRSet] = [zone.soa]
        for node in zone.nodes {
            for rrset in node.rrsets where !(rrset.type == .soa && node.name == zone.origin) {
                sets.append(rrset)
            }
            if node.stable >= 0 && Int(node.stable) < stableNames.count {
                sets.append(contentsOf: flatten(stableNames[Int(node.stable)]))
            }
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

    /// The records of an AXFR (or AXFR-style IXFR) answer: SOA, everything else, SOA.
    public static func axfrRecords(_ contents: [RRSet]) -> [RRSet] {
        guard let soa = contents.first else { return [] }
        return contents + [soa]
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
        let id = UInt16(query[0]) << 8 | UInt16(query[1])
        let opcodeAndRD = (UInt16(query[2]) << 8 | UInt16(query[3])) & 0x7900
        let limit = maxSize - reserve
        let questionName = DomainName(wire: Array(query[12..<max(12, questionEnd - 4)]))
        var messages: [[UInt8]] = []
        var setIndex = 0, recordIndex = 0
        repeat {
            let first = messages.isEmpty
            var writer = TransferWriter(header: [UInt8(id >> 8), UInt8(id & 0xFF), UInt8((0x8400 | opcodeAndRD) >> 8), UInt8(opcodeAndRD & 0xFF),
                                                 0, first ? 1 : 0, 0, 0, 0, 0, 0, 0])
            if first {
                writer.bytes += query[12..<questionEnd]
                if let questionName { writer.register(questionName, at: 12) }
            }
            var count: UInt16 = 0
            while setIndex < records.count {
                let set = records[setIndex]
                if recordIndex >= set.rdataCount { setIndex += 1; recordIndex = 0; continue }
                // Compression only shrinks a record: the uncompressed size bounds it.
                let bound = set.owner.wire.count + 10 + set.rdata(at: recordIndex).count
                if writer.bytes.count + bound > limit && (count > 0 || writer.bytes.count + bound > 65_535 - reserve) {
                    if count == 0 { recordIndex += 1 }  // larger than any message: skipped
                    break
                }
                writer.record(set, at: recordIndex)
                count += 1
                recordIndex += 1
            }
            writer.bytes[6] = UInt8(count >> 8); writer.bytes[7] = UInt8(count & 0xFF)
            messages.append(writer.bytes)
        } while setIndex < records.count
        return messages
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

    mutating func register(_ name: DomainName, at offset: Int) {
        var position = 0
        let key = name.key
        while key[position] != 0 && offset + position < 0x4000 {
            suffixes[key[position...]] = suffixes[key[position...]] ?? UInt16(offset + position)
            position += 1 + Int(key[position])
        }
    }

    mutating func name(_ name: DomainName) {
        var position = 0
        let key = name.key, wire = name.wire
        while true {
            let length = Int(wire[position])
            if length == 0 { bytes.append(0); return }
            if let pointer = suffixes[key[position...]] {
                bytes.append(UInt8(0xC0 | pointer >> 8)); bytes.append(UInt8(pointer & 0xFF))
                return
            }
            if bytes.count < 0x4000 { suffixes[key[position...]] = UInt16(bytes.count) }
            bytes += wire[position...(position + length)]
            position += 1 + length
        }
    }

    /// One record; names in NS, CNAME, PTR, MX and SOA data compressed (RFC 3597 section 4:
    /// only the types of RFC 1035), everything else verbatim.
    mutating func record(_ set: RRSet, at index: Int) {
        let rdata = set.rdata(at: index)
        name(set.owner)
        let ttl = set.ttl
        bytes += [UInt8(set.type.rawValue >> 8), UInt8(set.type.rawValue & 0xFF), 0, 1,
                  UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF), 0, 0]
        let lengthAt = bytes.count - 2
        let aligned = set.targets.count == set.rdataCount
        switch set.type {
        case .ns where aligned, .cname where aligned, .ptr where aligned:
            name(set.targets[index])
        case .mx where aligned && rdata.count >= 2:
            bytes += rdata[0..<2]
            name(set.targets[index])
        case .soa:
            let fields = rdata.withUnsafeBytes { raw -> (Int, Int)? in
                guard let m = uncompressedNameEnd(raw, from: 0), let r = uncompressedNameEnd(raw, from: m) else { return nil }
                return (m, r)
            }
            if let (mEnd, rEnd) = fields, let mname = DomainName(wire: Array(rdata[0..<mEnd])),
               let rname = DomainName(wire: Array(rdata[mEnd..<rEnd])) {
                name(mname); name(rname)
                bytes += rdata[rEnd...]
            } else {
                bytes += rdata
            }
        default:
            bytes += rdata
        }
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8); bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}
