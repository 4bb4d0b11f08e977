import Yams

/// One `key: value` pair of a YAML mapping, with the key's line.
struct Entry {
    var key: String
    var line: Int
    var value: Node
    /// The value's own line (differs from ``line`` for block values on the next lines).
    var valueLine: Int { value.mark?.line ?? line }
}

/// The pairs of a YAML mapping in file order.
struct Entries {
    var list: [Entry]
    /// The line of the key that owns the mapping (or of the mapping itself).
    var line: Int

    subscript(key: String) -> Entry? { list.first { $0.key == key } }
}

/// A key renamed by ``InventoryReader/compose(_:)`` because it repeats an earlier key of the same
/// mapping; it carries the original key and the earlier line so the error can name both.
enum DuplicateKeyMarker {
    static let separator = "~~duplicate-of-line-"

    static func rename(_ key: String, firstLine: Int) -> String { "\(key)\(separator)\(firstLine)" }

    static func decode(_ key: String) -> (key: String, firstLine: Int)? {
        guard let range = key.range(of: separator) else { return nil }
        return (String(key[..<range.lowerBound]), Int(key[range.upperBound...]) ?? 0)
    }
}

func joinField(_ parent: String, _ child: String) -> String {
    parent.isEmpty ? child : parent + "." + child
}

extension InventoryReader {
    /// Composes the YAML document. Yams refuses a mapping with a repeated key as a whole, which
    /// would hide every other problem; instead each repeat is renamed in the text (see
    /// ``DuplicateKeyMarker``) and composing is retried, so a repeat is reported like any other
    /// field, with its path and line. Returns `nil` on a syntax error (reported), `.some(nil)` for
    /// an empty document.
    func compose(_ original: String) -> Node?? {
        var text = original
        for _ in 0..<200 {
            do {
                return .some(try Yams.compose(yaml: text))
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                guard let key = duplicates.first,
                      let renamed = Self.renameRepeat(of: key, firstAt: context.mark, in: text)
                else {
                    let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
                    report(context.mark.line, "(document)", "the key \(keys) appears twice in one mapping: keep one")
                    return nil
                }
                text = renamed
            } catch let error as YamlError {
                let (line, problem) = Self.describe(error)
                report(line, "(yaml)", "\(problem): fix the YAML syntax")
                return nil
            } catch {
                report(1, "(yaml)", "cannot parse the YAML: \(error)")
                return nil
            }
        }
        report(1, "(document)", "too many repeated keys: keep each key once per mapping")
        return nil
    }

