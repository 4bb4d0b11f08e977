import Foundation
import Logging
import Synchronization
import SwitchyardDiscovery
import SwitchyardControl
import SwitchyardInventory

/// Keeps discovery files in step with what the server serves: publishes after start, after
/// every reload and every generation change, then runs the configured hooks when a file
/// changed. A failed publish (a full or read-only disk) is logged, kept for /healthz and
/// retried in the background (1, 2, 4 … 30 s apart) until it succeeds or a newer publish
/// replaces it; files are never left half-written.
public final class DiscoverySync: Sendable {
    public let outDirectories: [String]
    public let hooks: [String]
    /// Told about the hooks a retry ran, so they are journaled like any other.
    public typealias RetryObserver = @Sendable (_ generation: UInt64?, _ attempt: Int, _ hooks: [HookResult]) -> Void

    private struct Pending: Sendable {
        var inventories: [Inventory]
        var generation: UInt64?
        var attempt: Int
        /// The publish this retries; a newer one makes it moot.
        var sequence: UInt64
    }

    private struct State: Sendable {
        var lastError: String?
        var pending: Pending?
        var retrying = false
        var sequence: UInt64 = 0
    }

    private let logger: Logger
    private let state = Mutex(State())
    /// One publish at a time, so a retry never writes over a newer publish's files.
    private let publishing = Mutex(())
    private let observer = Mutex<RetryObserver?>(nil)
    private let retryDelays: [Double]

    public init(outDirectories: [String], hooks: [String], logger: Logger, retryDelays: [Double] = [1, 2, 4, 8, 15, 30]) {
        self.outDirectories = outDirectories
        self.hooks = hooks
        self.logger = logger
        self.retryDelays = retryDelays.isEmpty ? [30] : retryDelays
    }

    /// The last publish failure, nil after a successful publish.
    public var failure: String? { state.withLock { $0.lastError } }

    public func observeRetries(_ body: @escaping RetryObserver) { observer.withLock { $0 = body } }

    @discardableResult
    public func publish(_ inventories: [Inventory], generation: UInt64?) -> [HookResult] {
        guard !outDirectories.isEmpty else { return [] }
        return publishing.withLock { _ in
            let sequence = state.withLock { state in
                state.sequence += 1
                return state.sequence
            }
            return attempt(Pending(inventories: inventories, generation: generation, attempt: 1, sequence: sequence))
        }
    }

    /// Writes the files (the caller holds `publishing`); on failure leaves `pending` for the
    /// retry thread and makes sure one runs.
    private func attempt(_ job: Pending) -> [HookResult] {
        let report: PublishReport
        do {
            report = try DiscoveryPublisher.publish(inventories: job.inventories, outDirs: outDirectories, generation: job.generation, prune: false)
            state.withLock { $0.lastError = nil; $0.pending = nil }
        } catch {
            let startRetrying = state.withLock { state -> Bool in
                state.lastError = "\(error)"
                state.pending = job
                defer { state.retrying = true }
                return !state.retrying
            }
            logger.error("discovery publish failed; previous files left as they were, retrying in the background",
                         metadata: ["error": "\(error)", "attempt": "\(job.attempt)"])
            if startRetrying { Thread.detachNewThread { [self] in retryUntilDone() } }
            return []
        }
        if job.attempt > 1 { logger.notice("discovery publish succeeded on a retry", metadata: ["attempt": "\(job.attempt)"]) }
        let changed = report.changes.filter(\.isChange)
        guard !changed.isEmpty else { return [] }
        logger.info("discovery files published", metadata: ["files": "\(changed.map(\.path).joined(separator: " "))"])
        let generationText = job.generation.map(String.init) ?? ""
        return hooks.map { template in
            let result = HookRunner.run(Placeholders.fill(template, ["generation": generationText]))
            if result.succeeded {
                logger.info("discovery hook ran", metadata: ["hook": "\(result.command)"])
            } else {
                logger.error("discovery hook failed", metadata: ["hook": "\(result)", "output": "\(result.output.prefix(500))"])
            }
            return result
        }
    }

    private func retryUntilDone() {
        var round = 0
        while true {
            Thread.sleep(forTimeInterval: retryDelays[min(round, retryDelays.count - 1)])
            round += 1
            let (job, results): (Pending?, [HookResult]) = publishing.withLock { _ in
                // Whatever failed last, unless a newer publish has succeeded since.
                guard let job = state.withLock({ state -> Pending? in
                    guard let pending = state.pending, pending.sequence == state.sequence else {
                        state.pending = nil
                        state.retrying = false
                        return nil
                    }
                    return pending
                }) else { return (nil, []) }
                var next = job
                next.attempt += 1
                return (next, attempt(next))
            }
            guard let job else { return }
            if !results.isEmpty { observer.withLock { $0 }?(job.generation, job.attempt, results) }
        }
    }
}
