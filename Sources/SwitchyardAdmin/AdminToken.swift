import Foundation
import SwitchyardControl

/// The admin endpoint's bearer token: read from a file, or generated into it (mode 0600)
/// on first start.
public enum AdminToken {
    public static func loadOrCreate(path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path) {
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.count >= 16 else {
                throw ControlError("the admin token in \(path) is shorter than 16 characters", remedy: "put a longer random token there, or delete the file to have one generated")
            }
            return token
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            guard FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown)
            }
        } catch {
            throw ControlError("cannot write the admin token file \(path): \(error.localizedDescription)", remedy: "check the directory's permissions or pass --admin-token-file")
        }
        return token
    }

    /// Reads the token for a client; nil with a reason when it cannot.
    public static func read(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ControlError("cannot read the admin token file \(path)", remedy: "pass --admin-token-file (the server writes <state>/admin.token on first start)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
