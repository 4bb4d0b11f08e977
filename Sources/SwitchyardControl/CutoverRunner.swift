import Foundation

/// Executes a ``CutoverPlan`` through injected ``CutoverEffects``; it never sleeps, queries or
/// writes by itself, so a fake clock and resolver test every path.
///
/// Per step: pause check → wait (in slices, checking for a pause) → gates → save progress →
/// commit the step's state as a generation → save progress → verify → invalidate caches →
/// wait until the drain is safe → drains → save progress → dwell. The last step of a plan
/// restores the TTLs.
///
/// Waits count from when the previous step's generation was first served
/// (``CutoverProgress/servedAt``), so time spent verifying, invalidating and waiting for a
/// drain is not waited twice, and a resumed run waits only what is left.
///
/// Failures:
/// - **Gate**: nothing was committed, so the serving state already is the previous step's;
///   the run stops with ``CutoverProgress/Status/failed``.
/// - **Verify**: the previous step's state is committed as a new generation (a rollback is a
///   new generation, never a rewrite of the journal), verified and invalidated; then the run
///   stops with `.failed`. `cutover resume` retries the step.
/// - **Invalidation hooks**: reported in ``CutoverProgress/hookFailures`` and the message;
///   retrying is the effects layer's job and they never stop the run: the new answers are
///   already served and verified, a stale cache only delays clients by its TTL.
/// - **Drain**: reported, and the run stops at the boundary after the step (`.failed`, step
///   kept: its state is served and verified). Conservative: a failed drain means the old target
///   may still hold clients or partitions, and moving more brokers before a human looks could
///   compound it. `cutover resume` goes on with the next step without re-running the drain.
/// - **Journal** (`commit` or `save` throws): the run stops at once with `.failed`; the last
///   saved progress plus the journal's latest generation tell ``resume(progress:currentState:currentGeneration:)``
///   whether the step in flight was committed.
public final class CutoverRunner: Sendable {
    public let effects: any CutoverEffects
    /// Long waits are slept in slices of this many seconds, checking for a pause in between.
    public let sliceSeconds: UInt32

    public init(effects: any CutoverEffects, sliceSeconds: UInt32 = 5) {
        self.effects = effects
        self.sliceSeconds = max(1, sliceSeconds)
    }

    /// Runs from `progress.nextStep` until the plan is done, a pause or a failure, and returns
    /// the progress as last saved (or, if saving failed, as it stood). `current`, the journal's
    /// latest generation, lets a resumed run re-invalidate a step committed before a crash.
    public func run(_ initial: CutoverProgress, current: Generation? = nil) async -> CutoverProgress {
        var progress = initial
        guard !progress.isFinished else { return progress }
        progress.status = .running
        let plan = progress.plan
        do {
            if let index = progress.unsettledStep {
                let generation = current.flatMap { $0.number == progress.generations[index] ? $0 : nil }
                guard try await settle(index, generation: generation, &progress) else { return progress }
                guard try await dwell(index, &progress) else { return progress }
            }
            while progress.nextStep < plan.steps.count {
                let index = progress.nextStep
                let step = plan.steps[index]
                if await stopRequested() {
                    try await pause(&progress, "paused before step \(label(index, plan))")
                    return progress
                }
                let waitLeft = await waitBefore(index, progress)
                guard try await wait(waitLeft) else {
                    try await pause(&progress, "paused while waiting before step \(label(index, plan))")
                    return progress
                }
                for gate in step.gates {
                    let outcome = await effects.checkGate(gate)
                    guard outcome.passed else {
                        try await failGate(index, gate, outcome, &progress)
                        return progress
                    }
                }
                progress.committingStep = index
                progress.message = "step \(label(index, plan)): committing"
                try await effects.save(progress)
                let generation: Generation
                do {
                    generation = try await effects.commit(step: index, state: step.state, actor: progress.actor,
                                                          reason: "step \(label(index, plan))")
                } catch let outdated as PlanOutdated {
                    // Nothing was committed, and resuming would meet the same inventory.
                    progress.committingStep = nil
                    progress.status = .failed
                    progress.message = "step \(label(index, plan)) stopped: \(outdated). Plan again against the inventory as it is now "
                        + "(`switchyard cutover plan \(plan.cluster) ...`), or undo the run with `switchyard rollback \(plan.cluster)`"
                    try await effects.save(progress)
                    return progress
                } catch {
                    progress.status = .failed
                    progress.message = "step \(label(index, plan)): the commit failed: \(error). `switchyard cutover resume` checks the journal to find out whether it happened"
                    try await effects.save(progress)
                    return progress
                }
                progress.committingStep = nil
                progress.generations[index] = generation.number
                progress.servedAt = progress.servedAt ?? [:]
                progress.servedAt?[index] = await effects.now()
                progress.nextStep = index + 1
                progress.unsettledStep = index
                progress.message = "step \(label(index, plan)): committed as generation \(generation.number); verifying"
                try await effects.save(progress)
                guard try await settle(index, generation: generation, &progress) else { return progress }
                guard try await dwell(index, &progress) else { return progress }
            }
            progress.status = .completed
            let last = plan.steps.indices.last.flatMap { progress.generations[$0] }
            progress.message = "completed \(plan.steps.count) steps" + (last.map { "; live generation \($0)" } ?? "")
                + (progress.hookFailures.isEmpty ? "" : "; \(progress.hookFailures.count) invalidation hook failure(s)"
                   + (progress.hookFailures.count > 3 ? ", the last 3" : "") + ": \(progress.hookFailures.suffix(3).joined(separator: "; "))")
            try await effects.save(progress)
        } catch {
            progress.status = .failed
            progress.message = "could not journal the progress of step \(label(progress.nextStep, plan)): \(error); fix the journal and run `switchyard cutover resume`"
        }
        return progress
    }

