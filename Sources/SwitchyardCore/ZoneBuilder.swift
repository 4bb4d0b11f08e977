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
/// The records arrive flat (`ZoneRecords`) with their owners already in a `NameTable`: that
/// table becomes the zone's node table and the records' RDATA arena its RDATA arena (a
/// single-record RRset points at the parser's bytes), so building moves storage rather than
/// copying it. Owners are grouped by their runs in the file, or by a counting sort over
/// their indexes when a file scatters them.
public enum ZoneBuilder {
    /// `stableNames` are the names whose answers come from pools; they become nodes of the
    /// zone so that lookup finds them like any other name.
    public static func build(origin: DomainName, records: [ResourceRecord], source: String,
                             stableNames: [StableNode] = []) -> Result<Zone, ZoneProblems> {
        var flat = ZoneRecords(records)
        return build(origin: origin, records: &flat, source: source, stableNames: stableNames)
    }

    /// The same from flat records, whose storage the zone takes over (`records` is left empty).
    public static func build(origin: DomainName, records: inout ZoneRecords, source: String,
                             stableNames: [StableNode] = []) -> Result<Zone, ZoneProblems> {
        var builder = Builder(origin: origin, records: &records, source: source)
        return builder.build(stableNames: stableNames)
    }

    /// The state of one build, split into named steps.
    private struct Builder {
        let origin: DomainName
        let source: String
        var table: NameTable
        var spellings: NameSpellings
        var entries: [ZoneRecords.Entry]
        var rdata: [UInt8]
        let ownerCount: Int
        var nodes: [ZoneStorage.Node] = []
        var sets: [ZoneStorage.RRSetEntry] = []
        var problems: [ZoneProblem] = []
        var recordCount = 0
        /// Reused while grouping one owner's records and walking a name's ancestors.
        private var order: [Int32] = []
        private var packed: [UInt8] = []
        private var scratch: [UInt8] = []

        init(origin: DomainName, records: inout ZoneRecords, source: String) {
            self.origin = origin; self.source = source
            // Take the storage, leaving the caller nothing to copy on write.
            table = records.owners; records.owners = NameTable(expectedCount: 0)
            spellings = records.spellings; records.spellings = NameSpellings()
            rdata = records.rdata; records.rdata = []
            entries = records.entries; records.entries = []
            ownerCount = table.count
        }

        mutating func problem(_ line: Int, _ message: String) {
            problems.append(ZoneProblem(file: source, line: line, message: message))
        }

        func ownerName(_ index: Int) -> DomainName {
            table.withKey(index) { key in spellings.withWire(node: index, key: key) { DomainName(validWire: $0) } }
        }

        mutating func build(stableNames: [StableNode]) -> Result<Zone, ZoneProblems> {
            var soaPosition: Int?
            var rejected: [Int] = []
            for position in entries.indices where !accept(position, soa: &soaPosition) { rejected.append(position) }
            guard let soaPosition else {
                problem(entries.first.map { Int($0.line) } ?? 1, "no SOA record for \(origin); every zone needs one SOA at its origin")
                return .failure(ZoneProblems(problems))
            }
            let grouped = OwnerGroups(entries: entries, ownerCount: ownerCount, rejected: rejected)
            let apex = table.find(origin.key)!
            nodes.reserveCapacity(ownerCount + ownerCount / 8 + stableNames.count)
            sets.reserveCapacity(entries.count)
            var nextPosition = 0
            for owner in 0..<ownerCount {
                let first = sets.count
                let positions = grouped.positions(of: owner, in: entries, from: nextPosition)
                nextPosition = positions.endIndex
                appendRRSets(of: owner, positions: positions)
                guard sets.count - first <= Int(UInt16.max) else {
                    problem(0, "\(ownerName(owner)) has more than 65535 record types")
                    return .failure(ZoneProblems(problems))
                }
                let cut = owner != apex && sets[first...].contains { $0.type == RRType.ns.rawValue }
                nodes.append(ZoneStorage.Node(firstRRSet: UInt32(first), rrsetCount: UInt16(sets.count - first),
                                              flags: cut ? ZoneStorage.Node.delegation : 0))
            }
            if rrsetIndex(node: apex, type: .ns) == nil {
                problem(Int(entries[soaPosition].line), "no NS records at the zone origin \(origin)")
            }
            checkStableNames(stableNames, grouped: grouped)
            if !problems.isEmpty { return .failure(ZoneProblems(problems.sorted { $0.line < $1.line })) }

            // Nodes for every empty non-terminal between an owner and the origin, then the stable names.
            for owner in 0..<ownerCount { ensureAncestors(of: owner) }
            for stable in stableNames {
                let index = stable.name.key.withUnsafeBytes { table.insert($0) }
                if index == nodes.count {
                    nodes.append(ZoneStorage.Node(firstRRSet: UInt32(sets.count), rrsetCount: 0))
                    if stable.name.wire != stable.name.key { stable.name.wire.withUnsafeBytes { spellings.add(node: index, wire: $0) } }
                }
                nodes[index].stable = Int32(stable.index)
                ensureAncestors(of: index)
            }
            checkStableNamesBelowCuts(stableNames, grouped: grouped)
            if !problems.isEmpty { return .failure(ZoneProblems(problems)) }
            // The records' entries are done with: free them before the zone is finished, while
            // a reload still holds the old zone as well.
            entries = []
            return .success(finish(apex: apex))
        }

