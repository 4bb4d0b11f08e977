import Foundation

extension Planner {
    /// Makes the first step that changes an answer wait until the latest cache horizon of
    /// `names` (the names the plan changes), and every drain of a moved name wait for its own.
    /// The step's wait becomes the longer of its own (e.g. the start state's old TTL after
    /// lowering) and the horizon, never their sum: both count down at once. A horizon already
    /// covered by the step's wait changes nothing, so a plan whose TTLs were not lowered by hand
    /// is the same as without horizons.
    static func waitForCaches(_ steps: inout [PlanStep], names: [String], caches: CacheContext) {
        guard let first = steps.firstIndex(where: \.changesAnswers), let horizon = caches.latest(of: names) else { return }
        let seconds = CacheHorizons.seconds(from: caches.now, until: horizon.until)
        if seconds > steps[first].waitBefore {
            steps[first].waitBefore = seconds
            steps[first].waitReasons.insert(caches.reason(horizon), at: 0)
            steps[first].waitUntil = horizon.until
        }
        drainAfterCaches(&steps, from: 0, caches: caches)
    }

    /// `progress`'s plan with its steps from `progress.nextStep` on (and the step still being
    /// settled) waiting for `caches` too, read again from the journal when the run is resumed:
    /// while it was paused or down, an operator may have served its names with a higher TTL
    /// and lowered it again, which leaves the state as the run left it (so resuming is not
    /// refused) and caches holding answers longer than the plan knew. Only later instants are
    /// added, each with its reason; the waits counted from the previous step stay as they are.
    public static func resumed(_ progress: CutoverProgress, caches: CacheContext) -> CutoverProgress {
        var result = progress
        let from = progress.unsettledStep ?? progress.nextStep
        guard from < progress.plan.steps.count else { return result }
        var steps = progress.plan.steps
        if let next = steps.indices.first(where: { $0 >= progress.nextStep && steps[$0].changesAnswers }),
           let horizon = caches.latest(of: steps[progress.nextStep...].filter(\.changesAnswers).flatMap { $0.changes.map(\.name) }),
           horizon.until > (steps[next].waitUntil ?? .distantPast) {
            steps[next].waitUntil = horizon.until
            steps[next].waitReasons.insert(caches.reason(horizon), at: 0)
        }
        drainAfterCaches(&steps, from: from, caches: caches)
        result.plan.steps = steps
        return result
    }

    /// Drains of the steps from `from` on never run before the horizon of the names they move.
    /// The moves wait for the horizon, so their drains come later still; said and enforced
    /// anyway, as the drain is what the horizon protects (a stopped endpoint).
    static func drainAfterCaches(_ steps: inout [PlanStep], from: Int, caches: CacheContext) {
        for index in steps.indices where index >= from && !steps[index].drains.isEmpty {
            guard let moved = caches.latest(of: steps[index].changes.map(\.name)),
                  moved.until > (steps[index].drainNotBefore ?? .distantPast) else { continue }
            steps[index].drainNotBefore = moved.until
            steps[index].drainReasons = (steps[index].drainReasons ?? []) + ["not before \(CacheHorizons.clockTime(moved.until)): \(caches.reason(moved))"]
        }
    }
}

extension PlanStep {
    /// The step changes what a name answers (not only its TTL).
    var changesAnswers: Bool { kind == .moveBrokers || kind == .setBootstrapWeights }
}
