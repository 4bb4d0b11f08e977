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
/// The RDATAs live in one byte array: a single record's RDATA as it is (the very array the
/// parser made, so loading neither copies it nor leaves a hole in the heap), several each
/// preceded by its length (two bytes, big-endian). One allocation per RRset instead of one
/// per record plus one for the list, which is most of what a million single-record names cost.
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
        self.owner = owner; self.type = type; self.ttl = ttl
        storedCount = UInt16(rdatas.count)
        if rdatas.count == 1 {
            packed = rdatas[0]
        } else {
            var packed: [UInt8] = []
            packed.reserveCapacity(rdatas.reduce(0) { $0 + 2 + $1.count })
            for rdata in rdatas {
                packed.append(UInt8(rdata.count >> 8)); packed.append(UInt8(rdata.count & 0xFF))
                packed.append(contentsOf: rdata)
            }
            self.packed = packed
        }
        let offset: Int?
        switch type {
        case .ns, .cname, .ptr: offset = 0
        case .mx: offset = 2
        case .srv: offset = 6
        default: offset = nil
        }
        if let offset {
            targets = rdatas.compactMap { rdata in
                guard rdata.count > offset else { return nil }
                return DomainName(wire: Array(rdata[offset...]))
            }
        } else {
            targets = []
        }
    }

    /// How many records the set holds.
    public var rdataCount: Int { Int(storedCount) }

    /// Each record's uncompressed wire-format RDATA (a copy; the answer path uses `forEachRData`).
    public var rdatas: [[UInt8]] {
        var list: [[UInt8]] = []
        list.reserveCapacity(rdataCount)
        _ = forEachRData { list.append(Array($0)); return true }
        return list
    }

    /// The RDATA of record `index`.
    public func rdata(at index: Int) -> [UInt8] {
        var seen = 0, found: [UInt8] = []
        _ = forEachRData { rdata in
            if seen == index { found = Array(rdata); return false }
            seen += 1
            return true
        }
        return found
    }

    /// Hands each RDATA to `body` in order, without copying; stops (and returns false) when
    /// `body` returns false.
    @inline(__always)
    func forEachRData(_ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        packed.withUnsafeBytes { bytes in
            if storedCount == 1 { return body(bytes) }
            var at = 0
            while at + 2 <= bytes.count {
                let length = Int(bytes[at]) << 8 | Int(bytes[at + 1])
                guard body(UnsafeRawBufferPointer(rebasing: bytes[(at + 2)..<(at + 2 + length)])) else { return false }
                at += 2 + length
            }
            return true
        }
    }

    func withTTL(_ ttl: UInt32) -> RRSet { RRSet(owner: owner, type: type, ttl: ttl, rdatas: rdatas) }
}

/// One owner name of a zone: its RRsets sorted by type, or none for an empty non-terminal.
public struct ZoneNode: Sendable {
    public let name: DomainName
    public internal(set) var rrsets: [RRSet]
    /// Below the apex with an NS RRset: a zone cut (RFC 1034 section 4.2.1).
    public internal(set) var isDelegation: Bool
    /// Index of the stable name answered here, or -1 for ordinary zone data.
    public internal(set) var stable: Int32 = -1

    public func rrset(_ type: RRType) -> RRSet? {
        for rrset in rrsets where rrset.type == type { return rrset }
        return nil
    }
    /// Index of the RRset of `type` in `rrsets`.
    func index(of type: RRType) -> Int? {
        for (index, rrset) in rrsets.enumerated() where rrset.type == type { return index }
        return nil
    }
}

/// A validated, immutable authoritative zone.
public final class Zone: Sendable {
    public let origin: DomainName
    public let soa: RRSet
    /// The SOA as written in negative answers: TTL = min(SOA TTL, MINIMUM) (RFC 2308 section 3).
    public let negativeSOA: RRSet
    public let nodes: [ZoneNode]
    let table: NameTable
    public let recordCount: Int
    public let source: String

    init(origin: DomainName, soa: RRSet, nodes: [ZoneNode], table: NameTable, recordCount: Int, source: String) {
        self.origin = origin; self.soa = soa; self.nodes = nodes; self.table = table
        self.recordCount = recordCount; self.source = source
        let fields = soa.rdatas.first.flatMap(SOAFields.init(rdata:))
        self.negativeSOA = soa.withTTL(min(soa.ttl, fields?.minimum ?? soa.ttl))
        self.serial = fields?.serial ?? 0
    }

    public let serial: UInt32

    /// The same zone with another SOA serial (every generation moves it forward).
    public func withSerial(_ serial: UInt32) -> Zone {
        guard var rdata = soa.rdatas.first, rdata.count >= 20, serial != self.serial else { return self }
        let at = rdata.count - 20
        rdata.replaceSubrange(at..<(at + 4), with: [UInt8(serial >> 24), UInt8(serial >> 16 & 0xFF), UInt8(serial >> 8 & 0xFF), UInt8(serial & 0xFF)])
        let newSOA = RRSet(owner: soa.owner, type: .soa, ttl: soa.ttl, rdatas: [rdata])
        var nodes = self.nodes
        if let apex = table.find(origin.key), let index = nodes[apex].index(of: .soa) {
            nodes[apex].rrsets[index] = newSOA
        }
        return Zone(origin: origin, soa: newSOA, nodes: nodes, table: table, recordCount: recordCount, source: source)
    }

    public func node(named name: DomainName) -> ZoneNode? {
        table.find(name.key).map { nodes[$0] }
    }

    func nodeIndex(_ key: UnsafeRawBufferPointer) -> Int? { table.find(key) }
}

/// The fixed fields at the end of SOA RDATA.
public struct SOAFields: Sendable, Equatable {
    public var serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32

    public init?(rdata: [UInt8]) {
        guard let mnameEnd = DomainName.validate(rdata[...]),
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
