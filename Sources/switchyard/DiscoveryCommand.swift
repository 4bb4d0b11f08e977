import ArgumentParser
import Foundation
import SwitchyardCore
import SwitchyardDiscovery
import SwitchyardInventory
import SwitchyardZones

/// `switchyard discovery publish|diff`: the kafka-utils discovery files of the inventories.
struct DiscoveryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discovery",
        abstract: "Write kafka-utils discovery files (<type>.yaml) pointing clients at the stable names.",
        subcommands: [Publish.self, Diff.self])

    struct Options: ParsableArguments {
        @Option(help: "Directory of <origin>zone files and the <origin>yaml inventories beside them.")
        var zones = "zones"

        @Option(name: .customLong("out"),
                help: ArgumentHelp("Output directory; repeat to keep several identical (default: discovery).",
                                   discussion: "kafka-utils reads $KAFKA_DISCOVERY_DIR, ~/.kafka_discovery and /etc/kafka_discovery."))
        var outDirs: [String] = []

        @Flag(help: "Remove switchyard-written files of cluster types no inventory declares any more.")
        var prune = false

        @Option(help: "Generation to name in the header of files whose content changes.")
        var generation: UInt64?

        var directories: [String] { outDirs.isEmpty ? ["discovery"] : outDirs }
    }

    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the discovery files atomically; unchanged files are left alone.")

        @OptionGroup var options: Options

        func run() throws {
            let report = try runDiscovery(options, failureCode: 1) {
                try DiscoveryPublisher.publish(
                    inventories: $0, outDirs: options.directories, generation: options.generation, prune: options.prune)
            }
            for change in report.changes { print(change.description) }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what publish would change.",
            discussion: "Exit status: 0 nothing would change, 1 something would change, 2 an error (like diff(1)).")

        @OptionGroup var options: Options

        func run() throws {
            let report = try runDiscovery(options, failureCode: 2) {
                try DiscoveryPublisher.plan(
                    inventories: $0, outDirs: options.directories, generation: options.generation, prune: options.prune)
            }
            for change in report.changes where change.kind != .unchanged {
                print("\(change.description)")
                print(change.diff, terminator: "")
            }
            if report.hasChanges { throw ExitCode(1) }
        }
    }
}

/// Loads the inventories and runs `body`, printing every problem as `PATH:LINE: FIELD: message`
/// to stderr and exiting with `failureCode` on any.
private func runDiscovery(_ options: DiscoveryCommand.Options, failureCode: Int32, _ body: ([Inventory]) throws -> PublishReport) throws -> PublishReport {
    do {
        return try body(try loadInventories(zonesDir: options.zones))
    } catch let errors as ZoneProblems {
        for problem in errors.problems { writeDiscoveryError(problem.description) }
    } catch let error as DiscoveryError {
        writeDiscoveryError(error.description)
    }
    throw ExitCode(failureCode)
}

private func writeDiscoveryError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// The inventories of `zonesDir`, loaded as `serve` and `check` load them: every zone file is
/// parsed, and each `<name>yaml` beside a `<name>zone` gets the zone's own origin (its SOA owner
/// or `$ORIGIN`, not the file name), so the published names are the names served. Throws
/// ``ZoneProblems`` naming every problem as `PATH:LINE: ...`.
func loadInventories(zonesDir: String) throws(ZoneProblems) -> [Inventory] {
    try ZoneLoader.load(directory: zonesDir).inventories
}
