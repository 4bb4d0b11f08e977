import ArgumentParser
import Foundation
import Logging
import SwitchyardAdmin
import SwitchyardCore
import SwitchyardJournal
import SwitchyardServer
import SwitchyardService
import SwitchyardTransfer
import SwitchyardZones

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the zones of a directory over UDP and TCP.",
        discussion: "SIGHUP reloads every zone (the old data keeps serving if any file is bad); SIGTERM or SIGINT stops.")

    @Option(help: "Directory of <origin>zone files.")
    var zones = "zones"

    @Option(help: ArgumentHelp("Address to listen on, UDP and TCP; repeatable.", valueName: "addr:port|[v6]:port"))
    var listen: [String] = ["127.0.0.1:5353", "[::1]:5353"]

    @Option(help: "UDP worker threads per listen address (default: usable CPUs).")
    var threads: Int?

    @Option(help: "Seconds an idle TCP connection stays open.")
    var tcpIdleTimeout: Double = 10

    @Option(help: "Most TCP connections open at once; more are closed at once.")
    var tcpMaxConnections = 256

    @Option(help: "Largest UDP response, and the EDNS buffer size we advertise.")
    var maxUDPSize = 1232

    @Option(help: "UDP response-rate limit: responses per second per client /24 (IPv4) or /56 (IPv6); 0 is off. TCP is never limited.")
    var rrlRate = 0

    @Option(help: "Every Nth response over the rate is sent truncated (TC=1) so real clients retry over TCP; 0 sends none.")
    var rrlSlip = 2

    @Option(help: ArgumentHelp("Clients never rate-limited; repeatable.", valueName: "prefix"))
    var rrlWhitelist: [String] = []

    @Option(help: ArgumentHelp("Publish kafka_discovery files here on start, reload and every change; repeatable.", valueName: "dir"))
    var discoveryOut: [String] = []

    @Option(help: ArgumentHelp("Shell command run after discovery files changed ({generation} is filled in); repeatable.", valueName: "command"))
    var discoveryHook: [String] = []

    @Option(help: ArgumentHelp("The journal of generations: a state directory (SQLite, one server), or postgresql://USER@HOST:PORT/DB shared by a fleet (password from the URL, PGPASSWORD or ~/.pgpass; ?sslmode=require for TLS).", valueName: "dir|url"))
    var state = "state"

    @Option(help: ArgumentHelp("PostgreSQL fleet: where this server keeps a copy of the last generation it served (\(LocalGenerationCopy.fileName)), served when it starts while the database is unreachable; one per server, locked while it runs.", valueName: "dir"))
    var cacheDir = "cache"

    @Option(help: "This server's name in a PostgreSQL fleet (default: host name and first --listen address).")
    var serverName: String?

    @Option(help: "Seconds a cutover run's lease lasts unrenewed before another server of the fleet may take the run over.")
    var leaseSeconds: Double = 10

    @Option(help: "Seconds without a heartbeat after which a fleet member is no longer verified against.")
    var fleetTimeout: Double = 5

    @Flag(inversion: .prefixedNo, help: "Resume, by itself, a cutover run whose server stopped renewing its lease (PostgreSQL fleet).")
    var takeover = true

    @Flag(help: "Take over a state directory that belongs to another zones directory (the journal records the new one).")
    var adoptState = false

    @Option(help: ArgumentHelp("Secondary to send DNS NOTIFY after every generation and reload, signed with the named TSIG key if given; repeatable.", valueName: "addr:port[,key=NAME]"))
    var notify: [String] = []

    @Option(help: ArgumentHelp("Clients allowed to transfer zones (AXFR/IXFR over TCP), with the TSIG key they must sign with if given; repeatable. Others get REFUSED.", valueName: "prefix[,key=NAME]"))
    var allowTransfer: [String] = []

    @Option(help: ArgumentHelp("TSIG keys in BIND/Knot syntax: key \"name\" { algorithm hmac-sha256; secret \"base64\"; }; (several allowed).", valueName: "file"))
    var tsigKeyFile: String?

    @Option(help: ArgumentHelp("Cache-flush command after every generation ({zone} {name} {generation}); repeatable.", valueName: "command"))
    var invalidateHook: [String] = []

    @Option(help: ArgumentHelp("Admin HTTP endpoint (control API, /metrics, /healthz), or `none`.", valueName: "addr:port"))
    var admin: String?

    @Option(help: "Bearer token file of the admin endpoint (default: <state>/admin.token, generated when absent).")
    var adminTokenFile: String?

    @Option(help: ArgumentHelp("DNS address cutovers verify their changes at (default: every --listen address); repeatable.", valueName: "addr:port"))
    var verifyServer: [String] = []

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        for text in listen where ListenAddress(text) == nil {
            throw ValidationError("--listen \(text): expected IPv4:PORT or [IPv6]:PORT, e.g. 127.0.0.1:5353 or [::1]:5353")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1...256") }
        if tcpIdleTimeout <= 0 { throw ValidationError("--tcp-idle-timeout must be positive") }
        if tcpMaxConnections < 1 { throw ValidationError("--tcp-max-connections must be at least 1") }
        if !(512...65_535).contains(maxUDPSize) { throw ValidationError("--max-udp-size must be 512...65535") }
        if !(0...1_000_000).contains(rrlRate) { throw ValidationError("--rrl-rate must be 0 (off) to 1000000 responses per second") }
        if !(0...100).contains(rrlSlip) { throw ValidationError("--rrl-slip must be 0 (drop every limited response) to 100") }
        for text in rrlWhitelist where AddressPrefix(text) == nil {
            throw ValidationError("--rrl-whitelist \(text): expected ADDRESS/LENGTH, e.g. 192.0.2.0/24 or 2001:db8::/48")
        }
        if isFleet {
            do { _ = try PostgresLocation(url: state) } catch { throw ValidationError("--state: \(error)") }
            if admin != "none" && adminTokenFile == nil {
                throw ValidationError("--state is a PostgreSQL URL: give each server its own --admin-token-file (or --admin none)")
            }
            if adoptState { throw ValidationError("--adopt-state is for state directories; a PostgreSQL journal is shared by the fleet") }
        }
        if !(1...3_600).contains(leaseSeconds) { throw ValidationError("--lease-seconds must be 1...3600") }
        if !(1...3_600).contains(fleetTimeout) { throw ValidationError("--fleet-timeout must be 1...3600") }
        if let admin, admin != "none", ListenAddress(admin) == nil {
            throw ValidationError("--admin \(admin): expected IPv4:PORT, [IPv6]:PORT or none")
        }
        for text in verifyServer where ListenAddress(text) == nil {
            throw ValidationError("--verify-server \(text): expected IPv4:PORT or [IPv6]:PORT")
        }
        for text in notify where ListenAddress(String(text.split(separator: ",").first ?? "")) == nil {
            throw ValidationError("--notify \(text): expected IPv4:PORT[,key=NAME] or [IPv6]:PORT[,key=NAME]")
        }
        _ = try transferSettings()
    }

    func run() throws {
        let signals: Int32
        do { signals = try Server.catchSignals() } catch {
            printError("switchyard: \(error)")
            throw ExitCode(1)
        }
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchyard")
        // Before anything is bound: a second server on this state directory must leave the
        // first one's sockets, journal and token alone. Held until run() returns.
        let zonesDirectory = Self.canonicalPath(zones)
        // A PostgreSQL journal is shared by design: the database serializes its writers. The
        // cache directory is not: it is this server's alone, locked like a state directory.
        guard !isFleet else {
            let cacheLock = try claimCacheDirectory(zonesDirectory: zonesDirectory, logger: logger)
            return try withExtendedLifetime(cacheLock) {
                try serve(zonesDirectory: zonesDirectory, signals: signals, logger: logger, keepsLocalCopy: cacheLock != nil)
            }
        }
        let claim: (lock: StateDirectoryLock, readOnly: Int32?)
        do { claim = try Self.claimStateDirectory(Self.canonicalPath(state), zonesDirectory: zonesDirectory) } catch {
            printError("switchyard: \(error)")
            throw ExitCode(1)
        }
        try withExtendedLifetime(claim.lock) {
            try serve(zonesDirectory: zonesDirectory, signals: signals, logger: logger, readOnly: claim.readOnly.map { (claim.lock, $0) })
        }
    }

    /// The state directory's lock, for writing; or, when the directory cannot be written
    /// (EROFS, or EACCES for this user) but holds a journal, taken through a read-only
    /// descriptor to serve that journal read-only, with the errno that made it so. DNS then
    /// stays up (a disk the kernel remounted read-only after an error stays so until e2fsck).
    /// Without a journal there is nothing to serve: the lock's own error.
    static func claimStateDirectory(_ directory: String, zonesDirectory: String) throws(StateDirectoryLockError)
        -> (lock: StateDirectoryLock, readOnly: Int32?) {
        do {
            return (try StateDirectoryLock.acquire(directory: directory, zonesDirectory: zonesDirectory), nil)
        } catch {
            let journalPath = (directory as NSString).appendingPathComponent(Journal.fileName)
            guard case .cannotLock(_, let code, _, _) = error, code == EROFS || code == EACCES,
                  FileManager.default.fileExists(atPath: journalPath) else { throw error }
            return (try StateDirectoryLock.acquireForReading(directory: directory, zonesDirectory: zonesDirectory), code)
        }
    }

    /// The `--cache-dir` lock (`<cache>/lock`, the state directory's kind of lock), held until
    /// the server exits: two servers on one cache directory (the default `cache` of one
    /// working directory) would overwrite each other's local copy, and one could later start
    /// by serving the other's generation with its own zones. A live holder stops this start
    /// (exit 1, naming it). A directory this user cannot create or lock (read-only) costs only
    /// the copy: none is kept or served (one warning now, where every write used to warn), and
    /// DNS is not refused for it.
    private func claimCacheDirectory(zonesDirectory: String, logger: Logger) throws -> StateDirectoryLock? {
        do throws(StateDirectoryLockError) {
            return try StateDirectoryLock.acquire(directory: Self.canonicalPath(cacheDir), zonesDirectory: zonesDirectory, role: .cache)
        } catch {
            if case .held = error {
                printError("switchyard: \(error)")
                throw ExitCode(1)
            }
            logger.warning("no local copy of the last generation is kept or served: a start while PostgreSQL is unreachable will fail",
                           metadata: ["error": "\(error)"])
            return nil
        }
    }

    private var isFleet: Bool { state.hasPrefix("postgresql://") || state.hasPrefix("postgres://") }

    /// Keys, transfer rules and NOTIFY targets, every name checked against the key file.
    func transferSettings() throws -> (keyring: TSIGKeyring, rules: [TransferRule], notify: [ListenAddress], notifyKeys: [String: TSIGKey]) {
        var keyring = TSIGKeyring()
        if let tsigKeyFile {
            do { keyring = try TSIGKeyFile.load(path: tsigKeyFile) } catch { throw ValidationError("--tsig-key-file: \(error)") }
        }
        var rules: [TransferRule] = []
        for text in allowTransfer {
            do { rules.append(try TransferRule(text, keyring: keyring)) } catch { throw ValidationError(error.description) }
        }
        var addresses: [ListenAddress] = [], keys: [String: TSIGKey] = [:]
        for text in notify {
            let parts = text.split(separator: ",").map(String.init)
            guard let address = ListenAddress(parts[0]) else { throw ValidationError("--notify \(text): expected IPv4:PORT[,key=NAME]") }
            for option in parts.dropFirst() {
                guard option.hasPrefix("key="), let key = keyring.key(named: String(option.dropFirst(4))) else {
                    throw ValidationError("--notify \(text): `\(option)` must be key=NAME with NAME a key of --tsig-key-file")
                }
                keys[address.description] = key
            }
            addresses.append(address)
        }
        return (keyring, rules, addresses, keys)
    }

    private func serve(zonesDirectory: String, signals: Int32, logger: Logger, readOnly: (lock: StateDirectoryLock, errno: Int32)? = nil,
                       keepsLocalCopy: Bool = false) throws {
        // Optional so it can be let go once served: kept to the end of this function it
        // would hold the first zones in memory through every reload.
        var loaded: ZoneLoader.Configuration?
        do {
            loaded = try ZoneLoader.load(directory: zones)
        } catch {
            for problem in error.problems { printError(problem.description) }
            throw ExitCode(1)
        }
        for warning in loaded?.warnings ?? [] { logger.warning("\(warning)") }
        let transfer = try transferSettings()
        let transfers = TransferResponder(keyring: transfer.keyring, rules: transfer.rules, logger: logger)
        let configuration = ServerConfiguration(
            zonesDirectory: zones, listen: listen.compactMap(ListenAddress.init), threads: threads ?? ServerConfiguration.usableCPUs,
            tcpIdleTimeout: tcpIdleTimeout, tcpMaxConnections: tcpMaxConnections, maxUDPSize: maxUDPSize,
            rateLimit: RateLimitSettings(rate: rrlRate, slip: rrlSlip, whitelist: rrlWhitelist.compactMap(AddressPrefix.init)),
            transfers: transfers)
        let discovery = discoveryOut.isEmpty ? nil : DiscoverySync(outDirectories: discoveryOut, hooks: discoveryHook, logger: logger)
        do {
            let journal = try readOnly.map { try openReadOnly(lock: $0.lock, errno: $0.errno) } ?? openJournal(keepsLocalCopy: keepsLocalCopy)
            // Every server of a fleet has its own copy of the zones, so only a state directory
            // records which zones directory it belongs to.
            switch isFleet ? .unchanged : try startingStep(readOnly, "recording its zones directory", { try journal.claim(zonesDirectory: zonesDirectory, adopt: adoptState) }) {
            case .unchanged: break
            case .recorded:
                logger.info("state directory recorded as this zones directory's", metadata: ["state": "\(state)", "zones": "\(zonesDirectory)"])
            case .adopted(let previous):
                logger.notice("state directory adopted (--adopt-state): it belonged to another zones directory",
                              metadata: ["state": "\(state)", "zones": "\(zonesDirectory)", "previous": "\(previous)"])
            }
            let store = SnapshotStore(loaded!.snapshot)
            let control = ControlService(journal: journal, store: store, discovery: discovery,
                                         invalidation: InvalidationSettings(notify: transfer.notify, hooks: invalidateHook, notifyKeys: transfer.notifyKeys),
                                         localCopy: keepsLocalCopy ? LocalCopySettings(path: localCopyPath, zonesDirectory: zonesDirectory) : nil,
                                         logger: logger)
            transfers.setHistory(control)
            let server = try startingStep(readOnly, "a generation for changed zones or inventories") {
                try Server(configuration: configuration, loaded: loaded!, store: store, installer: control, logger: logger)
            }
            loaded = nil
            if let readOnly {
                logger.warning("the state directory cannot be written: serving its journal's latest generation read-only; every change is refused until it is writable, then the server takes the lock and journals again without a restart",
                               metadata: ["state": "\(Self.canonicalPath(state))", "errno": "\(SystemErrno.describe(readOnly.errno))",
                                          "generation": "\(control.current?.generation.number ?? 0)",
                                          "lock": "\(readOnly.lock.isHeld ? "held" : "not held (no lock file); taken once writable")"])
                Self.reopenWhenWritable(journal, control: control, logger: logger)
            }
            let fleet = journal.postgres.map { postgres in
                Fleet(settings: Fleet.Settings(
                        name: serverName ?? "\(ProcessInfo.processInfo.hostName)/\(listen.first ?? "")",
                        dnsAddresses: verifyAddresses, adminAddress: admin ?? "127.0.0.1:8053",
                        memberTimeout: fleetTimeout, leaseSeconds: leaseSeconds, takeOver: takeover),
                      postgres: postgres, control: control, logger: logger)
            }
            let adminServer = try startAdmin(server: server, control: control, fleet: fleet, logger: logger)
            fleet?.start()
            defer { adminServer?.stop(); fleet?.stop() }
            if let fleet { logger.info("serving as a member of a fleet", metadata: ["name": "\(fleet.settings.name)", "journal": "\(journal.path)"]) }
            try server.runUntilSignalled(signals: signals)
        } catch {
            printError("switchyard: \(error)")
            throw ExitCode(1)
        }
    }

    /// The journal of `--state`. With a local copy of the last generation to fall back on, a
    /// PostgreSQL journal connects at its first use, the first `ControlService.install`, which
    /// serves the copy if the database is unreachable then and the copy fits (one attempt, one
    /// timeout); without one, an unreachable database fails the start here, as it always did.
    private func openJournal(keepsLocalCopy: Bool) throws -> Journal {
        guard isFleet else { return try Journal.open(state: Self.canonicalPath(state)) }
        return try Journal.open(state: state, connectNow: !keepsLocalCopy || !FileManager.default.fileExists(atPath: localCopyPath))
    }

    private var localCopyPath: String {
        (Self.canonicalPath(cacheDir) as NSString).appendingPathComponent(LocalGenerationCopy.fileName)
    }

    /// The journal of a state directory that cannot be written, read-only; one without a
    /// generation has nothing to serve, and is refused as it was before read-only starts.
    private func openReadOnly(lock: StateDirectoryLock, errno: Int32) throws -> Journal {
        let directory = Self.canonicalPath(state)
        let nothingToServe = StateDirectoryLockError.cannotLock(path: lock.path, errno: errno, detail: String(cString: strerror(errno)))
        let journal: Journal
        do { journal = try Journal.openReadOnly(directory: directory, lock: lock, errno: errno) } catch JournalError.cannotOpen { throw nothingToServe }
        guard try journal.latest() != nil else { throw nothingToServe }
        return journal
    }

    /// Runs a start-up step that may need to write the journal. On a read-only start it can
    /// only serve what the journal already holds: a step that must write is refused, saying
    /// which and what to do, rather than as a change refused while serving.
    private func startingStep<T>(_ readOnly: (lock: StateDirectoryLock, errno: Int32)?, _ step: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as JournalError {
            guard let readOnly, case .unwritable = error else { throw error }
            throw ReadOnlyStartRefused(description: "\(Self.canonicalPath(state)): cannot start on this state directory read-only (\(SystemErrno.describe(readOnly.errno))): starting needs a journal write (\(step)), which is refused; "
                + "start with the zones directory and inventories the journal was last served with, or make the state directory writable")
        }
    }

    struct ReadOnlyStartRefused: Error, CustomStringConvertible { let description: String }

    /// While the journal is open read-only, asks once a second whether the state directory
    /// takes writes again (``Journal/health(probingEvery:)``: its probe takes the lock and
    /// reopens the journal read-write), so the server becomes the directory's writer as soon
    /// as it can, not at the next change. Says so, and when another server took the lock first.
    private static func reopenWhenWritable(_ journal: Journal, control: ControlService, logger: Logger) {
        Thread.detachNewThread {
            var reported = journal.health(probingEvery: 1).lastError
            while journal.isReadOnly {
                sleep(1)
                let health = journal.health(probingEvery: 1)
                if journal.isReadOnly, let problem = health.lastError, problem != reported {
                    logger.warning("the journal stays read-only", metadata: ["error": "\(problem)"])
                    reported = problem
                }
            }
            // Nobody could write while this server held the lock; without a lock file another
            // server might have, and then this one serves its newest generation.
            _ = try? control.catchUp()
            logger.notice("the state directory takes writes again: lock taken, journal reopened read-write; changes are accepted",
                          metadata: ["journal": "\(journal.path)", "generation": "\(control.current?.generation.number ?? 0)"])
        }
    }

    /// `path` absolute, with symbolic links and `..` resolved, so that one zones directory is
    /// recorded the same way whatever path it was given by.
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The default admin address is best effort (DNS serving matters more); an address
    /// given with --admin must work.
    private var verifyAddresses: [ListenAddress] {
        verifyServer.isEmpty ? listen.compactMap(ListenAddress.init) : verifyServer.compactMap(ListenAddress.init)
    }

    private func startAdmin(server: Server, control: ControlService, fleet: Fleet?, logger: Logger) throws -> AdminServer? {
        if admin == "none" { return nil }
        let address = ListenAddress(admin ?? "127.0.0.1:8053")!
        let tokenPath = adminTokenFile ?? (state as NSString).appendingPathComponent("admin.token")
        let token = try AdminToken.loadOrCreate(path: tokenPath)
        let adminServer = AdminServer(server: server, control: control, address: address, token: token, verifyServers: verifyAddresses,
                                      fleet: fleet, logger: logger)
        do {
            try adminServer.start()
        } catch {
            guard admin == nil else { throw error }
            logger.error("admin endpoint not started; DNS keeps serving", metadata: ["error": "\(error)"])
            return nil
        }
        return adminServer
    }
}
