import Foundation

/// Everything ``CutoverRunner`` does to the world. The server implements it with the journal,
/// real DNS queries, sockets and commands; tests with a recording fake and a fake clock.
public protocol CutoverEffects: Sendable {
    /// Waits `seconds`; throws `CancellationError` (or anything) to stop the run at a boundary.
    func sleep(seconds: UInt32) async throws
    /// The time now, on the same clock as ``sleep(seconds:)``.
    func now() async -> Date
    /// Runs one gate check.
    func checkGate(_ gate: GateCheck) async -> GateOutcome
    /// Journals `state` as a new generation (synced) and serves it. `state` is the whole state
    /// the plan computed from its start; an implementation that lets other writers change other
    /// names during a run should apply only the plan's names (``CutoverPlan/names``) on top of
    /// its latest generation, or refuse other writers while a run is active.
    func commit(state: ServingState, actor: String, reason: String) async throws -> Generation
    /// Commits step `index` of the plan (its ``PlanStep/state``) as ``commit(state:actor:reason:)``
    /// does, after checking under the same lock that the plan still fits the live inventory
    /// (``CutoverPlan/checkStillFits(_:inventories:)``), throwing ``PlanOutdated`` when not.
    /// The default commits without that check (effects that have no inventory to change).
    func commit(step index: Int, state: ServingState, actor: String, reason: String) async throws -> Generation
    /// Queries every serving instance until all meet `expectations`, or `timeoutSeconds` pass.
    func verify(_ expectations: [AnswerExpectation], timeoutSeconds: UInt32) async -> VerifyOutcome
    /// Runs the cache-invalidation hooks for `generation` (NOTIFY, flush commands, discovery
    /// publishing). Retrying a failed hook is this layer's job; the outcomes are only reported.
    func invalidate(after generation: Generation) async -> [HookOutcome]
    /// Runs a drain command for a moved broker's old target; `generation` is the step's.
    func drain(_ drain: DrainAction, generation: UInt64?) async -> HookOutcome
    /// Journals the run's progress (synced).
    func save(_ progress: CutoverProgress) async throws
    /// A pause (`cutover pause`, Ctrl-C) was asked for; checked at step boundaries and
    /// between slices of long waits.
    func pauseRequested() async -> Bool
}

extension CutoverEffects {
    public func commit(step index: Int, state: ServingState, actor: String, reason: String) async throws -> Generation {
        try await commit(state: state, actor: actor, reason: reason)
    }
}

public struct GateOutcome: Codable, Sendable, Equatable {
    public var passed: Bool
    /// What happened (`connected in 3 ms`, `connection refused`, `exit 2: ...`).
    public var detail: String
    public init(passed: Bool, detail: String = "") { self.passed = passed; self.detail = detail }
    public static let passed = GateOutcome(passed: true)
    public static func failed(_ detail: String) -> GateOutcome { GateOutcome(passed: false, detail: detail) }
}

public struct VerifyOutcome: Codable, Sendable, Equatable {
    public var passed: Bool
    /// Per failing server and name: what it answered instead.
    public var problems: [String]
    public init(passed: Bool, problems: [String] = []) { self.passed = passed; self.problems = problems }
    public static let passed = VerifyOutcome(passed: true)
    public static func failed(_ problems: [String]) -> VerifyOutcome { VerifyOutcome(passed: false, problems: problems) }
}

public struct HookOutcome: Codable, Sendable, Equatable {
    /// The hook or command, as run.
    public var hook: String
    public var succeeded: Bool
    /// Exit code, output excerpt, or how many retries it took.
    public var detail: String
    /// For commands: the exit status (`nil` when it was stopped at its timeout), how long it
    /// ran, and the last lines of its output.
    public var exitCode: Int32?
    public var seconds: Double?
    public var output: String?
    public init(hook: String, succeeded: Bool, detail: String = "", exitCode: Int32? = nil, seconds: Double? = nil, output: String? = nil) {
        self.hook = hook; self.succeeded = succeeded; self.detail = detail
        self.exitCode = exitCode; self.seconds = seconds; self.output = output
    }
}

/// A drain command as it ran, for `cutover status`, `history` and the log.
public struct DrainRecord: Codable, Sendable, Equatable, CustomStringConvertible {
    public var step: Int
    public var broker: Int
    public var generation: UInt64?
    public var command: String
    public var succeeded: Bool
    public var exitCode: Int32?
    public var seconds: Double
    /// The last lines of its output.
    public var output: String
    public var at: Date

    public init(step: Int, broker: Int, generation: UInt64?, outcome: HookOutcome, at: Date) {
        self.step = step; self.broker = broker; self.generation = generation; self.command = outcome.hook
        self.succeeded = outcome.succeeded; self.exitCode = outcome.exitCode; self.seconds = outcome.seconds ?? 0
        self.output = outcome.output ?? outcome.detail; self.at = at
    }

    public var description: String {
        let status = exitCode.map { "exit \($0)" } ?? "timed out"
        let tail = output.split(separator: "\n").suffix(1).joined()
        return "step \(step + 1) broker \(broker): `\(command)` \(status) after \(String(format: "%.1f", seconds)) s" + (tail.isEmpty ? "" : ": \(tail)")
    }
}
