extension CutoverPlan {
    /// What `switchyard cutover plan` prints: numbered steps, the wait before each and why,
    /// the changes, gates, verification, drains, and the hooks run after every step.
    public func render() -> String {
        var lines: [String] = []
        switch purpose {
        case .cutover:
            let brokers = options.brokers.map { "brokers \($0.map(String.init).joined(separator: ","))" } ?? "every broker not in \(toPool ?? "?")"
            lines.append("Cutover of cluster \(cluster) (\(origin)) to pool \(toPool ?? "?"): \(brokers), batch \(options.batch), ramp \(options.ramp.map(String.init).joined(separator: ","))")
        case .rollback:
            lines.append("Rollback of cluster \(cluster) (\(origin)): batch \(options.batch), ramp \(options.ramp.map(String.init).joined(separator: ","))")
        }
        for note in notes ?? [] { lines.append(note) }
        lines.append("\(steps.count) step\(steps.count == 1 ? "" : "s"), about \(Self.duration(totalWaitSeconds)) of waiting; verify timeout \(options.verifyTimeoutSeconds) s per step")
        for step in steps {
            lines.append("")
            lines.append("Step \(step.index + 1)/\(steps.count): \(step.title)")
            switch (step.waitBefore, step.waitUntil) {
            case (0, nil):
                lines.append("  wait before: none")
            case (0, let until?):
                lines.append("  wait before: not before \(CacheHorizons.clockTime(until))")
            case (let seconds, let until):
                lines.append("  wait before: \(seconds) s" + (until.map { ", and not before \(CacheHorizons.clockTime($0))" } ?? ""))
            }
            for reason in step.waitReasons where step.waitBefore > 0 || step.waitUntil != nil { lines.append("    - \(reason)") }
            lines.append("  changes:")
            lines += Self.limited(step.changes.map { "    \($0.name)  \($0.before) -> \($0.after)" }, what: "names")
            lines.append(step.gates.isEmpty ? "  gates: none" : "  gates:")
            lines += Self.limited(step.gates.map { "    - \($0)" }, what: "gates")
            lines += verifyLines(step.index)
            if !step.drains.isEmpty {
                lines.append("  drain after: \(step.drainAfter ?? 0) s from when the step is first served")
                for reason in step.drainReasons ?? [] { lines.append("    - \(reason)") }
                lines.append("  drain timeout: \(options.drainTimeoutSeconds ?? CutoverOptions.defaultDrainTimeout) s per command")
            }
            lines += Self.limited(step.drains.map { "  drain: \($0)" }, what: "drains")
            if step.dwellSeconds > 0 { lines.append("  dwell: \(step.dwellSeconds) s") }
        }
        lines.append("")
        if hooks.isEmpty {
            lines.append("After each step: no cache-invalidation hooks configured")
        } else {
            lines.append("After each step, invalidate caches with:")
            for hook in hooks { lines.append("  - \(hook)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every step verifies all the plan's names; listed are the answers the step changes (all
    /// of them, at a few hundred names a step, would bury the few that move).
    func verifyLines(_ index: Int) -> [String] {
        let after = verify(after: index)
        guard !after.isEmpty else { return ["  verify: nothing"] }
        let before = Set(verify(before: index))
        let changed = after.filter { !before.contains($0) }
        let names = Set(after.map(\.name)).count
        let count = "\(names) name\(names == 1 ? "" : "s")"
        guard !changed.isEmpty else { return ["  verify: \(count), answering as before the step"] }
        return ["  verify: \(count); the answers that change:"] + Self.limited(changed.map { "    - \($0.summary)" }, what: "names")
    }

    /// `lines`, or its first ones and how many more when there are too many to read.
    static func limited(_ lines: [String], what: String, shown: Int = 10) -> [String] {
        guard lines.count > shown + 2 else { return lines }
        return Array(lines.prefix(shown)) + ["    … and \(lines.count - shown) more \(what) the same way"]
    }

    static func duration(_ seconds: UInt64) -> String {
        seconds < 60 ? "\(seconds) s" : "\(seconds / 60) min \(seconds % 60) s"
    }
}

extension AnswerExpectation {
    /// ``description`` with a long list of allowed answers cut short (a bootstrap pool of
    /// hundreds of brokers).
    var summary: String {
        guard allowed.count > 8 else { return description }
        let shown = allowed.prefix(6).joined(separator: ", ") + ", … \(allowed.count - 6) more"
        switch rule {
        case .exactly: return "\(name) \(type.rawValue) = \(shown)"
        case .subset: return "\(name) \(type.rawValue) ⊆ {\(shown)}"
        }
    }
}
