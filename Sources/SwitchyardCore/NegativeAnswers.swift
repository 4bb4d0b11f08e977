/// NXDOMAIN and NODATA bodies (RFC 2308 section 3: the zone's SOA, and nothing else, in
/// authority), one per zone, prepared when the zone data is loaded.
///
/// Precompiled answers exist only for names a zone holds; a name a client invents (a typo,
/// a random-subdomain flood) takes the general path, whose resolution is cheap but whose
/// encoding, with name compression, used to cost several times a precompiled answer. The
/// body of a negative answer does not depend on the name asked, only on where the question
/// puts the zone's apex: it is encoded once after a question naming the apex itself, and
/// every compression pointer in it (into the apex, or into the body) moves by the same
/// amount under a longer question: the length of the labels above the apex.
///
/// A name in the SOA that shares more than the apex with the question (a query for
/// `x.ns1.example.` with SOA MNAME `ns1.example.`) is written as its labels and a pointer
/// to the apex, where the general encoder would point into the question: both are valid
/// compression (RFC 1035 section 4.1.4), and the records are the same.
struct NegativeAnswers: Sendable {
    struct Template: Sendable {
        /// Counts, body offset and length, and where the serial goes; flags come from the query's resolution.
        var entry: PreparedAnswer
        /// Length of the apex in wire form.
        var apexLength: Int
        /// Offsets in the body of its compression pointers, -1 for none: owner, MNAME and
        /// RNAME each end in at most one. Fixed fields, so that a template holds no reference
        /// and using one costs no retain and release per query.
        var pointers: (Int16, Int16, Int16)
    }

    /// Per zone of the zone set; nil where the apex does not answer a plain NODATA.
    private var templates: [Template?] = []
    private(set) var store = PreparedStore()

    /// No templates: every negative answer takes the general path (tests of that path).
    init() {}

    init(zoneSet: ZoneSet) {
        let workspace = PreparedStore.Workspace()
        for (index, zone) in zoneSet.zones.enumerated() {
            templates.append(zone.origin.key.withUnsafeBytes { apex in
                Self.template(zone: Int32(index), apex: apex, zoneSet: zoneSet, store: &store, workspace: workspace)
            })
        }
        store.compact()
    }

    @inline(__always)
    func template(zone: Int32) -> Template? {
        zone >= 0 && Int(zone) < templates.count ? templates[Int(zone)] : nil
    }

    /// A private-use type (RFC 6895 section 3.1) that no zone is expected to hold: the apex
    /// answers it with NODATA. A zone that does hold it simply gets no template.
    private static let absentType = RRType(rawValue: 0xFF00)

    private static func template(zone: Int32, apex: UnsafeRawBufferPointer, zoneSet: ZoneSet,
                                 store: inout PreparedStore, workspace: PreparedStore.Workspace) -> Template? {
        guard let index = store.prepare(key: apex, type: absentType, draw: Draw(), zoneSet: zoneSet, workspace: workspace) else {
            return nil
        }
        let entry = store.entries[index]
        let resolution = workspace.resolution
        guard resolution.zone == zone, resolution.answer.isEmpty, resolution.additional.isEmpty,
              resolution.authority.count == 1, resolution.authority[0].negativeSOA, resolution.authority[0].zone == zone,
              entry.answerCount == 0, entry.authorityCount == 1, entry.additionalCount == 0, entry.serialOffset >= 0
        else { return nil }
        let body = store.body[Int(entry.bodyStart)..<Int(entry.bodyStart + entry.bodyLength)]
        guard let found = soaPointers(Array(body)), found.count <= 3, found.allSatisfy({ $0 <= Int(Int16.max) }) else { return nil }
        let offsets = found.map(Int16.init) + Array(repeating: -1, count: 3 - found.count)
        return Template(entry: entry, apexLength: apex.count, pointers: (offsets[0], offsets[1], offsets[2]))
    }

    /// The pointer offsets of one SOA record (owner, fixed fields, MNAME, RNAME, 20 bytes);
    /// nil if the body is anything else.
    private static func soaPointers(_ body: [UInt8]) -> [Int]? {
        var pointers: [Int] = []
        var position = 0
        func skipName() -> Bool {
            while position < body.count {
                let length = Int(body[position])
                if length & 0xC0 == 0xC0 {
                    pointers.append(position)
                    position += 2
                    return true
                }
                position += 1 + length
                if length == 0 { return true }
            }
            return false
        }
        guard skipName() else { return nil }
        position += 10
        guard position <= body.count, skipName(), skipName(), position + 20 == body.count else { return nil }
        return pointers
    }
}
