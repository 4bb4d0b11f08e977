import Foundation
import SwitchyardControl
@testable import SwitchyardJournal
import Testing

@Suite struct PostgresLocationTests {
    @Test func aDirectoryIsNotAURL() throws {
        #expect(try PostgresLocation(url: "state") == nil)
        #expect(try PostgresLocation(url: "/var/lib/switchyard") == nil)
    }

    @Test func readsEveryPartAndRedactsThePassword() throws {
        let location = try #require(try PostgresLocation(url: "postgresql://sy:s%40cret@db.example:6543/journal?sslmode=require", environment: [:]))
        #expect(location.host == "db.example")
        #expect(location.port == 6543)
        #expect(location.user == "sy")
        #expect(location.password == "s@cret")
        #expect(location.database == "journal")
        #expect(location.tls == .require)
        #expect(location.redacted == "postgresql://sy@db.example:6543/journal?sslmode=require")
        #expect(!location.redacted.contains("cret"))
    }

    @Test func defaultsAndIPv6() throws {
        let location = try #require(try PostgresLocation(url: "postgres://sy@[::1]/j", environment: [:]))
        #expect(location.host == "::1")
        #expect(location.port == 5432)
        #expect(location.tls == .disable)
        #expect(location.password == nil)
        #expect(location.redacted == "postgresql://sy@[::1]:5432/j")
    }

    @Test func passwordFromTheEnvironmentThenThePassFile() throws {
        try withTemporaryDirectory { dir in
            let passFile = dir.file("pgpass")
            try """
                # comment
                other:5432:*:sy:wrong
                127.0.0.1:*:journal:sy:pa\\:ss
                """.write(toFile: passFile, atomically: true, encoding: .utf8)
            let url = "postgresql://sy@127.0.0.1:5433/journal"
            #expect(try PostgresLocation(url: url, environment: ["PGPASSWORD": "env"])?.password == "env")
            #expect(try PostgresLocation(url: url, environment: ["PGPASSFILE": passFile])?.password == "pa:ss")
            #expect(try PostgresLocation(url: "postgresql://sy@127.0.0.1:5433/other", environment: ["PGPASSFILE": passFile])?.password == nil)
        }
    }

    @Test(arguments: [
        ("postgresql://db.example/journal", "no user"),
        ("postgresql://sy@db.example", "no database name"),
        ("postgresql://sy@db.example/journal?sslmode=maybe", "sslmode=maybe"),
        ("postgresql://sy@db.example/journal?pool=3", "unknown URL parameter pool"),
        ("postgresql://sy:secret@/journal", "not a URL"),
    ])
    func malformedURLsSayWhatIsWrong(url: String, expected: String) throws {
        do {
            _ = try PostgresLocation(url: url, environment: [:])
            Issue.record("\(url) was accepted")
        } catch let error as JournalError {
            #expect(error.description.contains(expected), "\(error)")
            #expect(!error.description.contains("secret"), "the password leaked: \(error)")
        }
    }

    @Test func placeholdersAreNumberedForPostgreSQL() {
        let query = PostgresSession.query("SELECT a FROM t WHERE b = ? AND c < ? LIMIT ?", [.text("x"), .integer(3), .null])
        #expect(query.sql == "SELECT a FROM t WHERE b = $1 AND c < $2 LIMIT $3")
        #expect(query.binds.count == 3)
    }

    @Test func unreachableDatabaseIsAClearErrorWithinTheTimeout() throws {
        // A port nobody listens on (connection refused at once), password never printed.
        let location = try #require(try PostgresLocation(url: "postgresql://sy:secret@127.0.0.1:1/journal", environment: [:]))
        let started = Date()
        do {
            _ = try PostgresBackend(location, timeout: 2)
            Issue.record("connected to port 1")
        } catch let error as JournalError {
            guard case .unavailable = error else { Issue.record("expected unavailable, got \(error)"); return }
            #expect(error.httpStatus == 503)
            #expect(!error.description.contains("secret"))
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }
}

@Suite struct JournalArchiveTests {
    @Test func exportThenImportKeepsNumbersRunsAndHooks() throws {
        try withTemporaryDirectory { dir in
            let source = try Journal(directory: dir.file("a"))
            try source.append(state: vmState, actor: "cli", reason: "one", serials: ["kafka.example.": 1], at: instant(0.5))
            var moved = vmState
            moved.brokerPools["broker-1.orders.kafka.example."] = "pod"
            try source.append(state: moved, actor: "cutover run 1", reason: "two", serials: ["kafka.example.": 2], at: instant(1))
            let run = try source.createRun(cluster: "orders", status: "completed", record: ["step": 2], at: instant(1))
            try source.recordHook(generation: 2, kind: .notify, target: "NOTIFY", exitCode: nil, output: "no answer", at: instant(2))
            var lines: [String] = []
            let exported = try JournalArchive.export(source) { lines.append($0) }
            #expect(exported.description == "2 generation, 1 cutover_run, 1 hook_run, 0 inventory_baseline, 0 metadata")

            let target = try Journal(directory: dir.file("b"))
            _ = try JournalArchive.import(lines, into: target)
            #expect(try target.history(limit: 10) == source.history(limit: 10))
            #expect(try target.runs(limit: 10) == source.runs(limit: 10))
            #expect(try target.hookRuns(generation: 2) == source.hookRuns(generation: 2))
            // Numbering goes on after the imported rows.
            #expect(try target.append(state: vmState, actor: "cli", reason: "three", serials: [:], at: instant(3)).number == 3)
            #expect(try target.createRun(cluster: "orders", status: "running", record: ["step": 0]) == run + 1)

            // Never merged into a journal that has a history.
            #expect(throws: ArchiveError.self) { try JournalArchive.import(lines, into: target) }
        }
    }

    @Test func aBadLineNamesItsNumberAndImportsNothing() throws {
        try withTemporaryDirectory { dir in
            let target = try Journal(directory: dir.file("b"))
            let lines = [#"{"format":"switchyard-journal/1","source":"sqlite"}"#,
                         #"{"row":{"actor":"a","changes":"[]","created_at":1,"number":1,"reason":"r","serials":"{}","state":"{}"},"table":"generation"}"#,
                         #"{"table":"generation","row":{"number":2}}"#]
            do {
                _ = try JournalArchive.import(lines, into: target)
                Issue.record("a row without its columns was imported")
            } catch let error as ArchiveError {
                #expect(error.line == 3)
                #expect(error.description.contains("column"))
            }
            #expect(try target.latest() == nil)
            #expect(throws: ArchiveError.self) { try JournalArchive.import(["{}"], into: target) }
        }
    }
}
