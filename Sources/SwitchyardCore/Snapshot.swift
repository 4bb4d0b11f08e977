/// The served zones with an index of their apexes: what the lookup walks.
struct ZoneSet: Sendable {
    let zones: [Zone]
    let apexes: NameTable

    init(zones: [Zone]) {
        self.zones = zones
        var apexes = NameTable(expectedCount: zones.count)
        for zone in zones { apexes.insert(zone.origin.key) }
        self.apexes = apexes
    }
}

/// Everything one query needs, immutable once built: the zones and the answers
/// precompiled from them. The server swaps whole snapshots; queries never lock.
public final class Snapshot: Sendable {
    public let zones: [Zone]
    let zoneSet: ZoneSet
    let precompiled: PrecompiledAnswers

    /// Fails when two zones have the same origin. `precompile: false` leaves every query
    /// to the general path (for tests that compare the two).
    public init(zones: [Zone], precompile: Bool = true) throws(ZoneProblem) {
        var seen: [DomainName: Zone] = [:]
        for zone in zones {
            if let other = seen[zone.origin] {
                throw ZoneProblem(file: zone.source, line: 0, message: "zone \(zone.origin) is also defined in \(other.source)")
            }
            seen[zone.origin] = zone
        }
        self.zones = zones
        self.zoneSet = ZoneSet(zones: zones)
        self.precompiled = precompile ? PrecompiledAnswers(zoneSet: zoneSet) : PrecompiledAnswers()
    }

    public var precompiledCount: Int { precompiled.count }
}
