/// FNV-1a, 64 bits: a digest that is the same in every process and on every server (Swift's
/// `Hasher` is seeded per process), for comparing what fleet members serve. The operator
/// writes the bytes hashed; no adversary picks collisions.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }

    /// `text`'s UTF-8 bytes, then a 0 byte, so `"ab" + "c"` and `"a" + "bc"` differ.
    public mutating func mix(field text: String) {
        mix(text.utf8)
        mix(CollectionOfOne(0))
    }

    public var hex: String { String(value, radix: 16) }
}

/// What one fleet member serves besides the journal's shared state: each server reads its own
/// zones directory, so two members on one journal can answer differently (an inventory with
/// another broker address, a zone file not yet rolled out). Recorded with every heartbeat and
/// compared by the others. Built from the bytes the server loaded, never from the files later.
public struct ServedData: Codable, Equatable, Sendable {
    /// One zone as loaded: the zone file's serial and content fingerprint (`<size>:<hash>`,
    /// as reloads and the local copy use), and its inventory's, if it has one.
    public struct Zone: Codable, Equatable, Sendable {
        public var serial: UInt32
        public var zoneFile: String
        public var inventory: String?

        public init(serial: UInt32, zoneFile: String, inventory: String?) {
            self.serial = serial; self.zoneFile = zoneFile; self.inventory = inventory
        }
    }

    /// By origin, lowercase with the trailing dot.
    public var zones: [String: Zone]
    /// The digest of every inventory loaded (`LocalGenerationCopy.inventoryDigest`).
    public var inventoryDigest: String
    /// One digest over all of the above: equal digests, equal data.
    public var digest: String

    public init(zones: [String: Zone], inventoryDigest: String) {
        self.zones = zones
        self.inventoryDigest = inventoryDigest
        var hash = FNV1a()
        for origin in zones.keys.sorted() {
            let zone = zones[origin]!
            hash.mix(field: origin)
            hash.mix(field: zone.zoneFile)
            hash.mix(field: zone.inventory ?? "-")
        }
        hash.mix(field: inventoryDigest)
        digest = hash.hex
    }

    /// What differs between `self` (this server's) and `other` (another member's), one line
    /// per zone, naming the file and both fingerprints; only zone `origin` when given.
    /// Empty when they serve the same data.
    public func differences(from other: ServedData, origin: String? = nil) -> [String] {
        let origins = origin.map { [$0] } ?? Set(zones.keys).union(other.zones.keys).sorted()
        var found: [String] = []
        for origin in origins {
            switch (zones[origin], other.zones[origin]) {
            case (nil, nil): continue
            case (.some, nil): found.append("\(origin): zone not served there")
            case (nil, .some): found.append("\(origin): zone served there, not here")
            case (let here?, let there?):
                if here.zoneFile != there.zoneFile {
                    found.append("\(origin): zone file \(origin)zone differs (here serial \(here.serial), \(Self.short(here.zoneFile)); "
                                 + "there serial \(there.serial), \(Self.short(there.zoneFile)))")
                }
                if here.inventory != there.inventory {
                    found.append("\(origin): inventory \(origin)yaml differs (here \(Self.short(here.inventory)); there \(Self.short(there.inventory)))")
                }
            }
        }
        // Per-zone fingerprints cover every inventory the digest does; this only catches
        // a digest made another way (another version).
        if origin == nil && found.isEmpty && digest != other.digest { found.append("inventories differ (digest \(inventoryDigest) here, \(other.inventoryDigest) there)") }
        return found
    }

    /// `<size>:<first 8 hex digits>`: enough to tell two files apart in a message.
    public static func short(_ fingerprint: String?) -> String {
        guard let fingerprint else { return "none" }
        guard let colon = fingerprint.firstIndex(of: ":") else { return fingerprint }
        return String(fingerprint[...colon]) + String(fingerprint[fingerprint.index(after: colon)...].prefix(8))
    }
}

/// A live fleet member whose data differs from this server's, and how.
public struct FleetDivergence: Equatable, Sendable, Codable {
    public var member: String
    public var differences: [String]

    public init(member: String, differences: [String]) {
        self.member = member; self.differences = differences
    }

    /// `ns2 (kafka.example.: inventory … differs …)`.
    public var description: String { "\(member) (\(differences.joined(separator: "; ")))" }
}

public enum FleetData {
    /// The members (other than `me`) whose data differs from `own`, in name order; only zone
    /// `origin` is compared when given. A member that reports no data (a switchyard from before
    /// data identities, or a row its older binary refreshed) cannot be compared and is left out.
    public static func divergences(own: ServedData, me: String, members: [(name: String, data: ServedData?)],
                                   origin: String? = nil) -> [FleetDivergence] {
        members.sorted { $0.name < $1.name }.compactMap { member in
            guard member.name != me, let data = member.data else { return nil }
            let differences = own.differences(from: data, origin: origin)
            return differences.isEmpty ? nil : FleetDivergence(member: member.name, differences: differences)
        }
    }

    /// Why a staged run (`action`: "cutover apply", "cutover resume", "rollback") of `cluster`
    /// must not start while `divergent` live members serve other data for its zone `origin`:
    /// verifying each step across members that answer differently fails or, worse, passes
    /// while clients of one server get other targets than those of another.
    public static func refusal(action: String, cluster: String, origin: String, divergent: [FleetDivergence]) -> ControlConflict {
        ControlConflict(
            "\(action) \(cluster) refused: live fleet members serve other data for zone \(origin) than this server: "
                + divergent.map(\.description).joined(separator: "; ")
                + ". Its steps would be verified against servers that answer the cluster's names differently",
            remedy: "make the zones directories identical on every server (zone files and inventories), send each server whose files changed SIGHUP, "
                + "or wait for the rollout to finish; `switchyard status` shows each member's data. A member that stops (or is silent for --fleet-timeout) no longer counts")
    }
}
