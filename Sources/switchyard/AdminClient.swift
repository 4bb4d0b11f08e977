import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwitchyardAdmin
import SwitchyardControl

/// Where the CLI finds the running server's admin endpoint: the flags, else the environment
/// (`SWITCHYARD_ADMIN`, `SWITCHYARD_ADMIN_TOKEN_FILE`), else the server's defaults
/// (`127.0.0.1:8053`, `state/admin.token` relative to the current directory).
struct AdminOptions: ParsableArguments {
    static let addressVariable = "SWITCHYARD_ADMIN"
    static let tokenFileVariable = "SWITCHYARD_ADMIN_TOKEN_FILE"
    static let defaultAddress = "127.0.0.1:8053"
    static let defaultTokenFile = "state/admin.token"

    @Option(help: ArgumentHelp("The server's admin endpoint (default: $SWITCHYARD_ADMIN, else 127.0.0.1:8053).", valueName: "addr:port"))
    var admin: String?

    @Option(help: ArgumentHelp("Bearer token file (default: $SWITCHYARD_ADMIN_TOKEN_FILE, else state/admin.token, which the server writes on first start).",
                               valueName: "path"))
    var adminTokenFile: String?

    /// A setting and where it came from, for error messages.
    struct Setting {
        var value: String
        var source: String
    }

    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) -> (address: Setting, tokenFile: Setting) {
        func pick(_ flag: String?, _ flagName: String, _ variable: String, _ fallback: String) -> Setting {
            if let flag { return Setting(value: flag, source: flagName) }
            if let value = environment[variable], !value.isEmpty { return Setting(value: value, source: "$\(variable)") }
            return Setting(value: fallback, source: "the default")
        }
        return (pick(admin, "--admin", Self.addressVariable, Self.defaultAddress),
                pick(adminTokenFile, "--admin-token-file", Self.tokenFileVariable, Self.defaultTokenFile))
    }

    func client() throws -> AdminClient {
        let (address, tokenFile) = resolved()
        let admin = address.value
        let host = admin.hasPrefix("[") ? admin : (admin.contains(":") ? admin : admin + ":8053")
        guard let url = URL(string: "http://\(host)"), url.host != nil else {
            printError("switchyard: admin address \(admin) (from \(address.source)): expected ADDR:PORT, e.g. 127.0.0.1:8053")
            throw ExitCode(1)
        }
        let token: String
        do {
            token = try AdminToken.read(path: tokenFile.value)
        } catch {
            printError("switchyard: cannot read the admin token file \(tokenFile.value) (from \(tokenFile.source)); "
                       + "pass --admin-token-file or set \(Self.tokenFileVariable) (the server writes <state>/admin.token on first start)")
            throw ExitCode(1)
        }
        return AdminClient(base: url, token: token, address: "\(admin) (from \(address.source))",
                           tokenFile: "\(tokenFile.value) (from \(tokenFile.source))")
    }
}

/// JSON over HTTP to the admin endpoint; every failure becomes one clear line and exit 1.
struct AdminClient: Sendable {
    let base: URL
    let token: String
    let address: String
    /// The token's file and where its path came from, for a refused token.
    var tokenFile = ""

    func get<Reply: Decodable>(_ path: String, as: Reply.Type = Reply.self) async throws -> Reply {
        try await send("GET", path, body: Optional<Data>.none)
    }

    func post<Body: Encodable, Reply: Decodable>(_ path: String, _ body: Body, as: Reply.Type = Reply.self) async throws -> Reply {
        try await send("POST", path, body: try AdminAPI.encoder().encode(body))
    }

    func post<Reply: Decodable>(_ path: String, as: Reply.Type = Reply.self) async throws -> Reply {
        try await send("POST", path, body: Data("{}".utf8))
    }

    private func send<Reply: Decodable>(_ method: String, _ path: String, body: Data?) async throws -> Reply {
        guard let url = URL(string: base.absoluteString + path) else { throw ValidationError("bad request path \(path)") }
        var request = URLRequest(url: url, timeoutInterval: 60)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data, response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            printError("switchyard: cannot reach the admin endpoint at \(address): \(error.localizedDescription); is `switchyard serve` running there? (see --admin)")
            throw ExitCode(1)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let reply = try? AdminAPI.decoder().decode(AdminAPI.ErrorReply.self, from: data)
            var message = reply?.error ?? String(decoding: data, as: UTF8.self)
            // The API names a bad value by its JSON field; the user typed a flag.
            if let reply, let field = reply.field { message = CLIFlags.reword(reply.error, field: field) }
            if status == 401 {
                printError("switchyard: the admin endpoint at \(address) refused the token in \(tokenFile): \(message)")
            } else {
                printError("switchyard: \(message)")
            }
            throw ExitCode(1)
        }
        do {
            return try AdminAPI.decoder().decode(Reply.self, from: data)
        } catch {
            printError("switchyard: unexpected reply from \(address) (\(error)); are the server and the CLI the same version?")
            throw ExitCode(1)
        }
    }
}
