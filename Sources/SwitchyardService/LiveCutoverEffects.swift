import Foundation
import Logging
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardJournal
import SwitchyardServer

/// The real effects of a cutover run: wall-clock sleeps, TCP and command gates, journaled
/// generations served by this process, DNS verification against the serving addresses,
/// cache invalidation and drain commands.
struct LiveCutoverEffects: CutoverEffects {
    let runID: Int64
    let plan: CutoverPlan
    let control: ControlService
    /// Where steps are verified: this server's addresses, and in a fleet every live member's
    /// (asked at each verification, so a server joining mid-run is checked too).
    let servers: @Sendable () -> [ListenAddress]
    var verifyServers: [ListenAddress] { servers() }
    let pause: PauseFlag
    let logger: Logger
    /// Shared with the service: what Kafka gates saw, for status and as a fallback cluster id.
    let kafka: KafkaSightings
    /// In a fleet: this server's name, which must hold the run's lease for every write.
    var leaseOwner: String? = nil
    /// Set once a write found the lease held by another server (this one was cut off past it):
    /// the run is that server's now, and how it stopped here is nobody's business but the log's.
    let leaseLost = LeaseLostFlag()

    func sleep(seconds: UInt32) async throws {
        try await Task.sleep(for: .seconds(Int(seconds)))
    }

    func now() async -> Date { Date() }

    /// `{run}` and `{generation}` of gate and drain commands, and the same facts (with the
    /// rest of the step's) as `SWITCHYARD_*` environment variables.
    private func context(generation: UInt64?, _ extra: [String: String]) -> (placeholders: [String: String], environment: [String: String]) {
        let generationText = generation.map(String.init) ?? ""
        var environment = ["SWITCHYARD_RUN": String(runID), "SWITCHYARD_CLUSTER": plan.cluster, "SWITCHYARD_ORIGIN": plan.origin,
                           "SWITCHYARD_GENERATION": generationText, "SWITCHYARD_PURPOSE": plan.purpose.rawValue]
        for (key, value) in extra { environment["SWITCHYARD_" + key.uppercased()] = value }
        return (["run": String(runID), "generation": generationText], environment)
    }

    func checkGate(_ gate: GateCheck) async -> GateOutcome {
        await offloaded { checkGateNow(gate) }
    }

    private func checkGateNow(_ gate: GateCheck) -> GateOutcome {
        switch gate.check {
        case .tcpConnect(let target, let port):
            guard let port = UInt16(exactly: port) else { return .failed("port \(port) is out of range") }
            let addresses = resolveThroughServer(target)
            guard addresses.isEmpty else {
                // Clients get every one of these addresses from us: each must work.
                for address in addresses where !TCPProbe.check(address, port: port, timeout: 2) {
                    return .failed("\(address) does not accept TCP connections on port \(port)")
                }
                return .passed
            }
            // A hostname outside the served zones: clients resolve it themselves and connect
            // to the first address that works; so does the gate.
            let external = Self.systemAddresses(of: target)
            guard !external.isEmpty else {
                return .failed("\(target) has no address: it is not in the served zones and the system resolver has none")
            }
            if external.contains(where: { TCPProbe.check($0, port: port, timeout: 2) }) { return .passed }
            return .failed("no address of \(target) (\(external.map(\.description).joined(separator: ", "))) accepts TCP connections on port \(port)")
        case .command(let template):
            var extra = ["name": gate.name]
            if let broker = gate.broker { extra["broker"] = String(broker) }
            let (placeholders, environment) = context(generation: control.current?.generation.number, extra)
            let command = Placeholders.fill(template, placeholders)
            let result = HookRunner.run(command, timeout: 30, environment: environment)
            logger.info("gate command", metadata: ["run": "\(runID)", "command": "\(command)", "result": "\(result)"])
            return result.succeeded ? .passed : .failed("\(result): \(result.output.prefix(300))")
        case .kafka(let spec):
            return checkKafkaGate(spec)
        }
    }

    /// An address target as is; a hostname through this server's own answers (never the
    /// system resolver).
    func resolveThroughServer(_ target: String) -> [StableTarget] {
        if let bytes = ListenAddress.addressBytes(target) { return [bytes.count == 4 ? .ipv4(bytes) : .ipv6(bytes)] }
        guard let name = DomainName(target.hasSuffix(".") ? target : target + "."), let server = verifyServers.first else { return [] }
        var found: [StableTarget] = []
        for type in [RRType.a, .aaaa] {
            for record in DNSClient.query(name, type, server: server)?.answers ?? [] {
                if record.type == .a, record.rdata.count == 4 { found.append(.ipv4(record.rdata)) }
                if record.type == .aaaa, record.rdata.count == 16 { found.append(.ipv6(record.rdata)) }
            }
        }
        return found
    }

