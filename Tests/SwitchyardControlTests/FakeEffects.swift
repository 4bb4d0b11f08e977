import Foundation
import SwitchyardControl

/// Records every effect the runner asks for, with a fake clock (sleep only adds seconds) and a
/// fake journal (commit keeps the state and numbers generations). Failures are scripted.
actor FakeEffects: CutoverEffects {
    struct Crash: Error, CustomStringConvertible {
        var description: String { "simulated crash" }
    }

    private(set) var calls: [String] = []
    private(set) var clock: UInt64 = 0
    private(set) var latest: Generation
    private(set) var commits: [Generation] = []
    private(set) var saves: [CutoverProgress] = []

    /// Gate checks on these targets fail.
    var failingGateTargets: Set<String> = []
    /// Verify fails for these expectation lists (once each time it is listed).
    var failingVerifies: [[AnswerExpectation]] = []
    /// Pause is requested once this many commits happened.
    var pauseAfterCommits: Int?
    /// Pause is requested once the clock reaches this.
    var pauseAtClock: UInt64?
    /// The n-th commit call (1-based) throws; `applied` says whether the journal took it first.
    var crashAtCommit: (number: Int, applied: Bool)?
    /// The save right after the n-th commit throws.
    var crashOnSaveAfterCommit: Int?
    /// Invalidation reports one failed hook.
    var failingHook = false
    var failingDrains: Set<Int> = []

    init(state: ServingState, generation: UInt64 = 1) {
        latest = Generation(number: generation, createdAt: Date(timeIntervalSince1970: 0), actor: "test", reason: "start",
                            state: state, changes: [], serials: [:])
    }

    var state: ServingState { latest.state }

    func script(_ change: @Sendable (isolated FakeEffects) -> Void) { change(self) }

    func sleep(seconds: UInt32) async throws {
        calls.append("sleep \(seconds)")
        clock += UInt64(seconds)
    }

    func now() async -> Date { Date(timeIntervalSince1970: Double(clock)) }

    /// The fake clock whenever a drain ran.
    private(set) var drainClocks: [UInt64] = []

    func checkGate(_ gate: GateCheck) async -> GateOutcome {
        calls.append("gate \(gate)")
        if case .tcpConnect(let target, _) = gate.check, failingGateTargets.contains(target) {
            return .failed("connection refused")
        }
        if case .kafka(let spec) = gate.check, failingGateTargets.contains(spec.target) {
            return .failed("cluster id: expected a, seen b")
        }
        return .passed
    }

    func commit(state: ServingState, actor: String, reason: String) async throws -> Generation {
        let number = latest.number + 1
        calls.append("commit #\(number): \(reason)")
        let generation = Generation(number: number, createdAt: Date(timeIntervalSince1970: Double(clock)), actor: actor, reason: reason,
                                    state: state, changes: Generation.changes(from: latest.state, to: state), serials: [:])
        let attempt = commits.count + 1
        if let crash = crashAtCommit, crash.number == attempt {
            crashAtCommit = nil
            if crash.applied { latest = generation; commits.append(generation) }
            throw Crash()
        }
        latest = generation
        commits.append(generation)
        return generation
    }

    func verify(_ expectations: [AnswerExpectation], timeoutSeconds: UInt32) async -> VerifyOutcome {
        calls.append("verify " + expectations.map { "\($0.name.prefix { $0 != "." }) \($0.allowed.joined(separator: ","))" }.joined(separator: "; "))
        if let index = failingVerifies.firstIndex(of: expectations) {
            failingVerifies.remove(at: index)
            return .failed(["127.0.0.1:53 answered the old target"])
        }
        return .passed
    }

    func invalidate(after generation: Generation) async -> [HookOutcome] {
        calls.append("invalidate #\(generation.number)")
        return [HookOutcome(hook: "rndc flush", succeeded: !failingHook, detail: failingHook ? "exit 1 after 3 tries" : "")]
    }

    func drain(_ drain: DrainAction, generation: UInt64?) async -> HookOutcome {
        calls.append("drain broker \(drain.broker)")
        drainClocks.append(clock)
        let failed = failingDrains.contains(drain.broker)
        return HookOutcome(hook: drain.command, succeeded: !failed, detail: failed ? "exit 3" : "", exitCode: failed ? 3 : 0, seconds: 0.5, output: failed ? "exit 3" : "")
    }

    func save(_ progress: CutoverProgress) async throws {
        var line = "save \(progress.status.rawValue) next=\(progress.nextStep)"
        if let step = progress.committingStep { line += " committing=\(step)" }
        if let step = progress.unsettledStep { line += " unsettled=\(step)" }
        calls.append(line)
        if let n = crashOnSaveAfterCommit, commits.count == n, progress.unsettledStep != nil {
            crashOnSaveAfterCommit = nil
            throw Crash()
        }
        saves.append(progress)
    }

    func pauseRequested() async -> Bool {
        calls.append("pause?")
        if let n = pauseAfterCommits, commits.count >= n { return true }
        if let at = pauseAtClock, clock >= at { return true }
        return false
    }

    /// The progress as the journal last kept it.
    var lastSaved: CutoverProgress? { saves.last }
}
