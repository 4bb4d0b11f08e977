/// Answers computed when a snapshot is built, for every (name, type) that exists in a
/// zone plus A and AAAA at every name. A query that hits this table costs a hash lookup
/// and three copies: header, the client's own question bytes, and the prepared sections.
///
/// The prepared bytes were encoded after a question of the same length at offset 12, so
/// their compression pointers stay valid under any question with the same name (any case).
struct PrecompiledAnswers: Sendable {
    struct Entry: Sendable {
        /// AA and RCODE bits of the header.
        var flags: UInt16
        var answerCount: UInt16
        var authorityCount: UInt16
        var additionalCount: UInt16
        var bodyStart: Int32
        var bodyLength: Int32
    }

    private var table = NameTable()
    private(set) var entries: [Entry] = []
    private(set) var body: [UInt8] = []

    var count: Int { entries.count }

    /// An empty table.
    init() {}

    init(zoneSet: ZoneSet) {
        let scratch = LookupScratch()
        var resolution = Resolution()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 8)
        let compression = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: 256)
        defer { buffer.deallocate(); compression.deallocate() }

        table = NameTable(expectedCount: zoneSet.zones.reduce(0) { $0 + $1.nodes.count * 3 })
        for zone in zoneSet.zones {
            for node in zone.nodes {
                var types = node.rrsets.map(\.type)
                if !types.contains(.a) { types.append(.a) }
                if !types.contains(.aaaa) { types.append(.aaaa) }
                for type in types {
                    add(name: node.name, type: type, zoneSet: zoneSet, scratch: scratch, resolution: &resolution,
                        buffer: buffer, compression: compression)
                }
            }
        }
    }

    private mutating func add(name: DomainName, type: RRType, zoneSet: ZoneSet, scratch: LookupScratch,
                              resolution: inout Resolution, buffer: UnsafeMutableRawBufferPointer,
                              compression: UnsafeMutableBufferPointer<UInt16>) {
        var key = name.key
        key.append(UInt8(type.rawValue >> 8)); key.append(UInt8(type.rawValue & 0xFF))
        if table.find(key) != nil { return }  // a name can belong to two zones (cut and apex)
        scratch.load(key: name.key)
        resolution.reset()
        zoneSet.resolve(qtype: type, fullAny: false, scratch: scratch, into: &resolution)
        // Encode after a lowercase stand-in for the question.
        var writer = MessageWriter(buffer: buffer, limit: 65_535, compression: compression)
        _ = writer.bytes([UInt8](repeating: 0, count: 12))
        _ = writer.bytes(name.key)
        _ = writer.u16(type.rawValue); _ = writer.u16(RRClass.in.rawValue)
        let questionEnd = writer.count
        writer.registerName(at: 12)
        guard let encoded = ResponseEncoder.encodeSections(resolution, zoneSet: zoneSet, writer: &writer), !encoded.truncated else { return }
        let index = table.insert(key)
        precondition(index == entries.count)
        entries.append(Entry(
            flags: ResponseEncoder.flags(for: resolution),
            answerCount: encoded.answer, authorityCount: encoded.authority, additionalCount: encoded.additional,
            bodyStart: Int32(body.count), bodyLength: Int32(writer.count - questionEnd)))
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[questionEnd..<writer.count]))
    }

    /// The entry for the key in `scratch.name` (lowercase name followed by the type).
    func find(_ key: UnsafeRawBufferPointer) -> Entry? {
        table.find(key).map { entries[$0] }
    }
}