    /// The addresses getaddrinfo gives for a hostname target outside the served zones.
    static func systemAddresses(of hostname: String) -> [StableTarget] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let name = hostname.hasSuffix(".") ? String(hostname.dropLast()) : hostname
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var found: [StableTarget] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr {
                if current.pointee.ai_family == AF_INET {
                    let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) } }
                    found.append(.ipv4(bytes))
                } else if current.pointee.ai_family == AF_INET6 {
                    let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) } }
                    found.append(.ipv6(bytes))
                }
            }
            entry = current.pointee.ai_next
        }
        var unique: [StableTarget] = []
        for target in found where !unique.contains(target) { unique.append(target) }
        return unique
    }

    func commit(state: ServingState, actor: String, reason: String) async throws -> Generation {
        try await offloaded { try commitNow(state: state, actor: actor, reason: reason) }
    }

    /// A step goes ahead only while the plan fits the inventory being served (a SIGHUP may have
    /// changed the cluster since the plan was made) and nothing else changed its names (a
    /// shift), checked under the commit lock.
    func commit(step index: Int, state: ServingState, actor: String, reason: String) async throws -> Generation {
        try await offloaded { try commitNow(state: state, actor: actor, reason: reason, checkingStep: index) }
    }

    /// Applies the step's setting of the plan's names to the live state, under the commit
    /// lock: a concurrent shift of another name is kept, never reverted.
    private func commitNow(state: ServingState, actor: String, reason: String, checkingStep step: Int? = nil) throws -> Generation {
        try control.commit(actor: actor, reason: reason, fence: fence) { live, inventories in
            if let step {
                try plan.checkStillFits(state, inventories: inventories)
                try plan.checkUntouched(live, before: step)
            }
            var merged = live
            for name in plan.names {
                merged.brokerPools[name] = state.brokerPools[name]
                merged.weights[name] = state.weights[name]
                merged.ttls[name] = state.ttls[name]
                merged.loweredTTLs[name] = state.loweredTTLs[name]
            }
            return merged
        }.generation
    }

    /// Queries every serving address until each expectation holds, or the timeout passes.
    func verify(_ expectations: [AnswerExpectation], timeoutSeconds: UInt32) async -> VerifyOutcome {
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        var problems: [String] = []
        repeat {
            problems = []
            problems = await offloaded {
                verifyServers.flatMap { server in expectations.compactMap { check($0, at: server) } }
            }
            if problems.isEmpty { return .passed }
            try? await Task.sleep(for: .milliseconds(200))
        } while Date() < deadline
        return .failed(problems)
    }

    /// One expectation at one server. A hostname target is answered as a CNAME, chased when
    /// it lies in a served zone, and a weighted pool's hostnames may be answered flattened to
    /// their addresses: so an answer may hold the CNAME, the addresses it leads to, or both.
    private func check(_ expectation: AnswerExpectation, at server: ListenAddress) -> String? {
        guard let name = DomainName(expectation.name) else { return "\(expectation.name) is not a domain name" }
        let type: RRType = expectation.type == .aaaa ? .aaaa : expectation.type == .cname ? .cname : .a
        // Weighted names answer one pool per query: look at several answers.
        let samples = expectation.rule == .subset ? 8 : 1
        let allowed = Set(expectation.allowed.map(canonical))
        let accepted = expectation.rule == .subset ? allowed.union(addresses(of: allowed, type, at: server)) : allowed
        for _ in 0..<samples {
            guard let reply = DNSClient.query(name, type, server: server) else { return "\(server) did not answer \(expectation.name)" }
            guard reply.rcode == 0 else { return "\(server) answered \(expectation.name) with rcode \(reply.rcode)" }
            let got = seen(in: reply.answers, type)
            switch expectation.rule {
            case .exactly where got != allowed:
                return "\(server) answers \(expectation.name) \(expectation.type.rawValue) with \(got.sorted()), expected \(allowed.sorted())"
            case .subset where got.isEmpty || !got.isSubset(of: accepted):
                return "\(server) answers \(expectation.name) \(expectation.type.rawValue) with \(got.sorted()), expected a subset of \(accepted.sorted())"
            default: continue
            }
        }
        return nil
    }

    /// The CNAME targets and the `type` addresses of an answer section, in canonical text.
    private func seen(in answers: [MessageReader.Record], _ type: RRType) -> Set<String> {
        Set(answers.compactMap { record -> String? in
            if record.type == .cname, let target = record.target { return canonical(target.description) }
            return record.type == type ? ListenAddress.addressText(record.rdata) : nil
        })
    }

    /// What the hostnames among `targets` lead to at `server`: the CNAMEs on the way and the
    /// addresses at the end (nothing for a hostname outside the served zones).
    private func addresses(of targets: Set<String>, _ type: RRType, at server: ListenAddress) -> Set<String> {
        guard type != .cname else { return [] }
        var found: Set<String> = []
        for target in targets where ListenAddress.addressBytes(target) == nil {
            guard let name = DomainName(target) else { continue }
            found.formUnion(seen(in: DNSClient.query(name, type, server: server)?.answers ?? [], type))
        }
        return found
    }

    func invalidate(after generation: Generation) async -> [HookOutcome] {
        await offloaded { control.invalidate(after: generation) }.map {
            HookOutcome(hook: $0.command, succeeded: $0.succeeded, detail: $0.succeeded ? "" : "\($0): \($0.output.prefix(300))")
        }
    }

    func drain(_ drain: DrainAction, generation: UInt64?) async -> HookOutcome {
        let (placeholders, environment) = context(generation: generation, [
            "broker": String(drain.broker), "old_target": drain.oldTarget, "new_target": drain.newTarget,
            "name": "broker-\(drain.broker).\(plan.cluster).\(plan.origin)",
        ])
        let command = Placeholders.fill(drain.command, placeholders)
        // A drain stops an endpoint: only the run's owner may. A server frozen past its lease
        // (SIGSTOP, a long GC-like stall) wakes in the middle of its drain wait before its
        // heartbeat notices the lease is gone; meanwhile the server that took over may have
        // rolled the step back, so the "old" target may be the live one again. Not run, the
        // drain fails the step here; the owner's settle of the step drains (or not) itself.
        let refusal = await offloaded { leaseRefusal() }
        if let refusal {
            logger.error("drain not run", metadata: ["run": "\(runID)", "broker": "\(drain.broker)", "command": "\(command)", "reason": "\(refusal)"])
            return HookOutcome(hook: command, succeeded: false, detail: "not run: \(refusal)")
        }
        let timeout = Double(plan.options.drainTimeoutSeconds ?? CutoverOptions.defaultDrainTimeout)
        let result = await offloaded { HookRunner.run(command, timeout: timeout, environment: environment) }
        do {
            _ = try control.journal.recordHook(generation: generation ?? control.current?.generation.number ?? 0, kind: .drain, target: command,
                                               exitCode: result.timedOut ? nil : result.exitCode, output: result.output, attempt: 1, at: Date())
        } catch {
            logger.error("could not journal a drain", metadata: ["run": "\(runID)", "error": "\(error)"])
        }
        let tail = result.output.split(separator: "\n").suffix(5).joined(separator: "\n")
        let metadata: Logger.Metadata = ["run": "\(runID)", "broker": "\(drain.broker)", "command": "\(command)",
                                         "exit": "\(result.timedOut ? "timed out after \(Int(timeout)) s" : String(result.exitCode))",
                                         "seconds": "\(String(format: "%.1f", result.seconds))", "output": "\(tail)"]
        if result.succeeded { logger.info("drain finished", metadata: metadata) } else { logger.error("drain failed", metadata: metadata) }
        return HookOutcome(hook: command, succeeded: result.succeeded, detail: result.succeeded ? "" : "\(result): \(tail.prefix(300))",
                           exitCode: result.timedOut ? nil : result.exitCode, seconds: result.seconds, output: tail)
    }

    func save(_ progress: CutoverProgress) async throws {
        var record = progress
        try control.journal.write { transaction in
            try fence(transaction)
            if leaseOwner != nil, progress.status != .running {
                // The run stops here: a pause asked through another server is honoured (the
                // journal says whose) or moot, and must not stop a later resume.
                if progress.status == .paused, let request = try transaction.pauseRequest(run: runID) {
                    record.message += " (\(request))"
                }
                try transaction.clearPauseRequest(run: runID)
            }
            try transaction.updateRun(id: runID, status: record.status.rawValue, record: record)
        }
        logger.info("cutover progress", metadata: ["run": "\(runID)", "status": "\(record.status.rawValue)",
                                                   "next_step": "\(record.nextStep)", "message": "\(record.message)"])
    }

    func pauseRequested() async -> Bool { pause.isSet }

    private func fence(_ transaction: JournalTransaction) throws {
        guard let leaseOwner else { return }
        do {
            try transaction.requireLease(run: runID, owner: leaseOwner)
        } catch let error as JournalError {
            if case .leaseLost = error { leaseLost.set() }
            throw error
        }
    }

    /// Why this server may not act for the run now (it cannot confirm it holds the lease), or
    /// nil when it may. Without a fleet it always may.
    private func leaseRefusal() -> String? {
        guard leaseOwner != nil else { return nil }
        do {
            try control.journal.write { transaction in try fence(transaction) }
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// Whether a run's writes were refused because another server holds its lease.
final class LeaseLostFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// One spelling per address (inet_ntop's), so `fd00:8::5` and `fd00:8:0::5` compare equal;
/// names lowercase with the trailing dot.
func canonical(_ text: String) -> String {
    if let bytes = ListenAddress.addressBytes(text) { return ListenAddress.addressText(bytes) }
    let lower = text.lowercased()
    return lower.hasSuffix(".") ? lower : lower + "."
}

/// Runs blocking work (sockets, child processes, SQLite) on a Dispatch thread, so a long hook
/// or probe never holds one of the few cooperative threads the admin endpoint answers on.
public func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

public func offloaded<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}
