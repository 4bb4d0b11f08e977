/// Answers computed when a snapshot is built. A query that hits these tables costs a hash
/// lookup and three copies: header, the client's own question bytes, and prepared sections.
///
/// The prepared bytes were encoded after a question of the same length at offset 12, so
/// their compression pointers stay valid under any question with the same name (any case).
struct PreparedAnswer: Sendable {
    /// AA and RCODE bits of the header.
    var flags: UInt16
    var answerCount: UInt16
    var authorityCount: UInt16
    var additionalCount: UInt16
    var bodyStart: Int32
    var bodyLength: Int32
    /// Offset in the body of the SOA serial to patch with the zone's current serial (-1: none),
    /// and that zone.
    var serialOffset: Int32 = -1
    var serialZone: Int32 = -1
    /// For metrics: the zone, and the stable name and pool this answer comes from.
    var zone: Int32
    var stable: Int32 = -1
    var pool: Int32 = -1
}

/// Where prepared answers are encoded and stored.
struct PreparedStore: Sendable {
    private(set) var entries: [PreparedAnswer] = []
    private(set) var body: [UInt8] = []
    /// While filling: the bodies of answers without answer records (NODATA, NXDOMAIN,
    /// referrals), which repeat for every name of the same length in a zone: stored once.
    private var shared: [[UInt8]: Int32] = [:]

    /// Resolves (name, type) and stores its encoding; nil when the answer cannot be
    /// prepared (it depends on a per-query draw, or is too large).
    mutating func prepare(name: DomainName, type: RRType, draw: Draw, zoneSet: ZoneSet, workspace: Workspace) -> Int? {
        name.key.withUnsafeBytes { prepare(key: $0, type: type, draw: draw, zoneSet: zoneSet, workspace: workspace) }
    }

    /// The same for a lowercase wire-format name.
    mutating func prepare(key: UnsafeRawBufferPointer, type: RRType, draw: Draw, zoneSet: ZoneSet, workspace: Workspace) -> Int? {
        workspace.scratch.load(key: key)
        workspace.resolution.reset()
        zoneSet.resolve(qtype: type, fullAny: false, draw: draw, scratch: workspace.scratch, into: &workspace.resolution)
        if workspace.resolution.draws > (draw.forced == nil ? 0 : 1) { return nil }
        var writer = MessageWriter(buffer: workspace.buffer, limit: 65_535, compression: workspace.compression)
        for _ in 0..<3 { _ = writer.u32(0) }
        _ = writer.bytes(key)
        _ = writer.u16(type.rawValue); _ = writer.u16(RRClass.in.rawValue)
        let questionEnd = writer.count
        writer.registerName(at: 12)
        guard let counts = ResponseEncoder.encodeSections(workspace.resolution, zoneSet: zoneSet, writer: &writer),
              !counts.truncated, counts.soaCount <= 1 else { return nil }
        let encoded = UnsafeRawBufferPointer(rebasing: workspace.buffer[questionEnd..<writer.count])
        var bodyStart = Int32(body.count)
        if counts.answer == 0 {
            let bytes = [UInt8](encoded)
            if let earlier = shared[bytes] { bodyStart = earlier } else {
                shared[bytes] = bodyStart
                body.append(contentsOf: encoded)
            }
        } else {
            body.append(contentsOf: encoded)
        }
        entries.append(PreparedAnswer(
            flags: ResponseEncoder.flags(for: workspace.resolution),
            answerCount: counts.answer, authorityCount: counts.authority, additionalCount: counts.additional,
            bodyStart: bodyStart, bodyLength: Int32(encoded.count),
            serialOffset: counts.serialOffset < 0 ? -1 : Int32(counts.serialOffset - questionEnd), serialZone: counts.serialZone,
            zone: workspace.resolution.zone, stable: workspace.resolution.stable, pool: workspace.resolution.pool))
        return entries.count - 1
    }

    /// Drops the growth slack of the arrays (they doubled while filling; a large zone's
    /// answers would otherwise keep up to twice the memory they need).
    mutating func compact() {
        shared = [:]
        entries = entries.withUnsafeBufferPointer { Array($0) }
        body = body.withUnsafeBufferPointer { Array($0) }
    }

    /// A placeholder entry (`bodyLength` -1) for an answer that cannot be prepared.
    mutating func appendUnpreparable() -> Int {
        entries.append(PreparedAnswer(flags: 0, answerCount: 0, authorityCount: 0, additionalCount: 0,
                                      bodyStart: 0, bodyLength: -1, zone: -1))
        return entries.count - 1
    }

    /// Empties the store, keeping its capacity.
    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        body.removeAll(keepingCapacity: true)
        shared.removeAll(keepingCapacity: true)
    }

    /// Scratch space for preparing answers.
    final class Workspace {
        let scratch = LookupScratch()
        var resolution = Resolution()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 8)
        let compression = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: 256)
        deinit { buffer.deallocate(); compression.deallocate() }
    }

    static func key(_ name: DomainName, _ type: RRType) -> [UInt8] {
        name.key + [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF)]
    }
}

