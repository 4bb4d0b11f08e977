import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardInventory
import SwitchyardJournal
import SwitchyardServer
import SwitchyardService
import SwitchyardTransfer

/// The admin HTTP endpoint: the control API the CLI uses, `/metrics` and `/healthz`.
/// Every request but `GET /healthz` needs `Authorization: Bearer <token>`.
public final class AdminServer: Sendable {
    private let server: Server
    private let control: ControlService
    private let cutovers: CutoverService
    private let token: String
    private let address: ListenAddress
    private let logger: Logger
    private let metrics: AdminMetrics
    private let fleet: Fleet?
    private let running = Mutex<(group: ServiceGroup, task: Task<Void, Never>)?>(nil)

    public init(server: Server, control: ControlService, address: ListenAddress, token: String, verifyServers: [ListenAddress],
                fleet: Fleet? = nil, logger: Logger) {
        self.server = server
        self.fleet = fleet
        self.control = control
        self.address = address
        self.token = token
        self.logger = logger
        self.cutovers = CutoverService(control: control, verifyServers: verifyServers, logger: logger)
        self.metrics = AdminMetrics()
        if let fleet { cutovers.join(fleet) }
    }

    /// Starts listening; throws when the address cannot be bound.
    public func start() throws {
        let router = Router()
        router.add(middleware: BearerAuthentication(token: token))
        router.add(middleware: UnknownEndpoint())
        router.add(middleware: RequestBodyLimit())
        routes(router)
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: Int(address.port)), serverName: "switchyard"),
            onServerRunning: { _ in ready.signal() },
            logger: logger)
        // A ServiceGroup without signals of its own (the server handles them): `stop` asks it
        // for a graceful shutdown, which lets the HTTP server finish its connections. Cancelling
        // the task instead makes Hummingbird log "Waiting on child channel: CancellationError()".
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            do { try await group.run() } catch {
                failure.withLock { $0 = "\(error)" }
                ready.signal()
            }
        }
        running.withLock { $0 = (group, task) }
        _ = ready.wait(timeout: .now() + 10)
        if let error = failure.withLock({ $0 }) {
            throw ControlError("the admin endpoint cannot listen on \(address): \(error)", remedy: "pick another --admin address")
        }
        logger.info("admin endpoint listening", metadata: ["admin": "\(address)"])
    }

    /// Shuts the endpoint down gracefully and waits (up to `timeout` seconds) until it has;
    /// after that it is cancelled.
    public func stop(timeout: Double = 5) {
        guard let (group, task) = running.withLock({ $0.take() }) else { return }
        let stopped = DispatchSemaphore(value: 0)
        Task {
            await group.triggerGracefulShutdown()
            await task.value
            stopped.signal()
        }
        if stopped.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("the admin endpoint did not stop within \(timeout) s; cancelling it")
            task.cancel()
        }
    }

    // MARK: Routes

    /// Every route below, for the 404 of a request that matches none.
    static let endpoints = [
        "GET /healthz", "GET /metrics", "GET /v1/status", "GET /v1/history", "POST /v1/shift",
        "POST /v1/cutover/plan", "POST /v1/rollback/plan", "POST /v1/runs", "GET /v1/runs/CLUSTER",
        "POST /v1/runs/CLUSTER/pause", "POST /v1/runs/CLUSTER/resume",
    ]

    private func routes(_ router: Router<BasicRequestContext>) {
        router.get("/healthz") { [server, control, fleet] _, _ -> Response in
            let journal = await offloaded { control.journalHealth }
            let reload = server.reloadStatus
            var problems: [String] = []
            if !journal.writable { problems.append("journal not writable: \(journal.lastError ?? "unknown error")") }
            if let failure = reload.lastFailure { problems.append("last reload rejected, previous data still serving: \(failure)") }
            if let failure = control.discoveryFailure { problems.append("discovery publish failed: \(failure)") }
            if let localCopy = control.servingLocalCopy { problems.append(localCopy) }
            var body: [String: String] = [
                "generation": control.current.map { String($0.generation.number) } ?? "",
                "failed_hooks": String(control.failedHookCount),
                "journal": control.journal.kind,
                "journal_writable": String(journal.writable),
                "journal_write_errors": String(journal.writeErrors),
                "reload_failures": String(reload.failures),
            ]
            if let fleet {
                // Degraded until connected and caught up with the journal: DNS answers go on
                // from the last generation meanwhile, but changes are refused.
                let health = fleet.health
                if let problem = health.problem { problems.append(problem) }
                // Degraded, like the other fleet problems: the NS set answers differently by
                // server (this one may be the right one; the status code stays 200 either way).
                if !health.diverging.isEmpty {
                    problems.append("fleet members serve other zone data or inventories than this server: "
                                    + health.diverging.map(\.description).joined(separator: "; "))
                }
                body["fleet_member"] = fleet.settings.name
                body["following"] = String(health.following)
                body["fleet_diverging"] = health.diverging.map(\.member).joined(separator: ",")
                body["served_data"] = control.servedData?.digest ?? ""
            }
            body["status"] = problems.isEmpty ? "ok" : "degraded"
            body["problems"] = problems.joined(separator: "; ")
            return try json(body, status: control.current == nil ? .serviceUnavailable : .ok)
        }
        router.get("/metrics") { [server, control, metrics, cutovers, fleet] _, _ -> Response in
            let journal = await offloaded { control.journalHealth }
            let text = metrics.render(server: server, control: control, journal: journal, runs: (try? cutovers.recentRunActivity()) ?? [], fleet: fleet)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/v1/status") { [server, control, cutovers, fleet] _, _ -> Response in
            try handle { try json(status(server: server, control: control, runs: cutovers.recentRuns(), kafka: cutovers.kafkaSightings.list(), fleet: fleet)) }
        }
        router.get("/v1/history") { [cutovers] request, _ -> Response in
            try handle {
                // A limit that is not a whole number from 1 was ignored (`abc`: 50 entries) or
                // answered with nothing (`-5`); say so instead.
                var limit = 50
                if let text = request.uri.queryParameters.get("limit") {
                    guard let number = Int(String(text)), (1...100_000).contains(number) else {
                        throw RequestError("limit: must be a whole number from 1 to 100000, not '\(text)'", field: "limit")
                    }
                    limit = number
                }
                return try json(cutovers.history(limit: limit, cluster: request.uri.queryParameters.get("cluster").map { String($0) }))
            }
        }
        router.post("/v1/shift") { [control, fleet] request, context -> Response in
            try await handleAsync {
                let body = try await decodeBody(request, as: AdminAPI.ShiftBody.self)
                // The shift is applied to the live state under the commit lock: a concurrent
                // cutover step or shift is never reverted.
                let commit = try await offloaded {
                    try control.commit(actor: body.actor, reason: body.reason, expecting: body.expectedGeneration) { state, inventories in
                        try Shifts.apply(body.request, to: state, inventories: inventories)
                    }
                }
                guard commit.changed else {
                    return try json(AdminAPI.GenerationReply(generation: commit.generation, invalidation: [], changed: false))
                }
                let hooks = await offloaded { control.invalidate(after: commit.generation) }.map {
                    HookOutcome(hook: $0.command, succeeded: $0.succeeded, detail: $0.succeeded ? "" : "\($0)")
                }
                // A shift is not refused while members differ (it is the lever for an incident,
                // see CutoverService.refuseWhileFleetDiverges), but the operator is told: as of
                // the last heartbeat, without asking the database again.
                let diverging = fleet?.health.diverging ?? []
                let warnings = diverging.isEmpty ? nil : [
                    "live fleet members serve other zone data or inventories than this server and may answer these names differently: "
                        + diverging.map(\.description).joined(separator: "; ") + "; `switchyard status` shows each member's data",
                ]
                return try json(AdminAPI.GenerationReply(generation: commit.generation, invalidation: hooks, warnings: warnings))
            }
        }
        router.post("/v1/cutover/plan") { [cutovers] request, context -> Response in
            try await handleAsync {
                let options = try await decodeBody(request, as: CutoverOptions.self)
                let plan = try cutovers.plan(options)
                return try json(AdminAPI.PlanReply(plan: plan, kafka: cutovers.kafkaSightings.list(plan.kafkaTargets)))
            }
        }
        router.post("/v1/rollback/plan") { [cutovers] request, context -> Response in
            try await handleAsync {
                let body = try await decodeBody(request, as: AdminAPI.RollbackBody.self)
                let plan = try cutovers.rollbackPlan(body)
                return try json(AdminAPI.PlanReply(plan: plan, kafka: cutovers.kafkaSightings.list(plan.kafkaTargets)))
            }
        }
        router.post("/v1/runs") { [cutovers] request, context -> Response in
            try await handleAsync {
                let body = try await decodeBody(request, as: AdminAPI.RunBody.self)
                return try json(cutovers.start(body), status: .accepted)
            }
        }
        router.get("/v1/runs/:cluster") { [cutovers] _, context -> Response in
            try handle {
                let cluster = try context.parameters.require("cluster")
                guard let status = try cutovers.status(cluster: cluster) else {
                    throw ControlNotFound("cluster \(cluster) has no cutover runs", remedy: "start one with `switchyard cutover apply`")
                }
                return try json(status)
            }
        }
        // 200 when this server runs the run (or marked it paused); 202 when another server of
        // the fleet runs it and was asked through the journal.
        router.post("/v1/runs/:cluster/pause") { [cutovers] request, context -> Response in
            try await handleAsync {
                let cluster = try context.parameters.require("cluster")
                let body = try await decodeOptionalBody(request, as: AdminAPI.PauseBody.self)
                let reply = try await offloaded { try cutovers.pause(cluster: cluster, actor: body?.actor) }
                return try json(reply.status, status: reply.requestedElsewhere ? .accepted : .ok)
            }
        }
        router.post("/v1/runs/:cluster/resume") { [cutovers] _, context -> Response in
            try await handleAsync {
                let cluster = try context.parameters.require("cluster")
                let resumed = try await offloaded { try cutovers.resume(cluster: cluster) }
                return try json(resumed, status: .accepted)
            }
        }
    }
}

