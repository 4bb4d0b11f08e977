import Foundation
import SwitchyardControl
import SwitchyardInventory
import SwitchyardJournal

extension CutoverService {
    /// Generations read per journal query while walking back through the history.
    static let horizonPage = 256

    /// What the journal says about answers of `cluster`'s names that caches may still hold,
    /// as of `now`: walks back from `live` (the generation the plan starts from) one page at a
    /// time until no older generation can move a horizon, i.e. until even the largest TTL
    /// allowed, counted from when it stopped being served, is over (``CacheHorizons``).
    /// The planner gets the result as data and stays pure.
    func cacheContext(for cluster: Cluster, live: Generation, now: Date = Date()) throws -> CacheContext {
        let defaults = Planner.inventoryTTLs(of: cluster)
        var horizons: [String: CacheHorizon] = [:]
        // The newest generation of the previous page: it ends the oldest of the next one.
        var newer = live
        var below = live.number
        while below > 1 {
            let page = try journal.generations(atOrBelow: below - 1, limit: Self.horizonPage)
            guard let oldest = page.last else { break }
            for (name, horizon) in CacheHorizons.compute(history: [newer] + page, defaultTTLs: defaults, now: now)
            where horizon.until > (horizons[name]?.until ?? .distantPast) {
                horizons[name] = horizon
            }
            // The next page ends where this page's oldest generation was committed.
            guard page.count == Self.horizonPage,
                  CacheHorizons.olderHistoryMatters(oldestEnd: oldest.createdAt, now: now) else { break }
            newer = oldest
            below = oldest.number
        }
        return CacheContext(now: now, horizons: horizons)
    }
}
