import Foundation
import GRDB
import Testing
@testable import SwitchyardJournal

@Suite("One server per state directory")
struct StateDirectoryTests {
    @Test func aSecondLockIsRefusedNamingTheHolderAndLeavesItsFileAlone() throws {
        try withTemporaryDirectory { dir in
            let first = try StateDirectoryLock.acquire(directory: dir.path, zonesDirectory: "/srv/zones-a")
            let recorded = try String(contentsOfFile: first.path, encoding: .utf8)
            #expect(recorded == "pid \(getpid())\nzones /srv/zones-a\n")
            #expect(throws: StateDirectoryLockError.held(directory: dir.path,
                                                         holder: .init(pid: getpid(), zonesDirectory: "/srv/zones-a"))) {
                try StateDirectoryLock.acquire(directory: dir.path, zonesDirectory: "/srv/zones-b")
            }
            #expect(try String(contentsOfFile: first.path, encoding: .utf8) == recorded)
            first.release()
            let second = try StateDirectoryLock.acquire(directory: dir.path, zonesDirectory: "/srv/zones-b")
            #expect(try String(contentsOfFile: second.path, encoding: .utf8) == "pid \(getpid())\nzones /srv/zones-b\n")
        }
    }

    @Test func theRefusalSaysWhoAndWhatToDo() {
        let message = StateDirectoryLockError.held(directory: "state", holder: .init(pid: 42, zonesDirectory: "/srv/zones")).description
        #expect(message == "state: the state directory is in use by another switchyard serve (pid 42, zones /srv/zones); stop that server first, or give this one its own --state directory")
    }

    /// A fleet member's --cache-dir takes the same lock: a second server would overwrite the
    /// first one's local copy, and could later serve it.
    @Test func aCacheDirectoryIsLockedTheSameWayAndItsRefusalNamesTheOption() throws {
        try withTemporaryDirectory { dir in
            let cache = dir.file("cache")
            let first = try StateDirectoryLock.acquire(directory: cache, zonesDirectory: "/srv/zones-a", role: .cache)
            #expect(FileManager.default.fileExists(atPath: (cache as NSString).appendingPathComponent(StateDirectoryLock.fileName)))
            let refused = StateDirectoryLockError.held(directory: cache, holder: .init(pid: getpid(), zonesDirectory: "/srv/zones-a"), role: .cache)
            #expect(throws: refused) { try StateDirectoryLock.acquire(directory: cache, zonesDirectory: "/srv/zones-b", role: .cache) }
            #expect(refused.description == "\(cache): the cache directory is in use by another switchyard serve (pid \(getpid()), zones /srv/zones-a); stop that server first, or give this one its own --cache-dir directory (each server of a fleet keeps its own copy of the last generation it served there)")
            first.release()
            _ = try StateDirectoryLock.acquire(directory: cache, zonesDirectory: "/srv/zones-b", role: .cache)
        }
    }

    @Test func aJournalIsClaimedByItsZonesDirectory() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            #expect(try journal.claim(zonesDirectory: "/srv/a", adopt: false) == .recorded)
            #expect(try journal.claim(zonesDirectory: "/srv/a", adopt: false) == .unchanged)
            let refused = JournalError.otherZonesDirectory(path: journal.path, recorded: "/srv/a", given: "/srv/b")
            #expect(throws: refused) { try journal.claim(zonesDirectory: "/srv/b", adopt: false) }
            #expect(refused.description == "\(dir.path): this state directory belongs to the zones directory /srv/a, not /srv/b; serve /srv/a with it, give /srv/b its own --state directory, or pass --adopt-state to make this state /srv/b's")
            #expect(try journal.zonesDirectory() == "/srv/a")
            #expect(try journal.claim(zonesDirectory: "/srv/b", adopt: true) == .adopted(previous: "/srv/a"))
            #expect(try journal.zonesDirectory() == "/srv/b")
        }
    }

    @Test func aJournalFromBeforeTheRecordAdoptsSilently() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("switchyard.db")
            do {
                let journal = try Journal(path: path)
                try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            }
            // What a Switchyard before v3-metadata left behind.
            try DatabaseQueue(path: path).write { db in
                try db.execute(sql: "DROP TABLE metadata; DELETE FROM grdb_migrations WHERE identifier = 'v3-metadata'")
            }
            let journal = try Journal(path: path)
            #expect(try journal.claim(zonesDirectory: "/srv/a", adopt: false) == .recorded)
            #expect(try journal.latest()?.number == 1)
        }
    }
}
