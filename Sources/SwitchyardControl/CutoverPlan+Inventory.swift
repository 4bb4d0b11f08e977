import SwitchyardInventory

/// A plan was made against the inventory and the state of its day. A SIGHUP may change the
/// cluster under a running plan (a broker removed, a target readdressed, a broker added to a
/// pool the bootstrap answers from), and a `shift` may change one of its names. Committing the
/// next step anyway wrote the plan's setting of every name back: state for names the inventory
/// no longer has (then a verify timeout on NXDOMAIN and a rollback), or silently undoing the
/// operator's shift.
public struct PlanOutdated: Error, CustomStringConvertible, Sendable, Equatable {
    /// What no longer fits, naming the name and what it answers now.
    public var problem: String

    public init(_ problem: String) { self.problem = problem }

    public var description: String {
        "\(problem); nothing of the step was committed"
    }
}

extension CutoverPlan {
    /// Throws ``PlanOutdated`` when committing `state` (the start state or one of the steps')
    /// would no longer do what the plan printed, gated and will verify: a name of the plan left
    /// the inventory, or the names verified after `state` would answer other targets now.
    public func checkStillFits(_ state: ServingState, inventories: [Inventory]) throws(PlanOutdated) {
        guard let cluster = inventories.lazy.compactMap({ $0.origin == self.origin ? $0.cluster(named: self.cluster) : nil }).first else {
            throw PlanOutdated("the inventory changed under this run: cluster \(self.cluster) is no longer in the inventory of \(origin)")
        }
        let declared = Set(cluster.brokers.map { cluster.brokerName($0.id) } + [cluster.bootstrapName])
        let gone = names.filter { !declared.contains($0) }
        guard gone.isEmpty else {
            throw PlanOutdated("the inventory changed under this run: \(gone.joined(separator: ", ")) \(gone.count == 1 ? "is" : "are") no longer in it")
        }
        let recorded: [AnswerExpectation], now: [AnswerExpectation], verified: [String]
        if let targets, let verifiedNames {
            // Every verified name, in O(brokers): the plan's targets against the inventory's.
            verified = verifiedNames
            recorded = targets.expectations(for: state, names: verifiedNames)
            now = PlanTargets(cluster).expectations(for: state, names: verifiedNames)
        } else {
            // A plan journaled before its targets were kept: its steps list their expectations.
            guard let listed = state == startState ? startVerify : steps.first(where: { $0.state == state })?.storedVerify else { return }
            var names: [String] = []
            for expectation in listed where !names.contains(expectation.name) { names.append(expectation.name) }
            var stager = Planner.Stager(cluster: cluster, options: options, state: state)
            stager.verifiedNames = names
            verified = names
            recorded = listed
            now = stager.expectations(for: state)
        }
        guard now != recorded else { return }
        let recordedByName = Dictionary(grouping: recorded, by: \.name), nowByName = Dictionary(grouping: now, by: \.name)
        for name in verified {
            let then = recordedByName[name] ?? [], current = nowByName[name] ?? []
            if then != current {
                // A bootstrap of hundreds of brokers: its lists cut short (``AnswerExpectation/summary``).
                let shown = current.isEmpty ? "no answer for \(name)" : current.map(\.summary).joined(separator: "; ")
                throw PlanOutdated("the inventory changed under this run: the plan expects \(then.map(\.summary).joined(separator: "; ")), the inventory now gives \(shown)")
            }
        }
        throw PlanOutdated("the inventory changed under this run: the names of cluster \(self.cluster) would answer otherwise than the plan expects")
    }

    /// Throws ``PlanOutdated`` when one of the plan's names was changed outside the run since
    /// the state the plan left before step `index` (a `shift` of a broker the run manages):
    /// the step would write the plan's setting of it back, undoing that change unannounced.
    public func checkUntouched(_ live: ServingState, before index: Int) throws(PlanOutdated) {
        let expected = state(before: index)
        let touched = differences(live, expected).map { name in
            "\(name) is \(live.setting(of: name)), where the run left it \(expected.setting(of: name))"
        }
        guard touched.isEmpty else {
            throw PlanOutdated("changed outside this run (a shift, or another server of the fleet): \(touched.joined(separator: "; "))")
        }
    }
}
