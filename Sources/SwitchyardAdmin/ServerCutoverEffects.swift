import Foundation
import Logging
import SwitchyardControl
import SwitchyardCore
import SwitchyardJournal
import SwitchyardServer

/// The real effects of a cutover run: wall-clock sleeps, TCP and command gates, journaled
/// generations served by this process, DNS verification against the serving addresses,
/// cache invalidation and drain commands.
struct ServerCutoverEffects: CutoverEffects {
    let runID: Int64
    /// The names the plan manages; a step's commit touches only these.
    let names: [String]
    let control: ControlService
    let verifyServers: [ListenAddress]
    let pause: PauseFlag
    let logger: Logger

    func sleep(seconds: UInt32) async throws {
        try await Task.sleep(for: .seconds(Int(seconds)))
    }

    func checkGate(_ gate: GateCheck) async -> GateOutcome {
        await offloaded { checkGateNow(gate) }
    }

    private func checkGateNow(_ gate: GateCheck) -> GateOutcome {
        switch gate.check {
        case .tcpConnect(let target, let port):
            guard let port = UInt16(exactly: port) else { return .failed("port \(port) is out of range") }
            let addresses = resolve(target)
            guard !addresses.isEmpty else { return .failed("\(target) has no address in the served zones") }
            for address in addresses where !TCPProbe.check(address, port: port, timeout: 2) {
                return .failed("\(address) does not accept TCP connections on port \(port)")
            }
            return .passed
        case .command(let command):
            let result = HookRunner.run(command, timeout: 30)
            return result.succeeded ? .passed : .failed("\(result): \(result.output.prefix(300))")
        }
    }

    /// An address target as is; a hostname through this server's own answers (never the
    /// system resolver).
    private func resolve(_ target: String) -> [StableTarget] {
        if let bytes = addressBytes(target) { return [bytes.count == 4 ? .ipv4(bytes) : .ipv6(bytes)] }
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

    func commit(state: ServingState, actor: String, reason: String) async throws -> Generation {
        try await offloaded { try commitNow(state: state, actor: actor, reason: reason) }
    }

    private func commitNow(state: ServingState, actor: String, reason: String) throws -> Generation {
        try control.commit(actor: actor, reason: reason) { live in
            var merged = live
            for name in names {
                merged.brokerPools[name] = state.brokerPools[name]
                merged.weights[name] = state.weights[name]
                merged.ttls[name] = state.ttls[name]
            }
            return merged
        }
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

    private func check(_ expectation: AnswerExpectation, at server: ListenAddress) -> String? {
        guard let name = DomainName(expectation.name) else { return "\(expectation.name) is not a domain name" }
        let type: RRType = expectation.type == .aaaa ? .aaaa : expectation.type == .cname ? .cname : .a
        // Weighted names answer one pool per query: look at several answers.
        let samples = expectation.rule == .subset ? 8 : 1
        let allowed = Set(expectation.allowed.map(canonical))
        for _ in 0..<samples {
            guard let reply = DNSClient.query(name, type, server: server) else { return "\(server) did not answer \(expectation.name)" }
            guard reply.rcode == 0 else { return "\(server) answered \(expectation.name) with rcode \(reply.rcode)" }
            let got = Set(reply.answers.filter { $0.type == type && $0.owner == name }.map { record -> String in
                if let target = record.target { return target.description.lowercased() }
                return addressText(record.rdata)
            })
            switch expectation.rule {
            case .exactly where got != allowed:
                return "\(server) answers \(expectation.name) \(expectation.type.rawValue) with \(got.sorted()), expected \(allowed.sorted())"
            case .subset where got.isEmpty || !got.isSubset(of: allowed):
                return "\(server) answers \(expectation.name) \(expectation.type.rawValue) with \(got.sorted()), expected a subset of \(allowed.sorted())"
            default: continue
            }
        }
        return nil
    }

    func invalidate(after generation: Generation) async -> [HookOutcome] {
        await offloaded { control.invalidate(after: generation) }.map {
            HookOutcome(hook: $0.command, succeeded: $0.succeeded, detail: $0.succeeded ? "" : "\($0): \($0.output.prefix(300))")
        }
    }

    func drain(_ drain: DrainAction) async -> HookOutcome {
        let result = await offloaded { HookRunner.run(drain.command, timeout: 300) }
        _ = try? control.journal.recordHook(generation: control.current?.generation.number ?? 0, kind: .drain, target: drain.command,
                                            exitCode: result.timedOut ? nil : result.exitCode, output: result.output, attempt: 1, at: Date())
        return HookOutcome(hook: drain.command, succeeded: result.succeeded, detail: result.succeeded ? "" : "\(result): \(result.output.prefix(300))")
    }

    func save(_ progress: CutoverProgress) async throws {
        try control.journal.updateRun(id: runID, status: progress.status.rawValue, record: progress)
        logger.info("cutover progress", metadata: ["run": "\(runID)", "status": "\(progress.status.rawValue)",
                                                   "next_step": "\(progress.nextStep)", "message": "\(progress.message)"])
    }

    func pauseRequested() async -> Bool { pause.isSet }
}

/// One spelling per address (inet_ntop's), so `fd00:8::5` and `fd00:8:0::5` compare equal;
/// names lowercase with the trailing dot.
func canonical(_ text: String) -> String {
    if let bytes = addressBytes(text) { return addressText(bytes) }
    let lower = text.lowercased()
    return lower.hasSuffix(".") ? lower : lower + "."
}

/// The 4 or 16 bytes of an IPv4 or IPv6 address in text, or nil for anything else.
func addressBytes(_ text: String) -> [UInt8]? {
    var storage = [UInt8](repeating: 0, count: 16)
    for (family, size) in [(AF_INET, 4), (AF_INET6, 16)] {
        let ok = storage.withUnsafeMutableBytes { bytes in text.withCString { inet_pton(family, $0, bytes.baseAddress) } }
        if ok == 1 { return Array(storage.prefix(size)) }
    }
    return nil
}

func addressText(_ bytes: [UInt8]) -> String {
    var text = [CChar](repeating: 0, count: 64)
    let family = bytes.count == 16 ? AF_INET6 : AF_INET
    let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) }
    return ok == nil ? bytes.map(String.init).joined(separator: ".")
        : String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs blocking work (sockets, child processes, SQLite) on a Dispatch thread, so a long hook
/// or probe never holds one of the few cooperative threads the admin endpoint answers on.
func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

func offloaded<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}
