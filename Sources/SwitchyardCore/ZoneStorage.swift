/// One zone's data in a few flat arrays, as Knot and NSD keep theirs: no heap object per
/// name or RRset. A million-name zone is five allocations instead of several million.
///
/// - `names`: the node table; node `i`'s lowercase name is key `i`, and that key is the only
///   copy of the name unless it is spelled with capitals (`spellings`).
/// - `nodes`: per node, its run of RRsets, flags and stable-name index.
/// - `rrsets`: per RRset, type, TTL, record count and where its RDATA is.
/// - `rdata`: every RDATA; a single record as is, several each after a two-byte length.
///
/// The arrays are never mutated after building, so generations share them (a new SOA serial
/// makes a new `Zone` around the same storage) and readers need no lock. A class, so that a
/// lookup holding it pays one reference count, not one per array.
final class ZoneStorage: Sendable {
    struct Node: Sendable {
        var firstRRSet: UInt32
        var stable: Int32 = -1
        var rrsetCount: UInt16
        var flags: UInt16 = 0

        static let delegation: UInt16 = 1

        /// Below the apex with an NS RRset: a zone cut (RFC 1034 section 4.2.1).
        var isDelegation: Bool { flags & Node.delegation != 0 }
    }

    struct RRSetEntry: Sendable {
        var rdataStart: UInt32
        var rdataLength: UInt32
        var ttl: UInt32
        var type: UInt16
        var count: UInt16
    }

    let names: NameTable
    let spellings: NameSpellings
    let nodes: [Node]
    let rrsets: [RRSetEntry]
    let rdata: [UInt8]

    init(names: NameTable, spellings: NameSpellings, nodes: [Node], rrsets: [RRSetEntry], rdata: [UInt8]) {
        self.names = names; self.spellings = spellings; self.nodes = nodes; self.rrsets = rrsets; self.rdata = rdata
    }

    /// Indexes into `rrsets` of a node's RRsets, sorted by type.
    @inline(__always)
    func rrsetRange(of node: Int) -> Range<Int> {
        let entry = nodes[node]
        return Int(entry.firstRRSet)..<(Int(entry.firstRRSet) + Int(entry.rrsetCount))
    }

    /// Index into `rrsets` of the node's RRset of `type`.
    @inline(__always)
    func rrsetIndex(node: Int, type: RRType) -> Int? {
        rrsets.withUnsafeBufferPointer { rrsets in
            for index in rrsetRange(of: node) where rrsets[index].type == type.rawValue { return index }
            return nil
        }
    }

    /// Lends `body` the node's name in wire format, original case.
    @inline(__always)
    func withName<R>(of node: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        names.withKey(node) { key in spellings.withWire(node: node, key: key, body) }
    }

    func name(of node: Int) -> DomainName { withName(of: node) { DomainName(validWire: $0) } }

    /// Lends `body` one RRset as the encoder reads it.
    @inline(__always)
    func withRRSet<R>(at index: Int, node: Int, _ body: (RRSetBytes) -> R) -> R {
        let entry = rrsets[index]
        return withName(of: node) { owner in
            rdata.withUnsafeBytes { rdata in
                let start = Int(entry.rdataStart)
                return body(RRSetBytes(owner: owner, type: RRType(rawValue: entry.type), ttl: entry.ttl, count: Int(entry.count),
                                       packed: UnsafeRawBufferPointer(rebasing: rdata[start..<(start + Int(entry.rdataLength))])))
            }
        }
    }
}
