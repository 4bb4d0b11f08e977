import Synchronization

/// At most `perSecond` log lines a second for one kind of event that a client can cause at
/// will (a bad TSIG, a refused transfer): a flood of such packets must not become a flood of
/// log lines. What is held back is counted and reported with the next line let through.
final class LogThrottle: Sendable {
    private struct Window {
        var second: UInt64 = 0
        var used = 0
        var held = 0
    }

    private let perSecond: Int
    private let window = Mutex(Window())

    init(perSecond: Int = 10) { self.perSecond = perSecond }

    /// Whether a line may be written in `second`; if so, how many were held back before it.
    func admit(second: UInt64) -> Int? {
        window.withLock { window in
            if window.second != second { window.second = second; window.used = 0 }
            guard window.used < perSecond else { window.held += 1; return nil }
            window.used += 1
            defer { window.held = 0 }
            return window.held
        }
    }
}
