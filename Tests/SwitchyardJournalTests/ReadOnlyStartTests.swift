import Foundation
import GRDB
import Testing
@testable import SwitchyardJournal

/// A server that starts on a state directory it cannot write serves the journal read-only,
/// refuses changes as any unwritable directory does, and becomes its writer again (lock
/// first) once the file system is read-write, without reopening anything by hand.
@Suite struct ReadOnlyStartTests {
    @Test func aReadOnlyOpenReadsTheWALWhenThereIsOneAndTheFileAloneWhenNot() {
        #expect(SQLiteBackend.readOnlyTarget(path: "/srv/state/switchyard.db", walExists: true) == "/srv/state/switchyard.db")
        #expect(SQLiteBackend.readOnlyTarget(path: "/srv/state/switchyard.db", walExists: false) == "file:/srv/state/switchyard.db?immutable=1")
        #expect(SQLiteBackend.readOnlyTarget(path: "/srv/a?b#c%d/switchyard.db", walExists: false) == "file:/srv/a%3Fb%23c%25d/switchyard.db?immutable=1")
    }

    @Test func aReadingLockIsTheSameExclusiveLock() throws {
        try withTemporaryDirectory { dir in
            // No lock file yet (a read-only directory could not have created one): nothing held...
            let reader = try StateDirectoryLock.acquireForReading(directory: dir.path, zonesDirectory: "/srv/zones")
            #expect(!reader.isHeld)
            // ...so another server may take it, and then this one must not write.
            let other = try StateDirectoryLock.acquire(directory: dir.path, zonesDirectory: "/srv/other")
            #expect(throws: StateDirectoryLockError.held(directory: dir.path, holder: .init(pid: getpid(), zonesDirectory: "/srv/other"))) {
                try reader.lockForWriting()
            }
            #expect(throws: StateDirectoryLockError.self) { try StateDirectoryLock.acquireForReading(directory: dir.path, zonesDirectory: "/srv/zones") }
            withExtendedLifetime(other) {}
        }
        // (Another directory rather than releasing and locking again: a process spawned by a
        // test running meanwhile may hold a copy of a released descriptor until its exec.)
        try withTemporaryDirectory { dir in
            _ = FileManager.default.createFile(atPath: dir.file(StateDirectoryLock.fileName), contents: Data("pid 1\nzones /old\n".utf8))
            // Held through a read-only descriptor, it keeps a writer out as the writer's own does.
            let held = try StateDirectoryLock.acquireForReading(directory: dir.path, zonesDirectory: "/srv/zones")
            #expect(held.isHeld)
            #expect(throws: StateDirectoryLockError.held(directory: dir.path, holder: .init(pid: getpid(), zonesDirectory: "/old"))) {
                try StateDirectoryLock.acquire(directory: dir.path, zonesDirectory: "/srv/other")
            }
            try held.lockForWriting()
            #expect(try String(contentsOfFile: held.path, encoding: .utf8) == "pid \(getpid())\nzones /srv/zones\n")
            #expect(throws: StateDirectoryLockError.self) { try StateDirectoryLock.acquire(directory: dir.path, zonesDirectory: "/srv/other") }
        }
    }

    /// After a clean stop (no -wal left): served read-only from the file alone, changes refused
    /// with EROFS, a transaction that writes nothing goes through; remounted read-write, the
    /// next change is the next generation, on the same `Journal`. Needs root (a tmpfs).
    @Test(.enabled(if: geteuid() == 0, "mounts a tmpfs"))
    func aCleanlyStoppedJournalIsServedReadOnlyAndWrittenAgainOnceWritable() throws {
        try withReadOnlyCapableMount { mountPoint in
            let directory = mountPoint + "/state"
            var changed = vmState
            changed.weights["bootstrap.orders.kafka.example."] = ["vm": 50, "pod": 50]
            do {
                let lock = try StateDirectoryLock.acquire(directory: directory, zonesDirectory: "/srv/zones")
                defer { lock.release() }
                let journal = try Journal(directory: directory)
                try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
                try journal.append(state: changed, actor: "t", reason: "2", serials: [:], at: instant(1))
            }
            #expect(!FileManager.default.fileExists(atPath: directory + "/switchyard.db-wal"), "a clean close folds the WAL in")
            #expect(remount(mountPoint, "ro"))

            #expect(throws: StateDirectoryLockError.cannotLock(path: directory + "/lock", errno: EROFS, detail: "Read-only file system")) {
                try StateDirectoryLock.acquire(directory: directory, zonesDirectory: "/srv/zones")
            }
            let lock = try StateDirectoryLock.acquireForReading(directory: directory, zonesDirectory: "/srv/zones")
            #expect(lock.isHeld)
            let journal = try Journal.openReadOnly(directory: directory, lock: lock, errno: EROFS)
            #expect(journal.isReadOnly)
            #expect(try journal.latest()?.number == 2)
            #expect(try journal.latest()?.state == changed)
            var health = journal.health(probingEvery: 0)
            #expect(!health.writable)
            #expect(health.lastError?.contains("EROFS: Read-only file system") == true)
            #expect(try journal.write { try $0.latest()?.number } == 2, "a transaction that writes nothing")
            #expect(!journal.health(probingEvery: 60).writable, "it proves nothing about the directory")
            do {
                try journal.append(state: vmState, actor: "t", reason: "3", serials: [:], at: instant(2))
                Issue.record("appended to a read-only journal")
            } catch let error as JournalError {
                #expect(error == .unwritable(path: directory + "/switchyard.db", errno: EROFS, detail: SQLiteBackend.readOnlyDetail))
                #expect(error.description.hasPrefix("\(directory): the state directory cannot be written (EROFS: Read-only file system)"))
                #expect(error.httpStatus == 503)
            }

            #expect(remount(mountPoint, "rw"))
            health = journal.health(probingEvery: 0)
            #expect(health.writable)
            #expect(!journal.isReadOnly)
            #expect(try journal.storage().journalMode == "wal")
            #expect(try journal.append(state: vmState, actor: "t", reason: "3", serials: [:], at: instant(2)).number == 3)
            #expect(throws: StateDirectoryLockError.self) { try StateDirectoryLock.acquire(directory: directory, zonesDirectory: "/srv/other") }
        }
    }

    /// After a crash, or a disk gone read-only under a running server, the last commits are
    /// in the -wal: the read-only open must read them (an `immutable` one would not).
    @Test(.enabled(if: geteuid() == 0, "mounts a tmpfs"))
    func commitsStillInTheWALAreServed() throws {
        try withReadOnlyCapableMount { mountPoint in
            let directory = mountPoint + "/state"
            var changed = vmState
            changed.weights["bootstrap.orders.kafka.example."] = ["vm": 0, "pod": 100]
            // What a crash leaves behind: the three files as they are while the writer is open.
            let crashed = mountPoint + "/crashed"
            do {
                let writer = try Journal(directory: directory)
                try writer.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
                try writer.append(state: changed, actor: "t", reason: "2", serials: [:], at: instant(1))
                try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: true)
                for suffix in ["", "-wal", "-shm"] {
                    try FileManager.default.copyItem(atPath: writer.path + suffix, toPath: crashed + "/switchyard.db" + suffix)
                }
            }
            #expect(remount(mountPoint, "ro"))
            // The file alone lacks the last commit: that is why `immutable` is never used beside a -wal.
            var immutable = Configuration()
            immutable.readonly = true
            let fileAlone = try DatabaseQueue(path: SQLiteBackend.readOnlyTarget(path: crashed + "/switchyard.db", walExists: false), configuration: immutable)
            // (Possibly not even the schema: SQLite checkpoints only at 1000 pages or on close.)
            let lastInFileAlone = try? fileAlone.read { try Int.fetchOne($0, sql: "SELECT max(number) FROM generation") }
            #expect(lastInFileAlone != 2)
            let lock = try StateDirectoryLock.acquireForReading(directory: crashed, zonesDirectory: "/srv/zones")
            let journal = try Journal.openReadOnly(directory: crashed, lock: lock, errno: EROFS)
            #expect(try journal.latest()?.number == 2)
            #expect(try journal.latest()?.state == changed)
            // Writable again: the read-only connection mapped the -shm read-only; the
            // read-write one must not inherit that.
            #expect(remount(mountPoint, "rw"))
            #expect(journal.health(probingEvery: 0).writable)
            #expect(try journal.append(state: vmState, actor: "t", reason: "3", serials: [:], at: instant(2)).number == 3)
        }
    }

    /// Retried for a moment: a process that a test running meanwhile spawns holds copies of
    /// this process's descriptors until its exec, and the kernel refuses `ro` (EBUSY) while
    /// one of them is a file open for writing.
    private func remount(_ mountPoint: String, _ mode: String) -> Bool {
        for _ in 0..<20 {
            if run("/bin/mount", "-o", "remount,\(mode)", mountPoint) == 0 { return true }
            usleep(50_000)
        }
        return false
    }

    private func withReadOnlyCapableMount(_ body: (String) throws -> Void) throws {
        try withTmpfs(size: "8m", body)
    }
}
