import SwitchyardInventory

/// A plan was made against the inventory of its day, and a SIGHUP may change the cluster
/// under a running plan: a broker removed, a target readdressed, a broker added to a pool the
/// bootstrap answers from. Committing the next step anyway wrote state back for names the
/// inventory no longer has and verified answers it no longer gives, so the step failed its
/// verification after the whole timeout and was rolled back, with a message about NXDOMAIN.
public struct PlanOutdated: Error, CustomStringConvertible, Sendable, Equatable {
    /// What no longer fits, naming the name and what it answers now.
    public var problem: String

    public init(_ problem: String) { self.problem = problem }

    public var description: String {
        "the inventory changed under this run: \(problem); nothing of the step was committed"
    }
}

extension CutoverPlan {
    /// Throws ``PlanOutdated`` when committing `state` (the start state or one of the steps')
    /// would no longer do what the plan printed, gated and will verify: a name of the plan left
    /// the inventory, or the names verified after `state` would answer other targets now.
    public func checkStillFits(_ state: ServingState, inventories: [Inventory]) throws(PlanOutdated) {
        guard let cluster = inventories.lazy.compactMap({ $0.origin == self.origin ? $0.cluster(named: self.cluster) : nil }).first else {
            throw PlanOutdated("cluster \(self.cluster) is no longer in the inventory of \(origin)")
        }
        let declared = Set(cluster.brokers.map { cluster.brokerName($0.id) } + [cluster.bootstrapName])
        let gone = names.filter { !declared.contains($0) }
        guard gone.isEmpty else {
            throw PlanOutdated("\(gone.joined(separator: ", ")) \(gone.count == 1 ? "is" : "are") no longer in it")
        }
        guard let recorded = state == startState ? startVerify : steps.first(where: { $0.state == state })?.verify else { return }
        var stager = Planner.Stager(cluster: cluster, options: options, state: state)
        var verified: [String] = []
        for expectation in recorded where !verified.contains(expectation.name) { verified.append(expectation.name) }
        stager.verifiedNames = verified
        let now = stager.expectations(for: state)
        guard now != recorded else { return }
        for name in verified {
            let then = recorded.filter { $0.name == name }, current = now.filter { $0.name == name }
            if then != current {
                let shown = current.isEmpty ? "no answer for \(name)" : current.map(\.description).joined(separator: "; ")
                throw PlanOutdated("the plan expects \(then.map(\.description).joined(separator: "; ")), the inventory now gives \(shown)")
            }
        }
        throw PlanOutdated("the names of cluster \(self.cluster) would answer otherwise than the plan expects")
    }
}
