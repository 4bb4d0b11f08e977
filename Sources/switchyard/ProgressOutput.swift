import Foundation

/// Progress lines of `cutover apply|pause|resume` and `rollback`: every line starts with the
/// local time in ISO 8601 (`2026-11-29T17:05:14+01:00`) and is flushed at once, so a pipe
/// (`| tee`, a CI log) sees each step as it happens rather than when a buffer fills.
enum ProgressOutput {
    /// Writes `text`, one stamped line per line of it.
    static func emit(_ text: String, at date: Date = Date()) {
        let stamp = date.formatted(Date.ISO8601FormatStyle(timeZone: .current))
        var body = Substring(text)
        while body.last == "\n" { body = body.dropLast() }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "\(stamp)\n" : "\(stamp) \($0)\n" }
        fflush(nil)   // anything `print` left in a buffer goes first
        FileHandle.standardOutput.write(Data(lines.joined().utf8))
    }
}

/// Prints a progress line (see ``ProgressOutput``).
func progress(_ text: String) {
    ProgressOutput.emit(text)
}
