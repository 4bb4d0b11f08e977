import Foundation

/// A staged change of one cluster's stable names: what `cutover plan` prints, what the journal
/// stores and what ``CutoverRunner`` executes. Made only by ``Planner``; pure data.
public struct CutoverPlan: Codable, Sendable, Equatable {
    public enum Purpose: String, Codable, Sendable {
        case cutover
        case rollback
    }

    public var purpose: Purpose
    public var cluster: String
    public var origin: String
    /// The destination pool of a cutover; `nil` for a rollback (brokers go back to several).
    public var toPool: String?
    public var options: CutoverOptions
    /// The stable names the plan manages (the cluster's broker names and bootstrap), sorted.
    /// Only these are compared when deciding whether a step was committed.
    public var names: [String]
    /// The state the plan starts from; a failure in the first step goes back to it.
    public var startState: ServingState
    /// What the names answer in ``startState``.
    public var startVerify: [AnswerExpectation]
    public var steps: [PlanStep]
    /// Cache-invalidation hooks run after every committed step (by the server).
    public var hooks: [String]
    /// What the plan decided not to do, and why (e.g. TTLs already low enough).
    public var notes: [String]?
    /// What the operator asked for that is less safe than the plan would be without it
    /// (a `--drain-after` shorter than caches may hold the old answer), each naming the step,
    /// the name and how long; shown by `cutover plan|apply` and `rollback` as warnings.
    public var warnings: [String]?
    /// When the cache horizons behind the steps' ``PlanStep/waitUntil`` and
    /// ``PlanStep/drainNotBefore`` instants were read (the plan's "now"); `nil` when no step
    /// has one. Lets ``totalWaitSeconds`` place those instants on the plan's timeline.
    public var measuredAt: Date?
    /// The names every step verifies, in order (`nil` in plans journaled before: each of their
    /// steps lists its expectations, ``PlanStep/storedVerify``).
    public var verifiedNames: [String]?
    /// The cluster's targets as the plan was made, from which each state's expectations follow.
    public var targets: PlanTargets?

    public init(purpose: Purpose, cluster: String, origin: String, toPool: String?, options: CutoverOptions,
                names: [String], startState: ServingState, startVerify: [AnswerExpectation], steps: [PlanStep], hooks: [String]) {
        self.purpose = purpose; self.cluster = cluster; self.origin = origin; self.toPool = toPool
        self.options = options; self.names = names; self.startState = startState; self.startVerify = startVerify
        self.steps = steps; self.hooks = hooks
    }

    /// Every `host:port` a Kafka gate of the plan reads: the new targets and those being left.
    public var kafkaTargets: [String] {
        var found: [String] = []
        for step in steps {
            for gate in step.gates {
                guard case .kafka(let spec) = gate.check else { continue }
                for address in [spec.address] + spec.leaving.map({ KafkaMetadata.listener(host: $0, port: spec.port) })
                where !found.contains(address) { found.append(address) }
            }
        }
        return found
    }

    /// The state after the last step.
    public var finalState: ServingState { steps.last?.state ?? startState }

    /// Seconds spent waiting and dwelling if nothing fails (gates, commits and verification
    /// taking no time), as the runner counts: a step starts once its wait has passed since
    /// the previous step was first served, the previous step's drain and dwell are over, and
    /// its ``PlanStep/waitUntil`` has come; a drain runs ``PlanStep/drainAfter`` after its
    /// step was served, and not before ``PlanStep/drainNotBefore``; a dwell follows every
    /// step but the last.
    public var totalWaitSeconds: UInt64 {
        let origin = measuredAt ?? Date(timeIntervalSince1970: 0)
        func offset(_ instant: Date?) -> Double {
            guard let instant, measuredAt != nil else { return 0 }
            return max(0, instant.timeIntervalSince(origin))
        }
        var done = 0.0, previousServed = 0.0
        for (index, step) in steps.enumerated() {
            // The plan's first step, when it has an instant, waits only for that (CutoverRunner.waitBefore).
            let relative = index == 0 && step.waitUntil != nil ? 0 : previousServed + Double(step.waitBefore)
            let served = max(done, relative, offset(step.waitUntil))
            let drained = step.drains.isEmpty ? served : max(served + Double(step.drainAfter ?? 0), offset(step.drainNotBefore))
            // No dwell after the last step.
            done = drained + (index + 1 < steps.count ? Double(step.dwellSeconds) : 0)
            previousServed = served
        }
        return UInt64(done.rounded(.up))
    }

