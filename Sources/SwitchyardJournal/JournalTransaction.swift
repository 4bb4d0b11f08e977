import Foundation
import SwitchyardControl

/// The journal as seen from inside one transaction (``Journal/write(_:)`` or
/// ``Journal/read(_:)``). Valid only inside that closure; everything done through it commits
/// or rolls back together.
public struct JournalTransaction {
    let session: any SQLSession
    let path: String

    init(session: any SQLSession, path: String) {
        self.session = session
        self.path = path
    }

    // MARK: Generations

    /// The newest generation, or `nil` for an empty journal.
    public func latest() throws -> Generation? {
        try fetchGenerations(sql: "SELECT * FROM generation ORDER BY number DESC LIMIT 1").first
    }

    /// The generation numbered `number`, if it exists.
    public func generation(_ number: UInt64) throws -> Generation? {
        guard let key = Int64(exactly: number) else { return nil }
        return try fetchGenerations(sql: "SELECT * FROM generation WHERE number = ?", arguments: [.integer(key)]).first
    }

    /// Appends the next generation: number = latest + 1 (1 for the first), `changes` computed
    /// against the latest generation's state, or against the empty state when there is none.
    @discardableResult
    public func append(state: ServingState, actor: String, reason: String, serials: [String: UInt32], at date: Date) throws -> Generation {
        try append(state: state, actor: actor, reason: reason, serials: serials, at: date, baseWhenEmpty: ServingState())
    }

