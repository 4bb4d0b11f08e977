/// The served zones with an index of their apexes: what the lookup walks.
struct ZoneSet: Sendable {
    let zones: [Zone]
    let apexes: NameTable
    var stable = StableAnswers()
    /// Each zone's SOA serial, patched into prepared answers at query time.
    let serials: [UInt32]

    init(zones: [Zone]) {
        self.zones = zones
        self.serials = zones.map(\.serial)
        var apexes = NameTable(expectedCount: zones.count)
        for zone in zones { apexes.insert(zone.origin.key) }
        self.apexes = apexes
    }

    /// Lends `body` the RRset a reference points at.
    @inline(__always)
    func withRRSet<R>(_ ref: RecordRef, _ body: (RRSetBytes) -> R) -> R {
        if ref.stable { return stable.rrsets[Int(ref.rrset)].withBytes(body) }
        let zone = zones[Int(ref.zone)]
        if ref.negativeSOA { return zone.negativeSOA.withBytes(body) }
        return zone.withRRSet(at: Int(ref.rrset), node: Int(ref.node), body)
    }
}

/// Everything one query needs, immutable once built: the zones, the stable names with
/// their current weights and health, and the answers precompiled from them. The server
/// swaps whole snapshots; queries never lock.
public final class Snapshot: Sendable {
    public let zones: [Zone]
    /// Stable names in snapshot order (a zone node's `stable` indexes this).
    public let stableNames: [StableNameSpec]
    /// Endpoints that health checks consider down.
    public let down: Set<HealthKey>
    let zoneSet: ZoneSet
    let precompiled: PrecompiledAnswers
    let precompiledStable: PrecompiledStableAnswers
    /// Each zone's NXDOMAIN/NODATA body, for names no table holds.
    let negative: NegativeAnswers
    /// False for tests of the general path: nothing is prepared, not even on first use.
    let precompiles: Bool

    /// Fails when two zones have the same origin or a stable name has no node.
    /// `precompile: false` leaves every query to the general path (for tests).
    /// `eagerLimit`: zone sets with more names prepare their answers on first use (per thread).
    public init(zones: [Zone], stableNames: [StableNameSpec] = [], down: Set<HealthKey> = [],
                precompile: Bool = true, eagerLimit: Int = PrecompiledAnswers.eagerLimit) throws(ZoneProblem) {
        var seen: [DomainName: Zone] = [:]
        for zone in zones {
            if let other = seen[zone.origin] {
                throw ZoneProblem(file: zone.source, line: 0, message: "zone \(zone.origin) is also defined in \(other.source)")
            }
            seen[zone.origin] = zone
        }
        var marked = Set<Int32>()
        for zone in zones { for node in zone.storage.nodes where node.stable >= 0 { marked.insert(node.stable) } }
        guard marked.count == stableNames.count, marked.allSatisfy({ Int($0) < stableNames.count }) else {
            throw ZoneProblem(file: "", line: 0, message: "stable names and zone nodes disagree")
        }
        self.zones = zones
        self.stableNames = stableNames
        self.down = down
        var zoneSet = ZoneSet(zones: zones)
        zoneSet.stable = StableAnswers(specs: stableNames, down: down, zones: zoneSet)
        self.zoneSet = zoneSet
        let names = zones.reduce(0) { $0 + $1.storage.nodes.count }
        self.precompiles = precompile
        self.precompiled = !precompile ? PrecompiledAnswers()
            : names <= eagerLimit ? PrecompiledAnswers(zoneSet: zoneSet) : PrecompiledAnswers(complete: false)
        self.precompiledStable = precompile ? PrecompiledStableAnswers(zoneSet: zoneSet) : PrecompiledStableAnswers()
        self.negative = precompile ? NegativeAnswers(zoneSet: zoneSet) : NegativeAnswers()
    }

    /// `zones` must be `base.zones` or the same zones with other serials (the prepared zone
    /// answers carry over: their serials are patched in per query).
    private init(base: Snapshot, zones: [Zone], stableNames: [StableNameSpec], down: Set<HealthKey>) {
        self.zones = zones
        self.stableNames = stableNames
        self.down = down
        var zoneSet = zip(zones, base.zones).allSatisfy({ $0 === $1 }) ? base.zoneSet : ZoneSet(zones: zones)
        zoneSet.stable = StableAnswers(specs: stableNames, down: down, zones: zoneSet)
        self.zoneSet = zoneSet
        // Zone answers never depend on stable names (those were left out), so they carry over.
        precompiled = base.precompiled
        negative = base.negative
        precompiles = base.precompiles
        precompiledStable = base.precompiles ? PrecompiledStableAnswers(zoneSet: zoneSet) : PrecompiledStableAnswers()
    }

    /// The same zones with new weights, targets or health: the cheap swap behind every
    /// shift and health change. The names themselves must stay the same, in the same order.
    /// New `serials` (origin → serial) give new zones; their prepared answers carry over
    /// (the serial is patched in per query), so a generation costs only the stable answers.
    public func updating(stableNames: [StableNameSpec]? = nil, down: Set<HealthKey>? = nil,
                         serials: [DomainName: UInt32] = [:]) throws(ZoneProblem) -> Snapshot {
        let names = stableNames ?? self.stableNames
        guard names.map(\.name) == self.stableNames.map(\.name) else {
            throw ZoneProblem(file: "", line: 0, message: "updating a snapshot cannot add or remove stable names; reload instead")
        }
        let renumbered = zones.map { zone in serials[zone.origin].map(zone.withSerial) ?? zone }
        return Snapshot(base: self, zones: renumbered, stableNames: names, down: down ?? self.down)
    }

    public var precompiledCount: Int { precompiled.count + precompiledStable.count }
}
