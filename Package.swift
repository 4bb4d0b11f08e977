// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        // libFuzzer targets (`make fuzz`); a plain build makes it a corpus replayer.
        .executable(name: "switchyard-fuzz", targets: ["switchyard-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in the graph through Hummingbird; named for the admin endpoint's graceful stop.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // libldns, used only by SwitchyardZones (zone file parsing).
        .systemLibrary(
            name: "CLDNS",
            pkgConfig: "ldns",
            providers: [.apt(["libldns-dev"])]
        ),
        // OpenSSL's libcrypto: the HMAC behind TSIG (RFC 8945).
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Zone transfer out (AXFR, IXFR) and TSIG: the server's slow path, off the answer path.
        .target(
            name: "SwitchyardTransfer",
            dependencies: ["SwitchyardCore", "CCrypto", .product(name: "Logging", package: "swift-log")]
        ),
        // librdkafka, used only by SwitchyardKafka (metadata for the Kafka gate).
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // recvmmsg/sendmmsg are hidden from Swift's Glibc module (no _GNU_SOURCE).
        .target(name: "CNetShim"),
        // Pure core: names, messages, zone snapshot, lookup, answer encoding. No I/O.
        .target(name: "SwitchyardCore"),
        // Zone files (via libldns) to validated, immutable snapshots.
        .target(
            name: "SwitchyardZones",
            // CNetShim for malloc_trim between parsing and building the snapshot.
            dependencies: ["SwitchyardCore", "SwitchyardInventory", "CLDNS", "CNetShim"]
        ),
        // Sockets, worker threads, the snapshot store, health probes, signals. Nothing else.
        .target(
            name: "SwitchyardServer",
            dependencies: [
                "SwitchyardCore", "SwitchyardZones", "SwitchyardInventory", "SwitchyardTransfer", "CNetShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The control plane's I/O side: the one commit path (journal -> snapshot -> discovery
        // -> invalidation), hooks, the DNS client, and cutover runs with their real effects.
        .target(
            name: "SwitchyardService",
            dependencies: [
                "SwitchyardServer", "SwitchyardControl", "SwitchyardJournal", "SwitchyardZones", "SwitchyardCore",
                "SwitchyardInventory", "SwitchyardDiscovery", "SwitchyardTransfer", "SwitchyardKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Inventory YAML (clusters, brokers, pools, weighted names) to a validated model.
        .target(
            name: "SwitchyardInventory",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // Files that must survive a crash whole (temporary file, fsync, rename, fsync of the
        // directory): discovery files and a fleet member's local copy. Depends on nothing, so
        // the discovery and journal modules share it without depending on each other.
        .target(name: "SwitchyardFiles"),
        // kafka_discovery YAML files rendered from the inventory, written atomically.
        .target(
            name: "SwitchyardDiscovery",
            dependencies: ["SwitchyardInventory", "SwitchyardFiles", .product(name: "Yams", package: "Yams")]
        ),
        // Generations, plans and the cutover engine: pure logic, effects injected.
        .target(
            name: "SwitchyardControl",
            dependencies: ["SwitchyardCore", "SwitchyardInventory"]
        ),
        // Kafka metadata from one bootstrap address (librdkafka, plaintext) as a pure value.
        .target(
            name: "SwitchyardKafka",
            dependencies: ["SwitchyardControl", "CRdKafka"]
        ),
        // The journal of generations, cutover progress and hook runs: SQLite embedded, or PostgreSQL
        // shared by a fleet.
        .target(
            name: "SwitchyardJournal",
            dependencies: [
                "SwitchyardControl", "SwitchyardFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                // sqlite3_system_errno: which errno (ENOSPC, EROFS) failed a write.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The admin HTTP endpoint: control API, /metrics, /healthz.
        .target(
            name: "SwitchyardAdmin",
            dependencies: [
                "SwitchyardServer", "SwitchyardService", "SwitchyardControl", "SwitchyardJournal", "SwitchyardZones", "SwitchyardCore",
                "SwitchyardInventory", "SwitchyardTransfer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "SwitchyardCore", "SwitchyardZones", "SwitchyardServer",
                "SwitchyardInventory", "SwitchyardDiscovery", "SwitchyardAdmin", "SwitchyardControl", "SwitchyardJournal",
                "SwitchyardService", "SwitchyardTransfer", "SwitchyardKafka",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The fuzz targets' entry points (query, TCP stream, zone file, inventory, admin body),
        // apart from the binary so the test suite replays the corpora through the same code.
        .target(
            name: "SwitchyardFuzzing",
            dependencies: [
                "SwitchyardCore", "SwitchyardZones", "SwitchyardInventory", "SwitchyardControl", "SwitchyardServer",
                "SwitchyardTransfer", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "switchyard-fuzz", dependencies: ["SwitchyardFuzzing"]),
        .testTarget(name: "SwitchyardCoreTests", dependencies: ["SwitchyardCore"]),
        .testTarget(name: "SwitchyardServerTests", dependencies: ["SwitchyardServer"]),
        .testTarget(name: "SwitchyardFuzzingTests", dependencies: ["SwitchyardFuzzing"]),
        .testTarget(name: "SwitchyardZonesTests", dependencies: ["SwitchyardZones", "SwitchyardCore", "SwitchyardInventory"]),
        .testTarget(name: "SwitchyardTransferTests", dependencies: ["SwitchyardTransfer", "SwitchyardCore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SwitchyardInventoryTests", dependencies: ["SwitchyardInventory"]),
        .testTarget(name: "SwitchyardFilesTests", dependencies: ["SwitchyardFiles"]),
        .testTarget(name: "SwitchyardControlTests", dependencies: ["SwitchyardControl", "SwitchyardInventory", "SwitchyardCore"]),
        // Makes librdkafka's C11 threads visible to ThreadSanitizer (empty in other builds).
        .target(name: "CTSanThreads"),
        .testTarget(name: "SwitchyardKafkaTests", dependencies: ["SwitchyardKafka", "SwitchyardControl", "CTSanThreads"]),
        .testTarget(name: "SwitchyardJournalTests", dependencies: ["SwitchyardJournal", "SwitchyardControl"]),
        .testTarget(
            name: "SwitchyardDiscoveryTests",
            dependencies: ["SwitchyardDiscovery", "SwitchyardInventory"],
            resources: [.copy("Golden")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
