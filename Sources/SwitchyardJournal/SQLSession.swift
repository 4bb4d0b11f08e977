import Foundation

/// One value as the journal stores it. The journal's tables use only these four kinds, so the
/// same queries run on SQLite and PostgreSQL.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    var values: [String: SQLValue]

    public init(_ values: [String: SQLValue]) { self.values = values }

    public subscript(column: String) -> SQLValue { values[column] ?? .null }

    func integer(_ column: String) throws -> Int64 {
        switch self[column] {
        case .integer(let value): return value
        case .real(let value) where value.rounded() == value: return Int64(value)
        default: throw SQLRowError(column: column, expected: "an integer", found: self[column])
        }
    }

    func optionalInteger(_ column: String) throws -> Int64? {
        if case .null = self[column] { return nil }
        return try integer(column)
    }

    func real(_ column: String) throws -> Double {
        switch self[column] {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: throw SQLRowError(column: column, expected: "a number", found: self[column])
        }
    }

    func optionalText(_ column: String) throws -> String? {
        if case .null = self[column] { return nil }
        return try text(column)
    }

    func text(_ column: String) throws -> String {
        guard case .text(let value) = self[column] else { throw SQLRowError(column: column, expected: "text", found: self[column]) }
        return value
    }
}

struct SQLRowError: Error, CustomStringConvertible {
    var column: String
    var expected: String
    var found: SQLValue
    var description: String { "column \(column): expected \(expected), found \(found)" }
}

/// What the journal needs of a database inside one transaction. Statements use `?`
/// placeholders (PostgreSQL's session numbers them) and only SQL both engines speak:
/// `INSERT … RETURNING`, `ON CONFLICT … DO UPDATE`, partial unique indexes.
public protocol SQLSession {
    /// Runs a statement; returns the number of rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int
    func fetch(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Tells the fleet that `generation` was appended; delivered when the transaction commits
    /// (PostgreSQL `NOTIFY`). Nothing to tell for a single embedded journal.
    func announce(generation: UInt64) throws
}

extension SQLSession {
    func fetchOne(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLRow? {
        try fetch(sql, arguments).first
    }
}

/// A database the journal lives in: transactions, nothing else.
public protocol JournalBackend: Sendable {
    /// Where the journal lives, for messages: a file path, or a URL without its password.
    var location: String { get }
    /// `sqlite` or `postgresql`.
    var kind: String { get }
    /// Runs `body` in one write transaction, serialized with every other writer of this
    /// journal (in PostgreSQL: of the whole fleet); commits when it returns, rolls back when it throws.
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// Runs `body` with a consistent read-only view.
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
}
