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
            list.filter { !other.contains($0.0) }.map { RRSet(owner: $0.1.owner, type: $0.1.type, ttl: $0.1.ttl, rdatas: [$0.1.rdatas[$0.2]]) }
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
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxSize, alignment: 16)
        let compression = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: 4096)
        defer { buffer.deallocate(); compression.deallocate() }
        var messages: [[UInt8]] = []
        var setIndex = 0, recordIndex = 0
        repeat {
            var writer = MessageWriter(buffer: buffer, limit: maxSize - reserve, compression: compression)
            let first = messages.isEmpty
            _ = writer.u16(id); _ = writer.u16(0x8400 | opcodeAndRD)
            _ = writer.u16(first ? 1 : 0); _ = writer.u16(0); _ = writer.u16(0); _ = writer.u16(0)
            if first {
                _ = writer.bytes(UnsafeRawBufferPointer(rebasing: query[12..<questionEnd]))
                writer.registerName(at: 12)
            }
            var count: UInt16 = 0
            while setIndex < records.count {
                let set = records[setIndex]
                if recordIndex >= set.rdatas.count { setIndex += 1; recordIndex = 0; continue }
                guard writer.record(set, at: recordIndex) else { break }
                count += 1
                recordIndex += 1
            }
            if count == 0 && setIndex < records.count {
                // One record larger than a message: skip it rather than loop forever.
                recordIndex += 1
            }
            writer.patch16(count, at: 6)
            messages.append(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<writer.count])))
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
