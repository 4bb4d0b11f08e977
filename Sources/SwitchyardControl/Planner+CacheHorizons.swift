import Foundation

// MARK: - Why each step waits for the horizons of its own names, and why that is enough
//
// The promises (SPEC "Cutover controller"):
//   (A) no client connects to an old target after the drain of that target;
//   (B) a step does not change a name's answer while caches may still hold an answer of that
//       name from before the plan's start state that the plan's own waits do not cover.
// The model is the one every wait of the plan uses: a cache keeps an answer at most
// max(the TTL it was served with, the JVM's address cache, the resolver floor) after the
// generation that served it stopped being served.
//
// Step k's answer names N(k) (``CutoverPlan/answerNames(of:)``): the names whose setting it
// changes plus every name whose expected answer changes with them. A broker move changes the
// broker name, and also the bootstrap name when a bootstrap pool is implicit (the brokers
// living in it): the pool left loses the broker's old target T, the pool joined gains the new
// one. A ramp step changes the bootstrap name. Steps that only set TTLs change no answer.
//
// (B): step k is committed no sooner than max over n in N(k) of H(n), the latest horizon of n
// from the generations before the live one (``PlanStep/waitUntil``, an instant the runner
// enforces, also after a pause or a restart, and `resume` reads the journal again and only
// adds later instants). A name m not in N(k) keeps its answer through step k, so whatever
// caches hold of m is exactly what they held before the step: the step does not make it worse,
// and m's own horizon is waited for by the first step that does change m. Steps run one after
// another, so a later step never starts before an earlier one's instant; waits count down at
// the same time and are never summed (an instant an earlier step already waits for, or that
// the relative waits before a step certainly cover, is not repeated on it).
//
// (A): the drain of step k removes old targets T of the brokers it moves. Who may hold T then:
//   - caches of a moved broker name n, from generations before the live one: gone by H(n) ≤
//     the commit of step k (n ∈ N(k)), and the drain comes later still;
//   - caches of n from the live generation and the plan's earlier steps: those answers stopped
//     at step k's commit and are gone max(TTL of n before step k, JVM, floor) after it, which
//     is the drain wait (``PlanStep/drainAfter``; the lowering step's wait already let the
//     live generation's higher TTL run out before the first flip);
//   - caches of the bootstrap name holding T (an implicit pool): the same two cases, which is
//     why bootstrap is in N(k) for such a move (its horizon holds the step) and its TTL before
//     step k counts in the drain wait; with explicit bootstrap targets (a load balancer) T is
//     never in the bootstrap's answer and the move does not change it;
//   - nothing later in the plan answers T again: every broker moves once per plan.
// A horizon no later than now + the name's live TTL L is left out (``CacheContext/latest(of:)``):
// answers cached that long are treated like the live generation's own. Either L was lowered,
// and the wait after the lowering step (the highest old TTL) puts every flip at least L after
// now, or it was not, and the drain wait after the flip is at least L. A drain also
// never runs before the horizon of its step's answer names (``PlanStep/drainNotBefore``),
// whatever `--drain-after` says: a step committed before a horizon was known (resumed after
// the journal showed a new one) must not drain before it.
extension Planner {
    /// Holds each answer-changing step until the horizons of the names it changes (see the
    /// argument above), and every drain until the horizon of its step's names. A horizon
    /// already covered by the waits before a step changes nothing, so a plan whose TTLs were
    /// not lowered by hand is the same as without horizons. A step whose start counts from
    /// now (nothing but the lowering step before it) takes the horizon into its
    /// ``PlanStep/waitBefore`` as well (the longer of the two, never their sum), so the plan
    /// says how long it waits in seconds.
    static func waitForCaches(_ plan: inout CutoverPlan, caches: CacheContext) {
        holdFlips(&plan, from: 0, earliest: caches.now, caches: caches)
        drainAfterCaches(&plan, from: 0, caches: caches)
        plan.measuredAt = plan.steps.contains { $0.waitUntil != nil || $0.drainNotBefore != nil } ? caches.now : nil
    }

