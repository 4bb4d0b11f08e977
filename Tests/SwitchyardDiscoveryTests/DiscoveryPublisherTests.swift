import Foundation
import Testing
@testable import SwitchyardDiscovery
import SwitchyardInventory

/// An inventory with one `standard` cluster whose ZooKeeper chroot varies, so each `version`
/// renders different content.
func inventory(version: Int, type: String = "standard") throws -> Inventory {
    let yaml = """
    clusters:
      orders:
        port: 9092
        discovery: { type: \(type), zookeeper: zk-1.example:2181/kafka-orders-\(version), local: true }
        pools: [vm]
        brokers:
          1: { vm: 10.0.1.11 }
    """
    return try InventoryLoader.parse(text: yaml, path: "zones/kafka.example.yaml", origin: "kafka.example.").get()
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-discovery-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func modificationTime(_ path: String) throws -> Date {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
}

/// Reads a file over and over on its own thread until stopped, recording anything that is not
/// one of the complete texts publishing can write.
final class TightReader: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var bad: [String] = []
    private var readsDone = 0
    private let path: String
    private let valid: Set<String>
    private let done = DispatchSemaphore(value: 0)

    init(path: String, valid: Set<String>) {
        self.path = path
        self.valid = valid
    }

    func start() {
        let thread = Thread { [self] in
            while !lock.withLock({ stopped }) {
                // Read through Glibc, as a client would, rather than through a cache.
                if let data = FileManager.default.contents(atPath: path) {
                    let text = String(decoding: data, as: UTF8.self)
                    lock.withLock {
                        readsDone += 1
                        if !valid.contains(text) { bad.append(text) }
                    }
                } else {
                    lock.withLock { bad.append("<missing>") }
                }
            }
            done.signal()
        }
        thread.start()
    }

    func stop() -> (reads: Int, bad: [String]) {
        lock.withLock { stopped = true }
        done.wait()
        return lock.withLock { (readsDone, bad) }
    }
}

@Suite("Discovery publishing")
struct DiscoveryPublisherTests {
    @Test("publish creates, then leaves unchanged files alone (mtime kept), then updates")
    func unchangedKeepsModificationTime() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/standard.yaml"

        let first = try DiscoveryPublisher.publish(inventories: [inventory(version: 1)], outDirs: [directory], generation: 1, prune: false)
        #expect(first.changes.map(\.kind) == [.created])
        // Back-date the file so a rewrite within the same clock tick would still show.
        let past = Date(timeIntervalSinceNow: -3600)
        try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: path)
        let before = try modificationTime(path)

        // A new generation alone does not rewrite the file: the header keeps generation 1.
        let second = try DiscoveryPublisher.publish(inventories: [inventory(version: 1)], outDirs: [directory], generation: 2, prune: false)
        #expect(second.changes.map(\.kind) == [.unchanged])
        #expect(!second.hasChanges)
        #expect(try modificationTime(path) == before)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("# Generation: 1\n"))

        let third = try DiscoveryPublisher.publish(inventories: [inventory(version: 2)], outDirs: [directory], generation: 3, prune: false)
        #expect(third.changes.map(\.kind) == [.updated])
        #expect(try modificationTime(path) > before)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("# Generation: 3\n") && text.contains("kafka-orders-2"))
        #expect(third.changes[0].diff.contains("- # Generation: 1\n") && third.changes[0].diff.contains("+     zookeeper: zk-1.example:2181/kafka-orders-2\n"))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["standard.yaml"])
    }

    @Test("several output directories are kept identical; plan writes nothing")
    func severalDirectories() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dirs = ["\(root)/a", "\(root)/b/c/"]
        let planned = try DiscoveryPublisher.plan(inventories: [inventory(version: 1)], outDirs: dirs, generation: nil, prune: false)
        #expect(planned.changes.map(\.kind) == [.created, .created])
        #expect(!FileManager.default.fileExists(atPath: "\(root)/a"))
        _ = try DiscoveryPublisher.publish(inventories: [inventory(version: 1)], outDirs: dirs, generation: nil, prune: false)
        let a = try String(contentsOfFile: "\(root)/a/standard.yaml", encoding: .utf8)
        let b = try String(contentsOfFile: "\(root)/b/c/standard.yaml", encoding: .utf8)
        #expect(a == b)
        #expect(try DiscoveryPublisher.plan(inventories: [inventory(version: 1)], outDirs: dirs, generation: nil, prune: false).hasChanges == false)
    }

    @Test("files of types that no longer exist are removed only with prune, and never hand-written ones")
    func prune() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try DiscoveryPublisher.publish(inventories: [inventory(version: 1, type: "old")], outDirs: [directory], generation: nil, prune: false)
        try "clusters: {}\n".write(toFile: "\(directory)/mine.yaml", atomically: true, encoding: .utf8)

        let kept = try DiscoveryPublisher.publish(inventories: [inventory(version: 1)], outDirs: [directory], generation: nil, prune: false)
        #expect(kept.changes.map(\.kind) == [.created, .stale])
        #expect(FileManager.default.fileExists(atPath: "\(directory)/old.yaml"))

        let pruned = try DiscoveryPublisher.publish(inventories: [inventory(version: 1)], outDirs: [directory], generation: nil, prune: true)
        #expect(pruned.changes.map(\.kind) == [.unchanged, .removed])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["mine.yaml", "standard.yaml"])
    }

    @Test("a failed write names the call and the path")
    func systemError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "x".write(toFile: "\(directory)/file", atomically: true, encoding: .utf8)
        #expect {
            try DiscoveryPublisher.publish(inventories: [inventory(version: 1)], outDirs: ["\(directory)/file/sub"], generation: nil, prune: false)
        } throws: { error in
            "\(error)".contains("\(directory)/file: mkdir failed: Not a directory")
        }
    }

    @Test("a reader in a tight loop never sees a partial, empty or missing file while publishing many times")
    func atomicity() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let versions = 0..<200
        let inventories = try versions.map { try inventory(version: $0) }
        // Make the content big enough that a torn write would be visible.
        let valid = Set(try versions.map { try DiscoveryRenderer.files(for: [inventories[$0]], generation: UInt64($0))[0].text })
        _ = try DiscoveryPublisher.publish(inventories: [inventories[0]], outDirs: [directory], generation: 0, prune: false)

        let reader = TightReader(path: "\(directory)/standard.yaml", valid: valid)
        reader.start()
        for version in versions.dropFirst() {
            let report = try DiscoveryPublisher.publish(inventories: [inventories[version]], outDirs: [directory], generation: UInt64(version), prune: false)
            #expect(report.changes.map(\.kind) == [.updated])
        }
        let result = reader.stop()
        #expect(result.reads > 0)
        #expect(result.bad.isEmpty, "saw \(result.bad.count) bad reads, first: \(result.bad.first ?? "")")
    }
}
