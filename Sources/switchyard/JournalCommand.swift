import ArgumentParser
import Foundation
import SwitchyardJournal

/// `switchyard journal export|import`: moves a journal between a state directory (SQLite)
/// and PostgreSQL, whole, with generation numbers and run ids kept.
struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Export a journal to JSON lines, or import one into an empty journal.",
        discussion: """
            Move a server from its state directory to a PostgreSQL fleet: stop it, then
              switchyard journal export --state state > journal.jsonl
              switchyard journal import --state postgresql://switchyard@db:5432/switchyard < journal.jsonl
            and start the servers with --state postgresql://…
            """,
        subcommands: [Export.self, Import.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write every generation, run and hook run as JSON lines.")

        @Option(help: ArgumentHelp("The journal: a state directory or a postgresql:// URL.", valueName: "dir|url"))
        var state = Journal.defaultDirectory

        @Option(help: "Write here instead of standard output.")
        var output: String?

        func run() throws {
            if !state.hasPrefix("postgres"), !FileManager.default.fileExists(atPath: (state as NSString).appendingPathComponent(Journal.fileName)) {
                printError("switchyard: \(state) holds no journal (\(Journal.fileName)); give the state directory a server used")
                throw ExitCode(1)
            }
            do {
                let journal = try Journal.open(state: state)
                var text = ""
                let counts = try JournalArchive.export(journal) { text += $0 + "\n" }
                if let output {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
                } else {
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
                printError("exported \(counts) from \(journal.path)")
            } catch {
                printError("switchyard: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load an export into an empty journal (one transaction).")

        @Option(help: ArgumentHelp("The journal to fill: a state directory or a postgresql:// URL.", valueName: "dir|url"))
        var state: String

        @Option(help: "Read here instead of standard input.")
        var input: String?

        func run() throws {
            do {
                let data = try input.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } ?? FileHandle.standardInput.readDataToEndOfFile()
                let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let journal = try Journal.open(state: state)
                let counts = try JournalArchive.import(lines, into: journal)
                printError("imported \(counts) into \(journal.path)")
            } catch {
                printError("switchyard: \(input ?? "standard input"): \(error)")
                throw ExitCode(1)
            }
        }
    }
}
