import SwitchyardControl
import SwitchyardJournal
import SwitchyardZones

extension ControlService {
    /// The zone data and inventories this server serves now (nil before the first install),
    /// as its fleet heartbeat records them for the other members to compare.
    public var servedData: ServedData? { servedDataNow }

    /// What `loaded` serves: per zone its file's serial and fingerprint and its inventory's
    /// fingerprint, plus the inventories' digest, all from the bytes the loader read (a file
    /// edited after the load is not described as served).
    static func servedData(_ loaded: ZoneLoader.Configuration) -> ServedData {
        var zones: [String: ServedData.Zone] = [:]
        for zone in loaded.snapshot.zones {
            zones[zone.origin.description.lowercased()] = ServedData.Zone(
                serial: zone.serial, zoneFile: loaded.fileFingerprints[zone.origin]?.description ?? "",
                inventory: loaded.inventoryFingerprints[zone.origin]?.description)
        }
        return ServedData(zones: zones, inventoryDigest: LocalGenerationCopy.inventoryDigest(files: loaded.inventoryFiles))
    }
}
