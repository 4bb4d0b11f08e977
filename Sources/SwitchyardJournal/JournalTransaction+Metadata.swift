import Foundation

/// What ``JournalTransaction/claim(zonesDirectory:adopt:at:)`` found and did.
public enum StateClaim: Equatable, Sendable {
    /// The journal already belonged to this zones directory.
    case unchanged
    /// Nothing was recorded yet (a fresh state directory, or one written before the record
    /// existed): this zones directory is recorded now.
    case recorded
    /// The journal belonged to `previous`; with `adopt` it now belongs to the new one.
    case adopted(previous: String)
}

extension JournalTransaction {
    static let zonesDirectoryKey = "zones_directory"
    static let writeProbeKey = "write_probe"

    /// Rewrites one row: a write probe (``Journal/health(probingEvery:)``), synced like any
    /// commit, so it succeeds only when the state directory takes writes again.
    func recordWriteProbe(at date: Date) throws {
        try setMetadata(Self.writeProbeKey, "\(date.timeIntervalSince1970)", at: date)
    }

    /// The zones directory (absolute, canonical) this journal belongs to, if recorded.
    public func zonesDirectory() throws -> String? {
        try session.fetchOne("SELECT value FROM metadata WHERE key = ?", [.text(Self.zonesDirectoryKey)])?.text("value")
    }

    public func setZonesDirectory(_ directory: String, at date: Date) throws {
        try setMetadata(Self.zonesDirectoryKey, directory, at: date)
    }

    private func setMetadata(_ key: String, _ value: String, at date: Date) throws {
        try session.execute("""
            INSERT INTO metadata (key, value, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """, [.text(key), .text(value), .real(date.timeIntervalSince1970)])
    }

    /// Makes this journal the one of `zonesDirectory` (absolute, canonical): recorded when
    /// nothing is, refused with ``JournalError/otherZonesDirectory(path:recorded:given:)``
    /// when another one is, unless `adopt`. Generations name stable names, not files, so a
    /// journal served from the wrong zones directory would quietly apply one deployment's
    /// weights to another's names.
    public func claim(zonesDirectory: String, adopt: Bool, at date: Date) throws -> StateClaim {
        guard let recorded = try self.zonesDirectory() else {
            try setZonesDirectory(zonesDirectory, at: date)
            return .recorded
        }
        if recorded == zonesDirectory { return .unchanged }
        guard adopt else { throw JournalError.otherZonesDirectory(path: path, recorded: recorded, given: zonesDirectory) }
        try setZonesDirectory(zonesDirectory, at: date)
        return .adopted(previous: recorded)
    }
}
