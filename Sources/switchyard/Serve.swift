import ArgumentParser
import Foundation
import Logging
import SwitchyardCore
import SwitchyardServer
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
    }

    func run() throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchyard")
        let loaded: ZoneLoader.Configuration
        do {
            loaded = try ZoneLoader.load(directory: zones)
        } catch {
            for problem in error.problems { printError(problem.description) }
            throw ExitCode(1)
        }
        let configuration = ServerConfiguration(
            zonesDirectory: zones, listen: listen.compactMap(ListenAddress.init), threads: threads ?? ServerConfiguration.usableCPUs,
            tcpIdleTimeout: tcpIdleTimeout, tcpMaxConnections: tcpMaxConnections, maxUDPSize: maxUDPSize)
        let server = Server(configuration: configuration, loaded: loaded, logger: logger)
        do {
            try server.runUntilSignalled()
        } catch {
            printError("switchyard: \(error)")
            throw ExitCode(1)
        }
    }
}
