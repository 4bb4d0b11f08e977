/// Everything the answer path needs for stable names, computed whenever weights or health
/// change: per name a selection table over its eligible pools, and per pool ready RRsets
/// (rotations of its A and AAAA records, or a CNAME). A query only draws a number.
struct StableAnswers: Sendable {
    struct Pool: Sendable {
        /// Index into `rrsets` of each rotation of the A / AAAA records; empty when none.
        var a: [Int32] = []
        var aaaa: [Int32] = []
        /// Hostname targets outside the served zones are answered as a CNAME to one of them
        /// (one per rotation) when the pool has no addresses.
        var cnames: [Int32] = []
        /// Rotations available (≥ 1).
        var variants: Int = 1
    }

    /// Which records a query asks for: like Route 53's per-type record sets, an A query only
    /// picks among pools that can answer A (or CNAME), so it never gets NODATA from a pool
    /// that happens to hold only IPv6 targets.
    enum Kind: Int, Sendable {
        case a = 0, aaaa, other

        init(_ type: RRType) {
            self = type == .a ? .a : type == .aaaa ? .aaaa : .other
        }
    }

    /// A weighted choice among pools.
    struct Table: Sendable {
        /// Cumulative weights of the pools a query may pick, in declared order.
        var cumulative: [UInt32] = []
        var choices: [Int] = []
    }

    struct NameSet: Sendable {
        var selection: StableNameSpec.Selection
        var pools: [Pool]
        /// Per `Kind`; `other` holds every pool with targets.
        var tables: [Table]
        /// Offset of each pool's first variant, for the precompiled tables.
        var variantOffsets: [Int]

        /// The pool and rotation for a query; nil means SERVFAIL.
        @inline(__always)
        func choose(random: UInt64, clientHash: UInt64, kind: Kind = .other) -> (pool: Int, variant: Int)? {
            var table = tables[kind.rawValue]
            if table.cumulative.isEmpty { table = tables[Kind.other.rawValue] }
            guard let total = table.cumulative.last else { return nil }
            let draw = selection == .hashed ? clientHash : random
            // Scale the top 32 bits onto [0, total): a weight change moves only the draws
            // whose position crosses a boundary.
            let point = UInt32((UInt64(draw >> 32) &* UInt64(total)) >> 32)
            var index = 0
            while index < table.cumulative.count - 1 && table.cumulative[index] <= point { index += 1 }
            let pool = table.choices[index]
            return (pool, Int(UInt32(truncatingIfNeeded: draw) % UInt32(pools[pool].variants)))
        }
    }

    var sets: [NameSet] = []
    var rrsets: [RRSet] = []

    init() {}

    /// `down` lists the endpoints health checks consider down. Hostname targets inside the
    /// served zones are answered with their addresses when they share a pool with others.
    init(specs: [StableNameSpec], down: Set<HealthKey>, zones: ZoneSet) {
        for spec in specs {
            sets.append(build(spec, down: down, zones: zones))
        }
    }

