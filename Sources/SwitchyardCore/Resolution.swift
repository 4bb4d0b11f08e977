/// Where the owner name of an answer record comes from.
enum OwnerSource: Equatable {
    /// The RRset's own owner name.
    case own
    /// The question name (written as a pointer to it, which also keeps the client's case).
    case question
    /// The target of the CNAME at this index of the answer section (wildcard synthesis
    /// after a CNAME hop, RFC 4592 section 3.3.1).
    case chainTarget(Int)
}

/// A reference to one RRset of the snapshot, as it will be written in a section.
struct RecordRef {
    var zone: Int32
    var node: Int32
    var rrset: Int32
    var owner: OwnerSource
    /// Write the zone's SOA with the negative-caching TTL (RFC 2308 section 3).
    var negativeSOA: Bool = false
    /// Glue that a referral needs: when it does not fit, the reply is truncated (RFC 9471).
    var required: Bool = false
    /// `rrset` indexes the stable answers' RRsets, not a zone node's.
    var stable: Bool = false
}

/// The per-query inputs of weighted selection.
struct Draw {
    var random: UInt64 = 0
    var clientHash: UInt64 = 0
    /// Precompiling: the pool and rotation to use for the first stable name met.
    var forced: (pool: Int, variant: Int)? = nil
}

/// The outcome of a lookup: response code, AA, and the RRsets of each section, collected
/// before anything is encoded. Reused across queries (arrays keep their capacity).
struct Resolution {
    var rcode: RCode = .noError
    var authoritative = false
    var answer: [RecordRef] = []
    var authority: [RecordRef] = []
    var additional: [RecordRef] = []
    /// Stable names resolved with a draw: such a result is only cacheable per forced draw.
    var draws = 0
    /// For metrics: the zone of the question, and the first stable name and pool drawn.
    var zone: Int32 = -1
    var stable: Int32 = -1
    var pool: Int32 = -1

    init() {
        answer.reserveCapacity(16); authority.reserveCapacity(4); additional.reserveCapacity(16)
    }

    mutating func reset() {
        rcode = .noError
        authoritative = false
        draws = 0
        zone = -1; stable = -1; pool = -1
        answer.removeAll(keepingCapacity: true)
        authority.removeAll(keepingCapacity: true)
        additional.removeAll(keepingCapacity: true)
    }
}

/// Per-thread scratch space for lookups, allocated once.
final class LookupScratch {
    /// The lowercase wire-format name being looked up, optionally followed by a type.
    let name = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    @exclusivity(unchecked) var nameLength = 0  // one thread's scratch: no runtime checks
    /// Offsets of each label of `name`, the last one being the root label.
    let labels = UnsafeMutableBufferPointer<Int>.allocate(capacity: 130)
    @exclusivity(unchecked) var labelCount = 0
    /// Room to build `*.<closest encloser>`.
    let wildcard = UnsafeMutableRawBufferPointer.allocate(byteCount: 260, alignment: 8)
    /// Room for the lowercase form of a name an RDATA points at (additional-section processing).
    private let target = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)

    deinit {
        name.deallocate(); labels.deallocate(); wildcard.deallocate(); target.deallocate()
    }

    /// Loads a name as stored (any case) into `name`, lowercased, and indexes its labels.
    func load(lowercasing source: UnsafeRawBufferPointer) {
        let count = min(source.count, 256)
        if count > 0 { copyLowercase(from: source.baseAddress!, to: name.baseAddress!, count: count) }
        nameLength = count
        indexLabels()
    }

    /// The lowercase form of a valid name (at most 255 bytes), valid until the next call.
    func lowercasedTarget(_ source: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let count = min(source.count, target.count)
        if count > 0 { copyLowercase(from: source.baseAddress!, to: target.baseAddress!, count: count) }
        return UnsafeRawBufferPointer(rebasing: target[0..<count])
    }

    /// Copies a lowercase key into `name` and indexes its labels.
    func load(key: [UInt8]) { key.withUnsafeBytes { load(key: $0) } }

    func load(key source: UnsafeRawBufferPointer) {
        name.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count)
        nameLength = source.count
        indexLabels()
    }

    /// Indexes the labels of the (already valid) name in `name`.
    func indexLabels() {
        var offset = 0, count = 0
        while true {
            labels[count] = offset
            let length = Int(name[offset])
            if length == 0 { break }
            count += 1
            offset += 1 + length
        }
        labelCount = count
    }

    /// The suffix of the name starting at label `index` (0 = the whole name).
    @inline(__always)
    func suffix(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: name[labels[index]..<nameLength])
    }
}
