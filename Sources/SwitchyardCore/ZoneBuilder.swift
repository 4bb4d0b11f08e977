/// A stable name placed in a zone: its snapshot-wide index, and where it is declared, so
/// that a problem with it names the inventory line rather than the zone file.
public struct StableNode: Sendable, Equatable {
    public var name: DomainName
    public var index: Int
    /// The declaring file (an inventory) and line; `field` is its dotted path there.
    public var file: String
    public var line: Int
    public var field: String

    public init(name: DomainName, index: Int, file: String = "", line: Int = 0, field: String = "") {
        self.name = name; self.index = index; self.file = file; self.line = line; self.field = field
    }

    func problem(_ message: String, zoneSource: String) -> ZoneProblem {
        file.isEmpty ? ZoneProblem(file: zoneSource, line: 0, message: message)
            : ZoneProblem(file: file, line: line, message: field.isEmpty ? message : "\(field): \(message)")
    }
}

/// Turns the records of one zone file into a validated `Zone`, reporting every problem
/// the zone parser lets through (missing or extra SOA, data outside the origin, CNAME
/// beside other data) with its line.
///
/// Owners are grouped through the zone's own `NameTable` (byte keys, no `Hasher`, no
/// dictionary per name): a million-name file is grouped in one pass and a counting sort,
/// and the table that grouped the owners is the one lookups use.
public enum ZoneBuilder {
    /// `stableNames` are the names whose answers come from pools; they become nodes of the
    /// zone so that lookup finds them like any other name.
    public static func build(origin: DomainName, records: [ResourceRecord], source: String,
                             stableNames: [StableNode] = []) -> Result<Zone, ZoneProblems> {
        var problems: [ZoneProblem] = []
        func problem(_ line: Int, _ message: String) {
            problems.append(ZoneProblem(file: source, line: line, message: message))
        }

        // Owners in order of first appearance get node indexes 0..<owners.count.
        var table = NameTable(expectedCount: records.count)
        var owners: [DomainName] = []
        var ownerOf = [Int32](repeating: -1, count: records.count)
        var soaRecord: ResourceRecord?
        for (position, record) in records.enumerated() {
            guard accept(record, origin: origin, soa: &soaRecord, problem: problem) else { continue }
            let owner = table.insert(record.owner.key)
            if owner == owners.count { owners.append(record.owner) }
            ownerOf[position] = Int32(owner)
        }
        guard let soaRecord else {
            problem(records.first?.line ?? 1, "no SOA record for \(origin); every zone needs one SOA at its origin")
            return .failure(ZoneProblems(problems))
        }
        let grouped = OwnerGroups(ownerOf: ownerOf, ownerCount: owners.count)
        var recordCount = 0
        var nodes: [ZoneNode] = []
        nodes.reserveCapacity(owners.count + owners.count / 8 + stableNames.count)
        for (index, owner) in owners.enumerated() {
            let sets = rrsets(of: owner, records: records, positions: grouped.positions(of: index), recordCount: &recordCount,
                              problem: problem)
            nodes.append(ZoneNode(name: owner, rrsets: sets, isDelegation: owner != origin && sets.contains { $0.type == .ns }))
        }

        if let apex = table.find(origin.key), nodes[apex].rrset(.ns) != nil {} else {
            problem(soaRecord.line, "no NS records at the zone origin \(origin)")
        }
        for stable in stableNames {
            if !stable.name.isSubdomain(of: origin) || stable.name == origin {
                problems.append(stable.problem("stable name \(stable.name) is not below the zone origin \(origin) (\(source))", zoneSource: source))
            } else if let owner = table.find(stable.name.key), owner < owners.count {
                let line = grouped.positions(of: owner).map { records[Int($0)].line }.min() ?? 0
                problem(line, "\(stable.name) is a stable name of the inventory and also has records in the zone file; remove one of them")
            }
        }
        if !problems.isEmpty { return .failure(ZoneProblems(problems.sorted { $0.line < $1.line })) }

        // Nodes for every empty non-terminal between an owner and the origin, then the stable names.
        func ensureAncestors(of name: DomainName) {
            // Usually the parent is already a node: look its key up in place, no new name.
            let known = name.key.withUnsafeBytes { key -> Bool in
                let parent = UnsafeRawBufferPointer(rebasing: key[(1 + Int(key[0]))...])
                return parent.count == origin.key.count || table.find(parent) != nil
            }
            if known { return }
            var ancestor = name.parent
            while let candidate = ancestor, candidate.isSubdomain(of: origin), candidate != origin {
                // A node already there had its own ancestors added when it was.
                if table.find(candidate.key) != nil { break }
                table.insert(candidate.key)
                nodes.append(ZoneNode(name: candidate, rrsets: [], isDelegation: false))
                ancestor = candidate.parent
            }
        }
        for owner in owners { ensureAncestors(of: owner) }
        for stable in stableNames {
            let index = table.insert(stable.name.key)
            if index == nodes.count { nodes.append(ZoneNode(name: stable.name, rrsets: [], isDelegation: false)) }
            nodes[index].stable = Int32(stable.index)
            ensureAncestors(of: stable.name)
        }
        // Data below a zone cut is glue, and a stable name there would never be answered:
        // resolvers are referred to the child's servers (RFC 1034 section 4.3.2).
        for stable in stableNames {
            var ancestor = stable.name.parent
            while let name = ancestor, name != origin, name.isSubdomain(of: origin) {
                if let cut = table.find(name.key), nodes[cut].isDelegation {
                    let line = grouped.positions(of: cut).filter { records[Int($0)].type == .ns }.map { records[Int($0)].line }.min() ?? 0
                    problems.append(stable.problem(
                        "stable name \(stable.name) lies below the delegation \(name) (NS records at \(source):\(line)), so it would never be answered: serve \(name) as its own zone (a \(name)zone file), remove the delegation, or rename the stable name",
                        zoneSource: source))
                }
                ancestor = name.parent
            }
        }
        if !problems.isEmpty { return .failure(ZoneProblems(problems)) }
        let soa = nodes[table.find(origin.key)!].rrset(.soa)!
        table.compact()
        return .success(Zone(origin: origin, soa: soa, nodes: nodes.withUnsafeBufferPointer { Array($0) }, table: table,
                             recordCount: recordCount, source: source))
    }

