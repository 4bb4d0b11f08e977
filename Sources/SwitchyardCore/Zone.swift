/// One record as read from a zone file, with the line it came from (0 when unknown).
public struct ResourceRecord: Sendable, Equatable {
    public var owner: DomainName
    public var type: RRType
    public var rrClass: RRClass
    public var ttl: UInt32
    /// Uncompressed wire-format RDATA.
    public var rdata: [UInt8]
    public var line: Int

    public init(owner: DomainName, type: RRType, rrClass: RRClass = .in, ttl: UInt32, rdata: [UInt8], line: Int = 0) {
        self.owner = owner; self.type = type; self.rrClass = rrClass
        self.ttl = ttl; self.rdata = rdata; self.line = line
    }
}

/// All records of one owner and type (RFC 2181 section 5): one TTL, no duplicates.
///
/// A value with its own storage: the SOA of each generation, stable names' answers, zone
/// transfers and tests use it. A zone's own RRsets live in its flat `ZoneStorage` and become
/// `RRSet` values only when a reader asks for one (`Zone.nodes`).
///
/// The RDATAs live in one byte array: a single record's RDATA as it is, several each preceded
/// by its length (two bytes, big-endian) — the same layout as the zone's RDATA arena.
public struct RRSet: Sendable {
    public let owner: DomainName
    public let type: RRType
    private let storedCount: UInt16
    public let ttl: UInt32
    private let packed: [UInt8]
    /// For NS, CNAME, PTR, MX and SRV: the name each RDATA points at (used for chasing
    /// CNAMEs and for additional-section processing).
    public let targets: [DomainName]

    public init(owner: DomainName, type: RRType, ttl: UInt32, rdatas: [[UInt8]]) {
        var packed: [UInt8] = []
        if rdatas.count == 1 {
            packed = rdatas[0]
        } else {
            packed.reserveCapacity(rdatas.reduce(0) { $0 + 2 + $1.count })
            for rdata in rdatas {
                packed.append(UInt8(rdata.count >> 8)); packed.append(UInt8(rdata.count & 0xFF))
                packed.append(contentsOf: rdata)
            }
        }
        self.init(owner: owner, type: type, ttl: ttl, count: rdatas.count, packed: packed)
    }

    /// From RDATA already packed as described above (`count` records).
    init(owner: DomainName, type: RRType, ttl: UInt32, count: Int, packed: [UInt8]) {
        self.owner = owner; self.type = type; self.ttl = ttl
        storedCount = UInt16(clamping: count)
        self.packed = packed
        var targets: [DomainName] = []
        if RRSetBytes.targetOffset(type) != nil {
            packed.withUnsafeBytes { bytes in
                _ = RRSetBytes.forEachRData(count: count, packed: bytes) { rdata in
                    if let target = RRSetBytes.target(in: rdata, type: type) { targets.append(DomainName(validWire: target)) }
                    return true
                }
            }
        }
        self.targets = targets
    }

    /// How many records the set holds.
    public var rdataCount: Int { Int(storedCount) }

    /// Each record's uncompressed wire-format RDATA (a copy; the answer path uses `withBytes`).
    public var rdatas: [[UInt8]] {
        var list: [[UInt8]] = []
        list.reserveCapacity(rdataCount)
        withBytes { set in _ = set.forEachRData { list.append(Array($0)); return true } }
        return list
    }

    /// The RDATA of record `index`.
    public func rdata(at index: Int) -> [UInt8] {
        var seen = 0, found: [UInt8] = []
        withBytes { set in
            _ = set.forEachRData { rdata in
                if seen == index { found = Array(rdata); return false }
                seen += 1
                return true
            }
        }
        return found
    }

    /// Lends the set's bytes to `body`, in the form the encoder reads.
    @inline(__always)
    func withBytes<R>(_ body: (RRSetBytes) -> R) -> R {
        owner.wire.withUnsafeBytes { owner in
            packed.withUnsafeBytes { packed in
                body(RRSetBytes(owner: owner, type: type, ttl: ttl, count: Int(storedCount), packed: packed))
            }
        }
    }

