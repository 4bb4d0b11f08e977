import ArgumentParser
import SwitchyardCore
import SwitchyardZones

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate zone files and inventories; print file:line for every problem.")

    @Option(help: "Directory of <origin>zone files and their <origin>yaml inventories.")
    var zones = "zones"

    func run() throws {
        let loaded: ZoneLoader.Configuration
        do {
            loaded = try ZoneLoader.load(directory: zones)
        } catch {
            for problem in error.problems { printError(problem.description) }
            throw ExitCode(1)
        }
        let snapshot = loaded.snapshot
        for zone in snapshot.zones {
            let stable = zone.nodes.lazy.filter { $0.stable >= 0 }.count
            print("\(zone.origin): ok, serial \(zone.serial), \(zone.recordCount) records, \(zone.nodes.count - stable) names, \(stable) stable names (\(zone.source))")
        }
        for inventory in loaded.inventories {
            print("\(inventory.sourcePath): ok, \(inventory.clusters.count) clusters, \(inventory.clusters.reduce(0) { $0 + $1.brokers.count }) brokers, \(inventory.names.count) weighted names")
        }
        for warning in loaded.warnings { printError("warning: \(warning)") }
    }
}
