import Foundation
import GRDB
import SwitchyardControl
import SwitchyardJournal
import Testing

@Suite struct OpenErrorTests {
    @Test func garbageFileIsNotADatabase() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("switchyard.db")
            let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            try garbage.write(to: URL(fileURLWithPath: path))
            do {
                _ = try Journal(directory: dir.path)
                Issue.record("opened a garbage file")
            } catch let error as JournalError {
                guard case .notADatabase(path, _) = error else { Issue.record("unexpected \(error)"); return }
                #expect(error.description.hasPrefix("\(path): not a Switchyard journal"))
                #expect(error.description.contains("restore it from a backup"))
            }
            // The file is left as it was, for the operator to inspect.
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        }
    }

    @Test func aDirectoryInTheWayCannotBeOpened() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("switchyard.db")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            do {
                _ = try Journal(path: path)
                Issue.record("opened a directory")
            } catch let error as JournalError {
                guard case .cannotOpen(path, _) = error else { Issue.record("unexpected \(error)"); return }
                #expect(error.description.hasPrefix("\(path): cannot open the journal"))
            }
        }
    }

    @Test func aStateDirectoryThatIsAFileCannotBeCreated() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("state")
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            #expect(throws: JournalError.self) { try Journal(directory: path) }
            do { _ = try Journal(directory: path) } catch let error as JournalError {
                guard case .cannotOpen(path, _) = error else { Issue.record("unexpected \(error)"); return }
            }
        }
    }

    @Test func aNewerSchemaIsRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("switchyard.db")
            do {
                let journal = try Journal(path: path)
                try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            }
            // What a future Switchyard would leave behind.
            try DatabaseQueue(path: path).write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v2-future'), ('v3-future')")
            }
            #expect(throws: JournalError.newerSchema(path: path, unknownMigrations: ["v2-future", "v3-future"])) {
                try Journal(path: path)
            }
            let message = JournalError.newerSchema(path: path, unknownMigrations: ["v2-future"]).description
            #expect(message == "\(path): the journal was written by a newer Switchyard (unknown schema steps: v2-future); upgrade this switchyard binary, do not downgrade the state")
        }
    }

    @Test func aSecondWriterGetsALockedError() throws {
        try withTemporaryDirectory { dir in
            let first = try Journal(directory: dir.path)
            try first.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            try first.write { tx in
                // Holds the write lock until the closure returns.
                try tx.append(state: vmState, actor: "t", reason: "2", serials: [:], at: instant(1))
                let second = try Journal(directory: dir.path, busyTimeout: 0.1)
                // Readers are not blocked (WAL) and see only committed data...
                #expect(try second.latest()?.number == 1)
                // ...but a second writer is, and says so.
                #expect(throws: JournalError.locked(path: second.path)) {
                    try second.append(state: vmState, actor: "other", reason: "x", serials: [:], at: instant(2))
                }
                #expect(JournalError.locked(path: second.path).description.contains("locked by another process"))
            }
            #expect(try first.latest()?.number == 2)
        }
    }

    @Test func generationsAreAppendOnly() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            let queue = try DatabaseQueue(path: journal.path)
            #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "DELETE FROM generation") } }
            #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "UPDATE generation SET reason = 'x'") } }
            #expect(try journal.latest()?.reason == "1")
        }
    }
}
