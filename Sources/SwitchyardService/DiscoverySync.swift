import Logging
import Synchronization
import SwitchyardDiscovery
import SwitchyardControl
import SwitchyardInventory

/// Keeps discovery files in step with what the server serves: publishes after start, after
/// every reload and every generation change, then runs the configured hooks when a file
/// changed. Failures are logged and kept for /healthz; files are never left half-written.
public final class DiscoverySync: Sendable {
    public let outDirectories: [String]
    public let hooks: [String]
    private let logger: Logger
    private let lastError = Mutex<String?>(nil)

    public init(outDirectories: [String], hooks: [String], logger: Logger) {
        self.outDirectories = outDirectories
        self.hooks = hooks
        self.logger = logger
    }

    /// The last publish failure, nil after a successful publish.
    public var failure: String? { lastError.withLock { $0 } }

    @discardableResult
    public func publish(_ inventories: [Inventory], generation: UInt64?) -> [HookResult] {
        guard !outDirectories.isEmpty else { return [] }
        let report: PublishReport
        do {
            report = try DiscoveryPublisher.publish(inventories: inventories, outDirs: outDirectories, generation: generation, prune: false)
            lastError.withLock { $0 = nil }
        } catch {
            lastError.withLock { $0 = "\(error)" }
            logger.error("discovery publish failed; previous files left as they were", metadata: ["error": "\(error)"])
            return []
        }
        let changed = report.changes.filter(\.isChange)
        guard !changed.isEmpty else { return [] }
        logger.info("discovery files published", metadata: ["files": "\(changed.map(\.path).joined(separator: " "))"])
        let generationText = generation.map(String.init) ?? ""
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
}