    func withTTL(_ ttl: UInt32) -> RRSet { RRSet(owner: owner, type: type, ttl: ttl, count: rdataCount, packed: packed) }

    /// The same set with another SOA serial (the last 20 bytes of SOA RDATA start with it).
    func withSOASerial(_ serial: UInt32) -> RRSet {
        guard type == .soa, storedCount == 1, packed.count >= 20 else { return self }
        var rdata = packed
        let at = rdata.count - 20
        rdata.replaceSubrange(at..<(at + 4), with: [UInt8(serial >> 24), UInt8(serial >> 16 & 0xFF), UInt8(serial >> 8 & 0xFF), UInt8(serial & 0xFF)])
        return RRSet(owner: owner, type: type, ttl: ttl, count: 1, packed: rdata)
    }
}

/// One RRset as the encoder reads it, wherever it is stored (a zone's arenas, an `RRSet`
/// value): borrowed bytes, valid only during the call that lends them.
struct RRSetBytes {
    /// The owner in wire format, original case.
    var owner: UnsafeRawBufferPointer
    var type: RRType
    var ttl: UInt32
    var count: Int
    /// The RDATAs, packed as in `RRSet`.
    var packed: UnsafeRawBufferPointer

    /// Hands each RDATA to `body` in order, without copying; stops (and returns false) when
    /// `body` returns false.
    @inline(__always)
    func forEachRData(_ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        RRSetBytes.forEachRData(count: count, packed: packed, body)
    }

    @inline(__always)
    static func forEachRData(count: Int, packed: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        if count == 1 { return body(packed) }
        var at = 0
        while at + 2 <= packed.count {
            let length = Int(packed[at]) << 8 | Int(packed[at + 1])
            guard at + 2 + length <= packed.count else { return true }
            guard body(UnsafeRawBufferPointer(rebasing: packed[(at + 2)..<(at + 2 + length)])) else { return false }
            at += 2 + length
        }
        return true
    }

    /// Where the name an RDATA points at starts, for the types that point at one.
    @inline(__always)
    static func targetOffset(_ type: RRType) -> Int? {
        switch type {
        case .ns, .cname, .ptr: return 0
        case .mx: return 2
        case .srv: return 6
        default: return nil
        }
    }

    /// The name an NS, CNAME, PTR, MX or SRV RDATA points at, when it is one valid name.
    static func target(in rdata: UnsafeRawBufferPointer, type: RRType) -> UnsafeRawBufferPointer? {
        guard let offset = targetOffset(type), rdata.count > offset,
              let end = uncompressedNameEnd(rdata, from: offset), end == rdata.count, end - offset <= 255 else { return nil }
        return UnsafeRawBufferPointer(rebasing: rdata[offset..<end])
    }

    /// The first valid target of the set (a CNAME's only one).
    func firstTarget() -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        _ = forEachRData { rdata in
            found = RRSetBytes.target(in: rdata, type: type)
            return found == nil
        }
        return found
    }
}

/// One owner name of a zone, read from the zone's storage when asked: its RRsets sorted by
/// type, or none for an empty non-terminal. For tests, transfers and tools; the answer path
/// reads `ZoneStorage` directly.
public struct ZoneNode: Sendable {
    let zone: Zone
    let index: Int

    public var name: DomainName { zone.storage.name(of: index) }
    public var rrsets: [RRSet] { zone.storage.rrsetRange(of: index).map { zone.rrset(at: $0, node: index) } }
    /// Holds records (not an empty non-terminal nor only a stable name).
    public var hasRecords: Bool { zone.storage.nodes[index].rrsetCount > 0 }
    /// Below the apex with an NS RRset: a zone cut (RFC 1034 section 4.2.1).
    public var isDelegation: Bool { zone.storage.nodes[index].isDelegation }
    /// Index of the stable name answered here, or -1 for ordinary zone data.
    public var stable: Int32 { zone.storage.nodes[index].stable }

    public func rrset(_ type: RRType) -> RRSet? {
        zone.storage.rrsetIndex(node: index, type: type).map { zone.rrset(at: $0, node: index) }
    }
}