/// The state of every stable name as served now.
func status(server: Server, control: ControlService, runs: [AdminAPI.RunStatus], kafka: [AdminAPI.KafkaSighting],
            fleet: Fleet? = nil) throws -> AdminAPI.StatusReply {
    guard let current = control.current else { throw ControlServiceError.notReady }
    let snapshot = server.servingSnapshot
    let down = snapshot.down
    let checked = server.checkedTargets
    let names = snapshot.stableNames.map { spec in
        AdminAPI.NameStatus(
            name: spec.name.description, kind: spec.kind == .exclusive ? "broker" : "weighted", ttl: spec.ttl,
            selection: spec.selection == .hashed ? "hashed" : "random",
            pools: spec.pools.map { pool in
                AdminAPI.PoolStatus(name: pool.name, weight: pool.weight, targets: pool.targets.map { target in
                    let key = spec.healthPort.map { HealthKey(target: target, port: $0) }
                    let healthy: Bool? = key.flatMap { checked.contains($0) ? !down.contains($0) : nil }
                    return AdminAPI.TargetStatus(target: target.description, healthy: healthy)
                })
            })
    }
    let transfers = server.transferStatistics ?? TransferStatistics()
    let notify = control.notifyCounts
    let secondaries = AdminAPI.SecondariesStatus(
        axfr: transfers.axfr, ixfrIncremental: transfers.ixfrIncremental, ixfrFull: transfers.ixfrFull,
        ixfrUpToDate: transfers.ixfrUpToDate, refused: transfers.refused, notifySent: notify.sent,
        notifyAcknowledged: notify.acknowledged, serials: transfers.secondarySerials)
    let fleetStatus = fleet.map { fleet in
        let health = fleet.health
        let own = control.servedData
        let members = ((try? fleet.postgres.members()) ?? []).map { member in
            let live = member.silentFor <= fleet.settings.memberTimeout
            // Only a live member's data matters: a silent one is verified against by no step.
            let differences = live && member.name != fleet.settings.name
                ? own.flatMap { own in member.servedData.map { own.differences(from: $0) } } : nil
            return AdminAPI.FleetMemberStatus(name: member.name, dns: member.dnsAddresses, generation: member.generation,
                                              silentFor: member.silentFor, live: live, data: member.servedData,
                                              differences: differences)
        }
        return AdminAPI.FleetStatus(member: fleet.settings.name, following: health.following, problem: health.problem, members: members,
                                    data: own)
    }
    return AdminAPI.StatusReply(generation: current.generation, names: names, runs: runs,
                                discoveryError: control.discoveryFailure, failedHooks: control.failedHookCount, kafka: kafka,
                                secondaries: secondaries, fleet: fleetStatus)
}

