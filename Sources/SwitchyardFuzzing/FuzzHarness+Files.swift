import Foundation
import SwitchyardControl
import SwitchyardCore
import SwitchyardInventory
import SwitchyardZones

extension FuzzHarness {
    /// At most this many names of a fuzzed zone or inventory are asked for: enough to reach
    /// every kind of answer, few enough to keep inputs fast.
    static let namesAsked = 12

    /// A master file for `kafka.example.`: parsed (libldns per record), validated and built into
    /// a zone; when that succeeds, its names are asked for over UDP and TCP and the zone is
    /// transferred, so records that pass validation must also encode.
    func zoneFile(_ input: UnsafeRawBufferPointer) {
        guard case .success(let parsed) = ZoneLoader.parseZoneFile(contents: Array(input), origin: baseOrigin, path: "fuzz.zone"),
              case .success(let zone) = ZoneBuilder.build(origin: parsed.origin, records: parsed.records, source: "fuzz.zone"),
              let snapshot = try? Snapshot(zones: [zone])
        else { return }
        for node in zone.nodes.prefix(Self.namesAsked) {
            ask(node.name, .any, transport: .tcp, snapshot: snapshot)
            ask(node.name, node.rrsets.first?.type ?? .a, transport: .udp, snapshot: snapshot)
        }
        ask(zone.origin, .axfr, transport: .tcp, snapshot: snapshot)
    }

    /// An inventory for `kafka.example.`, read as `serve` reads one; when valid, its stable names
    /// are placed in the fixture zone and asked for, as A, AAAA and ANY.
    func inventoryFile(_ input: UnsafeRawBufferPointer) {
        // As `InventoryLoader.load`: text that is not UTF-8 is refused before parsing.
        guard let text = String(bytes: input, encoding: .utf8) else { return }
        let owners = Set(baseRecords.map { $0.owner.description.lowercased() })
        guard case .success(let inventory) = InventoryLoader.parse(text: text, path: "fuzz.yaml", origin: baseOrigin.description,
                                                                 zoneOwnerNames: owners) else { return }
        let specs = ZoneLoader.stableNames(of: [inventory], applying: .none)
        let nodes = specs.enumerated().map { StableNode(name: $1.name, index: $0) }
        guard case .success(let zone) = ZoneBuilder.build(origin: baseOrigin, records: baseRecords, source: "fuzz.zone", stableNames: nodes),
              let snapshot = try? Snapshot(zones: [zone], stableNames: specs)
        else { return }
        for spec in specs.prefix(Self.namesAsked) {
            ask(spec.name, .a, transport: .udp, snapshot: snapshot)
            ask(spec.name, .aaaa, transport: .udp, snapshot: snapshot)
            ask(spec.name, .any, transport: .tcp, snapshot: snapshot)
        }
        // Every target down: the all-down rules (fail open, SERVFAIL) answer instead.
        let down = Set(specs.flatMap(\.healthKeys))
        if !down.isEmpty, let degraded = try? snapshot.updating(down: down) {
            for spec in specs.prefix(Self.namesAsked) { ask(spec.name, .a, transport: .udp, snapshot: degraded) }
        }
    }

    /// An admin API body, decoded as each of the bodies the endpoint takes. What decodes is
    /// encoded and decoded again (the CLI sends what it encodes) and validated against the
    /// fixture inventory the way the server would: shifts applied, cutover plans made.
    func adminBody(_ input: UnsafeRawBufferPointer) {
        let body = Data(input)
        let state = ServingState.initial(inventories)
        if let shift = roundTrip(AdminAPI.ShiftBody.self, body) {
            _ = try? Shifts.apply(shift.request, to: state, inventories: inventories)
        }
        if let options = roundTrip(CutoverOptions.self, body) { plan(options, state: state) }
        if let run = roundTrip(AdminAPI.RunBody.self, body), let options = run.options { plan(options, state: state) }
        _ = roundTrip(AdminAPI.RollbackBody.self, body)
        _ = roundTrip(AdminAPI.ClusterBody.self, body)
        _ = roundTrip(AdminAPI.PauseBody.self, body)
    }

    private func plan(_ options: CutoverOptions, state: ServingState) {
        guard let inventory = inventories.first(where: { inventory in inventory.clusters.contains { $0.name == options.cluster } }) else { return }
        if let plan = try? Planner.plan(options: options, inventory: inventory, state: state) { _ = plan.render() }
    }

    /// Decodes `body` as the endpoint does; a value that decodes must survive encoding and decoding.
    private func roundTrip<T: Codable>(_ type: T.Type, _ body: Data) -> T? {
        let value: T
        do { value = try RequestError.decode(T.self, from: body, decoder: AdminAPI.requestDecoder()) } catch {
            // The message is what the client reads; building it must not fail either.
            precondition(!error.description.isEmpty, "an empty error message")
            return nil
        }
        do {
            let again = try AdminAPI.encoder().encode(value)
            _ = try RequestError.decode(T.self, from: again, decoder: AdminAPI.requestDecoder())
        } catch {
            preconditionFailure("\(T.self) decoded but does not survive a round trip: \(error)")
        }
        return value
    }

    /// Asks `name`/`type` as a client would (RD set, over UDP with EDNS, 4096 bytes).
    func ask(_ name: DomainName, _ type: RRType, transport: Transport, snapshot: Snapshot) {
        var packet: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, transport == .udp ? 1 : 0]
        packet += name.wire
        packet += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        if transport == .udp { packet += [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0] }
        packet.withUnsafeBytes { answer($0, transport: transport, snapshot: snapshot) }
    }
}
