import Foundation

/// Request and response bodies of the admin HTTP API (JSON), shared by the server and
/// the CLI. Dates are ISO 8601.
public enum AdminAPI {
    public struct ShiftBody: Codable, Sendable {
        public var request: ShiftRequest
        public var actor: String
        public var reason: String
        /// When set, the shift is applied only if this is still the live generation (else 409).
        public var expectedGeneration: UInt64?
        public init(request: ShiftRequest, actor: String, reason: String, expectedGeneration: UInt64? = nil) {
            self.request = request; self.actor = actor; self.reason = reason; self.expectedGeneration = expectedGeneration
        }
    }

    public struct GenerationReply: Codable, Sendable {
        public var generation: Generation
        public var invalidation: [HookOutcome]
        /// `false` when the request asked for the state already served: nothing was committed
        /// and ``generation`` is the live one.
        public var changed: Bool?
        /// What the change did not fix and the operator should know (a fleet member serving
        /// other zone data, so it may answer the changed names differently); absent when none.
        public var warnings: [String]?
        public init(generation: Generation, invalidation: [HookOutcome], changed: Bool = true, warnings: [String]? = nil) {
            self.generation = generation; self.invalidation = invalidation; self.changed = changed; self.warnings = warnings
        }
    }

    /// A name whose TTL a cutover or rollback lowered and has not restored yet.
    public struct LoweredTTL: Codable, Sendable, Equatable {
        public var name: String
        public var ttl: UInt32
        /// The run that lowered it, when the journal still says.
        public var run: Int64?
        public init(name: String, ttl: UInt32, run: Int64?) { self.name = name; self.ttl = ttl; self.run = run }
    }

    /// One generation of `switchyard history`, with the run it belongs to and the drain
    /// commands run for it.
    public struct HistoryEntry: Codable, Sendable {
        public var generation: Generation
        /// The cutover or rollback run that committed it (from its actor `cutover:N`).
        public var run: Int64?
        public var drains: [DrainRecord]
        public init(generation: Generation, run: Int64?, drains: [DrainRecord]) {
            self.generation = generation; self.run = run; self.drains = drains
        }

        /// The run id in an actor such as `cutover:7`.
        public static func run(of actor: String) -> Int64? {
            actor.hasPrefix("cutover:") ? Int64(actor.dropFirst("cutover:".count)) : nil
        }
    }

    public struct TargetStatus: Codable, Sendable {
        public var target: String
        /// nil when the target is not health-checked.
        public var healthy: Bool?
        public init(target: String, healthy: Bool?) { self.target = target; self.healthy = healthy }
    }

    public struct PoolStatus: Codable, Sendable {
        public var name: String
        public var weight: UInt8
        public var targets: [TargetStatus]
        public init(name: String, weight: UInt8, targets: [TargetStatus]) {
            self.name = name; self.weight = weight; self.targets = targets
        }
    }

    public struct NameStatus: Codable, Sendable {
        public var name: String
        /// "broker" (exclusive) or "weighted".
        public var kind: String
        public var ttl: UInt32
        public var selection: String
        public var pools: [PoolStatus]
        public init(name: String, kind: String, ttl: UInt32, selection: String, pools: [PoolStatus]) {
            self.name = name; self.kind = kind; self.ttl = ttl; self.selection = selection; self.pools = pools
        }
    }

    public struct RunStatus: Codable, Sendable {
        public var id: Int64
        public var cluster: String
        public var status: String
        /// Whether this server process is executing it right now.
        public var active: Bool
        public var progress: CutoverProgress?
        /// The cluster's names whose TTL is still lowered, and by which run.
        public var loweredTTLs: [LoweredTTL]?
        /// What Kafka gates last saw at the run's gate targets.
        public var kafka: [KafkaSighting]?
        /// In a fleet: the server whose live lease runs it (this one or another); absent when
        /// nobody holds one, and with a state directory.
        public var runningOn: String?
        /// In a fleet: a pause asked through another server that the run's server has not
        /// reached a step boundary for yet.
        public var pauseRequest: PauseRequest?
        /// What a request did, in words (a pause's reply says whom it was asked of).
        public var message: String?
        /// The reply to starting a run: what its plan does less safely than it would without
        /// the request's overrides (``CutoverPlan/warnings``); absent when none.
        public var warnings: [String]?
        public init(id: Int64, cluster: String, status: String, active: Bool, progress: CutoverProgress?, loweredTTLs: [LoweredTTL]? = nil,
                    kafka: [KafkaSighting]? = nil, runningOn: String? = nil, pauseRequest: PauseRequest? = nil, message: String? = nil,
                    warnings: [String]? = nil) {
            self.id = id; self.cluster = cluster; self.status = status; self.active = active; self.progress = progress
            self.loweredTTLs = loweredTTLs; self.kafka = kafka
            self.runningOn = runningOn; self.pauseRequest = pauseRequest; self.message = message
            self.warnings = warnings
        }
    }