        /// Checks one record on its own; false rejects it (always with a problem, so a zone
        /// with a rejected record is never built).
        mutating func accept(_ position: Int, soa: inout Int?) -> Bool {
            let entry = entries[position]
            let line = Int(entry.line)
            guard entry.rrClass == RRClass.in.rawValue else {
                problem(line, "class \(entry.rrClass) is not served; only IN records are allowed")
                return false
            }
            let owner = Int(entry.owner)
            let inside = table.withKey(owner) { key in origin.key.withUnsafeBytes { DomainName.isSubdomain(key, of: $0) } }
            guard inside else {
                problem(line, "\(ownerName(owner)) is outside the zone origin \(origin); move it to its own zone file or fix the name")
                return false
            }
            let type = RRType(rawValue: entry.type)
            if type.isMetaType {
                problem(line, "\(type) is a meta type and cannot be zone data")
                return false
            }
            if type == .soa {
                if let first = soa {
                    problem(line, "second SOA record (the first is on line \(entries[first].line)); a zone has exactly one SOA")
                    return false
                }
                guard table.withKey(owner, { $0.count }) == origin.key.count else {
                    problem(line, "SOA owner \(ownerName(owner)) is not the zone origin \(origin)")
                    return false
                }
                guard SOAFields(rdata: rdataBytes(entry)) != nil else {
                    problem(line, "malformed SOA RDATA")
                    return false
                }
                soa = position
            }
            return true
        }

        func rdataBytes(_ entry: ZoneRecords.Entry) -> [UInt8] {
            let start = Int(entry.rdataStart)
            return Array(rdata[start..<(start + Int(entry.rdataLength))])
        }

        /// The RRsets of one owner, sorted by type: RFC 2181 section 5, duplicates are one
        /// record and an RRset has one TTL (the lowest wins). Checks RFC 1034 section 3.6.2 /
        /// RFC 2181 section 10.1: a CNAME owner has no other data (DNSSEC's RRSIG and NSEC excepted).
        mutating func appendRRSets(of owner: Int, positions: OwnerGroups.Positions) {
            if positions.count == 1 {
                // Most names of a large zone: one record, one RRset, its RDATA where the parser put it.
                let entry = entries[Int(positions.first!)]
                recordCount += 1
                sets.append(ZoneStorage.RRSetEntry(rdataStart: entry.rdataStart, rdataLength: UInt32(entry.rdataLength),
                                                   ttl: entry.ttl, type: entry.type, count: 1))
                return
            }
            // By type, then file order: each run of one type becomes one RRset.
            order.removeAll(keepingCapacity: true)
            order.append(contentsOf: positions)
            let entries = self.entries
            order.sort { entries[Int($0)].type != entries[Int($1)].type ? entries[Int($0)].type < entries[Int($1)].type : $0 < $1 }
            var cname: (line: Int, count: Int)?
            var otherLine: (type: UInt16, line: Int)?
            var runStart = 0
            while runStart < order.count {
                let type = entries[Int(order[runStart])].type
                var runEnd = runStart
                while runEnd < order.count && entries[Int(order[runEnd])].type == type { runEnd += 1 }
                let line = Int(entries[Int(order[runStart])].line)
                let count = appendRRSet(order[runStart..<runEnd])
                if type == RRType.cname.rawValue {
                    cname = (line, count)
                } else if type != RRType.rrsig.rawValue && type != RRType.nsec.rawValue && line < (otherLine?.line ?? Int.max) {
                    otherLine = (type, line)
                }
                runStart = runEnd
            }
            if let cname {
                let name = ownerName(owner)
                if cname.count > 1 {
                    problem(cname.line, "\(name) has \(cname.count) CNAME records; a name can have only one")
                }
                if let other = otherLine {
                    problem(max(cname.line, other.line), "CNAME at \(name) beside other data (\(RRType(rawValue: other.type)) on line \(other.line)); a CNAME must be the only record at its name")
                }
            }
        }

