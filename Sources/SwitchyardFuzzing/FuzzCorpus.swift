import Foundation

/// Corpus files on disk: what the replaying binary and the test suite feed to a target.
public enum FuzzCorpus {
    /// `path` itself when it is a file, else the files directly inside it, sorted (so replays
    /// are repeatable); hidden files are skipped.
    public static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
    }

    public static func contents(of file: String) -> [UInt8] {
        FileManager.default.contents(atPath: file).map { Array($0) } ?? []
    }
}