    /// `POST /v1/runs/CLUSTER/pause`; the body may be empty.
    public struct PauseBody: Codable, Sendable {
        /// Who asks (`cli:alice`), kept with a pause requested of another server of the fleet.
        public var actor: String?
        public init(actor: String? = nil) { self.actor = actor }
    }

    public struct StatusReply: Codable, Sendable {
        public var generation: Generation
        public var names: [NameStatus]
        public var runs: [RunStatus]
        public var discoveryError: String?
        public var failedHooks: Int
        /// What Kafka gates last saw at each target since the server started.
        public var kafka: [KafkaSighting]?
        /// Zone transfers and NOTIFY; absent from servers that predate them.
        public var secondaries: SecondariesStatus?
        /// The fleet sharing this server's PostgreSQL journal; absent with a state directory.
        public var fleet: FleetStatus?
        public init(generation: Generation, names: [NameStatus], runs: [RunStatus], discoveryError: String?, failedHooks: Int,
                    kafka: [KafkaSighting]? = nil, secondaries: SecondariesStatus? = nil, fleet: FleetStatus? = nil) {
            self.generation = generation; self.names = names; self.runs = runs
            self.discoveryError = discoveryError; self.failedHooks = failedHooks; self.kafka = kafka; self.secondaries = secondaries
            self.fleet = fleet
        }
    }

    /// This server's view of its fleet.
    public struct FleetStatus: Codable, Sendable {
        /// This server's name.
        public var member: String
        /// Connected to the journal and caught up with it.
        public var following: Bool
        public var problem: String?
        public var members: [FleetMemberStatus]
        /// The zone data and inventories this server serves (absent from servers before them).
        public var data: ServedData?
        public init(member: String, following: Bool, problem: String?, members: [FleetMemberStatus], data: ServedData? = nil) {
            self.member = member; self.following = following; self.problem = problem; self.members = members
            self.data = data
        }
    }

    public struct FleetMemberStatus: Codable, Sendable {
        public var name: String
        public var dns: [String]
        public var generation: UInt64
        /// Seconds since its last heartbeat.
        public var silentFor: Double
        /// Recent enough to be verified against.
        public var live: Bool
        /// The zone data and inventories it serves, as its last heartbeat said (absent when it
        /// did not: a switchyard from before).
        public var data: ServedData?
        /// A live member's differences from this server's data, one per zone file or inventory
        /// (empty: the same); absent when they cannot be compared (silent, this server, or no data).
        public var differences: [String]?
        public init(name: String, dns: [String], generation: UInt64, silentFor: Double, live: Bool, data: ServedData? = nil,
                    differences: [String]? = nil) {
            self.name = name; self.dns = dns; self.generation = generation; self.silentFor = silentFor; self.live = live
            self.data = data; self.differences = differences
        }
    }

    /// What a Kafka gate last read at one target: the node id, its advertised listener and the
    /// cluster id, and when; or why it could not read them.
    public struct KafkaSighting: Codable, Sendable, Equatable, CustomStringConvertible {
        public var cluster: String
        /// `host:port` the metadata was read from.
        public var target: String
        public var nodeID: Int?
        public var advertised: String?
        public var clusterID: String?
        public var at: Date
        /// Why the metadata could not be read, when it could not.
        public var error: String?
        public init(cluster: String, target: String, nodeID: Int?, advertised: String?, clusterID: String?, at: Date, error: String? = nil) {
            self.cluster = cluster; self.target = target; self.nodeID = nodeID; self.advertised = advertised
            self.clusterID = clusterID; self.at = at; self.error = error
        }

        public var description: String {
            let when = ISO8601DateFormatter().string(from: at)
            if let error { return "\(target) (\(cluster)): unreadable at \(when): \(error)" }
            return "\(target) (\(cluster)): node \(nodeID.map(String.init) ?? "?") advertising \(advertised ?? "?"), cluster id \(clusterID ?? "?"), seen \(when)"
        }
    }

    /// What secondaries did since the server started.
    public struct SecondariesStatus: Codable, Sendable, Equatable {
        public var axfr: Int
        public var ixfrIncremental: Int
        public var ixfrFull: Int
        public var ixfrUpToDate: Int
        public var refused: Int
        public var notifySent: Int
        public var notifyAcknowledged: Int
        /// Client address → the serial it last asked IXFR from (or got by AXFR).
        public var serials: [String: UInt32]
        public init(axfr: Int, ixfrIncremental: Int, ixfrFull: Int, ixfrUpToDate: Int, refused: Int,
                    notifySent: Int, notifyAcknowledged: Int, serials: [String: UInt32]) {
            self.axfr = axfr; self.ixfrIncremental = ixfrIncremental; self.ixfrFull = ixfrFull; self.ixfrUpToDate = ixfrUpToDate
            self.refused = refused; self.notifySent = notifySent; self.notifyAcknowledged = notifyAcknowledged; self.serials = serials
        }
    }