/// Turns thrown errors into JSON error replies (see ``errorResponse(_:)``).
private func handle(_ body: () throws -> Response) throws -> Response {
    do { return try body() } catch { return errorResponse(error) }
}

private func handleAsync(_ body: () async throws -> Response) async throws -> Response {
    do { return try await body() } catch { return errorResponse(error) }
}

/// The one mapping from errors to HTTP statuses: an error that reports its own status
/// (``HTTPStatusReporting``: ``RequestError`` 400/413, ``ControlNotFound`` 404, ``ControlConflict`` 409, and whatever
/// the control plane adds) gets it; a refusal (``ControlError``) is 400; the control service's
/// errors are 503 while not ready and 409 otherwise; anything else is 500.
func errorResponse(_ error: any Error) -> Response {
    let status: HTTPResponse.Status
    var message = "\(error)"
    // The request field an error is about, for clients that name it their own way (the CLI's flags).
    var field: String?
    switch error {
    case let request as RequestError:
        status = httpStatus(request.httpStatus)
        field = request.field
    case let reporting as any HTTPStatusReporting: status = httpStatus(reporting.httpStatus)
    case let http as HTTPError:
        status = http.status
        message = http.body ?? "\(http.status)"
    case ControlServiceError.notReady: status = .serviceUnavailable
    case is ControlServiceError: status = .conflict
    case is ControlError: status = .badRequest
    case let decoding as DecodingError:
        status = .badRequest
        let request = RequestError(describing: decoding)
        (message, field) = (request.description, request.field)
    default: status = .internalServerError
    }
    return (try? json(AdminAPI.ErrorReply(error: message, field: field), status: status)) ?? Response(status: status)
}

