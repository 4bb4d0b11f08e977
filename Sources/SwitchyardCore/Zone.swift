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
public struct RRSet: Sendable {
    public let owner: DomainName
    public let type: RRType
    public let ttl: UInt32
    public let rdatas: [[UInt8]]
    /// For NS, CNAME, PTR, MX and SRV: the name each RDATA points at (used for chasing
    /// CNAMEs and for additional-section processing).
    public let targets: [DomainName]

    public init(owner: DomainName, type: RRType, ttl: UInt32, rdatas: [[UInt8]]) {
        self.owner = owner; self.type = type; self.ttl = ttl; self.rdatas = rdatas
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
