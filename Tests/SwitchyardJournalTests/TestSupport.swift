import Foundation
import Testing
import SwitchyardControl
import SwitchyardJournal

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("switchyard-journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` with a temporary directory that is removed afterwards, pass or fail.
func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try body(directory)
}

/// Fixed instants, so stored times can be compared exactly.
func instant(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_700_000_000 + seconds) }

/// A two-broker cluster on VMs with a 100/0 bootstrap.
let vmState = ServingState(
    brokerPools: ["broker-1.orders.kafka.example.": "vm", "broker-2.orders.kafka.example.": "vm"],
    weights: ["bootstrap.orders.kafka.example.": ["vm": 100, "pod": 0]])

/// Something a test throws to abandon a transaction halfway.
struct Abandon: Error, Equatable {}

/// A run record shaped like the planner's progress.
struct Progress: Codable, Equatable {
    var step: Int
    var brokers: [Int]
    var note: String
}

/// Encodes its first field, then fails: a write that breaks in the middle of a row.
struct FailsToEncode: Encodable {
    struct Refused: Error {}
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(1, forKey: .step)
        throw Refused()
    }
    enum CodingKeys: String, CodingKey { case step }
}

/// Runs `tool` (mount, umount) and returns its exit status; -1 when it cannot start.
func run(_ tool: String, _ arguments: String...) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    do { try process.run() } catch { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// Runs `body` with the path of a fresh tmpfs of `size` (e.g. `1m`), unmounted afterwards.
/// Needs root; records an issue when the mount fails.
func withTmpfs(size: String, _ body: (String) throws -> Void) throws {
    try withTemporaryDirectory { dir in
        let mountPoint = dir.file("fs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard run("/bin/mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint) == 0 else {
            Issue.record("could not mount a tmpfs at \(mountPoint)")
            return
        }
        defer { _ = run("/bin/umount", "-l", mountPoint) }
        try body(mountPoint)
    }
}