    /// `progress`'s plan with its steps from `progress.nextStep` on (and the step still being
    /// settled) waiting for `caches` too, read again from the journal when the run is resumed:
    /// while it was paused or down, an operator may have served its names with a higher TTL
    /// and lowered it again, which leaves the state as the run left it (so resuming is not
    /// refused) and caches holding answers longer than the plan knew. Each step gets the
    /// horizons of its own names; only later instants are added, each with its reason; the
    /// waits counted from the previous step stay as they are.
    public static func resumed(_ progress: CutoverProgress, caches: CacheContext) -> CutoverProgress {
        var result = progress
        let from = progress.unsettledStep ?? progress.nextStep
        guard from < progress.plan.steps.count else { return result }
        holdFlips(&result.plan, from: progress.nextStep, earliest: caches.now, caches: caches, foldsIntoWait: false)
        drainAfterCaches(&result.plan, from: from, caches: caches)
        if result.plan != progress.plan { result.plan.measuredAt = caches.now }
        return result
    }

    /// Steps from `from` on: each answer-changing step waits until the latest horizon of its
    /// answer names, unless it certainly starts later anyway. `start` is the soonest the step
    /// `from` can start (now). A step starts no sooner than the one before it plus its own
    /// ``PlanStep/waitBefore`` (the runner counts it from the previous step's first serving,
    /// which is after that step's start), nor before its ``PlanStep/waitUntil``; the step
    /// `from` of a resumed run counts from now alone (its wait counts from a serving in the past).
    static func holdFlips(_ plan: inout CutoverPlan, from: Int, earliest start: Date, caches: CacheContext, foldsIntoWait: Bool = true) {
        var earliest = start
        for index in plan.steps.indices where index >= from {
            let step = plan.steps[index]
            // The plan's first step waits its `waitBefore` from the run's start, or only its
            // instant when it has one (CutoverRunner.waitBefore).
            let ownWait = index > from || (index == 0 && step.waitUntil == nil) ? step.waitBefore : 0
            earliest = max(earliest.addingTimeInterval(TimeInterval(ownWait)), step.waitUntil ?? .distantPast)
            guard step.changesAnswers, let horizon = caches.latest(of: plan.answerNames(of: index)), horizon.until > earliest else { continue }
            // Only the lowering step (no wait, no dwell) before it: this step's wait counts
            // from about now, so the horizon is said in seconds too.
            if foldsIntoWait, plan.steps[..<index].allSatisfy({ !$0.changesAnswers && $0.waitBefore == 0 }) {
                plan.steps[index].waitBefore = max(step.waitBefore, CacheHorizons.seconds(from: caches.now, until: horizon.until))
            }
            plan.steps[index].waitUntil = horizon.until
            plan.steps[index].waitReasons.insert(caches.reason(horizon), at: 0)
            earliest = horizon.until
        }
    }

    /// Drains of the steps from `from` on never run before the horizon of their step's answer
    /// names. A step that has not flipped yet waits for that horizon before its flip, so its
    /// drain comes later still; said and enforced anyway, as the drain is what the horizon
    /// protects (a stopped endpoint), and a step already committed when a resume finds a new
    /// horizon depends on it.
    static func drainAfterCaches(_ plan: inout CutoverPlan, from: Int, caches: CacheContext) {
        for index in plan.steps.indices where index >= from && !plan.steps[index].drains.isEmpty {
            guard let moved = caches.latest(of: plan.answerNames(of: index)),
                  moved.until > (plan.steps[index].drainNotBefore ?? .distantPast) else { continue }
            plan.steps[index].drainNotBefore = moved.until
            plan.steps[index].drainReasons = (plan.steps[index].drainReasons ?? []) + ["not before \(CacheHorizons.clockTime(moved.until)): \(caches.reason(moved))"]
        }
    }
}

extension PlanStep {
    /// The step changes what a name answers (not only its TTL).
    var changesAnswers: Bool { kind == .moveBrokers || kind == .setBootstrapWeights }
}

extension CutoverPlan {
    /// The names whose answers step `index` changes, sorted: the names whose pool or weights
    /// it sets, and every name whose expected answer moves with them (the bootstrap name when
    /// a broker leaves or joins an implicit bootstrap pool). Empty for a step that only sets
    /// TTLs. Read from the plan alone (its verify expectations), so a journaled plan answers too.
    public func answerNames(of index: Int) -> [String] {
        let step = steps[index]
        guard step.changesAnswers else { return [] }
        var names = Set(step.changes.map(\.name))
        // Grouped by name once: a plan of hundreds of brokers verifies hundreds of names a step.
        let before = Dictionary(grouping: verify(before: index), by: \.name)
        let after = Dictionary(grouping: verify(after: index), by: \.name)
        for name in Set(before.keys).union(after.keys) where !names.contains(name) && before[name] != after[name] {
            names.insert(name)
        }
        return names.sorted()
    }
}