    private mutating func build(_ spec: StableNameSpec, down: Set<HealthKey>, zones: ZoneSet) -> NameSet {
        func isUp(_ target: StableTarget) -> Bool {
            guard let port = spec.healthPort else { return true }
            return !down.contains(HealthKey(target: target, port: port))
        }
        let healthy = spec.pools.map { $0.targets.filter(isUp) }
        var weights: [UInt32]
        var usable: [[StableTarget]] = healthy
        switch spec.kind {
        case .exclusive:
            // The node lives in one place: answer there, healthy or not, unless closed.
            weights = spec.pools.map { $0.weight > 0 && !$0.targets.isEmpty ? 1 : 0 }
            if let live = weights.firstIndex(of: 1) {
                if healthy[live].isEmpty && spec.allDown == .closed { weights = weights.map { _ in 0 } }
                usable = spec.pools.map(\.targets)
            }
        case .weighted:
            weights = spec.pools.indices.map { healthy[$0].isEmpty ? 0 : UInt32(spec.pools[$0].weight) }
            if weights.allSatisfy({ $0 == 0 }) {
                // All drained (fail open) or every weighted pool down (Route 53): the
                // pools that still have healthy targets share equally.
                weights = healthy.map { $0.isEmpty ? 0 : 1 }
            }
            if weights.allSatisfy({ $0 == 0 }) && spec.allDown == .open {
                usable = spec.pools.map(\.targets)
                weights = spec.pools.map { $0.targets.isEmpty ? 0 : UInt32($0.weight) }
                if weights.allSatisfy({ $0 == 0 }) { weights = spec.pools.map { $0.targets.isEmpty ? 0 : 1 } }
            }
        }

        var pools: [Pool] = []
        for targets in usable {
            pools.append(preparePool(spec, targets: targets, zones: zones))
        }
        func table(typed: Bool = true, _ include: (Pool) -> Bool) -> Table {
            var table = Table(), running: UInt32 = 0
            for (index, weight) in weights.enumerated() where weight > 0 && include(pools[index]) {
                running += weight
                table.cumulative.append(running)
                table.choices.append(index)
            }
            // Route 53 keeps one weighted record set per type: when no pool with weight can
            // answer this type (an AAAA query while only a zero-weight pool has IPv6 targets),
            // the pools that can share equally, so a weighted name never answers empty while
            // some pool holds records of the type asked. A broker name stays in its live pool.
            guard typed, table.cumulative.isEmpty, spec.kind == .weighted else { return table }
            for index in pools.indices where include(pools[index]) {
                running += 1
                table.cumulative.append(running)
                table.choices.append(index)
            }
            return table
        }
        let tables = [table { !$0.a.isEmpty || !$0.cnames.isEmpty },
                      table { !$0.aaaa.isEmpty || !$0.cnames.isEmpty },
                      table(typed: false) { _ in true }]
        var offsets: [Int] = [], total = 0
        for pool in pools { offsets.append(total); total += pool.variants }
        return NameSet(selection: spec.selection, pools: pools, tables: tables, variantOffsets: offsets)
    }

    private mutating func preparePool(_ spec: StableNameSpec, targets: [StableTarget], zones: ZoneSet) -> Pool {
        var pool = Pool()
        if targets.count == 1, case .hostname(let name) = targets[0] {
            pool.cnames = [append(RRSet(owner: spec.name, type: .cname, ttl: spec.ttl, rdatas: [name.wire]))]
            return pool
        }
        var v4: [[UInt8]] = [], v6: [[UInt8]] = [], external: [DomainName] = []
        for target in targets {
            switch target {
            case .ipv4(let bytes): if !v4.contains(bytes) { v4.append(bytes) }
            case .ipv6(let bytes): if !v6.contains(bytes) { v6.append(bytes) }
            case .hostname(let name):
                // Flattened: a multi-target answer cannot hold a CNAME.
                let a = zones.addresses(of: name, type: .a), aaaa = zones.addresses(of: name, type: .aaaa)
                if a.isEmpty && aaaa.isEmpty && !external.contains(name) { external.append(name) }
                for rdata in a where !v4.contains(rdata) { v4.append(rdata) }
                for rdata in aaaa where !v6.contains(rdata) { v6.append(rdata) }
            }
        }
        if v4.isEmpty && v6.isEmpty && !external.isEmpty {
            // Only names we cannot flatten: rotate a CNAME over them rather than answer empty.
            pool.cnames = external.prefix(16).map { append(RRSet(owner: spec.name, type: .cname, ttl: spec.ttl, rdatas: [$0.wire])) }
            pool.variants = pool.cnames.count
            return pool
        }
        pool.variants = max(1, min(16, max(v4.count, v6.count)))
        pool.a = rotations(of: v4, count: pool.variants, spec: spec, type: .a)
        pool.aaaa = rotations(of: v6, count: pool.variants, spec: spec, type: .aaaa)
        return pool
    }

    /// Rotation k starts at record k: each record leads equally often, and a cap of
    /// `maxAnswers` still shows every record over the rotations.
    private mutating func rotations(of records: [[UInt8]], count: Int, spec: StableNameSpec, type: RRType) -> [Int32] {
        guard !records.isEmpty else { return [] }
        return (0..<count).map { k in
            let start = k % records.count
            let rotated = Array(records[start...] + records[..<start]).prefix(spec.maxAnswers)
            return append(RRSet(owner: spec.name, type: type, ttl: spec.ttl, rdatas: Array(rotated)))
        }
    }

    private mutating func append(_ rrset: RRSet) -> Int32 {
        rrsets.append(rrset)
        return Int32(rrsets.count - 1)
    }
}

extension ZoneSet {
    /// RDATAs of the `type` records at `name`, when a served zone holds them.
    func addresses(of name: DomainName, type: RRType) -> [[UInt8]] {
        for zone in zones where name.isSubdomain(of: zone.origin) {
            if let rrset = zone.node(named: name)?.rrset(type) { return rrset.rdatas }
        }
        return []
    }
}
