import Foundation
import SwitchyardCore

/// A TSIG algorithm (RFC 8945 section 6): its name on the wire and its MAC length.
public struct TSIGAlgorithm: Sendable, Hashable, CustomStringConvertible {
    /// As written in key files and on the wire (`hmac-sha256`).
    public let name: String
    public let wireName: DomainName
    public let macLength: Int

    public static let hmacSHA1 = TSIGAlgorithm(name: "hmac-sha1", macLength: 20)
    public static let hmacSHA256 = TSIGAlgorithm(name: "hmac-sha256", macLength: 32)
    public static let hmacSHA384 = TSIGAlgorithm(name: "hmac-sha384", macLength: 48)
    public static let hmacSHA512 = TSIGAlgorithm(name: "hmac-sha512", macLength: 64)
    public static let all = [hmacSHA1, hmacSHA256, hmacSHA384, hmacSHA512]

    private init(name: String, macLength: Int) {
        self.name = name
        self.wireName = DomainName(name + ".")!
        self.macLength = macLength
    }

    /// `hmac-sha256`, `HMAC-SHA256.`, ...; nil for algorithms we do not offer (hmac-md5).
    public init?(named text: String) {
        let bare = text.lowercased().hasSuffix(".") ? String(text.lowercased().dropLast()) : text.lowercased()
        guard let found = Self.all.first(where: { $0.name == bare }) else { return nil }
        self = found
    }

    public init?(wire: DomainName) {
        guard let found = Self.all.first(where: { $0.wireName.key == wire.key }) else { return nil }
        self = found
    }

    public var description: String { name }
}

/// A shared secret (RFC 8945 section 3): the key name is its identity on the wire.
public struct TSIGKey: Sendable, Hashable, CustomStringConvertible {
    public let name: DomainName
    public let algorithm: TSIGAlgorithm
    public let secret: [UInt8]

    public init(name: DomainName, algorithm: TSIGAlgorithm, secret: [UInt8]) {
        self.name = name; self.algorithm = algorithm; self.secret = secret
    }

    /// The key name without the trailing dot, as operators write it (`xfr`).
    public var displayName: String {
        let text = name.description
        return text.hasSuffix(".") && text != "." ? String(text.dropLast()) : text
    }

    /// Never prints the secret.
    public var description: String { "\(displayName) (\(algorithm))" }
}

/// The keys of `--tsig-key-file`, by name.
public struct TSIGKeyring: Sendable {
    public let keys: [TSIGKey]
    public init(_ keys: [TSIGKey] = []) { self.keys = keys }

    public func key(named name: DomainName) -> TSIGKey? {
        keys.first { $0.name.key == name.key }
    }

    /// `xfr` or `xfr.`.
    public func key(named text: String) -> TSIGKey? {
        DomainName(text.hasSuffix(".") ? text : text + ".").flatMap(key(named:))
    }
}

/// A problem in a key file, with the place it was found.
public struct TSIGKeyFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

