import Testing
import SwitchyardControl

/// What fleet members serve from their own zones directories: the identity each records, what
/// differs between two, who diverges, and the refusal a staged run gets meanwhile.
@Suite("Fleet data")
struct FleetDataTests {
    static let orders = ServedData.Zone(serial: 2026113001, zoneFile: "812:1a2b3c4d5e6f7788", inventory: "640:99aabbccddeeff00")
    static let other = ServedData.Zone(serial: 7, zoneFile: "100:0123456789abcdef", inventory: nil)
    static let here = ServedData(zones: ["kafka.example.": orders, "other.test.": other], inventoryDigest: "8d2246105e9b8bd2")

    static func changed(_ edit: (inout [String: ServedData.Zone]) -> Void, digest: String = "8d2246105e9b8bd2") -> ServedData {
        var zones = here.zones
        edit(&zones)
        return ServedData(zones: zones, inventoryDigest: digest)
    }

    @Test func theSameDataHasTheSameDigestInAnyOrder() {
        let again = ServedData(zones: ["other.test.": Self.other, "kafka.example.": Self.orders], inventoryDigest: "8d2246105e9b8bd2")
        #expect(again.digest == Self.here.digest)
        #expect(Self.here.differences(from: again).isEmpty)
        // Stable across processes and versions: servers compare it through the journal.
        #expect(Self.here.digest == ServedData(zones: Self.here.zones, inventoryDigest: Self.here.inventoryDigest).digest)
    }

    struct DifferenceCase: CustomTestStringConvertible, Sendable {
        var label: String
        var there: ServedData
        var expected: [String]
        var testDescription: String { label }
    }

    static let differenceCases: [DifferenceCase] = [
        DifferenceCase(label: "an inventory with another broker address",
                       there: changed({ $0["kafka.example."]?.inventory = "641:0badc0ffee000000" }, digest: "1234"),
                       expected: ["kafka.example.: inventory kafka.example.yaml differs (here 640:99aabbcc; there 641:0badc0ff)"]),
        DifferenceCase(label: "a zone file rolled out here, not there",
                       there: changed { $0["kafka.example."] = ServedData.Zone(serial: 2026113000, zoneFile: "800:feedfacefeedface", inventory: orders.inventory) },
                       expected: ["kafka.example.: zone file kafka.example.zone differs (here serial 2026113001, 812:1a2b3c4d; there serial 2026113000, 800:feedface)"]),
        DifferenceCase(label: "a zone there lacks", there: changed { $0["other.test."] = nil },
                       expected: ["other.test.: zone not served there"]),
        DifferenceCase(label: "a zone only there", there: changed { $0["new.test."] = other },
                       expected: ["new.test.: zone served there, not here"]),
        DifferenceCase(label: "an inventory only here", there: changed { $0["kafka.example."]?.inventory = nil },
                       expected: ["kafka.example.: inventory kafka.example.yaml differs (here 640:99aabbcc; there none)"]),
    ]

    @Test("what differs, named by file and fingerprint", arguments: differenceCases)
    func differences(_ c: DifferenceCase) {
        #expect(Self.here.differences(from: c.there) == c.expected)
        #expect(Self.here.digest != c.there.digest)
    }

    @Test func onlyTheZoneAskedAboutCounts() {
        let there = Self.changed { $0["other.test."]?.zoneFile = "101:0123456789abcdef" }
        #expect(Self.here.differences(from: there, origin: "kafka.example.").isEmpty)
        #expect(Self.here.differences(from: there, origin: "other.test.").count == 1)
    }

    @Test func divergingMembersLeaveOutThisServerAndMembersWithoutData() {
        let typo = Self.changed { $0["kafka.example."]?.inventory = "641:0badc0ffee000000" }
        let members: [(name: String, data: ServedData?)] = [
            ("ns3", typo), ("ns1", Self.changed { _ in }), ("ns2", Self.here), ("old", nil), ("ns0", typo),
        ]
        let found = FleetData.divergences(own: Self.here, me: "ns1", members: members)
        #expect(found.map(\.member) == ["ns0", "ns3"])
        #expect(FleetData.divergences(own: Self.here, me: "ns1", members: members, origin: "other.test.").isEmpty)
        #expect(found[0].description == "ns0 (kafka.example.: inventory kafka.example.yaml differs (here 640:99aabbcc; there 641:0badc0ff))")
    }

    @Test func theRefusalNamesMembersWhatDiffersAndWhatToDo() {
        let divergent = [FleetDivergence(member: "ns2", differences: ["kafka.example.: inventory kafka.example.yaml differs (here 640:99aabbcc; there 641:0badc0ff)"])]
        let refusal = FleetData.refusal(action: "cutover apply", cluster: "orders", origin: "kafka.example.", divergent: divergent)
        #expect(refusal.httpStatus == 409)
        #expect(refusal.problem.hasPrefix("cutover apply orders refused: live fleet members serve other data for zone kafka.example. than this server: ns2 (kafka.example.: inventory kafka.example.yaml differs"))
        #expect(refusal.remedy.contains("make the zones directories identical"))
        #expect(refusal.remedy.contains("SIGHUP"))
        #expect(refusal.remedy.contains("wait for the rollout to finish"))
    }

    @Test func shortFingerprints() {
        #expect(ServedData.short("812:1a2b3c4d5e6f7788") == "812:1a2b3c4d")
        #expect(ServedData.short("5:ab") == "5:ab")
        #expect(ServedData.short(nil) == "none")
    }
}
