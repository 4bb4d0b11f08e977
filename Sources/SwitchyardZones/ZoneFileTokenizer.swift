/// Splits an RFC 1035 master file (section 5.1) into entries: one directive or one
/// record per entry, parentheses joined, comments removed, each with the line it starts
/// on. libldns then parses one record at a time, so every error carries an exact line.
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
    static func entries(of contents: [UInt8]) -> Result<[ZoneFileEntry], ZoneFileSyntaxError> {
        var entries: [ZoneFileEntry] = []
        var current: [UInt8] = []
        var startLine = 0
        var depth = 0
        var openLine = 0
        var inQuote = false
        var line = 1
        var atLineStart = true
        var index = 0

        func finish() {
            let text = String(decoding: current, as: UTF8.self)
            let trimmed = text.trimmingCharacters(in: " \t\r")
            if !trimmed.isEmpty {
                let first = current.first ?? 0
                entries.append(ZoneFileEntry(text: trimmed, line: startLine, inheritsOwner: first == 0x20 || first == 0x09))
            }
            current.removeAll(keepingCapacity: true)
        }

        while index < contents.count {
            let byte = contents[index]
            if atLineStart && depth == 0 && !inQuote {
                finish()
                startLine = line
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
                if index + 1 < contents.count && contents[index + 1] != UInt8(ascii: "\n") {
                    index += 1
                    current.append(contents[index])
                }
            case UInt8(ascii: "\""):
                inQuote.toggle()
                current.append(byte)
            case UInt8(ascii: ";") where !inQuote:
                while index + 1 < contents.count && contents[index + 1] != UInt8(ascii: "\n") { index += 1 }
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
        return .success(entries)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
