import SwitchyardInventory

/// What `switchyard cutover plan|apply <cluster> --to <pool> ...` asks for.
public struct CutoverOptions: Codable, Sendable, Equatable {
    public var cluster: String
    /// The pool brokers move to and bootstrap weight is given to.
    public var toPool: String
    /// Node ids to move; `nil` means every broker not already living in ``toPool``.
    public var brokers: [Int]?
    /// Percentages of bootstrap weight given to ``toPool``, one weight step each: strictly
    /// increasing, 1–100, ending at 100.
    public var ramp: [UInt8]
    /// Brokers moved per step (≥ 1).
    public var batch: Int
    /// The TTL affected names are lowered to for the duration of the cutover.
    public var cutoverTTL: UInt32
    /// How long a JVM keeps a resolved address (`networkaddress.cache.ttl`, 30 s by default
    /// when a security manager is not installed).
    public var jvmCacheSeconds: UInt32
    /// The smallest TTL some resolver in front of the clients honours (0: none known).
    public var resolverFloorSeconds: UInt32
    /// Seconds to stay on each move or ramp step after it is verified, before going on.
    public var dwellSeconds: UInt32
    /// Extra gate commands run before a broker moves; placeholders {broker} {target} {port} {cluster}.
    public var gateCommands: [String]
    /// Run for each moved broker's old target after the step; placeholders {broker}
    /// {old_target} {new_target} {cluster}.
    public var drainCommand: String?
    /// Cache-invalidation hooks, listed in the plan; the server runs them after each step.
    public var invalidationHooks: [String]
    /// How long verification may take per step before the step is rolled back.
    public var verifyTimeoutSeconds: UInt32
    /// Seconds between a step's answers being first served and the drain of its old
    /// targets; `nil`: max(old TTL, JVM cache, resolver floor).
    public var drainAfterSeconds: UInt32?
    /// How long one drain command may run before it is stopped and counts as failed
    /// (`nil`: ``defaultDrainTimeout``).
    public var drainTimeoutSeconds: UInt32?
    public static let defaultDrainTimeout: UInt32 = 300
    /// Kafka gates pass with at most this many under-replicated partitions
    /// (`--max-under-replicated`); offline partitions always fail them.
    public var maxUnderReplicated: Int

    public init(
        cluster: String, toPool: String, brokers: [Int]? = nil, ramp: [UInt8] = [100], batch: Int = 1,
        cutoverTTL: UInt32 = 5, jvmCacheSeconds: UInt32 = 30, resolverFloorSeconds: UInt32 = 0,
        dwellSeconds: UInt32 = 0, gateCommands: [String] = [], drainCommand: String? = nil,
        invalidationHooks: [String] = [], verifyTimeoutSeconds: UInt32 = 30,
        drainAfterSeconds: UInt32? = nil, drainTimeoutSeconds: UInt32? = nil, maxUnderReplicated: Int = 0
    ) {
        self.maxUnderReplicated = maxUnderReplicated
        self.drainAfterSeconds = drainAfterSeconds; self.drainTimeoutSeconds = drainTimeoutSeconds
        self.cluster = cluster; self.toPool = toPool; self.brokers = brokers; self.ramp = ramp; self.batch = batch
        self.cutoverTTL = cutoverTTL; self.jvmCacheSeconds = jvmCacheSeconds
        self.resolverFloorSeconds = resolverFloorSeconds; self.dwellSeconds = dwellSeconds
        self.gateCommands = gateCommands; self.drainCommand = drainCommand
        self.invalidationHooks = invalidationHooks; self.verifyTimeoutSeconds = verifyTimeoutSeconds
    }