    /// The checks on one record alone; false when it is left out (its problem reported).
    private static func accept(_ record: ResourceRecord, origin: DomainName, soa: inout ResourceRecord?,
                               problem: (Int, String) -> Void) -> Bool {
        guard record.rrClass == .in else {
            problem(record.line, "class \(record.rrClass.rawValue) is not served; only IN records are allowed")
            return false
        }
        guard record.owner.isSubdomain(of: origin) else {
            problem(record.line, "\(record.owner) is outside the zone origin \(origin); move it to its own zone file or fix the name")
            return false
        }
        if record.type.isMetaType {
            problem(record.line, "\(record.type) is a meta type and cannot be zone data")
            return false
        }
        if record.type == .soa {
            if let first = soa {
                problem(record.line, "second SOA record (the first is on line \(first.line)); a zone has exactly one SOA")
                return false
            }
            guard record.owner == origin else {
                problem(record.line, "SOA owner \(record.owner) is not the zone origin \(origin)")
                return false
            }
            guard SOAFields(rdata: record.rdata) != nil else {
                problem(record.line, "malformed SOA RDATA")
                return false
            }
            soa = record
        }
        return true
    }

    /// The RRsets of one owner, sorted by type: RFC 2181 section 5, duplicates are one record
    /// and an RRset has one TTL (the lowest wins). Checks RFC 1034 section 3.6.2 / RFC 2181
    /// section 10.1: a CNAME owner has no other data (DNSSEC's RRSIG and NSEC excepted).
    private static func rrsets(of owner: DomainName, records: [ResourceRecord], positions: ArraySlice<Int32>,
                               recordCount: inout Int, problem: (Int, String) -> Void) -> [RRSet] {
        if positions.count == 1 {
            // Most names of a large zone: one record, one RRset, nothing to merge or check.
            let record = records[Int(positions.first!)]
            recordCount += 1
            return [RRSet(owner: owner, type: record.type, ttl: record.ttl, rdatas: [record.rdata])]
        }
        var pending: [(type: RRType, ttl: UInt32, line: Int, rdatas: [[UInt8]])] = []
        for position in positions {
            let record = records[Int(position)]
            if let index = pending.firstIndex(where: { $0.type == record.type }) {
                if !pending[index].rdatas.contains(record.rdata) {
                    pending[index].rdatas.append(record.rdata)
                    recordCount += 1
                }
                pending[index].ttl = min(pending[index].ttl, record.ttl)
            } else {
                pending.append((record.type, record.ttl, record.line, [record.rdata]))
                recordCount += 1
            }
        }
        if let cname = pending.first(where: { $0.type == .cname }) {
            if cname.rdatas.count > 1 {
                problem(cname.line, "\(owner) has \(cname.rdatas.count) CNAME records; a name can have only one")
            }
            let others = pending.filter { $0.type != .cname && $0.type != .rrsig && $0.type != .nsec }
            if let other = others.min(by: { $0.line < $1.line }) {
                problem(max(cname.line, other.line), "CNAME at \(owner) beside other data (\(other.type) on line \(other.line)); a CNAME must be the only record at its name")
            }
        }
        return pending.sorted { $0.type.rawValue < $1.type.rawValue }
            .map { RRSet(owner: owner, type: $0.type, ttl: $0.ttl, rdatas: $0.rdatas) }
    }
}

/// The positions of each owner's records in file order, by a counting sort over the owner
/// index of every record (-1: rejected record), in one flat array.
struct OwnerGroups {
    private var starts: [Int32]
    private var positions: [Int32]

    init(ownerOf: [Int32], ownerCount: Int) {
        var starts = [Int32](repeating: 0, count: ownerCount + 1)
        for owner in ownerOf where owner >= 0 { starts[Int(owner) + 1] += 1 }
        for index in 0..<ownerCount { starts[index + 1] += starts[index] }
        var next = starts
        var positions = [Int32](repeating: 0, count: Int(starts[ownerCount]))
        for (position, owner) in ownerOf.enumerated() where owner >= 0 {
            positions[Int(next[Int(owner)])] = Int32(position)
            next[Int(owner)] += 1
        }
        self.starts = starts
        self.positions = positions
    }

    /// Empty for nodes that are not owners (empty non-terminals, stable names).
    func positions(of owner: Int) -> ArraySlice<Int32> {
        guard owner + 1 < starts.count else { return [] }
        return positions[Int(starts[owner])..<Int(starts[owner + 1])]
    }
}