/// Reads keys in the syntax BIND's `named.conf`, `tsig-keygen` and Knot's `kdig -k` share:
///
///     key "xfr" {
///         algorithm hmac-sha256;
///         secret "c2VjcmV0...";
///     };
///
/// Several keys per file; `#`, `//` and `/* */` comments.
public enum TSIGKeyFile {
    public static func load(path: String) throws(TSIGKeyFileError) -> TSIGKeyring {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TSIGKeyFileError(file: path, line: 0, message: "cannot read the key file (missing, unreadable or not UTF-8)")
        }
        return try parse(text, file: path)
    }

    struct Token { var text: String; var quoted: Bool; var line: Int }

    public static func parse(_ text: String, file: String) throws(TSIGKeyFileError) -> TSIGKeyring {
        let tokens = try tokenize(text, file: file)
        var keys: [TSIGKey] = []
        var index = 0
        func fail(_ line: Int, _ message: String) -> TSIGKeyFileError { TSIGKeyFileError(file: file, line: line, message: message) }
        func next(_ what: String, after line: Int) throws(TSIGKeyFileError) -> Token {
            guard index < tokens.count else { throw fail(line, "the file ends where \(what) was expected") }
            index += 1
            return tokens[index - 1]
        }
        func expect(_ symbol: String, after token: Token) throws(TSIGKeyFileError) {
            let found = try next("`\(symbol)`", after: token.line)
            guard found.text == symbol, !found.quoted else { throw fail(found.line, "expected `\(symbol)`, found `\(found.text)`") }
        }
        while index < tokens.count {
            let keyword = tokens[index]; index += 1
            guard keyword.text == "key", !keyword.quoted else {
                throw fail(keyword.line, "expected `key \"name\" { algorithm ...; secret \"...\"; };`, found `\(keyword.text)`")
            }
            let nameToken = try next("a key name", after: keyword.line)
            guard let name = DomainName(nameToken.text.hasSuffix(".") ? nameToken.text : nameToken.text + "."), nameToken.text != "{" else {
                throw fail(nameToken.line, "`\(nameToken.text)` is not a valid key name")
            }
            if keys.contains(where: { $0.name == name }) { throw fail(nameToken.line, "key \(nameToken.text) is defined twice") }
            try expect("{", after: nameToken)
            var algorithm: TSIGAlgorithm?, secret: [UInt8]?
            while true {
                let field = try next("`algorithm`, `secret` or `}`", after: nameToken.line)
                if field.text == "}" && !field.quoted { break }
                let value = try next("a value for \(field.text)", after: field.line)
                switch field.text {
                case "algorithm":
                    guard let found = TSIGAlgorithm(named: value.text) else {
                        throw fail(value.line, "key \(nameToken.text): algorithm `\(value.text)` is not supported; use one of \(TSIGAlgorithm.all.map(\.name).joined(separator: ", "))")
                    }
                    algorithm = found
                case "secret":
                    guard let bytes = Data(base64Encoded: value.text), !bytes.isEmpty else {
                        throw fail(value.line, "key \(nameToken.text): the secret is not valid base64")
                    }
                    secret = Array(bytes)
                default:
                    throw fail(field.line, "key \(nameToken.text): unknown field `\(field.text)`; expected `algorithm` or `secret`")
                }
                try expect(";", after: value)
            }
            let close = tokens[index - 1]
            try expect(";", after: close)
            guard let algorithm else { throw fail(nameToken.line, "key \(nameToken.text) has no `algorithm` (e.g. `algorithm hmac-sha256;`)") }
            guard let secret else { throw fail(nameToken.line, "key \(nameToken.text) has no `secret` (base64, e.g. from `tsig-keygen` or `keymgr -t`)") }
            keys.append(TSIGKey(name: name, algorithm: algorithm, secret: secret))
        }
        return TSIGKeyring(keys)
    }

    static func tokenize(_ text: String, file: String) throws(TSIGKeyFileError) -> [Token] {
        var tokens: [Token] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0, line = 1
        while i < scalars.count {
            let c = scalars[i]
            if c == "\n" { line += 1; i += 1; continue }
            if c == " " || c == "\t" || c == "\r" { i += 1; continue }
            if c == "#" || (c == "/" && i + 1 < scalars.count && scalars[i + 1] == "/") {
                while i < scalars.count && scalars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && i + 1 < scalars.count && scalars[i + 1] == "*" {
                let start = line
                i += 2
                while i + 1 < scalars.count && !(scalars[i] == "*" && scalars[i + 1] == "/") {
                    if scalars[i] == "\n" { line += 1 }
                    i += 1
                }
                guard i + 1 < scalars.count else { throw TSIGKeyFileError(file: file, line: start, message: "comment `/*` is never closed") }
                i += 2
                continue
            }
            if c == "{" || c == "}" || c == ";" {
                tokens.append(Token(text: String(c), quoted: false, line: line)); i += 1; continue
            }
            if c == "\"" {
                let start = line
                var value = ""
                i += 1
                while i < scalars.count && scalars[i] != "\"" {
                    if scalars[i] == "\n" { line += 1 }
                    value.unicodeScalars.append(scalars[i]); i += 1
                }
                guard i < scalars.count else { throw TSIGKeyFileError(file: file, line: start, message: "quoted string is never closed") }
                i += 1
                tokens.append(Token(text: value, quoted: true, line: start))
                continue
            }
            var word = ""
            while i < scalars.count, !" \t\r\n{};\"#".unicodeScalars.contains(scalars[i]) {
                word.unicodeScalars.append(scalars[i]); i += 1
            }
            tokens.append(Token(text: word, quoted: false, line: line))
        }
        return tokens
    }
}
