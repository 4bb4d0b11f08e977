/// Zone answers one thread prepared on first use, for zone sets too large to prepare when
/// loaded (`PrecompiledAnswers.eagerLimit`). One per `Responder`, so it needs no lock: a
/// miss prepares the answer exactly as loading would (the same `PreparedStore` encoding),
/// and later queries for that (name, type) copy it. Allocation happens only on a miss.
///
/// Entries belong to one `ZoneDataIdentity` and are dropped when the zone data changes;
/// generations and health changes keep it, as they keep the eagerly prepared answers.
/// Only names that exist in a zone are kept (others take the general path each time), and
/// when full the cache starts over.
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
        let name = UnsafeRawBufferPointer(rebasing: key[0..<(key.count - 2)])
        // Only names the zones hold, as when preparing at load: the table's hash is not
        // keyed, so names a client invents (NXDOMAIN, wildcards) must never become keys.
        workspace.scratch.load(key: name)
        guard let zone = snapshot.zoneSet.findZone(workspace.scratch), snapshot.zoneSet.zones[zone].nodeIndex(name) != nil else {
            return nil
        }
        if table.count >= AnswerCache.capacity { clear() }
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
