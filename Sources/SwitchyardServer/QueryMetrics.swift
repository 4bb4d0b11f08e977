import Synchronization
import SwitchyardCore

/// One counter's labels: zone, stable name ("" for zone data), pool ("" when none), rcode.
public struct QueryLabels: Hashable, Sendable {
    public var zone: String
    public var name: String
    public var pool: String
    public var rcode: String
}

/// Query counts by labels, for /metrics. Workers count into their own `QueryTally` and
/// fold it in here about once a second, so the answer path never shares a cache line.
public final class QueryMetrics: Sendable {
    private let counts = Mutex<[QueryLabels: UInt64]>([:])

    public init() {}

    public var snapshot: [QueryLabels: UInt64] { counts.withLock { $0 } }

    func add(_ deltas: [QueryLabels: UInt64]) {
        counts.withLock { totals in
            for (labels, value) in deltas { totals[labels, default: 0] += value }
        }
    }

    private static let rcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]

    static func rcodeName(_ code: Int) -> String {
        rcodeNames.indices.contains(code) ? rcodeNames[code] : "OTHER"
    }
}

/// A worker's counters, laid out by the indexes of the snapshot they were counted under.
struct QueryTally {
    private static let rcodes = 7  // NOERROR…REFUSED, then everything else
    private var snapshot: Snapshot
    /// (zone + 1) × rcode; zone 0 is "no zone" (refused, malformed).
    private var byZone: [UInt64]
    /// Per stable name: first counter of its pools.
    private var stableOffsets: [Int]
    private var byPool: [UInt64]
    private var pending = false

    init(snapshot: Snapshot) {
        self.snapshot = snapshot
        byZone = Array(repeating: 0, count: (snapshot.zones.count + 1) * QueryTally.rcodes)
        var offsets: [Int] = [], total = 0
        for spec in snapshot.stableNames { offsets.append(total); total += spec.pools.count }
        stableOffsets = offsets
        byPool = Array(repeating: 0, count: total * QueryTally.rcodes)
    }

    @inline(__always)
    mutating func count(_ outcome: Responder.Outcome) {
        let rcode = min(Int(outcome.rcode), QueryTally.rcodes - 1)
        pending = true
        if outcome.stable >= 0 && outcome.pool >= 0 {
            byPool[(stableOffsets[Int(outcome.stable)] + Int(outcome.pool)) * QueryTally.rcodes + rcode] &+= 1
        } else {
            byZone[(Int(outcome.zone) + 1) * QueryTally.rcodes + rcode] &+= 1
        }
    }

    /// True when the snapshot changed (the counters' indexes would no longer fit) or about
    /// once a second (the clock is read once per batch, not per query).
    mutating func needsFlush(since last: inout Double, serving current: Snapshot) -> Bool {
        if current !== snapshot { return true }
        let now = coarseMonotonicSeconds()
        guard now - last >= 1 else { return false }
        last = now
        return true
    }

    /// Folds the counts into `metrics` and starts over, under `next` when the snapshot changed.
    mutating func flush(into metrics: QueryMetrics, next: Snapshot? = nil) {
        if pending {
            var deltas: [QueryLabels: UInt64] = [:]
            for (index, value) in byZone.enumerated() where value > 0 {
                let zone = index / QueryTally.rcodes - 1
                let origin = zone >= 0 ? snapshot.zones[zone].origin.description : ""
                deltas[QueryLabels(zone: origin, name: "", pool: "", rcode: QueryMetrics.rcodeName(index % QueryTally.rcodes))] = value
            }
            for (stable, spec) in snapshot.stableNames.enumerated() {
                // The deepest zone holding the name serves it (nested zones: the child, not the parent).
                let origin = snapshot.zones.filter { spec.name.isSubdomain(of: $0.origin) }
                    .max { $0.origin.labelCount < $1.origin.labelCount }?.origin.description ?? ""
                for (pool, poolSpec) in spec.pools.enumerated() {
                    for rcode in 0..<QueryTally.rcodes {
                        let value = byPool[(stableOffsets[stable] + pool) * QueryTally.rcodes + rcode]
                        if value > 0 {
                            deltas[QueryLabels(zone: origin, name: spec.name.description, pool: poolSpec.name,
                                               rcode: QueryMetrics.rcodeName(rcode))] = value
                        }
                    }
                }
            }
            metrics.add(deltas)
        }
        if let next, next !== snapshot {
            self = QueryTally(snapshot: next)
        } else if pending {
            for i in byZone.indices { byZone[i] = 0 }
            for i in byPool.indices { byPool[i] = 0 }
        }
        pending = false
    }
}
