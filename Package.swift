// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // libldns, used only by SwitchyardZones (zone file parsing).
        .systemLibrary(
            name: "CLDNS",
            pkgConfig: "ldns",
            providers: [.apt(["libldns-dev"])]
        ),
        // recvmmsg/sendmmsg are hidden from Swift's Glibc module (no _GNU_SOURCE).
        .target(name: "CNetShim"),
        // Pure core: names, messages, zone snapshot, lookup, answer encoding. No I/O.
        .target(name: "SwitchyardCore"),
        // Zone files (via libldns) to validated, immutable snapshots.
        .target(
            name: "SwitchyardZones",
            dependencies: ["SwitchyardCore", "SwitchyardInventory", "CLDNS"]
        ),
        // Sockets, worker threads, snapshot swapping, signals.
        .target(
            name: "SwitchyardServer",
            dependencies: [
                "SwitchyardCore", "SwitchyardZones", "CNetShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Inventory YAML (clusters, brokers, pools, weighted names) to a validated model.
        .target(
            name: "SwitchyardInventory",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // kafka_discovery YAML files rendered from the inventory, written atomically.
        .target(
            name: "SwitchyardDiscovery",
            dependencies: ["SwitchyardInventory", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "SwitchyardCore", "SwitchyardZones", "SwitchyardServer",
                "SwitchyardInventory", "SwitchyardDiscovery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "SwitchyardCoreTests", dependencies: ["SwitchyardCore"]),
        .testTarget(name: "SwitchyardZonesTests", dependencies: ["SwitchyardZones", "SwitchyardCore", "SwitchyardInventory"]),
        .testTarget(name: "SwitchyardInventoryTests", dependencies: ["SwitchyardInventory"]),
        .testTarget(
            name: "SwitchyardDiscoveryTests",
            dependencies: ["SwitchyardDiscovery", "SwitchyardInventory"],
            resources: [.copy("Golden")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
