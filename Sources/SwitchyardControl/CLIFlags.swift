import Foundation

/// The command-line flags behind the admin API's request fields. The API names a bad value by
/// its JSON path (`options.ramp[0]`, `rollback.toGeneration`), which is right for API clients;
/// someone who typed `switchyard cutover plan --ramp 0,100` should read `--ramp` instead. The
/// server keeps one wording (``RequestError``, its `field` apart in ``AdminAPI/ErrorReply``)
/// and the CLI rewords it with this table.
public enum CLIFlags {
    /// The flag (or argument) a request field comes from, for the field's JSON path; `nil`
    /// when the CLI has none (the CLI never sends it, e.g. `actor`). List positions and the
    /// enclosing objects (`options.`, `rollback.`, `rollback.options.`) do not matter.
    public static func flag(forField path: String) -> String? {
        let keys = path.replacingOccurrences(of: #"\[\d+\]"#, with: "", options: .regularExpression)
            .split(separator: ".").map(String.init)
        // `shift`'s request: {"request": {"weights": {"name", "weights": {pool: w}}}} and so on.
        if keys.first == "request", keys.count >= 3 {
            switch (keys[1], keys[2]) {
            case ("weights", "weights"): return "--weights"
            case ("weights", "name"), ("ttl", "name"): return "--name or <cluster> <broker-N|bootstrap>"
            case ("ttl", "ttl"): return "--ttl"
            case ("broker", "id"): return "broker-<id>"
            case ("broker", "pool"): return "--to"
            case ("broker", "cluster"): return "<cluster>"
            default: return nil
            }
        }
        return keys.last.flatMap { byField[$0] }
    }

    /// The flag of each field of ``CutoverOptions``, ``AdminAPI/RollbackBody`` and
    /// ``AdminAPI/ShiftBody`` (and query parameter) that the CLI sets from one.
    static let byField: [String: String] = [
        "cluster": "<cluster>", "toPool": "--to", "brokers": "--brokers", "ramp": "--ramp", "batch": "--batch",
        "cutoverTTL": "--cutover-ttl", "jvmCacheSeconds": "--jvm-cache", "resolverFloorSeconds": "--resolver-floor",
        "dwellSeconds": "--dwell", "gateCommands": "--gate", "drainCommand": "--drain", "verifyTimeoutSeconds": "--verify-timeout",
        "drainAfterSeconds": "--drain-after", "drainTimeoutSeconds": "--drain-timeout", "maxUnderReplicated": "--max-under-replicated",
        "run": "--run", "toGeneration": "--to-generation", "steps": "--steps", "expectedGeneration": "--expect-generation",
        // `history`'s query parameter.
        "limit": "--limit",
    ]

    /// `message`, an API error starting with `field` (`options.ramp[0]: ramp percentage must
    /// be …`), with the field replaced by its flag (`--ramp: ramp percentage must be …`); a
    /// list element keeps its position (`--ramp, value 1:`). Unchanged when the field has no
    /// flag or the message does not start with it.
    public static func reword(_ message: String, field: String) -> String {
        guard let flag = flag(forField: field), message.hasPrefix(field + ": ") else { return message }
        var named = flag
        if let match = field.range(of: #"\[(\d+)\]$"#, options: .regularExpression),
           let index = Int(field[match].dropFirst().dropLast()) {
            named += ", value \(index + 1)"
        }
        return named + ": " + message.dropFirst(field.count + 2)
    }
}
