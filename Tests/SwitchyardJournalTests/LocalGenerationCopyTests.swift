import Foundation
import Testing
import SwitchyardControl
@testable import SwitchyardJournal

/// The local copy a PostgreSQL fleet member serves when it starts while the database is
/// unreachable: it must come back exactly as written, and never serve other zone files.
@Suite struct LocalGenerationCopyTests {
    static let servedWith = LocalGenerationCopy.ServedWith(
        journal: "postgresql://switchyard@db:5432/switchyard", zonesDirectory: "/srv/zones",
        fileSerials: ["kafka.example.": 2026113001], inventoryDigest: "c0ffee")

    static func generation(_ number: UInt64) -> Generation {
        let state = ServingState(brokerPools: ["broker-3.orders.kafka.example.": "pod"], weights: ["bootstrap.orders.kafka.example.": ["vm": 75, "pod": 25]])
        return Generation(number: number, createdAt: instant(Double(number)), actor: "cli:alice", reason: "move broker 3", state: state,
                          changes: [], serials: ["kafka.example.": 2026113007])
    }

    @Test func aCopyReadsBackAsWrittenAndIsReplacedWhole() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("cache/\(LocalGenerationCopy.fileName)")
            #expect(try LocalGenerationCopy.read(from: path) == nil)
            let first = LocalGenerationCopy(servedWith: Self.servedWith, generation: Self.generation(7), writtenAt: instant(10))
            try first.write(to: path)
            #expect(try LocalGenerationCopy.read(from: path) == first)
            let second = LocalGenerationCopy(servedWith: Self.servedWith, generation: Self.generation(8), writtenAt: instant(20))
            try second.write(to: path)
            #expect(try LocalGenerationCopy.read(from: path) == second)
            // No temporary file is left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("cache")) == [LocalGenerationCopy.fileName])
        }
    }

    @Test func aDamagedCopyIsAnErrorNamingTheFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file(LocalGenerationCopy.fileName)
            _ = FileManager.default.createFile(atPath: path, contents: Data("{\"format\": 1, \"generation\": ".utf8))
            #expect { try LocalGenerationCopy.read(from: path) } throws: { error in
                "\(error)".hasPrefix("\(path): the local copy of the last generation does not decode")
            }
        }
    }

    /// The files a server starts with, each differing in one respect, and the reason given.
    static let others: [(LocalGenerationCopy.ServedWith, String)] = [
        (changed { $0.journal = "postgresql://switchyard@other:5432/switchyard" }, "copied from the journal"),
        (changed { $0.zonesDirectory = "/srv/other-zones" }, "zones directory /srv/zones, not /srv/other-zones"),
        (changed { $0.inventoryDigest = "beef" }, "an inventory (*.yaml) in /srv/zones changed since"),
    ]

    static func changed(_ edit: (inout LocalGenerationCopy.ServedWith) -> Void) -> LocalGenerationCopy.ServedWith {
        var copy = servedWith
        edit(&copy)
        return copy
    }

    @Test(arguments: others)
    func aCopyMadeWithOtherFilesIsRefused(current: LocalGenerationCopy.ServedWith, reason: String) {
        #expect(Self.servedWith.mismatch(with: current)?.contains(reason) == true)
        #expect(Self.servedWith.mismatch(with: Self.servedWith) == nil)
    }

    @Test func aCopyMadeWithOtherZoneSerialsIsRefused() {
        var current = Self.servedWith
        current.fileSerials["kafka.example."] = 2026113002
        #expect(Self.servedWith.mismatch(with: current) == "the zone files' serials changed since (then kafka.example. 2026113001, now kafka.example. 2026113002)")
    }

    static let fingerprinted = changed { $0.fileFingerprints = ["kafka.example.": "412:9e3779b97f4a7c15"] }

    @Test func fingerprintsAreKeptInTheCopy() throws {
        try withTemporaryDirectory { dir in
            let copy = LocalGenerationCopy(servedWith: Self.fingerprinted, generation: Self.generation(7), writtenAt: instant(10))
            try copy.write(to: dir.file(LocalGenerationCopy.fileName))
            #expect(try LocalGenerationCopy.read(from: dir.file(LocalGenerationCopy.fileName))?.servedWith.fileFingerprints == ["kafka.example.": "412:9e3779b97f4a7c15"])
        }
    }

    /// The serial alone would pass: the copy's stable names would be served over other zone data.
    @Test func aZoneFileEditedUnderTheSameSerialIsRefused() {
        var current = Self.fingerprinted
        current.fileFingerprints = ["kafka.example.": "431:c0ffee"]
        #expect(Self.fingerprinted.mismatch(with: current)
                == "the zone file of kafka.example. changed since under the same serial (its bytes differ from the file the copy was served with; an edited zone file needs a new serial)")
        #expect(Self.fingerprinted.mismatch(with: Self.fingerprinted) == nil)
    }

    /// A copy written before fingerprints were recorded (the field absent from its JSON) still
    /// reads, and is matched by serial only (the caller warns); other serials are still refused.
    @Test func aCopyFromBeforeFingerprintsIsMatchedBySerialOnly() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file(LocalGenerationCopy.fileName)
            try LocalGenerationCopy(servedWith: Self.servedWith, generation: Self.generation(7), writtenAt: instant(10)).write(to: path)
            #expect(try !String(contentsOfFile: path, encoding: .utf8).contains("fileFingerprints"))
            let old = try #require(try LocalGenerationCopy.read(from: path))
            #expect(old.servedWith.matchesBySerialOnly && !Self.fingerprinted.matchesBySerialOnly)
            #expect(old.servedWith.mismatch(with: Self.fingerprinted) == nil)
            var reserialed = Self.fingerprinted
            reserialed.fileSerials["kafka.example."] = 2026113002
            #expect(old.servedWith.mismatch(with: reserialed)?.hasPrefix("the zone files' serials changed since") == true)
        }
    }

    @Test func theInventoryDigestIsMadeFromTheBytesLoaded() {
        let files = ["kafka.example.yaml": Array("ttl: 60\n".utf8), "other.test.yaml": Array("ttl: 30\n".utf8)]
        // The value the earlier digest, read back from a directory holding these two files,
        // gave: local copies written before keep fitting.
        #expect(LocalGenerationCopy.inventoryDigest(files: files) == "8d2246105e9b8bd2")
        #expect(LocalGenerationCopy.inventoryDigest(files: [:]) == "cbf29ce484222325")
        var edited = files
        edited["other.test.yaml"] = Array("ttl: 31\n".utf8)
        #expect(LocalGenerationCopy.inventoryDigest(files: edited) != LocalGenerationCopy.inventoryDigest(files: files))
        // Name and bytes are kept apart: moving a byte across the boundary is another digest.
        #expect(LocalGenerationCopy.inventoryDigest(files: ["a.yaml": Array("bc".utf8)])
                != LocalGenerationCopy.inventoryDigest(files: ["a.yamlb": Array("c".utf8)]))
    }
}
