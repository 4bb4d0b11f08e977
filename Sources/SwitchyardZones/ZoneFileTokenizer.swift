/// Splits an RFC 1035 master file (section 5.1) into entries: one directive or one
/// record per entry, parentheses joined, comments removed, each with the line it starts
/// on. Records are then parsed one at a time, so every error carries an exact line.
struct ZoneFileEntry: Equatable {
    /// The entry's text on one line, without comments or parentheses.
    var text: String
    var line: Int
    /// The entry started with white space: its owner is the previous record's owner.
    var inheritsOwner: Bool
}

struct ZoneFileSyntaxError: Error, Equatable {
    var line: Int
    var message: String
}

enum ZoneFileTokenizer {
    /// Every entry as a `String` (for tests and small files).
    static func entries(of contents: [UInt8]) -> Result<[ZoneFileEntry], ZoneFileSyntaxError> {
        var entries: [ZoneFileEntry] = []
        let result = contents.withUnsafeBytes { bytes in
            forEachEntry(of: bytes) { text, line, inheritsOwner in
                entries.append(ZoneFileEntry(text: String(decoding: text, as: UTF8.self), line: line, inheritsOwner: inheritsOwner))
            }
        }
        return result.map { entries }
    }

    /// Hands each entry to `body` as bytes (trimmed of blanks at both ends) valid only during
    /// the call: a million-record file is read without a string or an array per record.
    static func forEachEntry(of contents: UnsafeRawBufferPointer,
                             _ body: (_ text: UnsafeRawBufferPointer, _ line: Int, _ inheritsOwner: Bool) -> Void)
        -> Result<Void, ZoneFileSyntaxError> {
        // One reused buffer: an entry's text differs from the file's bytes only inside
        // parentheses (newlines become blanks) and where comments are cut.
        var current: [UInt8] = []
        current.reserveCapacity(512)
        var startLine = 0
        var depth = 0
        var openLine = 0
        var inQuote = false
        var line = 1
        var atLineStart = true
        var index = 0
        let count = contents.count

        func finish() {
            guard !current.isEmpty else { return }
            current.withUnsafeBytes { bytes in
                var start = 0, end = bytes.count
                while start < end && isBlank(bytes[start]) { start += 1 }
                while end > start && isBlank(bytes[end - 1]) { end -= 1 }
                if start < end {
                    let first = bytes[0]
                    body(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), startLine, first == 0x20 || first == 0x09)
                }
            }
            current.removeAll(keepingCapacity: true)
        }

        while index < count {
            let byte = contents[index]
            if atLineStart && depth == 0 && !inQuote {
                finish()
                startLine = line
                // Nearly every line of a large zone is one plain record: hand it over in
                // place, without copying it byte by byte.
                var end = index
                var plain = true
                while end < count && contents[end] != 0x0A {
                    switch contents[end] {
                    case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\""), UInt8(ascii: ";"), UInt8(ascii: "\\"): plain = false
                    default: break
                    }
                    if !plain { break }
                    end += 1
                }
                if plain {
                    var start = index, stop = end
                    while start < stop && isBlank(contents[start]) { start += 1 }
                    while stop > start && isBlank(contents[stop - 1]) { stop -= 1 }
                    if start < stop {
                        body(UnsafeRawBufferPointer(rebasing: contents[start..<stop]), line, byte == 0x20 || byte == 0x09)
                    }
                    line += 1
                    index = end + 1
                    continue
                }
            }
            atLineStart = false
            switch byte {
            case UInt8(ascii: "\n"):
                if inQuote { return .failure(ZoneFileSyntaxError(line: line, message: "unterminated quoted string")) }
                line += 1
                atLineStart = true
                if depth > 0 { current.append(0x20) }
            case UInt8(ascii: "\\"):
                current.append(byte)
                if index + 1 < count && contents[index + 1] != UInt8(ascii: "\n") {
                    index += 1
                    current.append(contents[index])
                }
            case UInt8(ascii: "\""):
                inQuote.toggle()
                current.append(byte)
            case UInt8(ascii: ";") where !inQuote:
                while index + 1 < count && contents[index + 1] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "(") where !inQuote:
                if depth == 0 { openLine = line }
                depth += 1
                current.append(0x20)
            case UInt8(ascii: ")") where !inQuote:
                guard depth > 0 else { return .failure(ZoneFileSyntaxError(line: line, message: "')' without a matching '('")) }
                depth -= 1
                current.append(0x20)
            default:
                current.append(byte)
            }
            index += 1
        }
        if inQuote { return .failure(ZoneFileSyntaxError(line: line, message: "unterminated quoted string")) }
        if depth > 0 {
            return .failure(ZoneFileSyntaxError(line: openLine, message: "'(' opened here is never closed"))
        }
        finish()
        return .success(())
    }

    @inline(__always)
    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
}