/// Identifies one set of zone data: answers prepared from it stay valid, with the SOA
/// serial patched in, for every snapshot that shares it (generations, health changes).
final class ZoneDataIdentity: Sendable {}

/// Zone data: every (name, type) that exists plus A and AAAA at every name, except what
/// leads to a stable name (those answers change per query).
///
/// Zone sets above `eagerLimit` names are not prepared when loaded: preparing and keeping
/// a few answers per name would double the load time and memory of a million-name zone,
/// though few of its names are ever asked for. Each worker thread prepares those answers
/// on first use instead (`AnswerCache`).
public struct PrecompiledAnswers: Sendable {
    public static let eagerLimit = 100_000

    private var table = NameTable()
    private(set) var store = PreparedStore()
    let identity = ZoneDataIdentity()
    /// False when the zone set was too large to prepare: threads prepare on first use.
    let complete: Bool

    var count: Int { store.entries.count }

    /// An empty table; `complete: false` lets threads prepare answers on first use.
    init(complete: Bool = true) { self.complete = complete }

    init(zoneSet: ZoneSet) {
        complete = true
        let workspace = PreparedStore.Workspace()
        table = NameTable(expectedCount: zoneSet.zones.reduce(0) { $0 + $1.storage.nodes.count * 2 })
        var key: [UInt8] = []
        var types: [RRType] = []
        for zone in zoneSet.zones {
            let storage = zone.storage
            for (nodeIndex, node) in storage.nodes.enumerated() where node.stable < 0 {
                types.removeAll(keepingCapacity: true)
                for index in storage.rrsetRange(of: nodeIndex) { types.append(RRType(rawValue: storage.rrsets[index].type)) }
                if !types.contains(.a) { types.append(.a) }
                if !types.contains(.aaaa) { types.append(.aaaa) }
                key.removeAll(keepingCapacity: true)
                storage.names.withKey(nodeIndex) { key.append(contentsOf: $0) }
                let nameLength = key.count
                key.append(0); key.append(0)
                for type in types {
                    key[key.count - 2] = UInt8(type.rawValue >> 8)
                    key[key.count - 1] = UInt8(type.rawValue & 0xFF)
                    // A name can belong to two zones (cut and apex): the first, the lookup's choice, wins.
                    key.withUnsafeBytes { key in
                        guard table.find(key) == nil,
                              let entry = store.prepare(key: UnsafeRawBufferPointer(rebasing: key[0..<nameLength]), type: type,
                                                        draw: Draw(), zoneSet: zoneSet, workspace: workspace)
                        else { return }
                        let index = table.insert(key)
                        precondition(index == entry)
                    }
                }
            }
        }
        store.compact()
        table.compact()
    }

    /// The answer for a lowercase name followed by the type.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer) -> PreparedAnswer? {
        table.find(key).map { store.entries[$0] }
    }
}

/// Stable names: for A and AAAA, one prepared answer per pool and rotation; the query's
/// draw picks which one.
struct PrecompiledStableAnswers: Sendable {
    private struct Group: Sendable {
        var set: Int32
        var base: Int32
        var kind: StableAnswers.Kind
    }
    private var table = NameTable()
    private var groups: [Group] = []
    private(set) var store = PreparedStore()

    var count: Int { store.entries.count }

    init() {}

    init(zoneSet: ZoneSet) {
        let workspace = PreparedStore.Workspace()
        for zone in zoneSet.zones {
            for (nodeIndex, entry) in zone.storage.nodes.enumerated() where entry.stable >= 0 {
                let node = zone.nodes[nodeIndex]
                let set = zoneSet.stable.sets[Int(entry.stable)]
                for type in [RRType.a, .aaaa] {
                    let base = store.entries.count
                    var complete = true
                    for (poolIndex, pool) in set.pools.enumerated() {
                        for variant in 0..<pool.variants {
                            let draw = Draw(forced: (poolIndex, variant))
                            if store.prepare(name: node.name, type: type, draw: draw, zoneSet: zoneSet, workspace: workspace) == nil {
                                complete = false
                            }
                        }
                    }
                    // Leave names with an unpreparable variant to the general path.
                    guard complete else { continue }
                    let index = table.insert(PreparedStore.key(node.name, type))
                    precondition(index == groups.count)
                    groups.append(Group(set: entry.stable, base: Int32(base), kind: .init(type)))
                }
            }
        }
    }

    /// The prepared answer for this query's draw; nil when the name is not here or the
    /// draw leads to SERVFAIL (left to the general path).
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer, stable: StableAnswers, random: UInt64, clientHash: UInt64) -> PreparedAnswer? {
        guard let index = table.find(key) else { return nil }
        let group = groups[index]
        let set = stable.sets[Int(group.set)]
        guard let choice = set.choose(random: random, clientHash: clientHash, kind: group.kind) else { return nil }
        // Entries were prepared with the pool forced, so they already carry it.
        return store.entries[Int(group.base) + set.variantOffsets[choice.pool] + choice.variant]
    }
}