    /// Appends the next generation; when the journal is empty, `changes` are computed against
    /// `baseWhenEmpty` (typically the inventory's initial state, so generation 1 records only
    /// what differs from the files).
    @discardableResult
    public func append(state: ServingState, actor: String, reason: String, serials: [String: UInt32], at date: Date,
                       baseWhenEmpty: ServingState) throws -> Generation {
        let previous = try latest()
        let generation = Generation(
            number: (previous?.number ?? 0) + 1,
            createdAt: date,
            actor: actor,
            reason: reason,
            state: state,
            changes: Generation.changes(from: previous?.state ?? baseWhenEmpty, to: state),
            serials: serials)
        try session.execute(
            """
            INSERT INTO generation (number, created_at, actor, reason, state, changes, serials)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(Int64(generation.number)), .real(date.timeIntervalSince1970), .text(actor), .text(reason),
                .text(try JournalJSON.encode(state)), .text(try JournalJSON.encode(generation.changes)), .text(try JournalJSON.encode(serials)),
            ])
        try session.announce(generation: generation.number)
        return generation
    }

    /// Generations newest first, at most `limit`, keeping those with at least one change that
    /// `matching` accepts (all of them when `matching` is `nil`).
    public func history(limit: Int, matching: ((NameChange) -> Bool)? = nil) throws -> [Generation] {
        guard limit > 0 else { return [] }
        guard let matching else {
            return try fetchGenerations(sql: "SELECT * FROM generation ORDER BY number DESC LIMIT ?", arguments: [.integer(Int64(limit))])
        }
        // Only the changes are read while looking: a generation's state holds every stable name
        // of every cluster, and the matches may lie behind thousands of other generations.
        var numbers: [UInt64] = []
        try walkChanges { entry in
            if entry.changes.contains(where: matching) { numbers.append(entry.number) }
            return numbers.count < limit
        }
        return try generations(numbered: numbers)
    }

    /// One generation's number, author and changes: what looking through the history needs.
    public struct ChangeEntry: Sendable {
        public var number: UInt64
        public var actor: String
        public var changes: [NameChange]
    }

    /// Calls `visit` with each generation's changes, newest first, until it returns `false` or
    /// the journal ends; reads pages of 256 rows and never decodes a state.
    public func walkChanges(_ visit: (ChangeEntry) throws -> Bool) throws {
        var below = Int64.max
        while true {
            let rows = try session.fetch("SELECT number, actor, changes FROM generation WHERE number < ? ORDER BY number DESC LIMIT 256",
                                         [.integer(below)])
            for row in rows {
                let number = try row.integer("number")
                let changes: [NameChange]
                do { changes = try JournalJSON.decode([NameChange].self, from: try row.text("changes")) } catch let error as DecodingError {
                    throw JournalError.undecodableRow(path: path, table: "generation", id: number, detail: JournalJSON.describe(error))
                }
                guard try visit(ChangeEntry(number: UInt64(number), actor: try row.text("actor"), changes: changes)) else { return }
                below = number
            }
            guard rows.count == 256 else { return }
        }
    }

    /// The generations numbered `numbers`, in that order (those that exist).
    func generations(numbered numbers: [UInt64]) throws -> [Generation] {
        var found: [UInt64: Generation] = [:]
        for start in stride(from: 0, to: numbers.count, by: 256) {
            let chunk = numbers[start..<min(numbers.count, start + 256)]
            let placeholders = chunk.map { _ in "?" }.joined(separator: ", ")
            for generation in try fetchGenerations(sql: "SELECT * FROM generation WHERE number IN (\(placeholders))",
                                                   arguments: chunk.map { .integer(Int64(clamping: $0)) }) {
                found[generation.number] = generation
            }
        }
        return numbers.compactMap { found[$0] }
    }

    /// Generations numbered `number` and below, newest first, at most `limit`, with only what
    /// cache horizons read: number, time and the state's TTLs (`ttls`, `loweredTTLs`); their
    /// `brokerPools`, `weights` and `changes` are left empty. A plan reads up to 7 days of them,
    /// thousands after scripted shifts, and the broker pools are most of each state.
    public func ttlHistory(atOrBelow number: UInt64, limit: Int) throws -> [Generation] {
        guard limit > 0 else { return [] }
        let rows = try session.fetch("SELECT number, created_at, actor, reason, state, serials FROM generation WHERE number <= ? ORDER BY number DESC LIMIT ?",
                                     [.integer(Int64(clamping: number)), .integer(Int64(limit))])
        return try rows.map { row in
            let number = (try? row.integer("number")) ?? 0
            do {
                let ttls = try JournalJSON.decode(StateTTLs.self, from: try row.text("state"))
                return Generation(number: UInt64(number), createdAt: Date(timeIntervalSince1970: try row.real("created_at")),
                                  actor: try row.text("actor"), reason: try row.text("reason"),
                                  state: ServingState(ttls: ttls.ttls, loweredTTLs: ttls.loweredTTLs ?? [:]), changes: [],
                                  serials: try JournalJSON.decode([String: UInt32].self, from: try row.text("serials")))
            } catch let error as DecodingError {
                throw JournalError.undecodableRow(path: path, table: "generation", id: number, detail: JournalJSON.describe(error))
            }
        }
    }

    /// The newest generation numbered `since` or above whose serial for `origin` was `serial`
    /// (a secondary's IXFR asks from it), reading only numbers and serials until it is found.
    public func generation(serving serial: UInt32, origin: String, since: UInt64) throws -> Generation? {
        var below = Int64.max
        while true {
            let rows = try session.fetch("SELECT number, serials FROM generation WHERE number < ? AND number >= ? ORDER BY number DESC LIMIT 256",
                                         [.integer(below), .integer(Int64(clamping: since))])
            for row in rows {
                let number = try row.integer("number")
                let serials: [String: UInt32]
                do { serials = try JournalJSON.decode([String: UInt32].self, from: try row.text("serials")) } catch let error as DecodingError {
                    throw JournalError.undecodableRow(path: path, table: "generation", id: number, detail: JournalJSON.describe(error))
                }
                if serials[origin] == serial { return try generation(UInt64(number)) }
                below = number
            }
            guard rows.count == 256 else { return nil }
        }
    }

    /// The TTL part of a journaled ``ServingState``.
    private struct StateTTLs: Decodable {
        var ttls: [String: UInt32]
        var loweredTTLs: [String: UInt32]?
    }

    /// Generations numbered `number` and below, newest first, at most `limit`: one page of a
    /// walk back through the whole history (every generation, not only those that changed
    /// something of interest, since each one's commit time ends the one before it).
    public func generations(atOrBelow number: UInt64, limit: Int) throws -> [Generation] {
        guard limit > 0 else { return [] }
        let top = Int64(clamping: number)
        return try fetchGenerations(sql: "SELECT * FROM generation WHERE number <= ? ORDER BY number DESC LIMIT ?",
                                    arguments: [.integer(top), .integer(Int64(limit))])
    }

    /// Generations newest first, at most `limit`, that changed a name at or under `suffix`
    /// (`.orders.kafka.example.` or `orders.kafka.example`: matched on label boundaries,
    /// case-insensitively).
    public func history(limit: Int, nameSuffix suffix: String) throws -> [Generation] {
        let matches = NameSuffix(suffix)
        return try history(limit: limit, matching: { matches.contains($0.name) })
    }

    /// The SOA serial the latest generation gives the zone `origin`.
    public func servedSerial(origin: String) throws -> UInt32? {
        try latest()?.serials[origin]
    }

    // MARK: Inventory baseline

    /// The settings the inventories declared at the last load, if recorded.
    public func inventoryBaseline() throws -> ServingState? {
        guard let row = try session.fetchOne("SELECT state FROM inventory_baseline WHERE id = 1") else { return nil }
        do { return try JournalJSON.decode(ServingState.self, from: try row.text("state")) } catch let error as DecodingError {
            throw JournalError.undecodableRow(path: path, table: "inventory_baseline", id: 1, detail: JournalJSON.describe(error))
        }
    }

    public func setInventoryBaseline(_ state: ServingState, at date: Date) throws {
        try session.execute("""
            INSERT INTO inventory_baseline (id, state, updated_at) VALUES (1, ?, ?)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
            """, [.text(try JournalJSON.encode(state)), .real(date.timeIntervalSince1970)])
    }

    // MARK: Rows

    private func fetchGenerations(sql: String, arguments: [SQLValue] = []) throws -> [Generation] {
        try session.fetch(sql, arguments).map(decodeGeneration)
    }

    private func decodeGeneration(_ row: SQLRow) throws -> Generation {
        let number = (try? row.integer("number")) ?? 0
        do {
            return Generation(
                number: UInt64(number),
                createdAt: Date(timeIntervalSince1970: try row.real("created_at")),
                actor: try row.text("actor"),
                reason: try row.text("reason"),
                state: try JournalJSON.decode(ServingState.self, from: try row.text("state")),
                changes: try JournalJSON.decode([NameChange].self, from: try row.text("changes")),
                serials: try JournalJSON.decode([String: UInt32].self, from: try row.text("serials")))
        } catch let error as DecodingError {
            throw JournalError.undecodableRow(path: path, table: "generation", id: number, detail: JournalJSON.describe(error))
        } catch let error as SQLRowError {
            throw JournalError.undecodableRow(path: path, table: "generation", id: number, detail: error.description)
        }
    }
}

/// A name suffix matched on label boundaries: `orders.kafka.example.` matches itself and
/// `broker-1.orders.kafka.example.`, not `xorders.kafka.example.`.
struct NameSuffix {
    let apex: String

    init(_ suffix: String) {
        var name = suffix.lowercased()
        while name.hasPrefix(".") { name.removeFirst() }
        if !name.hasSuffix(".") { name += "." }
        apex = name
    }

    func contains(_ name: String) -> Bool {
        let name = name.lowercased()
        return apex == "." || name == apex || name.hasSuffix("." + apex)
    }
}

/// The JSON form of stored values: sorted keys so equal values are equal text.
enum JournalJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .typeMismatch(_, context), let .valueNotFound(_, context),
             let .keyNotFound(_, context), let .dataCorrupted(context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
