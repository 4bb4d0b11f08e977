extension CutoverRunner {
    /// A new run of `plan`, checked against the live state: a plan made from a state that has
    /// changed since (another shift, another cutover) is refused rather than overwriting it.
    public static func begin(runID: String, plan: CutoverPlan, currentState: ServingState,
                             currentGeneration: UInt64?) throws(ControlError) -> CutoverProgress {
        let differing = plan.differences(currentState, plan.startState)
        guard differing.isEmpty else {
            throw ControlError("the plan was made for another state: \(differing.spokenList) changed since",
                               remedy: "make the plan again from the live state")
        }
        return CutoverProgress(runID: runID, plan: plan, startedFromGeneration: currentGeneration)
    }

    /// Progress ready to ``run(_:current:)`` again after a pause, a failure, or a crash or
    /// restart of either process. `currentState` and `currentGeneration` are the journal's latest.
    ///
    /// The journal decides: if it already serves the state of step `nextStep` (the process died
    /// between the commit and saving the progress), that step counts as committed with
    /// `currentGeneration` and is verified again before going on; if it serves the state
    /// before that step, the step is run (gates first). Anything else means someone changed the
    /// cluster's names outside this run, and resuming is refused.
    public static func resume(progress: CutoverProgress, currentState: ServingState,
                              currentGeneration: UInt64? = nil) throws(ControlError) -> CutoverProgress {
        guard !progress.isFinished else {
            throw ControlError("\(progress.plan.purpose.rawValue) \(progress.runID) of cluster \(progress.cluster) is already \(progress.status.rawValue)",
                               remedy: "nothing to resume; plan a new cutover or a rollback")
        }
        var next = progress
        let plan = progress.plan
        let index = progress.nextStep
        let committed = plan.state(before: index)
        if index < plan.steps.count, plan.differences(currentState, plan.steps[index].state).isEmpty,
           !plan.differences(currentState, committed).isEmpty {
            next.generations[index] = currentGeneration
            next.nextStep = index + 1
            next.unsettledStep = index
            next.message = "step \(index + 1)/\(plan.steps.count) was committed" + (currentGeneration.map { " as generation \($0)" } ?? "")
                + " before the interruption; verifying it again"
        } else if plan.differences(currentState, committed).isEmpty {
            next.message = "resuming at step \(index + 1)/\(plan.steps.count)"
        } else {
            let expected = index == 0 ? "the state it started from" : "step \(index)'s state"
            throw ControlError("cluster \(plan.cluster) no longer serves \(expected): \(plan.differences(currentState, committed).spokenList) changed outside cutover \(progress.runID)",
                               remedy: "check `switchyard history`, then plan a new cutover or a rollback from the live state")
        }
        next.committingStep = nil
        next.status = .running
        return next
    }

    /// ``resume(progress:currentState:currentGeneration:)`` with the journal's latest generation.
    public static func resume(progress: CutoverProgress, current: Generation) throws(ControlError) -> CutoverProgress {
        try resume(progress: progress, currentState: current.state, currentGeneration: current.number)
    }
}

extension CutoverPlan {
    /// The plan's names whose setting differs between two states (other names are not this
    /// plan's business).
    func differences(_ a: ServingState, _ b: ServingState) -> [String] {
        names.filter { a.setting(of: $0) != b.setting(of: $0) }
    }
}