private func httpStatus(_ code: Int) -> HTTPResponse.Status {
    switch code {
    case 400: return .badRequest
    case 404: return .notFound
    case 409: return .conflict
    case 413: return .contentTooLarge
    case 503: return .serviceUnavailable
    default: return HTTPResponse.Status(code: code)
    }
}

/// Reads a JSON request body of at most ``RequestError/maxBodyBytes`` and decodes it; a
/// body too large, not JSON, or of the wrong shape is a ``RequestError`` naming the field.
func decodeBody<T: Decodable>(_ request: Request, as type: T.Type) async throws -> T {
    // Awaited on its own line: `decode(from: try await ...)`, inlined into a route, crashes
    // Swift 6.3's optimizer (coroutine splitting around the thrown error).
    let data = try await collectBody(request)
    return try RequestError.decode(T.self, from: data, decoder: AdminAPI.requestDecoder())
}

/// ``decodeBody(_:as:)`` for a body that may be left out: `nil` when it is empty.
func decodeOptionalBody<T: Decodable>(_ request: Request, as type: T.Type) async throws -> T? {
    let data = try await collectBody(request)
    return data.isEmpty ? nil : try RequestError.decode(T.self, from: data, decoder: AdminAPI.requestDecoder())
}

private func collectBody(_ request: Request) async throws -> Data {
    do {
        return Data(try await request.body.collect(upTo: RequestError.maxBodyBytes).readableBytesView)
    } catch is NIOTooManyBytesError {
        throw RequestError.tooLarge(request.headers[.contentLength].flatMap { Int($0) })
    }
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try AdminAPI.encoder().encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// 413 for a request whose Content-Length is over ``RequestError/maxBodyBytes``, before any
/// of it is read, on every route (``decodeBody(_:as:)`` also stops a chunked body at the limit).
struct RequestBodyLimit<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > RequestError.maxBodyBytes {
            return errorResponse(RequestError.tooLarge(length))
        }
        return try await next(request, context)
    }
}

/// A request no route matches gets a JSON 404 naming the endpoints, like every other refusal
/// (the router's own is an empty body).
struct UnknownEndpoint<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            let known = AdminServer.endpoints.joined(separator: ", ")
            return try json(AdminAPI.ErrorReply(error: "no endpoint \(request.method) \(request.uri.path); the endpoints are \(known)"),
                            status: .notFound)
        }
    }
}

/// `Authorization: Bearer <token>` on everything but `GET /healthz`; compared in constant time.
struct BearerAuthentication<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get && request.uri.path == "/healthz" { return try await next(request, context) }
        guard Self.presents(token, in: request.headers[.authorization] ?? "") else {
            var refusal = try json(AdminAPI.ErrorReply(error: "missing or wrong bearer token: send Authorization: Bearer <contents of the admin token file>"),
                                   status: .unauthorized)
            // RFC 6750 section 3: a 401 names the scheme it wants.
            refusal.headers[.wwwAuthenticate] = "Bearer realm=\"switchyard\""
            return refusal
        }
        return try await next(request, context)
    }

    /// Whether `header` is `Bearer <token>`: the scheme in any case and one or more spaces
    /// after it (RFC 9110 section 11.1), the token compared in constant time.
    static func presents(_ token: String, in header: String) -> Bool {
        let bytes = Array(header.utf8), scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == 0x20,
              zip(bytes, scheme).allSatisfy({ ($0 | 0x20) == $1 }) else { return false }
        let start = bytes[scheme.count...].firstIndex { $0 != 0x20 } ?? bytes.count
        let presented = bytes[start...], expected = Array(token.utf8)
        var difference = UInt8(presented.count == expected.count ? 0 : 1)
        for (a, b) in zip(presented, expected) { difference |= a ^ b }
        return difference == 0
    }
}