    /// The state committed before step `index` (the start state for the first step).
    public func state(before index: Int) -> ServingState {
        index == 0 ? startState : steps[index - 1].state
    }

    /// What the names answer before step `index`.
    public func verify(before index: Int) -> [AnswerExpectation] {
        index == 0 ? startVerify : verify(after: index - 1)
    }

    /// What the names answer once step `index` is committed: worked out from ``targets`` for
    /// the step's state (a plan journaled before them lists it in the step).
    public func verify(after index: Int) -> [AnswerExpectation] {
        if let stored = steps[index].storedVerify { return stored }
        guard let targets, let verifiedNames else { return [] }
        return targets.expectations(for: steps[index].state, names: verifiedNames)
    }
}

/// One step: wait, gate, commit ``state`` as a generation, verify, invalidate, drain, dwell.
public struct PlanStep: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Lower the TTLs of every affected name, so later steps are picked up quickly.
        case lowerTTL
        /// Flip a batch of broker names to their new pool.
        case moveBrokers
        /// Change the weights of the bootstrap name.
        case setBootstrapWeights
        /// Remove the cutover's TTL overrides.
        case restoreTTL
    }

    /// Position in the plan, from 0.
    public var index: Int
    public var kind: Kind
    public var title: String
    /// Seconds to wait before this step, so caches let go of what the previous step replaced.
    public var waitBefore: UInt32
    /// Why ``waitBefore`` is that long; the longest reason first.
    public var waitReasons: [String]
    /// The whole state once this step is committed.
    public var state: ServingState
    /// The names this step changes, before and after.
    public var changes: [NameChange]
    /// Checked before the commit; any failure stops the step before it changes anything.
    public var gates: [GateCheck]
    /// What every serving instance must answer once the step is committed, in plans journaled
    /// before ``CutoverPlan/targets``; `nil` in newer ones (``CutoverPlan/verify(after:)``).
    public var storedVerify: [AnswerExpectation]?
    /// Run after the step is verified and caches are invalidated.
    public var drains: [DrainAction]
    /// Seconds to stay on this step after it is done.
    public var dwellSeconds: UInt32
    /// Seconds after the step's answers are first served before ``drains`` may run
    /// (`nil` in plans journaled before drains waited: no wait).
    public var drainAfter: UInt32?
    /// Why ``drainAfter`` is that long; the longest reason first.
    public var drainReasons: [String]?
    /// The step is not committed before this instant, however the run got here (a resume
    /// included): the cache horizon of the names this step changes
    /// (``CutoverPlan/answerNames(of:)``), when answers of them served before the plan's start
    /// state may be cached longer than the waits before the step cover (``CacheHorizon``).
    /// `nil`: no such answers (and in plans journaled before horizons were kept).
    public var waitUntil: Date?
    /// ``drains`` never run before this instant: the cache horizon of the names the step
    /// changes (the moved brokers, and the bootstrap when its answer held their old targets).
    public var drainNotBefore: Date?

    /// Set while decoding a step whose JSON carries no `state`, until ``CutoverPlan`` has
    /// worked it out from the step before and ``changes``.
    var stateFromChanges = false

    public init(index: Int, kind: Kind, title: String, waitBefore: UInt32, waitReasons: [String], state: ServingState,
                changes: [NameChange], gates: [GateCheck], drains: [DrainAction], dwellSeconds: UInt32) {
        self.index = index; self.kind = kind; self.title = title; self.waitBefore = waitBefore; self.waitReasons = waitReasons
        self.state = state; self.changes = changes; self.gates = gates; self.drains = drains
        self.dwellSeconds = dwellSeconds
    }
}

