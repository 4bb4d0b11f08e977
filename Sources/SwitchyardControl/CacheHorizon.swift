import Foundation

/// The last instant a cache (resolver or client) may still hold an answer of one name that is
/// no longer served: the answer given by generation ``generation`` with TTL ``ttl`` stopped
/// being served at ``servedUntil`` (the next generation's commit), so a cache that fetched it
/// just before then keeps it until ``until``.
///
/// A plan's waits count from the steps of the plan itself; an answer served *before* the plan's
/// start state, with a higher TTL than that state's (an operator lowered a TTL by hand a
/// minute ago), is not covered by them. ``Planner`` makes the first step that changes a name's
/// answer wait until that name's horizon (SPEC "Cutover controller": clients that cached the old
/// address must not reconnect to a stopped endpoint).
public struct CacheHorizon: Codable, Sendable, Equatable {
    public var name: String
    /// Until when caches may hold the name's answer.
    public var until: Date
    /// The TTL the answer was served with.
    public var ttl: UInt32
    /// The generation that served it.
    public var generation: UInt64
    /// When that generation stopped being served.
    public var servedUntil: Date

    public init(name: String, until: Date, ttl: UInt32, generation: UInt64, servedUntil: Date) {
        self.name = name; self.until = until; self.ttl = ttl; self.generation = generation; self.servedUntil = servedUntil
    }
}

/// Cache horizons from journal history. Pure: the caller reads the generations (newest first)
/// and says what `now` is; nothing here reads the clock or the journal.
public enum CacheHorizons {
    /// The horizon of each of `defaultTTLs`' names over the generations in `history` (newest
    /// first) that are no longer served: every one but the first (the live generation, whose
    /// answers the plan's own waits and drain waits already cover, since they count from when
    /// the plan replaces it). A generation that does not set a name's TTL served it with
    /// `defaultTTLs[name]` (the inventory's). Only horizons later than `now` are returned: an
    /// earlier one is already over and asks for no wait.
    public static func compute(history: [Generation], defaultTTLs: [String: UInt32], now: Date) -> [String: CacheHorizon] {
        var result: [String: CacheHorizon] = [:]
        for (newer, older) in zip(history, history.dropFirst()) {
            // `older` was served until `newer` was committed.
            let end = newer.createdAt
            for (name, fallback) in defaultTTLs {
                let ttl = older.state.servedTTL(of: name) ?? fallback
                let until = end.addingTimeInterval(TimeInterval(min(ttl, longestCacheHold)))
                guard until > now, until > (result[name]?.until ?? .distantPast) else { continue }
                result[name] = CacheHorizon(name: name, until: until, ttl: ttl, generation: older.number, servedUntil: end)
            }
        }
        return result
    }

    /// The horizons of `defaultTTLs`' names, walking back from `live` (the generation a plan
    /// starts from) through pages of older generations that `page(n)` returns (generations
    /// numbered below `n`, newest first, at most `pageSize`; the journal's read), until the
    /// history ends or no older generation can move a horizon (``olderHistoryMatters(oldestEnd:now:)``).
    /// Page by page, so a long journal is never held whole.
    public static func walk(from live: Generation, defaultTTLs: [String: UInt32], now: Date, pageSize: Int,
                            page: (UInt64) throws -> [Generation]) rethrows -> [String: CacheHorizon] {
        var horizons: [String: CacheHorizon] = [:]
        // The newest generation of the previous page: its commit ends the oldest of the next one.
        var newer = live
        while newer.number > 1 {
            let older = try page(newer.number)
            guard let oldest = older.last else { break }
            for (name, horizon) in compute(history: [newer] + older, defaultTTLs: defaultTTLs, now: now)
            where horizon.until > (horizons[name]?.until ?? .distantPast) {
                horizons[name] = horizon
            }
            guard older.count >= pageSize, olderHistoryMatters(oldestEnd: oldest.createdAt, now: now) else { break }
            newer = oldest
        }
        return horizons
    }