/// The nodes of a zone in storage order (owners by first appearance, then empty
/// non-terminals and stable names).
public struct ZoneNodes: RandomAccessCollection, Sendable {
    let zone: Zone
    public var startIndex: Int { 0 }
    public var endIndex: Int { zone.storage.nodes.count }
    public subscript(index: Int) -> ZoneNode { ZoneNode(zone: zone, index: index) }
}

/// A validated, immutable authoritative zone.
///
/// The data lives in `storage`, flat arrays shared by every generation of the zone; the SOA
/// is kept apart because each generation has its own serial, so a new serial is a new small
/// `Zone` around the same storage.
public final class Zone: Sendable {
    public let origin: DomainName
    public let soa: RRSet
    /// The SOA as written in negative answers: TTL = min(SOA TTL, MINIMUM) (RFC 2308 section 3).
    public let negativeSOA: RRSet
    let storage: ZoneStorage
    public let recordCount: Int
    public let source: String
    public let serial: UInt32

    init(origin: DomainName, soa: RRSet, storage: ZoneStorage, recordCount: Int, source: String) {
        self.origin = origin; self.soa = soa; self.storage = storage
        self.recordCount = recordCount; self.source = source
        let fields = soa.rdatas.first.flatMap(SOAFields.init(rdata:))
        self.negativeSOA = soa.withTTL(min(soa.ttl, fields?.minimum ?? soa.ttl))
        self.serial = fields?.serial ?? 0
    }

    /// The same zone with another SOA serial (every generation moves it forward): O(1), the
    /// storage is shared.
    public func withSerial(_ serial: UInt32) -> Zone {
        guard serial != self.serial else { return self }
        return Zone(origin: origin, soa: soa.withSOASerial(serial), storage: storage, recordCount: recordCount, source: source)
    }

    public var nodes: ZoneNodes { ZoneNodes(zone: self) }

    public func node(named name: DomainName) -> ZoneNode? {
        storage.names.find(name.key).map { ZoneNode(zone: self, index: $0) }
    }

    func nodeIndex(_ key: UnsafeRawBufferPointer) -> Int? { storage.names.find(key) }

    /// Lends the RRset at `index` of the storage to `body`. The SOA is this generation's, not
    /// the one stored (only the apex has an SOA).
    @inline(__always)
    func withRRSet<R>(at index: Int, node: Int, _ body: (RRSetBytes) -> R) -> R {
        if storage.rrsets[index].type == RRType.soa.rawValue { return soa.withBytes(body) }
        return storage.withRRSet(at: index, node: node, body)
    }

    /// The RRset at `index` as a value.
    func rrset(at index: Int, node: Int) -> RRSet {
        if storage.rrsets[index].type == RRType.soa.rawValue { return soa }
        let entry = storage.rrsets[index]
        let start = Int(entry.rdataStart)
        return RRSet(owner: storage.name(of: node), type: RRType(rawValue: entry.type), ttl: entry.ttl, count: Int(entry.count),
                     packed: Array(storage.rdata[start..<(start + Int(entry.rdataLength))]))
    }
}

/// The fixed fields at the end of SOA RDATA.
public struct SOAFields: Sendable, Equatable {
    public var serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32

    public init?(rdata: [UInt8]) {
        guard !rdata.isEmpty, let mnameEnd = DomainName.validate(rdata[...]),
              let rnameEnd = DomainName.validate(rdata[mnameEnd...]),
              rdata.count == rnameEnd + 20 else { return nil }
        func field(_ index: Int) -> UInt32 {
            let start = rnameEnd + index * 4
            return rdata[start..<start + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        serial = field(0); refresh = field(1); retry = field(2); expire = field(3); minimum = field(4)
    }
}

/// A problem found while validating a zone, tied to a source line.
public struct ZoneProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) {
        self.file = file; self.line = line; self.message = message
    }
    public var description: String { "\(file):\(line): \(message)" }
}

/// Every problem found in one or more files.
public struct ZoneProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ZoneProblem]
    public init(_ problems: [ZoneProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