    // MARK: - Step parts

    /// Verify, invalidate and drain a committed step. `false` when the run must stop.
    private func settle(_ index: Int, generation: Generation?, _ progress: inout CutoverProgress) async throws -> Bool {
        let plan = progress.plan
        let step = plan.steps[index]
        let outcome = await effects.verify(plan.verify(after: index), timeoutSeconds: plan.options.verifyTimeoutSeconds)
        guard outcome.passed else {
            try await rollBack(index, problems: outcome.problems, &progress)
            return false
        }
        if let generation {
            record(await effects.invalidate(after: generation), &progress)
        }
        if !step.drains.isEmpty {
            // Clients that cached the old answer may still reconnect to the old target until
            // the drain wait has passed since the new answer was first served.
            let sinceServed = await remaining(step.drainAfter ?? 0, since: progress.servedAt?[index])
            let untilHorizon = await left(until: step.drainNotBefore)
            let left = max(sinceServed, untilHorizon)
            if left > 0 {
                progress.message = "step \(label(index, plan)) verified; draining the old targets in \(left) s (\((step.drainReasons ?? []).first ?? "drain wait"))"
                try await effects.save(progress)
            }
            guard try await wait(left) else {
                try await pause(&progress, "paused before draining after step \(label(index, plan))")
                return false
            }
        }
        var failedDrains: [String] = []
        for drain in step.drains {
            let outcome = await effects.drain(drain, generation: progress.generations[index])
            let drainRecord = DrainRecord(step: index, broker: drain.broker, generation: progress.generations[index], outcome: outcome, at: await effects.now())
            progress.drains = (progress.drains ?? []) + [drainRecord]
            if !outcome.succeeded { failedDrains.append("\(drainRecord)") }
        }
        progress.unsettledStep = nil
        guard failedDrains.isEmpty else {
            progress.status = .failed
            progress.message = "step \(label(index, plan)) is committed and verified, but draining failed: \(failedDrains.joined(separator: "; ")). Drain the old target by hand, then `switchyard cutover resume` continues with the next step"
            try await effects.save(progress)
            return false
        }
        progress.message = "step \(label(index, plan)) done" + (progress.generations[index].map { " (generation \($0))" } ?? "")
        try await effects.save(progress)
        return true
    }

    /// Dwell after a step (not after the last). `false` when paused.
    private func dwell(_ index: Int, _ progress: inout CutoverProgress) async throws -> Bool {
        let plan = progress.plan
        guard index + 1 < plan.steps.count, plan.steps[index].dwellSeconds > 0 else { return true }
        guard try await wait(plan.steps[index].dwellSeconds) else {
            try await pause(&progress, "paused while dwelling after step \(label(index, plan))")
            return false
        }
        return true
    }

    /// What is left of step `index`'s wait: its length counted from when the previous step was
    /// first served, and never ending before the step's cache horizon (``PlanStep/waitUntil``,
    /// an instant, so a resumed run waits for it too). The first step's only wait is the
    /// horizon: it is waited for as an instant, not again in full after a pause.
    private func waitBefore(_ index: Int, _ progress: CutoverProgress) async -> UInt32 {
        let step = progress.plan.steps[index]
        let untilHorizon = await left(until: step.waitUntil)
        if index == 0, step.waitUntil != nil { return untilHorizon }
        let sinceServed = await remaining(step.waitBefore, since: index > 0 ? progress.servedAt?[index - 1] : nil)
        return max(sinceServed, untilHorizon)
    }

