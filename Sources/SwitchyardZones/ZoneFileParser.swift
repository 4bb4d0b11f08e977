import CLDNS
import SwitchyardCore

/// Parses one master file, entry by entry, into records with their lines: plain records
/// in Swift (`PlainRecordParser`), everything else with libldns.
/// Directives ($ORIGIN, $TTL) are handled here; $INCLUDE and $GENERATE are refused.
enum ZoneFileParser {
    struct Parsed {
        var records: ZoneRecords
        var problems: [ZoneProblem]
    }

    static func parse(contents: [UInt8], origin: DomainName, path: String) -> Parsed {
        contents.withUnsafeBytes { parse(bytes: $0, origin: origin, path: path) }
    }

    /// `consumed` is told, now and then, how far into `contents` parsing has got (the loader
    /// releases the pages before that offset).
    static func parse(bytes contents: UnsafeRawBufferPointer, origin initialOrigin: DomainName, path: String,
                      consumed: (Int) -> Void = { _ in }) -> Parsed {
        // One record per line at most: reserving avoids the doublings, which would leave a
        // large zone's record list at up to twice its size while the old zone still serves.
        var lines = 1
        for byte in contents where byte == 0x0A { lines += 1 }
        var records = ZoneRecords(expectedCount: lines)
        var problems: [ZoneProblem] = []
        func problem(_ line: Int, _ message: String) {
            problems.append(ZoneProblem(file: path, line: line, message: message))
        }

        var origin = initialOrigin
        var defaultTTL: UInt32 = 3600
        // Without $TTL, a record without a TTL takes the last one given (RFC 1035 section 5.1).
        var sawTTLDirective = false
        var plain = PlainRecordParser.State()
        let buffer = ldns_buffer_new(4096)
        defer { ldns_buffer_free(buffer) }

        func directive(_ text: String, line: Int) {
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            switch words[0].uppercased() {
            case "$ORIGIN":
                guard words.count == 2, let name = DomainName(words[1], origin: origin) else {
                    problem(line, "$ORIGIN needs one domain name"); return
                }
                origin = name
            case "$TTL":
                guard words.count == 2, let ttl = parseTTL(words[1]) else {
                    problem(line, "$TTL needs one TTL value (e.g. 3600 or 1h)"); return
                }
                defaultTTL = ttl
                sawTTLDirective = true
            case "$INCLUDE":
                problem(line, "$INCLUDE is not supported; put the records in this file")
            default:
                problem(line, "unknown directive \(words[0])")
            }
        }

        var reported = 0
        let tokenized = ZoneFileTokenizer.forEachEntry(of: contents) { text, line, inheritsOwner in
            // Plain lines are handed over in place, so their address tells how far the file is read.
            if let base = contents.baseAddress, let at = text.baseAddress, at >= base, at - base < contents.count,
               at - base - reported >= 4 << 20 {
                reported = at - base
                consumed(reported)
            }
            if !inheritsOwner && text.first == UInt8(ascii: "$") {
                directive(String(decoding: text, as: UTF8.self), line: line)
                return
            }
            if let ttl = PlainRecordParser.parse(text, inheritsOwner: inheritsOwner, origin: origin, defaultTTL: defaultTTL, line: line,
                                                 state: &plain, into: &records) {
                if !sawTTLDirective { defaultTTL = ttl }
                return
            }
            var entry = String(decoding: text, as: UTF8.self)
            if inheritsOwner {
                guard let previousOwner = DomainName(wire: plain.previousOwner) else {
                    problem(line, "record has no owner name and no previous record to take it from"); return
                }
                entry = previousOwner.description + " " + entry
            }
            switch parseRecord(entry, origin: origin, defaultTTL: defaultTTL, buffer: buffer) {
            case .success(let record):
                let added = record.owner.wire.withUnsafeBytes { owner in
                    record.rdata.withUnsafeBytes { rdata in
                        records.append(owner: owner, type: record.type, rrClass: record.rrClass, ttl: record.ttl, rdata: rdata, line: line)
                    }
                }
                guard added else { problem(line, "record data is too long: \(entry)"); return }
                plain.previousOwner = record.owner.wire
                if !sawTTLDirective { defaultTTL = record.ttl }
            case .failure(let error):
                problem(line, "\(error.message): \(entry)")
            }
        }
        if case .failure(let error) = tokenized {
            return Parsed(records: ZoneRecords(), problems: [ZoneProblem(file: path, line: error.line, message: error.message)])
        }

        return Parsed(records: records, problems: problems)
    }

