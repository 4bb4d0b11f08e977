/// Everything ``CutoverRunner`` does to the world. The server implements it with the journal,
/// real DNS queries, sockets and commands; tests with a recording fake and a fake clock.
public protocol CutoverEffects: Sendable {
    /// Waits `seconds`; throws `CancellationError` (or anything) to stop the run at a boundary.
    func sleep(seconds: UInt32) async throws
    /// Runs one gate check.
    func checkGate(_ gate: GateCheck) async -> GateOutcome
    /// Journals `state` as a new generation (synced) and serves it. `state` is the whole state
    /// the plan computed from its start; an implementation that lets other writers change other
    /// names during a run should apply only the plan's names (``CutoverPlan/names``) on top of
    /// its latest generation, or refuse other writers while a run is active.
    func commit(state: ServingState, actor: String, reason: String) async throws -> Generation
    /// Queries every serving instance until all meet `expectations`, or `timeoutSeconds` pass.
    func verify(_ expectations: [AnswerExpectation], timeoutSeconds: UInt32) async -> VerifyOutcome
    /// Runs the cache-invalidation hooks for `generation` (NOTIFY, flush commands, discovery
    /// publishing). Retrying a failed hook is this layer's job; the outcomes are only reported.
    func invalidate(after generation: Generation) async -> [HookOutcome]
    /// Runs a drain command for a moved broker's old target.
    func drain(_ drain: DrainAction) async -> HookOutcome
    /// Journals the run's progress (synced).
    func save(_ progress: CutoverProgress) async throws
    /// A pause (`cutover pause`, Ctrl-C) was asked for; checked at step boundaries and
    /// between slices of long waits.
    func pauseRequested() async -> Bool
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
    public init(hook: String, succeeded: Bool, detail: String = "") {
        self.hook = hook; self.succeeded = succeeded; self.detail = detail
    }
}
