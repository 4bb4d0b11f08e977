/// Writes a `Resolution` as answer, authority and additional sections (RFC 1035 section
/// 4.1), in that order, stopping at the first RRset that does not fit.
enum ResponseEncoder {
    struct Counts {
        var answer: UInt16 = 0
        var authority: UInt16 = 0
        var additional: UInt16 = 0
        var truncated = false
        /// Where the SOA serial was written and whose zone's it is (the last SOA written),
        /// so prepared answers can carry a later serial without being encoded again.
        var serialOffset = -1
        var serialZone: Int32 = -1
        var soaCount = 0
    }

    /// AA and RCODE (low four bits) of the header for a resolution.
    static func flags(for resolution: Resolution) -> UInt16 {
        (resolution.authoritative ? 0x0400 : 0) | (resolution.rcode.rawValue & 0xF)
    }

    /// The writer must already hold the header and question. Returns nil only when the
    /// resolution references data it cannot write (never for a consistent snapshot).
    static func encodeSections(_ resolution: Resolution, zoneSet: ZoneSet, writer: inout MessageWriter) -> Counts? {
        var counts = Counts()
        for ref in resolution.answer {
            guard let written = write(ref, resolution: resolution, zoneSet: zoneSet, writer: &writer, counts: &counts) else {
                counts.truncated = true
                return counts
            }
            counts.answer += written
        }
        for ref in resolution.authority {
            guard let written = write(ref, resolution: resolution, zoneSet: zoneSet, writer: &writer, counts: &counts) else {
                counts.truncated = true
                return counts
            }
            counts.authority += written
        }
        // Additional data is optional: drop what does not fit, except glue a referral
        // cannot work without (RFC 9471 section 3).
        for ref in resolution.additional {
            guard let written = write(ref, resolution: resolution, zoneSet: zoneSet, writer: &writer, counts: &counts) else {
                if ref.required { counts.truncated = true }
                break
            }
            counts.additional += written
        }
        return counts
    }

    private static func write(_ ref: RecordRef, resolution: Resolution, zoneSet: ZoneSet, writer: inout MessageWriter,
                              counts: inout Counts) -> UInt16? {
        zoneSet.withRRSet(ref) { set -> UInt16? in
            let written: Int?
            switch ref.owner {
            case .own:
                written = writer.rrset(set, owner: nil, ownerAt: nil)
            case .question:
                written = writer.rrset(set, owner: nil, ownerAt: 12)
            case .chainTarget(let index):
                written = zoneSet.withRRSet(resolution.answer[index]) { chain in
                    writer.rrset(set, owner: chain.firstTarget(), ownerAt: nil)
                }
            }
            if written != nil && set.type == .soa {
                // SOA RDATA ends with serial, refresh, retry, expire, minimum.
                counts.serialOffset = writer.count - 20
                counts.serialZone = ref.zone
                counts.soaCount += 1
            }
            return written.map { UInt16($0) }
        }
    }
}