    private static func parseRecord(_ text: String, origin: DomainName, defaultTTL: UInt32,
                                    buffer: UnsafeMutablePointer<ldns_buffer>?) -> Result<ResourceRecord, ParseError> {
        guard let originRDF = origin.wire.withUnsafeBufferPointer({ bytes in
            ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, bytes.count, bytes.baseAddress)
        }) else { return .failure(ParseError("out of memory")) }
        defer { ldns_rdf_deep_free(originRDF) }

        var rr: UnsafeMutablePointer<ldns_rr>? = nil
        let status = ldns_rr_new_frm_str(&rr, text, defaultTTL, originRDF, nil)
        guard status == LDNS_STATUS_OK, let rr else {
            if let rr { ldns_rr_free(rr) }
            let reason = ldns_get_errorstr_by_id(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
            return .failure(ParseError("cannot parse record (\(reason))"))
        }
        defer { ldns_rr_free(rr) }

        guard let ownerRDF = ldns_rr_owner(rr), let ownerData = ldns_rdf_data(ownerRDF) else {
            return .failure(ParseError("record has no owner"))
        }
        let ownerBytes = Array(UnsafeBufferPointer(start: ownerData, count: ldns_rdf_size(ownerRDF)))
        guard let owner = DomainName(wire: ownerBytes) else { return .failure(ParseError("invalid owner name")) }

        ldns_buffer_clear(buffer)
        guard ldns_rr_rdata2buffer_wire(buffer, rr) == LDNS_STATUS_OK else {
            return .failure(ParseError("cannot encode the record's data"))
        }
        let rdata = Array(UnsafeBufferPointer(start: ldns_buffer_begin(buffer), count: ldns_buffer_position(buffer)))
        // libldns takes any number after TYPE and CLASS (RFC 3597 section 5), e.g. TYPE5710203,
        // but both are 16-bit fields on the wire: refuse the rest rather than trap converting.
        guard let type = UInt16(exactly: ldns_rr_get_type(rr).rawValue) else {
            return .failure(ParseError("record type number \(ldns_rr_get_type(rr).rawValue) is over 65535"))
        }
        guard let rrClass = UInt16(exactly: ldns_rr_get_class(rr).rawValue) else {
            return .failure(ParseError("record class number \(ldns_rr_get_class(rr).rawValue) is over 65535"))
        }
        return .success(ResourceRecord(
            owner: owner,
            type: RRType(rawValue: type),
            rrClass: RRClass(rawValue: rrClass),
            ttl: ldns_rr_ttl(rr),
            rdata: rdata))
    }

    struct ParseError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// `3600`, or BIND-style units: `1h30m`, `2d`, `1w`.
    static func parseTTL(_ text: String) -> UInt32? {
        if let plain = UInt32(text) { return plain }
        var total: UInt64 = 0, number: UInt64 = 0, sawDigit = false
        for character in text.lowercased() {
            if let digit = character.wholeNumberValue {
                number = number * 10 + UInt64(digit); sawDigit = true
                guard number < UInt64(UInt32.max) else { return nil }
                continue
            }
            guard sawDigit else { return nil }
            let unit: UInt64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            case "w": unit = 604_800
            default: return nil
            }
            total += number * unit; number = 0; sawDigit = false
            // Checked per term: enough terms of up to 2^32 weeks would overflow UInt64 and trap.
            guard total <= UInt64(Int32.max) else { return nil }
        }
        guard !sawDigit else { return nil }
        return total <= UInt64(Int32.max) ? UInt32(total) : nil
    }
}
