import ArgumentParser
import Foundation
import Logging
import SwitchyardCore
import SwitchyardServer
import SwitchyardZones

@main
struct Switchyard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "Stable DNS names for Kafka clusters on the move.",
        subcommands: [Serve.self, Check.self, DiscoveryCommand.self, Shift.self, Cutover.self, Rollback.self,
                      StatusCommand.self, History.self, Kafka.self, JournalCommand.self])
}

/// Writes a line to standard error.
/// Who the CLI acts for, as journaled with a shift or a pause request (`cli:alice`).
func cliActor() -> String {
    "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown")
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
