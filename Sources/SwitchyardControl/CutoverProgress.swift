import Foundation

/// A cutover run as the journal keeps it: enough to show it, pause it and continue it after a
/// crash or restart of either process.
public struct CutoverProgress: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case running
        /// Stopped at a step boundary on request; `cutover resume` continues.
        case paused
        case completed
        /// Stopped by a failed gate, verify, drain or journal write; ``CutoverProgress/message``
        /// says what and what to do. A failed step has been rolled back.
        case failed
        /// Undone later by a rollback plan (set by whoever ran the rollback).
        case rolledBack
    }

    public var runID: String
    public var cluster: String
    public var plan: CutoverPlan
    /// The first step not yet committed.
    public var nextStep: Int
    public var status: Status
    /// The latest news, for `cutover status` and the end-of-run report.
    public var message: String
    /// Step index → the generation it committed.
    public var generations: [Int: UInt64]
    /// The live generation when the run started.
    public var startedFromGeneration: UInt64?
    /// Set while a commit is in flight: saved just before the commit, cleared just after it.
    /// If the process dies in between, ``CutoverRunner/resume(progress:currentState:currentGeneration:)``
    /// looks at the journal to find out whether the commit happened.
    public var committingStep: Int?
    /// A committed step whose verify, invalidation and drain have not all finished; a resumed
    /// run does them before going on.
    public var unsettledStep: Int?
    /// Hooks that failed during the run (reported, never a reason to stop).
    public var hookFailures: [String]
    /// Step index → when its generation was first served; later waits and drains count from it.
    public var servedAt: [Int: Date]?
    /// Every drain command run, in order.
    public var drains: [DrainRecord]?

    public init(runID: String, plan: CutoverPlan, startedFromGeneration: UInt64?) {
        self.runID = runID
        self.cluster = plan.cluster
        self.plan = plan
        self.nextStep = 0
        self.status = .running
        self.message = "not started"
        self.generations = [:]
        self.startedFromGeneration = startedFromGeneration
        self.committingStep = nil
        self.unsettledStep = nil
        self.hookFailures = []
    }

    /// The actor recorded with each generation the run commits.
    public var actor: String { "cutover:\(runID)" }

    /// The run has nothing left to do.
    public var isFinished: Bool { status == .completed || status == .rolledBack }
}
