import Foundation
import Logging
import SwitchyardControl
import SwitchyardCore
import SwitchyardJournal
import SwitchyardServer
import SwitchyardZones

/// Where a PostgreSQL fleet member keeps its ``LocalGenerationCopy``.
public struct LocalCopySettings: Sendable {
    /// The copy's file (`<--cache-dir>/last-generation.json`).
    public var path: String
    /// The zones directory, canonical (as the copy records it).
    public var zonesDirectory: String

    public init(path: String, zonesDirectory: String) {
        self.path = path; self.zonesDirectory = zonesDirectory
    }
}

extension ControlService {
    /// What `loaded` serves with, as the local copy records it (origins lowercase, as serials are keyed).
    func servedWith(_ loaded: ZoneLoader.Configuration, fileSerials: [String: UInt32], settings: LocalCopySettings) -> LocalGenerationCopy.ServedWith {
        let fingerprints = Dictionary(loaded.fileFingerprints.map { ($0.key.description.lowercased(), $0.value.description) }, uniquingKeysWith: { first, _ in first })
        return LocalGenerationCopy.ServedWith(journal: journal.path, zonesDirectory: settings.zonesDirectory, fileSerials: fileSerials,
                                              inventoryDigest: LocalGenerationCopy.inventoryDigest(files: loaded.inventoryFiles),
                                              fileFingerprints: fingerprints)
    }

    /// Copies the generation now served to the local copy (fsynced). The journal stays the
    /// truth, so a failure is logged (once per distinct error) and never fails the change.
    func writeLocalCopy() {
        guard let localCopy else { return }
        withLocalCopyLock { lastError in
            guard let served = servedState, let servedWith = served.servedWith else { return }
            do {
                try LocalGenerationCopy(servedWith: servedWith, generation: served.generation, writtenAt: Date()).write(to: localCopy.path)
                if lastError != nil { logger.notice("local copy of the last generation written again", metadata: ["path": "\(localCopy.path)"]) }
                lastError = nil
            } catch {
                if lastError != "\(error)" {
                    logger.warning("cannot keep the local copy of the last generation; a start while PostgreSQL is unreachable would have nothing to serve",
                                   metadata: ["error": "\(error)"])
                }
                lastError = "\(error)"
            }
        }
    }

    /// At the first install, when the journal is unreachable: serves the local copy if it was
    /// made with these same zone files and inventories, else throws (`unreachable`, or why the
    /// copy does not fit). Changes are then refused by the journal itself (503); the fleet's
    /// follow loop catches up (and `/healthz` turns ok) once the database answers.
    func installLocalCopy(_ loaded: ZoneLoader.Configuration, down: Set<HealthKey>, from settings: LocalCopySettings,
                          unreachable: JournalError) throws {
        let fileSerials = Dictionary(uniqueKeysWithValues: loaded.snapshot.zones.map { ($0.origin.description.lowercased(), $0.serial) })
        let current = servedWith(loaded, fileSerials: fileSerials, settings: settings)
        guard let copy = try LocalGenerationCopy.read(from: settings.path) else { throw unreachable }
        if let mismatch = copy.servedWith.mismatch(with: current) {
            throw ControlServiceError.localCopyDoesNotFit(path: settings.path, reason: mismatch, unreachable: unreachable.description)
        }
        if copy.servedWith.matchesBySerialOnly {
            // Why this is accepted rather than refused: LocalGenerationCopy.ServedWith.fileFingerprints.
            logger.warning("the local copy of the last generation records no zone-file fingerprints (written by an earlier switchyard): its zone files are matched by serial only, so a zone file edited without a new serial would not be noticed",
                           metadata: ["copy": "\(settings.path)", "serials": "\(describeSerials(fileSerials))"])
        }
        try serveLocalCopy(copy.generation, loaded: loaded, down: down, servedWith: current)
        let written = ISO8601DateFormatter().string(from: copy.writtenAt)
        noteServingLocalCopy("serving the local copy of generation \(copy.generation.number) (written \(written)): the journal database has not answered since the start")
        logger.warning("the journal database is unreachable: serving the local copy of the last generation; every change is refused until it answers, then this server catches up with the fleet without a restart",
                       metadata: ["journal": "\(journal.path)", "error": "\(unreachable)", "generation": "\(copy.generation.number)",
                                  "copy": "\(settings.path)", "written": "\(written)"])
    }
}

extension ControlServiceError {
    static func localCopyDoesNotFit(path: String, reason: String, unreachable: String) -> ControlServiceError {
        .cannotStart("\(unreachable). The local copy of the last generation (\(path)) is not served: \(reason). Start once PostgreSQL is reachable, or with the zone files and inventories it was served with")
    }
}
