import Foundation

/// The whole journal as JSON lines, for moving a state directory's SQLite journal into
/// PostgreSQL (or back): `switchyard journal export` then `switchyard journal import`.
///
/// The first line names the format; every other line is one row: `{"table": …, "row": {…}}`,
/// tables in an order that keeps references valid (generations before the hook runs that
/// name them). Ids and generation numbers are kept, so history, runs and IXFR read the same.
public enum JournalArchive {
    public static let format = "switchyard-journal/1"

    static let tables: [(name: String, columns: [String], order: String)] = [
        ("generation", ["number", "created_at", "actor", "reason", "state", "changes", "serials"], "number"),
        ("cutover_run", ["id", "cluster", "status", "record", "created_at", "updated_at"], "id"),
        ("hook_run", ["id", "generation", "kind", "target", "exit_code", "output", "attempt", "ran_at"], "id"),
        ("inventory_baseline", ["id", "state", "updated_at"], "id"),
        ("metadata", ["key", "value", "updated_at"], "key"),
    ]

    /// What an export or import moved, by table.
    public struct Counts: Sendable, CustomStringConvertible {
        public var rows: [(table: String, count: Int)] = []
        public var description: String { rows.map { "\($0.count) \($0.table)" }.joined(separator: ", ") }
    }

    /// Writes every row of `journal`, one consistent read, line by line to `write`.
    public static func export(_ journal: Journal, write: (String) throws -> Void) throws -> Counts {
        try journal.read { transaction in
            try write(try line(["format": .string(format), "source": .string(journal.kind)]))
            var counts = Counts()
            for table in tables {
                let rows = try transaction.session.fetch("SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name) ORDER BY \(table.order)", [])
                for row in rows {
                    var fields: [String: JSONValue] = [:]
                    for column in table.columns { fields[column] = JSONValue(row[column]) }
                    try write(try line(["table": .string(table.name), "row": .object(fields)]))
                }
                counts.rows.append((table.name, rows.count))
            }
            return counts
        }
    }

    /// Loads an export into `journal`, which must hold no generations and no runs: an import
    /// never merges two histories. One transaction: a bad line leaves the journal untouched.
    public static func `import`(_ lines: [String], into journal: Journal) throws -> Counts {
        guard let first = lines.first, case .object(let header)? = try? decode(first), header["format"] == .string(format) else {
            throw ArchiveError(line: 1, "not a Switchyard journal export (the first line must name the format \(format))")
        }
        return try journal.write { transaction in
            let session = transaction.session
            for table in ["generation", "cutover_run"] where try session.fetchOne("SELECT 1 AS found FROM \(table) LIMIT 1") != nil {
                throw ArchiveError(line: 0, "\(journal.path) already holds a journal (table \(table) has rows); import into an empty one")
            }
            var counts: [String: Int] = [:]
            for (index, text) in lines.enumerated().dropFirst() where !text.trimmingCharacters(in: .whitespaces).isEmpty {
                guard case .object(let entry)? = try? decode(text), case .string(let name)? = entry["table"], case .object(let row)? = entry["row"],
                      let table = tables.first(where: { $0.name == name }) else {
                    throw ArchiveError(line: index + 1, "expected {\"table\": NAME, \"row\": {…}} with a table of the journal")
                }
                let values = try table.columns.map { column -> SQLValue in
                    guard let value = row[column] else { throw ArchiveError(line: index + 1, "table \(name): column \(column) is missing") }
                    return value.sqlValue
                }
                let placeholders = Array(repeating: "?", count: values.count).joined(separator: ", ")
                do {
                    try session.execute("INSERT INTO \(name) (\(table.columns.joined(separator: ", "))) VALUES (\(placeholders))", values)
                } catch {
                    throw ArchiveError(line: index + 1, "table \(name): \(error)")
                }
                counts[name, default: 0] += 1
            }
            if journal.postgres != nil {
                // Explicit ids leave the id sequences behind: the next run would collide.
                for table in ["cutover_run", "hook_run"] {
                    try session.execute("SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT MAX(id) FROM \(table)), 0) + 1, false)", [])
                }
            }
            var result = Counts()
            for table in tables { result.rows.append((table.name, counts[table.name] ?? 0)) }
            return result
        }
    }

    private static func line(_ object: [String: JSONValue]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(JSONValue.object(object)), as: UTF8.self)
    }

    private static func decode(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}

public struct ArchiveError: Error, CustomStringConvertible {
    public var line: Int
    public var problem: String
    init(line: Int, _ problem: String) { self.line = line; self.problem = problem }
    public var description: String { line > 0 ? "line \(line): \(problem)" : problem }
}

/// A JSON value of an export line. Integers stay integers (generation numbers, ids).
enum JSONValue: Codable, Equatable {
    case integer(Int64), real(Double), string(String), null, object([String: JSONValue])

    init(_ value: SQLValue) {
        switch value {
        case .integer(let number): self = .integer(number)
        case .real(let number): self = .real(number)
        case .text(let text): self = .string(text)
        case .null: self = .null
        }
    }

    var sqlValue: SQLValue {
        switch self {
        case .integer(let number): return .integer(number)
        case .real(let number): return .real(number)
        case .string(let text): return .text(text)
        case .null, .object: return .null
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let number = try? container.decode(Int64.self) { self = .integer(number) }
        else if let number = try? container.decode(Double.self) { self = .real(number) }
        else if let text = try? container.decode(String.self) { self = .string(text) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .integer(let number): try container.encode(number)
        case .real(let number): try container.encode(number)
        case .string(let text): try container.encode(text)
        case .null: try container.encodeNil()
        case .object(let fields): try container.encode(fields)
        }
    }
}