/// A check that must pass before a step is committed.
public struct GateCheck: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Check: Codable, Sendable, Equatable {
        /// A TCP connection to `target` (address or hostname) on `port` is accepted.
        case tcpConnect(target: String, port: Int)
        /// A shell command, placeholders already filled in, exits 0.
        case command(String)
        /// The target's Kafka metadata passes ``KafkaGateDecision`` (clusters with `gate: kafka`).
        case kafka(KafkaGateSpec)
    }

    public var check: Check
    /// The stable name the gate protects (`broker-2.orders.kafka.example.`).
    public var name: String
    /// The broker being moved, when the gate is about one.
    public var broker: Int?

    public init(check: Check, name: String, broker: Int?) {
        self.check = check; self.name = name; self.broker = broker
    }

    public var description: String {
        let whom = broker.map { "broker \($0)" } ?? name
        switch check {
        case .tcpConnect(let target, let port):
            return "\(whom): TCP connect to \(target.contains(":") ? "[\(target)]" : target):\(port)"
        case .command(let command):
            return "\(whom): command `\(command)`"
        case .kafka(let spec):
            let identity = spec.broker.map { "node \($0) as \(spec.stableListener($0))" } ?? "every broker as its stable name"
            let cluster = spec.leaving.isEmpty ? "any cluster id"
                : "cluster id of \(spec.leaving.map { KafkaMetadata.listener(host: $0, port: spec.port) }.joined(separator: ", "))"
            return "\(whom): Kafka metadata at \(spec.address) (\(identity), \(cluster), no offline partitions, "
                + "≤ \(spec.maxUnderReplicated) under-replicated)"
        }
    }
}

/// What a name must answer after a step, on every serving instance.
public struct AnswerExpectation: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum RecordType: String, Codable, Sendable {
        case a = "A"
        case aaaa = "AAAA"
        case cname = "CNAME"
    }

    public enum Rule: String, Codable, Sendable {
        /// The answer is exactly ``AnswerExpectation/allowed`` (a broker name's one target).
        case exactly
        /// Every record of the answer is in ``AnswerExpectation/allowed`` and the answer is not
        /// empty (a weighted name answers a subset of one answering pool's targets).
        case subset
    }

    public var name: String
    /// The record type asked for; `.cname` for a broker whose target is a hostname.
    public var type: RecordType
    /// Addresses (A/AAAA text) or absolute hostnames. For a weighted name a hostname also
    /// stands for the addresses it resolves to: a pool of several targets is answered flattened.
    public var allowed: [String]
    public var rule: Rule

    public init(name: String, type: RecordType, allowed: [String], rule: Rule) {
        self.name = name; self.type = type; self.allowed = allowed; self.rule = rule
    }

    public var description: String {
        switch rule {
        case .exactly: return "\(name) \(type.rawValue) = \(allowed.joined(separator: " "))"
        case .subset: return "\(name) \(type.rawValue) ⊆ {\(allowed.joined(separator: ", "))}"
        }
    }
}

/// The optional drain command for one moved broker's old target.
public struct DrainAction: Codable, Sendable, Equatable, CustomStringConvertible {
    public var broker: Int
    public var oldTarget: String
    public var newTarget: String
    /// The command with its placeholders filled in, but for `{run}` and `{generation}`,
    /// which are known only when it runs.
    public var command: String

    public init(broker: Int, oldTarget: String, newTarget: String, command: String) {
        self.broker = broker; self.oldTarget = oldTarget; self.newTarget = newTarget; self.command = command
    }

    public var description: String { "broker \(broker) (old target \(oldTarget)): `\(command)`" }
}
