import Foundation

// The JSON of a plan (journal and admin API) holds each step's `changes` but not its whole
// `state`: the state after a step is the state before it with the changes' `after` settings,
// so it is worked out again on decoding. Stored per step, the state (every stable name of every
// cluster) made a plan grow with names × steps: a 300-broker cluster moved one broker per step
// in a fleet of 650 brokers gave ~20 MB of JSON, rewritten at each of the 3 progress saves of a
// step. Plans journaled before carry `state` (and `verify`) in each step; they decode as they are.

extension CutoverPlan {
    enum CodingKeys: String, CodingKey {
        case purpose, cluster, origin, toPool, options, names, startState, startVerify, steps, hooks, notes, warnings, measuredAt, verifiedNames, targets
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.init(purpose: try fields.decode(Purpose.self, forKey: .purpose),
                  cluster: try fields.decode(String.self, forKey: .cluster),
                  origin: try fields.decode(String.self, forKey: .origin),
                  toPool: try fields.decodeIfPresent(String.self, forKey: .toPool),
                  options: try fields.decode(CutoverOptions.self, forKey: .options),
                  names: try fields.decode([String].self, forKey: .names),
                  startState: try fields.decode(ServingState.self, forKey: .startState),
                  startVerify: try fields.decode([AnswerExpectation].self, forKey: .startVerify),
                  steps: try fields.decode([PlanStep].self, forKey: .steps),
                  hooks: try fields.decode([String].self, forKey: .hooks))
        notes = try fields.decodeIfPresent([String].self, forKey: .notes)
        warnings = try fields.decodeIfPresent([String].self, forKey: .warnings)
        measuredAt = try fields.decodeIfPresent(Date.self, forKey: .measuredAt)
        verifiedNames = try fields.decodeIfPresent([String].self, forKey: .verifiedNames)
        targets = try fields.decodeIfPresent(PlanTargets.self, forKey: .targets)
        var state = startState
        for index in steps.indices {
            if steps[index].stateFromChanges {
                steps[index].state = state.applying(steps[index].changes)
                steps[index].stateFromChanges = false
            }
            state = steps[index].state
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(purpose, forKey: .purpose)
        try fields.encode(cluster, forKey: .cluster)
        try fields.encode(origin, forKey: .origin)
        try fields.encodeIfPresent(toPool, forKey: .toPool)
        try fields.encode(options, forKey: .options)
        try fields.encode(names, forKey: .names)
        try fields.encode(startState, forKey: .startState)
        try fields.encode(startVerify, forKey: .startVerify)
        try fields.encode(steps, forKey: .steps)
        try fields.encode(hooks, forKey: .hooks)
        try fields.encodeIfPresent(notes, forKey: .notes)
        try fields.encodeIfPresent(warnings, forKey: .warnings)
        try fields.encodeIfPresent(measuredAt, forKey: .measuredAt)
        try fields.encodeIfPresent(verifiedNames, forKey: .verifiedNames)
        try fields.encodeIfPresent(targets, forKey: .targets)
    }
}

extension PlanStep {
    enum CodingKeys: String, CodingKey {
        case index, kind, title, waitBefore, waitReasons, state, changes, gates, storedVerify = "verify", drains, dwellSeconds
        case drainAfter, drainReasons, waitUntil, drainNotBefore
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        let state = try fields.decodeIfPresent(ServingState.self, forKey: .state)
        self.init(index: try fields.decode(Int.self, forKey: .index),
                  kind: try fields.decode(Kind.self, forKey: .kind),
                  title: try fields.decode(String.self, forKey: .title),
                  waitBefore: try fields.decode(UInt32.self, forKey: .waitBefore),
                  waitReasons: try fields.decode([String].self, forKey: .waitReasons),
                  state: state ?? ServingState(),
                  changes: try fields.decode([NameChange].self, forKey: .changes),
                  gates: try fields.decode([GateCheck].self, forKey: .gates),
                  drains: try fields.decode([DrainAction].self, forKey: .drains),
                  dwellSeconds: try fields.decode(UInt32.self, forKey: .dwellSeconds))
        stateFromChanges = state == nil
        storedVerify = try fields.decodeIfPresent([AnswerExpectation].self, forKey: .storedVerify)
        drainAfter = try fields.decodeIfPresent(UInt32.self, forKey: .drainAfter)
        drainReasons = try fields.decodeIfPresent([String].self, forKey: .drainReasons)
        waitUntil = try fields.decodeIfPresent(Date.self, forKey: .waitUntil)
        drainNotBefore = try fields.decodeIfPresent(Date.self, forKey: .drainNotBefore)
    }

    /// Everything but ``state``, which the plan works out from the previous step's and ``changes``.
    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(index, forKey: .index)
        try fields.encode(kind, forKey: .kind)
        try fields.encode(title, forKey: .title)
        try fields.encode(waitBefore, forKey: .waitBefore)
        try fields.encode(waitReasons, forKey: .waitReasons)
        try fields.encode(changes, forKey: .changes)
        try fields.encode(gates, forKey: .gates)
        try fields.encodeIfPresent(storedVerify, forKey: .storedVerify)
        try fields.encode(drains, forKey: .drains)
        try fields.encode(dwellSeconds, forKey: .dwellSeconds)
        try fields.encodeIfPresent(drainAfter, forKey: .drainAfter)
        try fields.encodeIfPresent(drainReasons, forKey: .drainReasons)
        try fields.encodeIfPresent(waitUntil, forKey: .waitUntil)
        try fields.encodeIfPresent(drainNotBefore, forKey: .drainNotBefore)
    }
}

extension ServingState {
    /// This state with each change's `after` setting (a name's setting is all of its four
    /// fields, so the result is exactly the state the changes were computed to).
    public func applying(_ changes: [NameChange]) -> ServingState {
        var next = self
        for change in changes {
            next.brokerPools[change.name] = change.after.livePool
            next.weights[change.name] = change.after.weights
            next.ttls[change.name] = change.after.ttl
            next.loweredTTLs[change.name] = change.after.loweredTTL
        }
        return next
    }
}
