import Foundation

/// What kind of side effect a hook run was. Open-ended (a struct, not an enum) so a journal
/// written by a newer Switchyard with new kinds still reads.
public struct HookKind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A DNS NOTIFY (RFC 1996) to a secondary.
    public static let notify = HookKind(rawValue: "notify")
    /// A configured cache-flush command.
    public static let hook = HookKind(rawValue: "hook")
    /// Re-publishing discovery files.
    public static let discovery = HookKind(rawValue: "discovery")
    /// A drain command before a broker leaves a pool.
    public static let drain = HookKind(rawValue: "drain")
    /// A health gate before a step.
    public static let gate = HookKind(rawValue: "gate")

    public var description: String { rawValue }
}

/// One attempt at one hook, after a generation.
public struct HookRun: Equatable, Sendable {
    /// Stored output is cut to this many bytes of UTF-8.
    public static let outputLimit = 4096

    public var id: Int64
    public var generation: UInt64
    public var kind: HookKind
    /// The command line, the NOTIFY target address, the discovery directory, …
    public var target: String
    /// The exit code, or `nil` when there was none (could not start, timed out, no reply).
    public var exitCode: Int32?
    public var output: String
    /// 1 for the first try, 2 for the first retry, …
    public var attempt: Int
    public var ranAt: Date

    /// Zero exit code.
    public var succeeded: Bool { exitCode == 0 }

    public init(id: Int64, generation: UInt64, kind: HookKind, target: String, exitCode: Int32?, output: String, attempt: Int, ranAt: Date) {
        self.id = id; self.generation = generation; self.kind = kind; self.target = target
        self.exitCode = exitCode; self.output = output; self.attempt = attempt; self.ranAt = ranAt
    }

    /// `output` cut to ``outputLimit`` bytes on a character boundary, ending with a note of
    /// how much was dropped.
    public static func truncated(_ output: String) -> String {
        let bytes = output.utf8.count
        guard bytes > outputLimit else { return output }
        var kept = ""
        var keptBytes = 0
        for character in output {
            let size = character.utf8.count
            // Leave room for the note; its digits never exceed those of `bytes`.
            if keptBytes + size + note(dropped: bytes).utf8.count > outputLimit { break }
            kept.append(character)
            keptBytes += size
        }
        return kept + note(dropped: bytes - keptBytes)
    }

    private static func note(dropped: Int) -> String { "\n[… \(dropped) more bytes]" }
}

extension JournalTransaction {
    /// Records one hook attempt for `generation`, its output cut to 4 KiB.
    @discardableResult
    public func recordHook(generation: UInt64, kind: HookKind, target: String, exitCode: Int32?, output: String,
                           attempt: Int = 1, at date: Date = Date()) throws -> HookRun {
        guard let number = Int64(exactly: generation),
              try session.fetchOne("SELECT number FROM generation WHERE number = ?", [.integer(number)]) != nil
        else { throw JournalError.unknownGeneration(path: path, number: generation) }
        let output = HookRun.truncated(output)
        let row = try session.fetchOne(
            """
            INSERT INTO hook_run (generation, kind, target, exit_code, output, attempt, ran_at)
            VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id
            """,
            [.integer(number), .text(kind.rawValue), .text(target), exitCode.map { .integer(Int64($0)) } ?? .null, .text(output),
             .integer(Int64(attempt)), .real(date.timeIntervalSince1970)])
        guard let id = try row?.integer("id") else { throw JournalError.storage(path: path, detail: "INSERT … RETURNING gave no id") }
        return HookRun(id: id, generation: generation, kind: kind, target: target,
                       exitCode: exitCode, output: output, attempt: attempt, ranAt: date)
    }

    /// The hook attempts after `generation`, in the order they ran.
    public func hookRuns(generation: UInt64) throws -> [HookRun] {
        guard let number = Int64(exactly: generation) else { return [] }
        return try session.fetch("SELECT * FROM hook_run WHERE generation = ? ORDER BY id", [.integer(number)])
            .map(Self.hookRun)
    }

    /// Failed hook attempts that ran at or after `since`, oldest first. Unless
    /// `includingRetried`, an attempt is left out once a later attempt of the same hook (same
    /// generation, kind and target) succeeded: what is left still needs attention.
    public func failedHooks(since: Date, includingRetried: Bool = false) throws -> [HookRun] {
        let retried = includingRetried ? "" : """
            AND NOT EXISTS (
                SELECT 1 FROM hook_run later
                WHERE later.generation = failed.generation AND later.kind = failed.kind
                  AND later.target = failed.target AND later.id > failed.id AND later.exit_code = 0)
            """
        return try session.fetch(
            """
            SELECT * FROM hook_run failed
            WHERE failed.ran_at >= ? AND (failed.exit_code IS NULL OR failed.exit_code != 0) \(retried)
            ORDER BY failed.id
            """,
            [.real(since.timeIntervalSince1970)]
        ).map(Self.hookRun)
    }

    static func hookRun(_ row: SQLRow) throws -> HookRun {
        HookRun(
            id: try row.integer("id"), generation: UInt64(try row.integer("generation")), kind: HookKind(rawValue: try row.text("kind")),
            target: try row.text("target"), exitCode: try row.optionalInteger("exit_code").map { Int32(truncatingIfNeeded: $0) },
            output: try row.text("output"), attempt: Int(try row.integer("attempt")),
            ranAt: Date(timeIntervalSince1970: try row.real("ran_at")))
    }
}
