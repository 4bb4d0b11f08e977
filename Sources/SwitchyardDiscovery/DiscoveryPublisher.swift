import SwitchyardInventory

/// What publishing did, or would do, to one file.
public struct FileChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The file did not exist.
        case created
        /// The clusters content changed.
        case updated
        /// Same content: the file is left alone (its mtime stays).
        case unchanged
        /// A Switchyard file for a type no inventory declares any more, removed by `--prune`.
        case removed
        /// Such a file left in place because `--prune` was not given.
        case stale
    }

    public var path: String
    public var kind: Kind
    /// A line diff from the old to the new text (empty for unchanged and stale files).
    public var diff: String

    public init(path: String, kind: Kind, diff: String) {
        self.path = path
        self.kind = kind
        self.diff = diff
    }

    /// True when the file is (or would be) written or removed.
    public var isChange: Bool { kind == .created || kind == .updated || kind == .removed }

    public var description: String {
        switch kind {
        case .stale: return "\(path): stale (no inventory declares this type; --prune removes it)"
        default: return "\(path): \(kind.rawValue)"
        }
    }
}

/// Everything publishing did (or, for a dry run, would do), in output-directory then file order.
public struct PublishReport: Sendable, Equatable {
    public var changes: [FileChange]

    public init(changes: [FileChange]) {
        self.changes = changes
    }

    /// True when at least one file is (or would be) written or removed.
    public var hasChanges: Bool { changes.contains(where: \.isChange) }
}

/// Writes the discovery files of all inventories into one or more directories.
///
/// kafka-utils looks in `$KAFKA_DISCOVERY_DIR`, `~/.kafka_discovery` and
/// `/etc/kafka_discovery` and the last directory holding `<type>.yaml` wins, so several output
/// directories are kept identical rather than layered.
///
/// **When is a file unchanged?** The header names the generation, but a new generation usually
/// changes nothing a client reads (most generations move weights, not clusters). Rewriting every
/// file on every generation would churn mtimes and wake file watchers for nothing, so the
/// comparison ignores the `# Generation:` line: a file is rewritten only when anything else
/// differs, and its generation line then names the generation at which the content last
/// changed.
public enum DiscoveryPublisher {
    /// Renders the files and writes those that changed, atomically. With `prune`, removes
    /// Switchyard-written `*.yaml` files whose type no inventory declares any more (files without
    /// the Switchyard header are never touched).
    public static func publish(inventories: [Inventory], outDirs: [String], generation: UInt64?, prune: Bool) throws -> PublishReport {
        try run(inventories: inventories, outDirs: outDirs, generation: generation, prune: prune, write: true)
    }

    /// The same as ``publish(inventories:outDirs:generation:prune:)`` without touching any file:
    /// what `switchyard discovery diff` shows.
    public static func plan(inventories: [Inventory], outDirs: [String], generation: UInt64?, prune: Bool) throws -> PublishReport {
        try run(inventories: inventories, outDirs: outDirs, generation: generation, prune: prune, write: false)
    }

    static func run(inventories: [Inventory], outDirs: [String], generation: UInt64?, prune: Bool, write: Bool) throws(DiscoveryError) -> PublishReport {
        let files = try DiscoveryRenderer.files(for: inventories, generation: generation)
        var changes: [FileChange] = []
        for directory in uniqued(outDirs.map(trimmedDirectory)) {
            if write { try FileSystem.makeDirectories(directory) }
            for file in files {
                let path = "\(directory)/\(file.fileName)"
                let old = try FileSystem.read(path)
                if let old, sameContent(old, file.text) {
                    changes.append(FileChange(path: path, kind: .unchanged, diff: ""))
                    continue
                }
                if write { try FileSystem.writeAtomically(file.text, to: path) }
                changes.append(FileChange(path: path, kind: old == nil ? .created : .updated,
                                          diff: LineDiff.render(old: old ?? "", new: file.text)))
            }
            let current = Set(files.map(\.fileName))
            for name in try FileSystem.yamlFiles(in: directory) where !current.contains(name) {
                let path = "\(directory)/\(name)"
                guard let old = try FileSystem.read(path), old.hasPrefix(DiscoveryRenderer.headerPrefix) else { continue }
                if prune {
                    if write { try FileSystem.remove(path) }
                    changes.append(FileChange(path: path, kind: .removed, diff: LineDiff.render(old: old, new: "")))
                } else {
                    changes.append(FileChange(path: path, kind: .stale, diff: ""))
                }
            }
        }
        return PublishReport(changes: changes)
    }

    /// Equal but for the `# Generation:` header line (see the type's documentation).
    static func sameContent(_ old: String, _ new: String) -> Bool {
        func withoutGeneration(_ text: String) -> [Substring] {
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix(DiscoveryRenderer.generationPrefix) }
        }
        return withoutGeneration(old) == withoutGeneration(new)
    }

    static func trimmedDirectory(_ path: String) -> String {
        var path = path.isEmpty ? "." : path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }

    static func uniqued(_ paths: [String]) -> [String] {
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }
}

/// A minimal line diff (longest common subsequence) for `switchyard discovery diff`: discovery
/// files are a few dozen lines, so the quadratic table is fine.
enum LineDiff {
    static func render(old: String, new: String) -> String {
        let a = lines(old), b = lines(new)
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var output: [String] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                output.append("  " + a[i]); i += 1; j += 1
            } else if j < b.count, i == a.count || table[i][j + 1] >= table[i + 1][j] {
                output.append("+ " + b[j]); j += 1
            } else {
                output.append("- " + a[i]); i += 1
            }
        }
        return output.map { $0 + "\n" }.joined()
    }

    static func lines(_ text: String) -> [Substring] {
        guard !text.isEmpty else { return [] }
        var list = text.split(separator: "\n", omittingEmptySubsequences: false)
        if list.last == "" { list.removeLast() }
        return list
    }
}