    /// Whole seconds from now until `instant` (0 when it has passed or is `nil`).
    private func left(until instant: Date?) async -> UInt32 {
        guard let instant else { return 0 }
        let now = await effects.now()
        return CacheHorizons.seconds(from: now, until: instant)
    }

    /// What is left of `seconds` counted from `start` (all of it when `start` is unknown).
    private func remaining(_ seconds: UInt32, since start: Date?) async -> UInt32 {
        guard let start, seconds > 0 else { return seconds }
        let elapsed = await effects.now().timeIntervalSince(start)
        guard elapsed > 0 else { return seconds }
        return UInt32(max(0, (Double(seconds) - elapsed).rounded(.up)))
    }

    /// Sleeps `seconds` in slices; `false` when a pause or cancellation came first.
    private func wait(_ seconds: UInt32) async throws -> Bool {
        var remaining = seconds
        while remaining > 0 {
            let slice = min(remaining, sliceSeconds)
            do { try await effects.sleep(seconds: slice) } catch { return false }
            remaining -= slice
            if await stopRequested() { return false }
        }
        return true
    }

    private func stopRequested() async -> Bool {
        if Task.isCancelled { return true }
        return await effects.pauseRequested()
    }

    private func pause(_ progress: inout CutoverProgress, _ message: String) async throws {
        progress.status = .paused
        progress.message = message + "; `switchyard cutover resume` continues"
        try await effects.save(progress)
    }

    private func failGate(_ index: Int, _ gate: GateCheck, _ outcome: GateOutcome, _ progress: inout CutoverProgress) async throws {
        let plan = progress.plan
        progress.committingStep = nil
        progress.status = .failed
        progress.message = "gate failed before step \(label(index, plan)): \(gate)\(outcome.detail.isEmpty ? "" : ": \(outcome.detail)"). "
            + "Nothing was changed: cluster \(plan.cluster) stays at \(describePrevious(index, progress)). "
            + "Fix the target and run `switchyard cutover resume`, or `switchyard rollback \(plan.cluster)`"
        try await effects.save(progress)
    }

    /// Commits the state before step `index` as a new generation and verifies it.
    private func rollBack(_ index: Int, problems: [String], _ progress: inout CutoverProgress) async throws {
        let plan = progress.plan
        let what = "verify failed after step \(label(index, plan)): \(problems.isEmpty ? "no details" : problems.joined(separator: "; "))"
        progress.nextStep = index
        progress.generations[index] = nil
        progress.servedAt?[index] = nil
        progress.unsettledStep = nil
        progress.committingStep = nil
        progress.status = .failed
        progress.message = what + "; rolling back"
        try await effects.save(progress)
        do {
            let generation = try await effects.commit(state: plan.state(before: index), actor: progress.actor,
                                                      reason: "roll back step \(label(index, plan)): verify failed")
            if index > 0 { progress.servedAt?[index - 1] = await effects.now() }
            let check = await effects.verify(plan.verify(before: index), timeoutSeconds: plan.options.verifyTimeoutSeconds)
            record(await effects.invalidate(after: generation), &progress)
            progress.message = what + "; rolled back to the state before it as generation \(generation.number)"
                + (check.passed ? ", verified" : ", which did not verify either: \(check.problems.joined(separator: "; "))")
                + ". Fix it and run `switchyard cutover resume`, or `switchyard rollback \(plan.cluster)`"
        } catch {
            progress.message = what + "; rolling back failed too (\(error)): the step's state may still be served. Run `switchyard status`, then `switchyard rollback \(plan.cluster)`"
        }
        try await effects.save(progress)
    }

    private func record(_ outcomes: [HookOutcome], _ progress: inout CutoverProgress) {
        for outcome in outcomes where !outcome.succeeded {
            progress.hookFailures.append("\(outcome.hook)\(outcome.detail.isEmpty ? "" : ": \(outcome.detail)")")
        }
    }

    private func describePrevious(_ index: Int, _ progress: CutoverProgress) -> String {
        if index == 0 {
            return "the state it started from" + (progress.startedFromGeneration.map { " (generation \($0))" } ?? "")
        }
        return "step \(index)'s state" + (progress.generations[index - 1].map { " (generation \($0))" } ?? "")
    }

    func label(_ index: Int, _ plan: CutoverPlan) -> String {
        guard plan.steps.indices.contains(index) else { return "\(index + 1)/\(plan.steps.count)" }
        return "\(index + 1)/\(plan.steps.count) (\(plan.steps[index].title))"
    }
}
