import Foundation
import Testing
@testable import SwitchyardDiscovery
import SwitchyardInventory

/// `Golden/<case>/input/<origin>yaml` are inventories (read as `zones/<origin>yaml`, the path
/// the CLI shows), `Golden/<case>/generation` an optional generation, and
/// `Golden/<case>/expected/` the files publishing must write, or `errors.txt` with the exact
/// problems. Set `UPDATE_GOLDEN=1` to rewrite the expected files after a deliberate change.
let goldenRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

struct GoldenOutcome {
    var files: [String: String]
}

/// Loads a case's inventories and renders its files (or its problems as `errors.txt`).
func renderGoldenCase(_ name: String) throws -> [String: String] {
    let input = goldenRoot.appendingPathComponent(name).appendingPathComponent("input")
    let names = try FileManager.default.contentsOfDirectory(atPath: input.path).filter { $0.hasSuffix(".yaml") }.sorted()
    var inventories: [Inventory] = []
    var problems: [String] = []
    for file in names {
        let text = try String(contentsOf: input.appendingPathComponent(file), encoding: .utf8)
        let origin = String(file.dropLast("yaml".count))
        switch InventoryLoader.parse(text: text, path: "zones/\(file)", origin: origin) {
        case .success(let inventory): inventories.append(inventory)
        case .failure(let errors): problems += errors.errors.map(\.description)
        }
    }
    if !problems.isEmpty { return ["errors.txt": problems.map { $0 + "\n" }.joined()] }
    let generationFile = goldenRoot.appendingPathComponent(name).appendingPathComponent("generation")
    let generation = (try? String(contentsOf: generationFile, encoding: .utf8)).flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    let files = try DiscoveryRenderer.files(for: inventories, generation: generation)
    return Dictionary(uniqueKeysWithValues: files.map { ($0.fileName, $0.text) })
}

@Suite("Discovery golden files")
struct DiscoveryGoldenTests {
    @Test("rendered files match the golden files", arguments: ["example", "several-types", "ipv6-broker-list", "two-inventories", "no-zookeeper"])
    func golden(_ name: String) throws {
        let rendered = try renderGoldenCase(name)
        let expectedDir = goldenRoot.appendingPathComponent(name).appendingPathComponent("expected")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(at: expectedDir)
            try FileManager.default.createDirectory(at: expectedDir, withIntermediateDirectories: true)
            for (file, text) in rendered { try text.write(to: expectedDir.appendingPathComponent(file), atomically: true, encoding: .utf8) }
        }
        let expectedNames = try FileManager.default.contentsOfDirectory(atPath: expectedDir.path).sorted()
        #expect(expectedNames == rendered.keys.sorted())
        for file in expectedNames {
            let expected = try String(contentsOf: expectedDir.appendingPathComponent(file), encoding: .utf8)
            #expect(rendered[file] == expected, "\(name)/\(file)")
        }
    }

    @Test("the committed discovery/standard.yaml is what publish writes for the example inventory")
    func committedExample() throws {
        let inventory = try InventoryLoader.load(
            path: repositoryRoot.appendingPathComponent("zones/kafka.example.yaml").path, origin: "kafka.example.", zoneOwnerNames: []
        ).get()
        var relative = inventory
        relative.sourcePath = "zones/kafka.example.yaml"
        let files = try DiscoveryRenderer.files(for: [relative], generation: nil)
        #expect(files.map(\.fileName) == ["standard.yaml"])
        let committed = try String(contentsOf: repositoryRoot.appendingPathComponent("discovery/standard.yaml"), encoding: .utf8)
        #expect(files.first?.text == committed)
    }

    @Test("every rendered file reads back as the same data (Yams)", arguments: ["example", "several-types", "ipv6-broker-list", "two-inventories"])
    func roundTrip(_ name: String) throws {
        for (file, text) in try renderGoldenCase(name) {
            let loaded = try #require(try Yams.load(yaml: text) as? [String: Any], "\(file)")
            let clusters = try #require(loaded["clusters"] as? [String: [String: Any]])
            for (_, cluster) in clusters {
                #expect(cluster["broker_list"] is [String])
                #expect(cluster["zookeeper"] is String)
            }
        }
    }

    @Test("scalars are quoted exactly when YAML 1.1 would read them as something else", arguments: [
        ("bootstrap.orders.kafka.example:9092", "bootstrap.orders.kafka.example:9092"),
        ("zk-1.example:2181,zk-2.example:2181/kafka-orders", "zk-1.example:2181,zk-2.example:2181/kafka-orders"),
        ("10.0.9.1:2181", "'10.0.9.1:2181'"),
        ("[fd00::1]:9092", "'[fd00::1]:9092'"),
        ("yes", "'yes'"), ("Off", "'Off'"), ("null", "'null'"), ("0x1f", "'0x1f'"), ("1234", "'1234'"),
        ("it's", "'it''s'"), ("a b", "'a b'"), ("key:", "'key:'"), ("", "''"),
    ])
    func quoting(text: String, expected: String) {
        #expect(YAMLText.scalar(text) == expected)
    }

    @Test("clusters of one type declared in two inventories are refused")
    func duplicateAcrossInventories() throws {
        let yaml = "clusters:\n  orders:\n    port: 9092\n    discovery: { type: standard, zookeeper: zk:2181 }\n    pools: [vm]\n    brokers:\n      1: { vm: 10.0.1.11 }\n"
        let a = try InventoryLoader.parse(text: yaml, path: "zones/a.example.yaml", origin: "a.example.").get()
        let b = try InventoryLoader.parse(text: yaml, path: "zones/b.example.yaml", origin: "b.example.").get()
        #expect(throws: DiscoveryError.conflict(
            path: "zones/b.example.yaml", field: "clusters.orders.discovery",
            message: "cluster 'orders' of discovery type 'standard' is also declared in zones/a.example.yaml: kafka-utils needs unique cluster names per type; rename one or change its type")) {
            try DiscoveryRenderer.files(for: [a, b], generation: nil)
        }
    }
}

import Yams
