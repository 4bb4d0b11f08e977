import Foundation
import SwitchyardControl
import SwitchyardInventory
import SwitchyardJournal

extension CutoverService {
    /// Generations read per journal query while walking back through the history.
    static let horizonPage = 256

    /// What the journal says about answers of `cluster`'s names that caches may still hold,
    /// as of `now`: ``CacheHorizons/walk(from:defaultTTLs:now:pageSize:page:)`` back from `live`
    /// (the generation the plan starts from) over the journal, one page per read. The planner
    /// gets the result as data and stays pure. Only the TTLs of each generation are decoded.
    func cacheContext(for cluster: Cluster, live: Generation, now: Date = Date()) throws -> CacheContext {
        let defaults = Planner.inventoryTTLs(of: cluster)
        let horizons = try CacheHorizons.walk(from: live, defaultTTLs: defaults, now: now, pageSize: Self.horizonPage) { below in
            try journal.ttlHistory(atOrBelow: below - 1, limit: Self.horizonPage)
        }
        return CacheContext(now: now, horizons: horizons, live: live, defaultTTLs: defaults)
    }
}