    /// Parses `10,50,100` (the `--ramp` option); range and order are checked by the planner.
    public static func parseRamp(_ text: String) throws(ControlError) -> [UInt8] {
        var ramp: [UInt8] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = UInt8(item.trimmingWhitespace) else {
                throw ControlError("'\(item)' in --ramp \(text) is not a percentage", remedy: "write increasing percentages ending at 100, like 10,50,100")
            }
            ramp.append(value)
        }
        return ramp
    }

    /// Parses `1,3` (the `--brokers` option).
    public static func parseBrokers(_ text: String) throws(ControlError) -> [Int] {
        var ids: [Int] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let id = Broker.nodeID(item.trimmingWhitespace) else {
                throw ControlError("'\(item)' in --brokers \(text) is not a broker id", remedy: "list Kafka node ids (0 to 2147483647) like 0,3")
            }
            ids.append(id)
        }
        return ids
    }
}

/// Decoding is written out for its range checks, each naming the field (`ramp[1]`, `batch`);
/// fields other than `cluster` and `toPool` may be left out and take the defaults of
/// ``init(cluster:toPool:brokers:ramp:batch:cutoverTTL:jvmCacheSeconds:resolverFloorSeconds:dwellSeconds:gateCommands:drainCommand:invalidationHooks:verifyTimeoutSeconds:)``.
/// A new field needs a key here and a line in `init(from:)`; any other key is an error.
extension CutoverOptions {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case cluster, toPool, brokers, ramp, batch, cutoverTTL, jvmCacheSeconds, resolverFloorSeconds,
             dwellSeconds, gateCommands, drainCommand, invalidationHooks, verifyTimeoutSeconds, drainAfterSeconds, drainTimeoutSeconds, maxUnderReplicated
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        let seconds: ClosedRange<Int64> = 0...Int64(Shifts.maxTTL)
        let ids: ClosedRange<Int64> = Int64(Broker.nodeIDs.lowerBound)...Int64(Broker.nodeIDs.upperBound)
        self.init(cluster: try fields.decode(String.self, forKey: .cluster), toPool: try fields.decode(String.self, forKey: .toPool))
        if try fields.contains(.brokers) && !fields.decodeNil(forKey: .brokers) {
            brokers = try fields.decodeWholeNumbers(Int.self, forKey: .brokers, in: ids, what: "broker id")
        }
        if fields.contains(.ramp) {
            ramp = try fields.decodeWholeNumbers(UInt8.self, forKey: .ramp, in: 1...100, what: "ramp percentage")
        }
        batch = try fields.decodeWholeNumberIfPresent(Int.self, forKey: .batch, in: 1...Int64(Int32.max), what: "batch (brokers per step)") ?? batch
        cutoverTTL = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .cutoverTTL, in: seconds, what: "cutover TTL") ?? cutoverTTL
        jvmCacheSeconds = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .jvmCacheSeconds, in: seconds, what: "JVM cache seconds")
            ?? jvmCacheSeconds
        resolverFloorSeconds = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .resolverFloorSeconds, in: seconds, what: "resolver floor seconds")
            ?? resolverFloorSeconds
        dwellSeconds = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .dwellSeconds, in: seconds, what: "dwell seconds") ?? dwellSeconds
        gateCommands = try fields.decodeIfPresent([String].self, forKey: .gateCommands) ?? gateCommands
        drainCommand = try fields.decodeIfPresent(String.self, forKey: .drainCommand)
        invalidationHooks = try fields.decodeIfPresent([String].self, forKey: .invalidationHooks) ?? invalidationHooks
        verifyTimeoutSeconds = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .verifyTimeoutSeconds, in: 1...Int64(Shifts.maxTTL),
                                                                     what: "verify timeout seconds") ?? verifyTimeoutSeconds
        drainAfterSeconds = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .drainAfterSeconds, in: seconds, what: "drain-after seconds")
        drainTimeoutSeconds = try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .drainTimeoutSeconds, in: 1...Int64(Shifts.maxTTL),
                                                                    what: "drain timeout seconds")
        maxUnderReplicated = try fields.decodeWholeNumberIfPresent(Int.self, forKey: .maxUnderReplicated, in: 0...Int64(Int32.max),
                                                                   what: "max under-replicated partitions") ?? maxUnderReplicated
    }
}