    public struct PlanReply: Codable, Sendable {
        public var plan: CutoverPlan
        public var text: String
        /// What Kafka gates last saw at the plan's gate targets.
        public var kafka: [KafkaSighting]?
        /// What the plan does less safely than it would without the request's overrides (the
        /// plan's ``CutoverPlan/warnings``), as ``GenerationReply/warnings``; absent when none.
        public var warnings: [String]?
        public init(plan: CutoverPlan, kafka: [KafkaSighting] = []) {
            self.plan = plan
            self.kafka = kafka.isEmpty ? nil : kafka
            self.warnings = plan.warnings
            self.text = plan.render() + (kafka.isEmpty ? "" : "\nKafka last seen at the gates' targets:\n" + kafka.map { "  - \($0)\n" }.joined())
        }
    }

    /// `rollback <cluster> [--run N | --to-generation N | --steps K]`: with no selector, the
    /// state before the cluster's last cutover run; `run`: before that run; `toGeneration`:
    /// generation N's state; `steps`: the state before the cluster's last K generations.
    public struct RollbackBody: Codable, Sendable {
        public var cluster: String
        public var run: Int64?
        public var toGeneration: UInt64?
        public var steps: Int?
        public var options: CutoverOptions?
        public init(cluster: String, run: Int64? = nil, toGeneration: UInt64?, steps: Int?, options: CutoverOptions?) {
            self.cluster = cluster; self.run = run; self.toGeneration = toGeneration; self.steps = steps; self.options = options
        }
    }

    /// Starts a run: a cutover (`options`) or a rollback (`rollback`).
    public struct RunBody: Codable, Sendable {
        public var options: CutoverOptions?
        public var rollback: RollbackBody?
        public init(options: CutoverOptions? = nil, rollback: RollbackBody? = nil) {
            self.options = options; self.rollback = rollback
        }
    }

    public struct ClusterBody: Codable, Sendable {
        public var cluster: String
        public init(cluster: String) { self.cluster = cluster }
    }

    public struct ErrorReply: Codable, Sendable {
        public var error: String
        /// The request field the error is about, as its JSON path (`options.ramp[0]`), when
        /// it is about one; ``error`` then starts with it. The CLI names its own flag instead.
        public var field: String?
        public init(error: String, field: String? = nil) { self.error = error; self.field = field }
    }

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        // Paths and URLs in messages read as written ("/v1/status", not "\/v1\/status").
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// For replies: keys a newer server adds are skipped.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// For request bodies: a key the API does not know is an error (a typo must not fall
    /// back to a default).
    public static func requestDecoder() -> JSONDecoder {
        let decoder = self.decoder()
        decoder.userInfo[.rejectsUnknownKeys] = true
        return decoder
    }
}

// Decoding of the request bodies with range checks, so a bad value gets a message naming its
// field (see ``RequestError``). A new field needs a key and a line here too; any other key
// is an error.

extension AdminAPI.ShiftBody {
    enum CodingKeys: String, CodingKey, CaseIterable { case request, actor, reason, expectedGeneration }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.init(request: try fields.decode(ShiftRequest.self, forKey: .request),
                  actor: try fields.decode(String.self, forKey: .actor),
                  reason: try fields.decode(String.self, forKey: .reason),
                  expectedGeneration: try fields.decodeIfPresent(UInt64.self, forKey: .expectedGeneration))
    }
}

extension AdminAPI.PauseBody {
    enum CodingKeys: String, CodingKey, CaseIterable { case actor }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        self.init(actor: try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .actor))
    }
}

extension AdminAPI.ClusterBody {
    enum CodingKeys: String, CodingKey, CaseIterable { case cluster }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        self.init(cluster: try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .cluster))
    }
}

extension AdminAPI.RollbackBody {
    enum CodingKeys: String, CodingKey, CaseIterable { case cluster, run, toGeneration, steps, options }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            cluster: try fields.decode(String.self, forKey: .cluster),
            // `what` is said in words, not as the field's name: the CLI puts its flag before it.
            run: try fields.decodeWholeNumberIfPresent(Int64.self, forKey: .run, in: 1...(1 << 53), what: "a run id"),
            toGeneration: try fields.decodeWholeNumberIfPresent(UInt64.self, forKey: .toGeneration, in: 1...(1 << 53), what: "a generation number"),
            steps: try fields.decodeWholeNumberIfPresent(Int.self, forKey: .steps, in: 1...Int64(Int32.max), what: "the number of generations to undo"),
            options: try fields.decodeIfPresent(CutoverOptions.self, forKey: .options))
        if [run != nil, toGeneration != nil, steps != nil].filter({ $0 }).count > 1 {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "give at most one of run, toGeneration and steps"))
        }
    }
}

extension AdminAPI.RunBody {
    enum CodingKeys: String, CodingKey, CaseIterable { case options, rollback }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.init(options: try fields.decodeIfPresent(CutoverOptions.self, forKey: .options),
                  rollback: try fields.decodeIfPresent(AdminAPI.RollbackBody.self, forKey: .rollback))
        guard (options == nil) != (rollback == nil) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "expected an object with one of the keys options (a cutover) or rollback, not \(options == nil ? "neither" : "both")"))
        }
    }
}
