/// The records of one zone file as the parser hands them to `ZoneBuilder`, in flat storage:
/// owner names in the `NameTable` that becomes the zone's node table, one fixed-size entry
/// per record, and every RDATA in one byte arena that becomes the zone's RDATA arena.
///
/// A `[ResourceRecord]` costs two or three heap arrays per record; at a million records that
/// list alone was the margin by which a reload (old zone, new zone and this list alive at
/// once) went past twice the steady memory. Here a record costs its 24-byte entry and its
/// RDATA bytes, and building the zone moves the storage instead of copying it.
public struct ZoneRecords: RandomAccessCollection, Sendable {
    struct Entry: Sendable {
        /// Index of the owner in `owners` (order of first appearance).
        var owner: Int32
        var line: Int32
        var ttl: UInt32
        var rdataStart: UInt32
        var type: UInt16
        var rrClass: UInt16
        var rdataLength: UInt16
    }

    /// Owner names, lowercase (RFC 4343), by first appearance.
    var owners: NameTable
    /// The spelling of owners that are not all lowercase (the first one seen wins).
    var spellings = NameSpellings()
    var entries: [Entry] = []
    var rdata: [UInt8] = []
    private var lowered: [UInt8] = []

    /// `expectedCount`: about how many records will come (sizes the storage once).
    public init(expectedCount: Int = 16) {
        owners = NameTable(expectedCount: expectedCount)
        entries.reserveCapacity(expectedCount)
    }

    public init(_ records: [ResourceRecord]) {
        self.init(expectedCount: records.count)
        for record in records { append(record) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(_ record: ResourceRecord) {
        record.owner.wire.withUnsafeBytes { owner in
            record.rdata.withUnsafeBytes { rdata in
                _ = append(owner: owner, type: record.type, rrClass: record.rrClass, ttl: record.ttl, rdata: rdata, line: record.line)
            }
        }
    }

    /// Adds one record; `owner` must be a valid uncompressed name. Returns false (and adds
    /// nothing) when the RDATA is longer than a record can carry (RFC 1035 section 3.2.1).
    @discardableResult
    public mutating func append(owner: UnsafeRawBufferPointer, type: RRType, rrClass: RRClass, ttl: UInt32,
                                rdata: UnsafeRawBufferPointer, line: Int) -> Bool {
        guard rdata.count <= Int(UInt16.max), self.rdata.count + rdata.count < Int(UInt32.max) else { return false }
        let index = ownerIndex(owner)
        entries.append(Entry(owner: Int32(index), line: Int32(clamping: line), ttl: ttl, rdataStart: UInt32(self.rdata.count),
                             type: type.rawValue, rrClass: rrClass.rawValue, rdataLength: UInt16(rdata.count)))
        self.rdata.append(contentsOf: rdata)
        return true
    }

    /// The owner's index, adding it (and its spelling, when not lowercase) if new.
    private mutating func ownerIndex(_ wire: UnsafeRawBufferPointer) -> Int {
        guard wire.contains(where: { $0 &- 0x41 < 26 }) else { return owners.insert(wire) }
        lowered.removeAll(keepingCapacity: true)
        for byte in wire { lowered.append(asciiLowercase(byte)) }
        let before = owners.count
        let index = lowered.withUnsafeBytes { owners.insert($0) }
        if index == before { spellings.add(node: index, wire: wire) }
        return index
    }

    /// The owner of the first record of `type` (the SOA's names the zone's apex).
    public func firstOwner(of type: RRType) -> DomainName? {
        entries.first { $0.type == type.rawValue }.map { ownerName(Int($0.owner)) }
    }

    /// Every owner name, lowercase presentation format (for the inventory's checks).
    public var ownerNames: Set<String> {
        Set((0..<owners.count).map { index in owners.withKey(index) { DomainName(validWire: $0).description } })
    }

    /// The record at `index`, as a value (tests, the fuzzer and messages; loading never asks).
    public subscript(index: Int) -> ResourceRecord {
        let entry = entries[index]
        let start = Int(entry.rdataStart)
        return ResourceRecord(owner: ownerName(Int(entry.owner)), type: RRType(rawValue: entry.type),
                              rrClass: RRClass(rawValue: entry.rrClass), ttl: entry.ttl,
                              rdata: Array(rdata[start..<(start + Int(entry.rdataLength))]), line: Int(entry.line))
    }

    /// Every record as a value, in file order.
    public var records: [ResourceRecord] { (0..<count).map { self[$0] } }

    /// An owner's name with its original spelling.
    func ownerName(_ index: Int) -> DomainName {
        owners.withKey(index) { key in spellings.withWire(node: index, key: key) { DomainName(validWire: $0) } }
    }
}

/// Original spellings of the names that are not all lowercase, by node index. Most names of
/// a zone are lowercase and are kept once, as their key; only the rest are stored again here.
struct NameSpellings: Sendable {
    /// Node indexes in increasing order, and where each one's spelling starts in `arena`
    /// (its length is the key's).
    private var nodes: [UInt32] = []
    private var starts: [UInt32] = []
    private var arena: [UInt8] = []

    var isEmpty: Bool { nodes.isEmpty }

    /// Nodes must come in increasing order (they are numbered as they are added).
    mutating func add(node: Int, wire: UnsafeRawBufferPointer) {
        guard node <= Int(UInt32.max), nodes.last.map({ Int($0) < node }) ?? true else { return }
        nodes.append(UInt32(node))
        starts.append(UInt32(arena.count))
        arena.append(contentsOf: wire)
    }

    /// Lends `body` the spelling of `node`, or `key` itself when the name is lowercase.
    @inline(__always)
    func withWire<R>(node: Int, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard !nodes.isEmpty, let position = position(of: node) else { return body(key) }
        let start = Int(starts[position])
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + key.count)])) }
    }

    /// Binary search: no hashing and no storage per name.
    private func position(of node: Int) -> Int? {
        var low = 0, high = nodes.count
        while low < high {
            let middle = (low + high) / 2
            if Int(nodes[middle]) < node { low = middle + 1 } else { high = middle }
        }
        return low < nodes.count && Int(nodes[low]) == node ? low : nil
    }

    mutating func compact() {
        nodes = nodes.withUnsafeBufferPointer { Array($0) }
        starts = starts.withUnsafeBufferPointer { Array($0) }
        arena = arena.withUnsafeBufferPointer { Array($0) }
    }
}
