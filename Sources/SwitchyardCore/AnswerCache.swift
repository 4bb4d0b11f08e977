/// Zone answers one thread prepared on first use, for zone sets too large to prepare when
/// loaded (`PrecompiledAnswers.eagerLimit`). One per `Responder`, so it needs no lock: a
/// miss prepares the answer exactly as loading would (the same `PreparedStore` encoding),
/// and later queries for that (name, type) copy it. Allocation happens only on a miss.
///
/// Entries belong to one `ZoneDataIdentity` and are dropped when the zone data changes;
/// generations and health changes keep it, as they keep the eagerly prepared answers.
/// When full, the cache starts over: random names (an NXDOMAIN flood) cannot pin it.
final class AnswerCache {
    static let capacity = 65_536

    private var table = NameTable(expectedCount: AnswerCache.capacity)
    private(set) var store = PreparedStore()
    private let workspace = PreparedStore.Workspace()
    private var source: ZoneDataIdentity?

    /// The prepared answer for a lowercase name followed by its type, preparing it when
    /// absent; nil when it cannot be prepared (stable names, answers too large).
    func answer(_ key: UnsafeRawBufferPointer, type: RRType, snapshot: Snapshot) -> PreparedAnswer? {
        let identity = snapshot.precompiled.identity
        if source !== identity {
            clear()
            source = identity
        }
        if let index = table.find(key) {
            let entry = store.entries[index]
            return entry.bodyLength < 0 ? nil : entry
        }
        if table.count >= AnswerCache.capacity { clear() }
        let name = UnsafeRawBufferPointer(rebasing: key[0..<(key.count - 2)])
        // What cannot be prepared (a draw decides it) is remembered too, so that the general
        // path answers it from then on without another attempt.
        let entry = store.prepare(key: name, type: type, draw: Draw(), zoneSet: snapshot.zoneSet, workspace: workspace)
            ?? store.appendUnpreparable()
        let index = table.insert(key)
        precondition(index == entry)
        let found = store.entries[entry]
        return found.bodyLength < 0 ? nil : found
    }

    private func clear() {
        table.removeAll()
        store.removeAll()
    }
}