    /// The longest a cache keeps an answer, whatever its TTL: resolvers cap TTLs (BIND's
    /// max-cache-ttl defaults to a week, Unbound's cache-max-ttl to a day; RFC 8767 suggests
    /// at most 7 days for serving stale). Without this cap a name shifted once with
    /// a TTL near ``Shifts/maxTTL`` (68 years) would make every plan read the whole journal.
    public static let longestCacheHold: UInt32 = 7 * 86_400

    /// Whether history older than `oldestEnd` (when the oldest generation read stopped being
    /// served) can still move a horizon: not once ``longestCacheHold`` counted from then is over.
    public static func olderHistoryMatters(oldestEnd: Date, now: Date) -> Bool {
        oldestEnd.addingTimeInterval(TimeInterval(longestCacheHold)) > now
    }

    /// `date` as `HH:MM:SS UTC`, computed without a calendar so plans render the same anywhere.
    public static func clockTime(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.up))
        let ofDay = ((seconds % 86_400) + 86_400) % 86_400
        let pad = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return "\(pad(ofDay / 3600)):\(pad(ofDay / 60 % 60)):\(pad(ofDay % 60)) UTC"
    }

    /// Whole seconds from `now` until `date` (rounded up; 0 when past).
    public static func seconds(from now: Date, until date: Date) -> UInt32 {
        let left = date.timeIntervalSince(now)
        guard left > 0 else { return 0 }
        return UInt32(min(Double(UInt32.max), left.rounded(.up)))
    }
}

/// What a plan knows about answers cached from before its start state: the horizons of the
/// cluster's names and the instant they were measured at (the plan's "now").
public struct CacheContext: Sendable, Equatable {
    public var now: Date
    public var horizons: [String: CacheHorizon]
    /// The TTL the live generation serves each name with.
    public var liveTTLs: [String: UInt32]

    public init(now: Date, horizons: [String: CacheHorizon], liveTTLs: [String: UInt32] = [:]) {
        self.now = now; self.horizons = horizons; self.liveTTLs = liveTTLs
    }

    /// The context of `live` (the generation a plan starts from) and the `horizons` of the
    /// generations before it.
    public init(now: Date, horizons: [String: CacheHorizon], live: Generation, defaultTTLs: [String: UInt32]) {
        var ttls: [String: UInt32] = [:]
        for (name, fallback) in defaultTTLs { ttls[name] = live.state.servedTTL(of: name) ?? fallback }
        self.init(now: now, horizons: horizons, liveTTLs: ttls)
    }

    /// The latest horizon among `names` that the plan's own waits do not cover. Those count the
    /// live generation as replaced no sooner than now, its answers cached for its TTL after
    /// that (and the drain waits out at least that TTL after the flip): a horizon no later than
    /// `now + live TTL` (answers served with the TTL the name still has, e.g. by the
    /// generation just before) is already covered and asks for nothing more.
    func latest(of names: [String]) -> CacheHorizon? {
        names.compactMap { horizons[$0] }
            .filter { $0.until > now.addingTimeInterval(TimeInterval(liveTTLs[$0.name] ?? 0)) }
            .max { $0.until < $1.until }
    }

    /// Why a step waits for `horizon`, e.g. "broker-3.orders.kafka.example. was answered with
    /// TTL 3600 until 1 min 0 s ago (generation 7): caches may hold that answer until 08:41:07 UTC".
    func reason(_ horizon: CacheHorizon) -> String {
        let ago = UInt64(max(0, now.timeIntervalSince(horizon.servedUntil).rounded()))
        return "\(horizon.name) was answered with TTL \(horizon.ttl) s until \(CutoverPlan.duration(ago)) ago (generation \(horizon.generation)): "
            + "caches may hold that answer until \(CacheHorizons.clockTime(horizon.until))"
    }
}
