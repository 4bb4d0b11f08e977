import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import SwitchyardControl

struct Cutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a cluster's names to another pool in safe, verified, reversible steps.",
        subcommands: [Plan.self, Apply.self, Pause.self, Resume.self, Status.self])

    /// What a cutover moves; how carefully is ``Staging``.
    struct Settings: ParsableArguments {
        @Argument(help: "The cluster.")
        var cluster: String

        @Option(help: "The pool to move to, e.g. pod.")
        var to: String

        @Option(help: "Only these brokers, e.g. 0,3 (default: every broker not yet in the pool).")
        var brokers: String?

        @OptionGroup var staging: Staging

        /// Checked while parsing, so a mistake prints the subcommand's usage, not the top level's.
        func validate() throws {
            _ = try options()
        }

        func options() throws -> CutoverOptions {
            do {
                return try staging.options(cluster: cluster, toPool: to, brokers: try brokers.map(CutoverOptions.parseBrokers))
            } catch let error as ValidationError {
                throw error
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the steps, waits, gates and hooks; changes nothing.")
        @OptionGroup var adminOptions: AdminOptions
        @OptionGroup var settings: Settings

        func run() async throws {
            let reply: PlanText = try await adminOptions.client().post("/v1/cutover/plan", try settings.options())
            print(reply.text)
            printWarnings(reply.warnings)
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the plan in the server and follow it. Ctrl-C pauses at the next step boundary.",
            discussion: "Exit status: 0 completed, 1 failed, 3 paused.")
        @OptionGroup var adminOptions: AdminOptions
        @OptionGroup var settings: Settings
        @Flag(help: "Start the run and return; follow it with `cutover status`.")
        var detach = false

        func run() async throws {
            let client = try adminOptions.client()
            let started: AdminAPI.RunStatus = try await client.post("/v1/runs", AdminAPI.RunBody(options: try settings.options()))
            progress("run \(started.id) started for cluster \(started.cluster)")
            if let plan = started.progress?.plan { progress(plan.render()) }
            printWarnings(started.warnings)
            guard !detach else { return }
            try await follow(client: client, cluster: settings.cluster)
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the running cutover at its next step boundary, through any server of the fleet.",
            discussion: """
                Through the server that runs it, or (a PostgreSQL fleet) through any other: the request is kept in \
                the journal, the server running the run stops it at its next step boundary, and if that server died \
                the run is marked paused. `cutover resume` continues it, on any server.
                Exit status: 0 the pause was requested (with --wait: the run paused, or ended before a boundary); \
                1 an error, a run that failed, or --wait timing out.
                """)
        @OptionGroup var adminOptions: AdminOptions
        @Argument(help: "The cluster.") var cluster: String
        @Flag(help: "Wait until the run shows paused, printing its progress (at most --timeout seconds).")
        var wait = false
        @Option(help: "With --wait: seconds to wait for the run to reach its step boundary.")
        var timeout: UInt32 = 300

        func validate() throws {
            if timeout == 0 { throw ValidationError("--timeout must be at least 1 second") }
        }

        func run() async throws {
            let client = try adminOptions.client()
            let reply: AdminAPI.RunStatus = try await client.post("/v1/runs/\(cluster)/pause", AdminAPI.PauseBody(actor: cliActor()))
            progress(reply.message ?? "pause of run \(reply.id) requested; it stops at its next step boundary")
            guard wait else { return }
            try await waitForPause(client: client, cluster: cluster, runID: reply.id, timeout: timeout)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Continue a paused, failed or interrupted cutover or rollback from the journal.")
        @OptionGroup var adminOptions: AdminOptions
        @Argument(help: "The cluster.") var cluster: String
        @Flag(help: "Resume and return.") var detach = false

        func run() async throws {
            let client = try adminOptions.client()
            let resumed: AdminAPI.RunStatus = try await client.post("/v1/runs/\(cluster)/resume")
            progress("run \(resumed.id) resumed: \(resumed.progress?.message ?? "")")
            guard !detach else { return }
            try await follow(client: client, cluster: cluster)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the cluster's latest cutover or rollback run.")
        @OptionGroup var adminOptions: AdminOptions
        @Argument(help: "The cluster.") var cluster: String

        func run() async throws {
            let status: AdminAPI.RunStatus = try await adminOptions.client().get("/v1/runs/\(cluster)")
            print(describe(status))
        }
    }
}

/// A reply's warnings, one `warning:` line each on standard error (as `shift` prints them).
func printWarnings(_ warnings: [String]?) {
    for warning in warnings ?? [] { printError("warning: \(warning)") }
}

/// The printed plan of an ``AdminAPI/PlanReply`` and its warnings: all `plan` and
/// `rollback --plan-only` print, so the plan itself (every step's state worked out again) is
/// not decoded.
struct PlanText: Decodable {
    var text: String
    var warnings: [String]?
}

func describe(_ status: AdminAPI.RunStatus) -> String {
    guard let progress = status.progress else { return "run \(status.id): \(status.status)" }
    let total = progress.plan.steps.count
    // In a fleet a run may be running on another server (its lease is live).
    let runningOn = progress.status == .running ? status.runningOn : nil
    let state = if let runningOn { "running on server \(runningOn)" }
        else if status.active || progress.status != .running { progress.status.rawValue }
        else { "interrupted (no server is running it; `cutover resume` continues)" }
    var lines = ["run \(status.id) (\(progress.plan.purpose.rawValue) of \(status.cluster)): \(state), \(min(progress.nextStep, total))/\(total) steps done"]
    if !progress.message.isEmpty { lines.append("  \(progress.message)") }
    if let request = status.pauseRequest, progress.status == .running {
        lines.append("  \(request); " + (runningOn.map { "server \($0) stops the run at its next step boundary" }
                                        ?? "the run is marked paused as soon as a server of the fleet notices that nobody runs it"))
    }
    if progress.hookFailures.count > 10 { lines.append("  \(progress.hookFailures.count) hook failures; the last 10:") }
    for failure in progress.hookFailures.suffix(10) { lines.append("  hook failure: \(failure)") }
    // A run of hundreds of brokers drains hundreds of targets: past ten, the ones that worked are counted.
    let drains = progress.drains ?? []
    if drains.count > 10, let last = drains.last {
        let failed = drains.filter { !$0.succeeded }
        lines.append("  drains: \(drains.count - failed.count) ok, \(failed.count) FAILED; the last: \(last)")
        for drain in failed.suffix(10) { lines.append("  drain FAILED: \(drain)") }
    } else {
        for drain in drains { lines.append("  drain \(drain.succeeded ? "ok" : "FAILED"): \(drain)") }
    }
    for sighting in status.kafka ?? [] { lines.append("  kafka: \(sighting)") }
    // While a run is going, lowered TTLs are its business; once it stopped they are news.
    for lowered in status.active && progress.status == .running ? [] : status.loweredTTLs ?? [] {
        lines.append("  TTL lowered: \(lowered.name) at \(lowered.ttl) s" + (lowered.run.map { " by run \($0)" } ?? "") + " (the next run of this cluster restores it)")
    }
    return lines.joined(separator: "\n")
}

/// Prints runs' statuses as stamped progress lines, each line once: the status header when it
/// changes, every other line (messages, drains, hook failures, lowered TTLs) the first time it
/// appears.
struct RunPrinter {
    private var printed: Set<String> = []
    private var lastHeader = ""

    mutating func show(_ status: AdminAPI.RunStatus) {
        let lines = describe(status).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let header = lines.first, header != lastHeader { progress(header); lastHeader = header }
        for line in lines.dropFirst() where printed.insert(line).inserted { progress(line) }
    }
}

/// Follows a run until it stops, printing each change as a stamped progress line; Ctrl-C asks for a pause once and
/// keeps following until the run reaches the boundary. Exits 0, 1 (failed) or 3 (paused).
func follow(client: AdminClient, cluster: String) async throws {
    let interrupted = Atomic<Bool>(false)
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    source.setEventHandler { interrupted.store(true, ordering: .relaxed) }
    source.resume()
    defer { source.cancel(); signal(SIGINT, SIG_DFL) }

    var printer = RunPrinter()
    var pauseSent = false
    while true {
        if interrupted.load(ordering: .relaxed) && !pauseSent {
            pauseSent = true
            progress("Ctrl-C: asking the server to pause at the next step boundary…")
            let _: AdminAPI.RunStatus = try await client.post("/v1/runs/\(cluster)/pause", AdminAPI.PauseBody(actor: cliActor()))
        }
        let status: AdminAPI.RunStatus = try await client.get("/v1/runs/\(cluster)")
        printer.show(status)
        if let progress = status.progress, !status.active || progress.status != .running {
            switch progress.status {
            case .completed, .rolledBack: return
            case .paused: throw ExitCode(3)
            case .failed: throw ExitCode(1)
            // Running on another server of the fleet: keep following it.
            case .running: if status.runningOn == nil { throw ExitCode(1) }
            }
        }
        try await Task.sleep(for: .milliseconds(500))
    }
}

/// `cutover pause --wait`: follows run `runID` until it stops, printing its progress. Returns
/// when it paused (or ended before reaching a boundary); exit 1 when it failed, or when it is
/// still running after `timeout` seconds (the request stands).
func waitForPause(client: AdminClient, cluster: String, runID: Int64, timeout: UInt32) async throws {
    let deadline = Date().addingTimeInterval(Double(timeout))
    var printer = RunPrinter()
    while true {
        let status: AdminAPI.RunStatus = try await client.get("/v1/runs/\(cluster)")
        guard status.id == runID else {
            progress("run \(runID) is no longer the latest run of cluster \(cluster) (run \(status.id) is); see `switchyard status`")
            return
        }
        printer.show(status)
        switch status.progress?.status {
        case .paused?: return
        case .completed?, .rolledBack?:
            progress("run \(runID) ended before it reached a step boundary; there is nothing left to pause")
            return
        case .failed?: throw ExitCode(1)
        case .running?, nil: break
        }
        if Date() >= deadline {
            let place = status.runningOn.map { "on server \($0)" } ?? "with no server running it"
            printError("switchyard: run \(runID) of cluster \(cluster) did not pause within \(timeout) s; it is still running \(place). "
                       + "The pause request stands: the run stops at its next step boundary (a step's verification, drain wait or drain "
                       + "command can take minutes). Watch it with `switchyard cutover status \(cluster)`, or wait longer with "
                       + "`switchyard cutover pause \(cluster) --wait --timeout SECONDS`")
            throw ExitCode(1)
        }
        try await Task.sleep(for: .milliseconds(500))
    }
}

/// How carefully a cutover or rollback moves: the options both take.
struct Staging: ParsableArguments {
    @Option(help: "Bootstrap weight of the pool gaining weight per ramp step, e.g. 10,50,100.")
    var ramp = "100"

    @Option(help: "Brokers moved per step.")
    var batch = 1

    @Option(help: "TTL of the affected names during the run, seconds.")
    var cutoverTTL: UInt32 = 5

    @Option(help: "How long JVM clients cache addresses (networkaddress.cache.ttl), seconds.")
    var jvmCache: UInt32 = 30

    @Option(help: "The lowest TTL resolvers in front of clients honour, seconds.")
    var resolverFloor: UInt32 = 0

    @Option(help: "Pause after each step, seconds.")
    var dwell: UInt32 = 0

    @Option(help: ArgumentHelp("Extra gate command per moved broker ({broker} {target} {port} {cluster} {name} {run} {generation}, and SWITCHYARD_* variables); repeatable.", valueName: "command"))
    var gate: [String] = []

    @Option(help: ArgumentHelp("Command draining a moved broker's old target ({broker} {old_target} {new_target} {port} {cluster} {name} {run} {generation}, and SWITCHYARD_* variables).", valueName: "command"))
    var drain: String?

    @Option(help: "Seconds from a step's answers being first served to draining its old targets (default: max(old TTL, --jvm-cache, --resolver-floor)).")
    var drainAfter: UInt32?

    @Option(help: "Seconds a drain command may run before it is stopped and counts as failed.")
    var drainTimeout: UInt32 = CutoverOptions.defaultDrainTimeout

    @Option(help: "Seconds to wait for the serving addresses to answer a step's targets.")
    var verifyTimeout: UInt32 = 30

    @Option(help: "Kafka gates pass with at most this many under-replicated partitions (offline partitions always fail them).")
    var maxUnderReplicated = 0

    func validate() throws {
        do { _ = try CutoverOptions.parseRamp(ramp) } catch { throw ValidationError("\(error)") }
    }

    func options(cluster: String, toPool: String, brokers: [Int]?) throws -> CutoverOptions {
        do {
            return CutoverOptions(
                cluster: cluster, toPool: toPool, brokers: brokers, ramp: try CutoverOptions.parseRamp(ramp),
                batch: batch, cutoverTTL: cutoverTTL, jvmCacheSeconds: jvmCache, resolverFloorSeconds: resolverFloor,
                dwellSeconds: dwell, gateCommands: gate, drainCommand: drain, verifyTimeoutSeconds: verifyTimeout,
                drainAfterSeconds: drainAfter, drainTimeoutSeconds: drainTimeout, maxUnderReplicated: maxUnderReplicated)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo a cutover run, or go back to an earlier generation, as one staged run with the same checks as a cutover.",
        discussion: """
            switchyard rollback orders                   the state before the cluster's last cutover run
            switchyard rollback orders --run 7           the state before run 7
            switchyard rollback orders --steps 1         the state before the cluster's last generation
            switchyard rollback orders --to-generation 12
            Per step: gate (the targets returned to) -> commit -> verify -> invalidate -> drain the
            targets left (after their caches expire) -> dwell. Exit status: 0 completed, 1 failed, 3 paused.
            """)
    @OptionGroup var adminOptions: AdminOptions
    @Argument(help: "The cluster.") var cluster: String
    @Option(help: "The cutover run to undo (default: the cluster's last one).") var run: Int64?
    @Option(help: "Generation-level undo: the generation whose state to return to.") var toGeneration: UInt64?
    @Option(help: "Generation-level undo: undo the cluster's last K generations.") var steps: Int?
    @OptionGroup var staging: Staging
    @Flag(help: "Print the plan only; changes nothing.") var planOnly = false
    @Flag(help: "Start the run and return; follow it with `cutover status`.") var detach = false

    func validate() throws {
        if [run != nil, toGeneration != nil, steps != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give at most one of --run, --to-generation and --steps")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func run() async throws {
        let client = try adminOptions.client()
        let options = try staging.options(cluster: cluster, toPool: "", brokers: nil)
        let body = AdminAPI.RollbackBody(cluster: cluster, run: run, toGeneration: toGeneration, steps: steps, options: options)
        if planOnly {
            let reply: PlanText = try await client.post("/v1/rollback/plan", body)
            print(reply.text)
            printWarnings(reply.warnings)
            return
        }
        let started: AdminAPI.RunStatus = try await client.post("/v1/runs", AdminAPI.RunBody(rollback: body))
        progress("run \(started.id) started: rollback of \(cluster)")
        if let plan = started.progress?.plan { progress(plan.render()) }
        printWarnings(started.warnings)
        guard !detach else { return }
        try await follow(client: client, cluster: cluster)
    }
}