        /// One RRset from the records at `run` (one type, file order): duplicates dropped,
        /// the lowest TTL. Returns its record count.
        private mutating func appendRRSet(_ run: ArraySlice<Int32>) -> Int {
            let entries = self.entries
            let first = entries[Int(run.first!)]
            var ttl = first.ttl
            var unique: [Int32] = []
            rdata.withUnsafeBytes { arena in
                func bytes(_ entry: ZoneRecords.Entry) -> UnsafeRawBufferPointer {
                    UnsafeRawBufferPointer(rebasing: arena[Int(entry.rdataStart)..<(Int(entry.rdataStart) + Int(entry.rdataLength))])
                }
                for position in run {
                    let entry = entries[Int(position)]
                    ttl = min(ttl, entry.ttl)
                    let candidate = bytes(entry)
                    if !unique.contains(where: { bytes(entries[Int($0)]).elementsEqual(candidate) }) { unique.append(position) }
                }
            }
            recordCount += unique.count
            if unique.count == 1 {
                sets.append(ZoneStorage.RRSetEntry(rdataStart: first.rdataStart, rdataLength: UInt32(first.rdataLength),
                                                   ttl: ttl, type: first.type, count: 1))
                return 1
            }
            // Several records: each after its length, appended to the arena (copied through
            // `packed` first: appending a slice of the arena to itself would copy the arena).
            packed.removeAll(keepingCapacity: true)
            for position in unique {
                let entry = entries[Int(position)]
                packed.append(UInt8(entry.rdataLength >> 8)); packed.append(UInt8(entry.rdataLength & 0xFF))
                let start = Int(entry.rdataStart)
                packed.append(contentsOf: rdata[start..<(start + Int(entry.rdataLength))])
            }
            guard unique.count <= Int(UInt16.max), rdata.count + packed.count < Int(UInt32.max) else {
                problem(Int(first.line), "an RRset of \(unique.count) records is more than one zone can serve")
                return unique.count
            }
            sets.append(ZoneStorage.RRSetEntry(rdataStart: UInt32(rdata.count), rdataLength: UInt32(packed.count),
                                               ttl: ttl, type: first.type, count: UInt16(unique.count)))
            rdata.append(contentsOf: packed)
            return unique.count
        }

        func rrsetIndex(node: Int, type: RRType) -> Int? {
            let entry = nodes[node]
            for index in Int(entry.firstRRSet)..<(Int(entry.firstRRSet) + Int(entry.rrsetCount)) where sets[index].type == type.rawValue {
                return index
            }
            return nil
        }

        mutating func checkStableNames(_ stableNames: [StableNode], grouped: OwnerGroups) {
            for stable in stableNames {
                if !stable.name.isSubdomain(of: origin) || stable.name == origin {
                    problems.append(stable.problem("stable name \(stable.name) is not below the zone origin \(origin) (\(source))", zoneSource: source))
                } else if let owner = table.find(stable.name.key), owner < ownerCount {
                    let line = grouped.positions(of: owner, in: entries).map { Int(entries[Int($0)].line) }.min() ?? 0
                    problem(line, "\(stable.name) is a stable name of the inventory and also has records in the zone file; remove one of them")
                }
            }
        }

        /// Data below a zone cut is glue, and a stable name there would never be answered:
        /// resolvers are referred to the child's servers (RFC 1034 section 4.3.2).
        mutating func checkStableNamesBelowCuts(_ stableNames: [StableNode], grouped: OwnerGroups) {
            for stable in stableNames {
                var ancestor = stable.name.parent
                while let name = ancestor, name != origin, name.isSubdomain(of: origin) {
                    if let cut = table.find(name.key), nodes[cut].isDelegation {
                        let line = grouped.positions(of: cut, in: entries).filter { entries[Int($0)].type == RRType.ns.rawValue }
                            .map { Int(entries[Int($0)].line) }.min() ?? 0
                        problems.append(stable.problem(
                            "stable name \(stable.name) lies below the delegation \(name) (NS records at \(source):\(line)), so it would never be answered: serve \(name) as its own zone (a \(name)zone file), remove the delegation, or rename the stable name",
                            zoneSource: source))
                    }
                    ancestor = name.parent
                }
            }
        }

        /// Adds a node for each ancestor of `node` between it and the origin that has none
        /// (an empty non-terminal). A node already there had its own ancestors added when it was.
        mutating func ensureAncestors(of node: Int) {
            scratch.removeAll(keepingCapacity: true)
            table.withKey(node) { scratch.append(contentsOf: $0) }
            let originLength = origin.key.count
            var at = 1 + Int(scratch[0])
            while scratch.count - at > originLength {
                let known = scratch.withUnsafeBytes { table.find(UnsafeRawBufferPointer(rebasing: $0[at...])) != nil }
                if known { return }
                scratch.withUnsafeBytes { _ = table.insert(UnsafeRawBufferPointer(rebasing: $0[at...])) }
                nodes.append(ZoneStorage.Node(firstRRSet: UInt32(sets.count), rrsetCount: 0))
                at += 1 + Int(scratch[at])
            }
        }

