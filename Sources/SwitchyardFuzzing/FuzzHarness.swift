import Foundation
import Logging
import SwitchyardControl
import SwitchyardCore
import SwitchyardInventory
import SwitchyardServer
import SwitchyardTransfer
import SwitchyardZones

/// What a fuzz input is fed to. One binary serves every target (libFuzzer allows one
/// `LLVMFuzzerTestOneInput` per binary); `--target=NAME` picks one.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A query packet → `Responder` over UDP, and the slow path (TSIG, AXFR/IXFR) it defers.
    case query
    /// A TCP byte stream → `TCPFrameReader` in chunks → `Responder` over TCP and the slow path.
    case tcp
    /// A master file → the zone-file parser → `ZoneBuilder` → a snapshot answering its names.
    case zone
    /// An inventory → its reader → stable names placed in a zone → a snapshot answering them.
    case inventory
    /// An admin API body → decoding with range checks → validation against the fixture
    /// inventory (shifts applied, cutover plans made and rendered).
    case admin
}

/// Everything one fuzzing process keeps between inputs: the fixture zones (loaded once, like a
/// server's snapshot), a responder with its scratch space, and a transfer responder. Inputs are
/// independent: nothing an input does is kept for the next one.
///
/// Checks beyond "does not crash" are `precondition`s, so a broken invariant is a finding too.
public final class FuzzHarness {
    let snapshot: Snapshot
    let inventories: [Inventory]
    /// The fixture's main zone records, without stable names (the inventory target adds its own).
    let baseOrigin: DomainName
    let baseRecords: [ResourceRecord]
    let responder: Responder
    let transfers: TransferResponder
    let response = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 16)
    static let clientV4: [UInt8] = [127, 0, 0, 1]

    /// `fixtures` is a zones directory (`fuzz/zones` in the repository): zone files and
    /// inventories, loaded exactly as `switchyard serve` loads them.
    public init(fixtures: String) throws {
        let configuration = try ZoneLoader.load(directory: fixtures)
        snapshot = configuration.snapshot
        inventories = configuration.inventories
        guard let origin = DomainName("kafka.example."),
              let text = FileManager.default.contents(atPath: fixtures + "/kafka.example.zone"),
              case .success(let parsed) = ZoneLoader.parseZoneFile(contents: Array(text), origin: origin, path: "kafka.example.zone")
        else { throw ZoneProblems([ZoneProblem(file: fixtures, line: 0, message: "the fixtures need kafka.example.zone")]) }
        baseOrigin = parsed.origin
        baseRecords = parsed.records
        // Seeded, so a crashing input replays with the same weighted draws.
        responder = Responder(seed: 1, defersSlowPath: true)
        // A key and rules, so signed queries reach MAC checks and transfers are allowed; a fixed
        // clock keeps TSIG time checks independent of when an input is replayed.
        let key = TSIGKey(name: DomainName("xfr.")!, algorithm: .hmacSHA256, secret: Array("switchyard-fuzz-secret".utf8))
        let keyring = TSIGKeyring([key])
        let rules = try [TransferRule("127.0.0.0/8", keyring: keyring), TransferRule("::1/128,key=xfr", keyring: keyring)]
        transfers = TransferResponder(keyring: keyring, rules: rules, logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() },
                                      clock: { 1_764_400_000 })
    }

    deinit { response.deallocate() }

    /// Runs one input through `target`. Traps (a finding) when an invariant breaks.
    public func run(_ target: FuzzTarget, _ input: UnsafeRawBufferPointer) {
        switch target {
        case .query: query(input)
        case .tcp: tcpStream(input)
        case .zone: zoneFile(input)
        case .inventory: inventoryFile(input)
        case .admin: adminBody(input)
        }
    }

    public func run(_ target: FuzzTarget, _ input: [UInt8]) {
        input.withUnsafeBytes { run(target, $0) }
    }
}
