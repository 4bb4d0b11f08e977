import Foundation

/// Where a PostgreSQL journal lives, read from a libpq-style URL:
/// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
///
/// Without a password in the URL it comes from `PGPASSWORD`, then from the password file
/// (`PGPASSFILE` or `~/.pgpass`, lines `host:port:database:user:password`, `*` matching
/// anything), as libpq does, so no secret has to sit on a command line.
public struct PostgresLocation: Equatable, Sendable {
    /// libpq's `sslmode`: `require` encrypts without checking the certificate, `verify-ca`
    /// checks it against the system's trust roots, `verify-full` also checks the host name.
    public enum TLSMode: String, Sendable { case disable, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// The URL without its password, for logs, errors and `status`.
    public var redacted: String { "postgresql://\(user)@\(hostForURL):\(port)/\(database)" + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)") }

    private var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    /// `nil` when `text` is not a PostgreSQL URL (a state directory); throws when it is one
    /// but malformed.
    public init?(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") else { return nil }
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw JournalError.badLocation(text: Self.redact(text), detail: "not a URL of the form postgresql://USER@HOST:PORT/DATABASE")
        }
        guard let user = components.user.map({ $0.removingPercentEncoding ?? $0 }), !user.isEmpty else {
            throw JournalError.badLocation(text: Self.redact(text), detail: "no user: write postgresql://USER@\(host)/DATABASE")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw JournalError.badLocation(text: Self.redact(text), detail: "no database name after the host: write postgresql://\(user)@\(host)/DATABASE")
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = user
        self.database = database
        var tls = TLSMode.disable
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable", "allow": tls = .disable
                case let value:
                    guard let mode = TLSMode(rawValue: value) else {
                        throw JournalError.badLocation(text: Self.redact(text), detail: "sslmode=\(value) is not one of disable, prefer, require, verify-ca, verify-full")
                    }
                    tls = mode
                }
            default:
                throw JournalError.badLocation(text: Self.redact(text), detail: "unknown URL parameter \(item.name) (only sslmode is understood)")
            }
        }
        self.tls = tls
        if let password = components.password {
            self.password = password.removingPercentEncoding ?? password
        } else if let password = environment["PGPASSWORD"] {
            self.password = password
        } else {
            let file = environment["PGPASSFILE"] ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".pgpass")
            self.password = Self.password(inPassFile: file, host: self.host, port: self.port, database: database, user: user)
        }
    }

    /// The password of the first matching line of a libpq password file, if any.
    static func password(inPassFile path: String, host: String, port: Int, database: String, user: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            let fields = splitPassLine(String(line))
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// Splits on `:`, honouring `\:` and `\\` escapes.
    private static func splitPassLine(_ line: String) -> [String] {
        var fields: [String] = [], field = "", escaped = false
        for character in line {
            if escaped { field.append(character); escaped = false }
            else if character == "\\" { escaped = true }
            else if character == ":" { fields.append(field); field = "" }
            else { field.append(character) }
        }
        fields.append(field)
        return fields
    }

    /// `text` with any password replaced, for error messages.
    static func redact(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "…"
        return components.string ?? "postgresql://…"
    }
}