        /// The zone. Its arrays keep their growth slack: large ones are mapped on their own
        /// (`sy_malloc_map_large`), so capacity never written costs no memory, while trimming
        /// would copy them at the moment a reload holds the most.
        mutating func finish(apex: Int) -> Zone {
            let soaIndex = rrsetIndex(node: apex, type: .soa)!
            let soaEntry = sets[soaIndex]
            let soaStart = Int(soaEntry.rdataStart)
            let soa = RRSet(owner: ownerName(apex), type: .soa, ttl: soaEntry.ttl, count: Int(soaEntry.count),
                            packed: Array(rdata[soaStart..<(soaStart + Int(soaEntry.rdataLength))]))
            spellings.compact()
            let storage = ZoneStorage(names: table, spellings: spellings, nodes: nodes, rrsets: sets, rdata: rdata)
            return Zone(origin: origin, soa: soa, storage: storage, recordCount: recordCount, source: source)
        }
    }
}

/// The positions of each owner's records, in file order. Most zone files list each owner's
/// records together, and then an owner's records are one run of positions, found by a binary
/// search over the records' owners (numbered by first appearance, so the runs are in order):
/// nothing is stored. Otherwise, or when a record was rejected, a counting sort over the
/// owner of every record puts them in one flat array (4 bytes per record, and 4 more while
/// sorting: a million-name reload is 8 MB lighter without it).
struct OwnerGroups {
    /// Nil when each owner's records are one run.
    private let sorted: (starts: [Int32], positions: [Int32])?

    init(entries: [ZoneRecords.Entry], ownerCount: Int, rejected: [Int]) {
        if rejected.isEmpty && Self.inRuns(entries) {
            sorted = nil
            return
        }
        var ownerOf = entries.map(\.owner)
        for position in rejected { ownerOf[position] = -1 }
        var starts = [Int32](repeating: 0, count: ownerCount + 1)
        for owner in ownerOf where owner >= 0 { starts[Int(owner) + 1] += 1 }
        for index in 0..<ownerCount { starts[index + 1] += starts[index] }
        var next = starts
        var positions = [Int32](repeating: 0, count: Int(starts[ownerCount]))
        for (position, owner) in ownerOf.enumerated() where owner >= 0 {
            positions[Int(next[Int(owner)])] = Int32(position)
            next[Int(owner)] += 1
        }
        sorted = (starts, positions)
    }

    /// Whether every owner's records are one run: each record's owner is the one before it
    /// or the next new one.
    private static func inRuns(_ entries: [ZoneRecords.Entry]) -> Bool {
        var current: Int32 = -1
        for entry in entries where entry.owner != current {
            guard entry.owner == current + 1 else { return false }
            current = entry.owner
        }
        return true
    }

    /// Empty for nodes that are not owners (empty non-terminals, stable names). `entries`
    /// are the records this was made from. Walking the owners in order, `from` is where the
    /// previous owner's positions ended (`endIndex`): a run is then found by scanning on
    /// rather than searching.
    func positions(of owner: Int, in entries: [ZoneRecords.Entry], from previousEnd: Int? = nil) -> Positions {
        guard let sorted else {
            let start: Int
            if let previousEnd, previousEnd == entries.count || Int(entries[previousEnd].owner) == owner {
                start = previousEnd
            } else {
                start = Self.firstPosition(ownedBy: owner, in: entries)
            }
            var end = start
            while end < entries.count && Int(entries[end].owner) == owner { end += 1 }
            return Positions(run: start..<end, sorted: nil)
        }
        guard owner + 1 < sorted.starts.count else { return Positions(run: 0..<0, sorted: nil) }
        return Positions(run: Int(sorted.starts[owner])..<Int(sorted.starts[owner + 1]), sorted: sorted.positions)
    }

    /// The first record whose owner is `owner` or later (records in runs).
    private static func firstPosition(ownedBy owner: Int, in entries: [ZoneRecords.Entry]) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if Int(entries[middle].owner) < owner { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// One owner's record positions: a run of positions, or a range of the sorted array.
    struct Positions: RandomAccessCollection {
        let run: Range<Int>
        let sorted: [Int32]?
        var startIndex: Int { run.lowerBound }
        var endIndex: Int { run.upperBound }
        subscript(index: Int) -> Int32 { sorted?[index] ?? Int32(index) }
    }
}
