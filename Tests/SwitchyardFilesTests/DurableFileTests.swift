import Foundation
import Glibc
import Testing
import SwitchyardFiles

/// The one durable-write path of discovery files and the fleet's local copy.
@Suite struct DurableFileTests {
    static func withDirectory(_ body: (String) throws -> Void) throws {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("switchyard-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    static func mode(of path: String) -> mode_t {
        var info = stat()
        _ = stat(path, &info)
        return info.st_mode & 0o777
    }

    @Test(arguments: [mode_t(0o600), 0o644])
    func aFileIsReplacedWholeWithTheGivenPermissionsAndNothingBesideIt(permissions: mode_t) throws {
        try Self.withDirectory { dir in
            let path = dir + "/out.yaml"
            try DurableFile.replace(path, with: Array("first\n".utf8), permissions: permissions)
            try DurableFile.replace(path, with: Array("second, longer\n".utf8), permissions: permissions)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "second, longer\n")
            #expect(Self.mode(of: path) == permissions)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.yaml"])
        }
    }

    @Test func anEmptyFileIsWrittenToo() throws {
        try Self.withDirectory { dir in
            try DurableFile.replace(dir + "/empty", with: [], permissions: 0o644)
            #expect(FileManager.default.contents(atPath: dir + "/empty") == Data())
        }
    }

    @Test func aMissingDirectoryNamesTheCallThePathAndErrno() throws {
        try Self.withDirectory { dir in
            let path = dir + "/missing/out.yaml"
            do throws(FileSystemError) {
                try DurableFile.replace(path, with: Array("x".utf8), permissions: 0o644)
                Issue.record("wrote into a missing directory")
            } catch {
                #expect(error.operation == "open" && error.errno == ENOENT)
                // The temporary file beside the target: a dot-file, so `*.yaml` globs skip it.
                #expect(error.path.hasPrefix(dir + "/missing/.out.yaml.tmp-\(getpid())-"))
                #expect(error.description.hasSuffix(": open failed: No such file or directory (errno \(ENOENT))"))
            }
        }
    }

    @Test func aRemovedFileIsGone() throws {
        try Self.withDirectory { dir in
            try DurableFile.replace(dir + "/a", with: Array("a".utf8), permissions: 0o644)
            try DurableFile.remove(dir + "/a")
            #expect(!FileManager.default.fileExists(atPath: dir + "/a"))
            #expect(throws: FileSystemError(operation: "unlink", path: dir + "/a", errno: ENOENT)) { try DurableFile.remove(dir + "/a") }
        }
    }

    @Test(arguments: [("out.yaml", ".", "out.yaml"), ("/out.yaml", "/", "out.yaml"), ("a/b/out.yaml", "a/b", "out.yaml")])
    func pathsSplitIntoDirectoryAndName(path: String, parent: String, name: String) {
        #expect(DurableFile.parent(of: path) == parent)
        #expect(DurableFile.baseName(of: path) == name)
    }
}
