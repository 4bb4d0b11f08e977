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
public enum ZoneBuilder {
    /// `stableNames` are the names whose answers come from pools; they become nodes of the
    /// zone so that lookup finds them like any other name.
    public static func build(origin: DomainName, records: [ResourceRecord], source: String,
                             stableNames: [StableNode] = []) -> Result<Zone, ZoneProblems> {
        var problems: [ZoneProblem] = []
        func problem(_ line: Int, _ message: String) {
            problems.append(ZoneProblem(file: source, line: line, message: message))
        }

        var soaRecord: ResourceRecord?
        var grouped: [DomainName: [RRType: (ttl: UInt32, line: Int, rdatas: [[UInt8]])]] = [:]
        var order: [DomainName] = []
        var recordCount = 0

        for record in records {
            guard record.rrClass == .in else {
                problem(record.line, "class \(record.rrClass.rawValue) is not served; only IN records are allowed")
                continue
            }
            guard record.owner.isSubdomain(of: origin) else {
                problem(record.line, "\(record.owner) is outside the zone origin \(origin); move it to its own zone file or fix the name")
                continue
            }
            if record.type.isMetaType {
                problem(record.line, "\(record.type) is a meta type and cannot be zone data")
                continue
            }
            if record.type == .soa {
                if let first = soaRecord {
                    problem(record.line, "second SOA record (the first is on line \(first.line)); a zone has exactly one SOA")
                    continue
                }
                guard record.owner == origin else {
                    problem(record.line, "SOA owner \(record.owner) is not the zone origin \(origin)")
                    continue
                }
                guard SOAFields(rdata: record.rdata) != nil else {
                    problem(record.line, "malformed SOA RDATA")
                    continue
                }
                soaRecord = record
            }
            if grouped[record.owner] == nil { order.append(record.owner) }
            var sets = grouped[record.owner, default: [:]]
            if var existing = sets[record.type] {
                // RFC 2181 section 5: duplicates are one record; an RRset has one TTL (the lowest wins).
                if !existing.rdatas.contains(record.rdata) {
                    existing.rdatas.append(record.rdata)
                    recordCount += 1
                }
                existing.ttl = min(existing.ttl, record.ttl)
                sets[record.type] = existing
            } else {
                sets[record.type] = (record.ttl, record.line, [record.rdata])
                recordCount += 1
            }
            grouped[record.owner] = sets
        }

        guard let soaRecord else {
            problem(records.first?.line ?? 1, "no SOA record for \(origin); every zone needs one SOA at its origin")
            return .failure(ZoneProblems(problems))
        }

        // RFC 1034 section 3.6.2 / RFC 2181 section 10.1: a CNAME owner has no other data
        // (DNSSEC's RRSIG and NSEC excepted).
        for owner in order {
            guard let sets = grouped[owner], let cname = sets[.cname] else { continue }
            if cname.rdatas.count > 1 {
                problem(cname.line, "\(owner) has \(cname.rdatas.count) CNAME records; a name can have only one")
            }
            let others = sets.filter { $0.key != .cname && $0.key != .rrsig && $0.key != .nsec }
            if let other = others.min(by: { $0.value.line < $1.value.line }) {
                problem(max(cname.line, other.value.line), "CNAME at \(owner) beside other data (\(other.key) on line \(other.value.line)); a CNAME must be the only record at its name")
            }
        }
        if grouped[origin]?[.ns] == nil {
            problem(soaRecord.line, "no NS records at the zone origin \(origin)")
        }
        for stable in stableNames {
            if !stable.name.isSubdomain(of: origin) || stable.name == origin {
                problems.append(stable.problem("stable name \(stable.name) is not below the zone origin \(origin) (\(source))", zoneSource: source))
            } else if grouped[stable.name] != nil {
                problem(grouped[stable.name]!.values.map(\.line).min() ?? 0, "\(stable.name) is a stable name of the inventory and also has records in the zone file; remove one of them")
            }
        }
        if !problems.isEmpty { return .failure(ZoneProblems(problems.sorted { $0.line < $1.line })) }

        // Nodes for every owner and every empty non-terminal between it and the origin.
        var table = NameTable(expectedCount: order.count * 2)
        var nodes: [ZoneNode] = []
        func ensureNode(_ name: DomainName) -> Int {
            let index = table.insert(name.key)
            if index == nodes.count { nodes.append(ZoneNode(name: name, rrsets: [], isDelegation: false)) }
            return index
        }
        for owner in order {
            let index = ensureNode(owner)
            let sets = grouped[owner]!.map { type, set in
                RRSet(owner: owner, type: type, ttl: set.ttl, rdatas: set.rdatas)
            }.sorted { $0.type.rawValue < $1.type.rawValue }
            nodes[index].rrsets = sets
            nodes[index].isDelegation = owner != origin && sets.contains { $0.type == .ns }
            var ancestor = owner.parent
            while let name = ancestor, name.isSubdomain(of: origin), name != origin {
                _ = ensureNode(name)
                ancestor = name.parent
            }
        }
        for stable in stableNames {
            let index = ensureNode(stable.name)
            nodes[index].stable = Int32(stable.index)
            var ancestor = stable.name.parent
            while let name = ancestor, name.isSubdomain(of: origin), name != origin {
                _ = ensureNode(name)
                ancestor = name.parent
            }
        }
        // Data below a zone cut is glue, and a stable name there would never be answered:
        // resolvers are referred to the child's servers (RFC 1034 section 4.3.2).
        for stable in stableNames {
            var ancestor = stable.name.parent
            while let name = ancestor, name != origin, name.isSubdomain(of: origin) {
                if let cut = table.find(name.key), nodes[cut].isDelegation {
                    let line = grouped[name]?[.ns]?.line ?? 0
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
}
