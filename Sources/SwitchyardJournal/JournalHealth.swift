import Foundation

/// Whether the journal can take a change now, as its last write (or write probe) found it.
/// `/healthz` and `/metrics` read this, so an operator sees a full or read-only state
/// directory before the next change is refused, and sees it clear without a restart.
public struct JournalHealth: Equatable, Sendable {
    /// `false` from a failed write until the next write (or probe) succeeds.
    public var writable = true
    /// Write transactions the storage refused since the server started.
    public var writeErrors = 0
    /// The last storage failure (``JournalError/description``: directory, errno, remedy).
    public var lastError: String?
    public var lastErrorAt: Date?
    /// When the journal stopped being writable; nil while it is.
    public var unwritableSince: Date?

    public init() {}

    mutating func record(failure: JournalError, at date: Date) {
        if writable { unwritableSince = date }
        writable = false
        writeErrors += 1
        lastError = failure.description
        lastErrorAt = date
    }

    mutating func recordSuccess() {
        writable = true
        unwritableSince = nil
    }
}
