import CNetShim
import Synchronization
import SwitchyardCore

/// The snapshot being served. Workers compare `version` (one atomic load per batch of
/// queries) and fetch the snapshot under the lock only when it changed, so queries never
/// take a lock; a reload swaps the whole snapshot at once.
public final class SnapshotStore: Sendable {
    private let current: Mutex<Snapshot>
    private let counter = Atomic<Int>(0)

    public init(_ snapshot: Snapshot) {
        current = Mutex(snapshot)
    }

    public var version: Int { counter.load(ordering: .acquiring) }

    public var snapshot: Snapshot { current.withLock { $0 } }

    public func replace(with snapshot: Snapshot) {
        current.withLock { $0 = snapshot }
        counter.add(1, ordering: .releasing)
        releaseFreedMemory()
    }

    /// Replaces the snapshot with one derived from it, atomically with respect to other
    /// updates (a reload and a health change never lose each other's work).
    public func update<E: Error>(_ transform: (Snapshot) throws(E) -> Snapshot) throws(E) {
        try current.withLock { (snapshot: inout Snapshot) throws(E) in snapshot = try transform(snapshot) }
        counter.add(1, ordering: .releasing)
        releaseFreedMemory()
    }

    /// Building a snapshot allocates a lot that is freed right after (parsing, the previous
    /// snapshot once workers let go of it); give those pages back to the system.
    private func releaseFreedMemory() {
        _ = sy_malloc_trim()
    }
}

/// A worker's view of the store: refreshed between batches, read freely within one.
struct SnapshotCache {
    let store: SnapshotStore
    private(set) var snapshot: Snapshot
    private var version: Int

    init(store: SnapshotStore) {
        self.store = store
        self.version = store.version
        self.snapshot = store.snapshot
    }

    mutating func refresh() {
        let latest = store.version
        if latest != version {
            version = latest
            snapshot = store.snapshot
        }
    }
}