    static func describe(_ error: YamlError) -> (Int, String) {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let prefix = context.map { $0.text + ", " } ?? ""
            return (mark.line, prefix + problem)
        case .reader(let problem, _, _, _):
            return (1, problem)
        default:
            return (1, "\(error)")
        }
    }

    /// Finds the second occurrence of `key` in the mapping whose first key is at `mark`, and
    /// renames it. In block style the repeat sits at the same column on a later line; in flow
    /// style (`{ a: 1, a: 2 }`) it follows a `{` or `,`.
    static func renameRepeat(of key: String, firstAt mark: Mark, in text: String) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        let firstLine = mark.line - 1, column = mark.column - 1
        guard lines.indices.contains(firstLine), column <= lines[firstLine].count else { return nil }
        let keyScalars = Array(key.unicodeScalars)

        /// Length of the key token at `start` of `line` (plain or quoted) when a `:` follows it.
        func keyToken(_ line: [Unicode.Scalar], _ start: Int) -> (length: Int, quote: Unicode.Scalar?)? {
            var index = start
            var quote: Unicode.Scalar?
            if index < line.count, line[index] == "'" || line[index] == "\"" { quote = line[index]; index += 1 }
            guard index + keyScalars.count <= line.count, Array(line[index..<index + keyScalars.count]) == keyScalars else { return nil }
            index += keyScalars.count
            if let quote {
                guard index < line.count, line[index] == quote else { return nil }
                index += 1
            }
            var after = index
            while after < line.count, line[after] == " " { after += 1 }
            guard after < line.count, line[after] == ":" else { return nil }
            return (index - start, quote)
        }

        func replace(line: Int, at start: Int, token: (length: Int, quote: Unicode.Scalar?)) {
            var renamed = Array(DuplicateKeyMarker.rename(key, firstLine: mark.line).unicodeScalars)
            if let quote = token.quote { renamed = [quote] + renamed + [quote] }
            lines[line].replaceSubrange(start..<start + token.length, with: renamed)
        }

        let before = lines[firstLine][..<column].filter { $0 != " " && $0 != "\t" }
        let isFlow = before.last == "{" || before.last == ","
        if isFlow {
            var lineIndex = firstLine, start = column + 1
            while lineIndex < lines.count {
                let line = lines[lineIndex]
                var index = start
                while index < line.count {
                    if line[index] == "{" || line[index] == "," {
                        var keyStart = index + 1
                        while keyStart < line.count, line[keyStart] == " " { keyStart += 1 }
                        if let token = keyToken(line, keyStart) {
                            replace(line: lineIndex, at: keyStart, token: token)
                            return lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
                        }
                    }
                    index += 1
                }
                lineIndex += 1
                start = 0
            }
            return nil
        }
        for lineIndex in (firstLine + 1)..<max(firstLine + 1, lines.count) {
            let line = lines[lineIndex]
            guard column < line.count, line[..<column].allSatisfy({ $0 == " " || $0 == "-" }),
                  let token = keyToken(line, column) else { continue }
            replace(line: lineIndex, at: column, token: token)
            return lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
        }
        return nil
    }

    /// The pairs of a mapping node, or `nil` (reported) when `node` is something else. Repeated
    /// keys are reported here and dropped. An empty value (`key:`) counts as an empty mapping.
    func entries(_ node: Node, field: String, ownerLine: Int) -> Entries? {
        let line = node.mark?.line ?? ownerLine
        switch node {
        case .mapping(let mapping):
            var list: [Entry] = []
            for (keyNode, value) in mapping {
                let keyLine = keyNode.mark?.line ?? line
                guard case .scalar(let scalar) = keyNode else {
                    report(keyLine, field.isEmpty ? "(document)" : field, "keys must be plain names, not lists or mappings")
                    continue
                }
                if let repeated = DuplicateKeyMarker.decode(scalar.string) {
                    report(keyLine, joinField(field, repeated.key),
                           "'\(repeated.key)' is already defined at line \(repeated.firstLine): keep only one")
                    continue
                }
                list.append(Entry(key: scalar.string, line: keyLine, value: value))
            }
            return Entries(list: list, line: ownerLine)
        case .scalar(let scalar) where isNull(scalar):
            return Entries(list: [], line: ownerLine)
        case .alias:
            report(line, field, "YAML aliases are not supported: write the value out")
            return nil
        default:
            report(line, field, "must be a mapping of 'key: value' lines (or { key: value, ... })")
            return nil
        }
    }

    func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// Reports each key of `entries` that is not in `allowed`.
    /// Reports keys that are neither `allowed` nor `reportedElsewhere` (known keys refused with
    /// their own message, left out of the list of allowed ones).
    func checkKeys(_ entries: Entries, allowed: [String], field: String, reportedElsewhere: [String] = []) {
        for entry in entries.list where !allowed.contains(entry.key) && !reportedElsewhere.contains(entry.key) {
            report(entry.line, joinField(field, entry.key),
                   "unknown key '\(entry.key)': allowed keys here are \(allowed.joined(separator: ", "))")
        }
    }

    /// Reports `key` missing from a mapping that requires it, at the mapping owner's line.
    func requireKey(_ entries: Entries, _ key: String, field: String, hint: String) -> Entry? {
        if let entry = entries[key] { return entry }
        report(entries.line, joinField(field, key), "missing: add \(key): \(hint)")
        return nil
    }
}
