import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwitchyardAdmin
import SwitchyardControl

/// Where the CLI finds the running server's admin endpoint.
struct AdminOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's admin endpoint.", valueName: "addr:port"))
    var admin = "127.0.0.1:8053"

    @Option(help: "Bearer token file (the server writes <state>/admin.token on first start).")
    var adminTokenFile = "state/admin.token"

    func client() throws -> AdminClient {
        let host = admin.hasPrefix("[") ? admin : (admin.contains(":") ? admin : admin + ":8053")
        guard let url = URL(string: "http://\(host)") else {
            throw ValidationError("--admin \(admin): expected ADDR:PORT, e.g. 127.0.0.1:8053")
        }
        do {
            return AdminClient(base: url, token: try AdminToken.read(path: adminTokenFile), address: admin)
        } catch {
            printError("switchyard: \(error)")
            throw ExitCode(1)
        }
    }
}

/// JSON over HTTP to the admin endpoint; every failure becomes one clear line and exit 1.
struct AdminClient: Sendable {
    let base: URL
    let token: String
    let address: String

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
            let message = (try? AdminAPI.decoder().decode(AdminAPI.ErrorReply.self, from: data).error) ?? String(decoding: data, as: UTF8.self)
            printError("switchyard: \(message)")
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
