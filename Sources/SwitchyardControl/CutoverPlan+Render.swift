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
            for change in step.changes { lines.append("    \(change.name)  \(change.before) -> \(change.after)") }
            lines.append(step.gates.isEmpty ? "  gates: none" : "  gates:")
            for gate in step.gates { lines.append("    - \(gate)") }
            lines.append(step.verify.isEmpty ? "  verify: nothing" : "  verify:")
            for expectation in step.verify { lines.append("    - \(expectation)") }
            if !step.drains.isEmpty {
                lines.append("  drain after: \(step.drainAfter ?? 0) s from when the step is first served")
                for reason in step.drainReasons ?? [] { lines.append("    - \(reason)") }
                lines.append("  drain timeout: \(options.drainTimeoutSeconds ?? CutoverOptions.defaultDrainTimeout) s per command")
            }
            for drain in step.drains { lines.append("  drain: \(drain)") }
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

    static func duration(_ seconds: UInt64) -> String {
        seconds < 60 ? "\(seconds) s" : "\(seconds / 60) min \(seconds % 60) s"
    }
}
