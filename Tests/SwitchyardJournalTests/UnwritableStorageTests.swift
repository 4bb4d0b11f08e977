import Foundation
import GRDB
import SwitchyardControl
@testable import SwitchyardJournal
import Testing

/// A full or read-only state directory: the change is refused with an error naming the
/// directory and errno, nothing is journaled, health says so, and the next write after the
/// fault is gone succeeds on the same connection.
@Suite struct UnwritableStorageTests {
    @Test(arguments: [
        (Int32(ENOSPC), ResultCode.SQLITE_FULL, "ENOSPC", "free space"),
        (Int32(EROFS), ResultCode.SQLITE_IOERR, "EROFS", "mount it read-write"),
        (Int32(EROFS), ResultCode.SQLITE_READONLY, "EROFS", "read-write again"),
        (Int32(0), ResultCode.SQLITE_FULL, "ENOSPC", "free space"),
    ])
    func storageFailuresNameTheDirectoryAndErrno(errno: Int32, code: ResultCode, name: String, remedy: String) {
        let error = JournalError.from(DatabaseError(resultCode: code, message: "disk trouble"), path: "/srv/state/switchyard.db", systemErrno: errno)
        guard case .unwritable(_, let recorded, _) = error else { Issue.record("not unwritable: \(error)"); return }
        #expect(recorded == (errno == 0 ? ENOSPC : errno))
        #expect(error.description.hasPrefix("/srv/state: the state directory cannot be written (\(name): "))
        #expect(error.description.contains("nothing was changed"))
        #expect(error.description.contains(remedy))
        #expect(error.httpStatus == 503)
        #expect(error.isStorageFailure)
    }

    @Test func refusalsOfTheRequestAreNotStorageFailures() {
        let active = JournalError.runAlreadyActive(path: "/s/switchyard.db", cluster: "orders", activeID: 3)
        #expect(!active.isStorageFailure)
        #expect(active.httpStatus == 409)
    }

    /// Needs root to mount a 1 MiB tmpfs; skipped otherwise.
    @Test(.enabled(if: geteuid() == 0, "mounts a tmpfs"))
    func aFullDiskRefusesTheChangeAndRecoversWithoutReopening() throws {
        try withTmpfs(size: "1m") { mountPoint in
            let journal = try Journal(directory: mountPoint + "/state")
            let first = try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            let filler = mountPoint + "/filler"
            fillUp(filler)
            var changed = vmState
            changed.weights["bootstrap.orders.kafka.example."] = ["vm": 50, "pod": 50]
            do {
                try journal.append(state: changed, actor: "t", reason: "2", serials: [:], at: instant(1))
                Issue.record("appended on a full disk")
            } catch let error as JournalError {
                guard case .unwritable(_, ENOSPC, _) = error else { Issue.record("unexpected \(error)"); return }
                #expect(error.description.contains(mountPoint + "/state"))
            }
            // What the journal asks the directory when SQLite gives no errno.
            #expect(SystemErrno.probe(directory: mountPoint + "/state") == ENOSPC)
            var health = journal.health(probingEvery: 0)
            #expect(!health.writable)
            #expect(health.writeErrors == 1)
            #expect(health.lastError?.contains("ENOSPC") == true)
            #expect(try journal.latest()?.number == first.number)
            try FileManager.default.removeItem(atPath: filler)
            #expect(SystemErrno.probe(directory: mountPoint + "/state") == 0)
            // The probe notices the space is back; the next change is the next number.
            health = journal.health(probingEvery: 0)
            #expect(health.writable)
            #expect(health.writeErrors == 1)
            let next = try journal.append(state: changed, actor: "t", reason: "2", serials: [:], at: instant(2))
            #expect(next.number == first.number + 1)
        }
    }

    /// Writes until the file system says no more, to the last byte.
    private func fillUp(_ path: String) {
        guard let handle = fopen(path, "w") else { return }
        defer { fclose(handle) }
        setvbuf(handle, nil, _IONBF, 0)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while fwrite(&chunk, 1, chunk.count, handle) == chunk.count {}
        while fwrite(&chunk, 1, 1, handle) == 1 {}
    }
}
