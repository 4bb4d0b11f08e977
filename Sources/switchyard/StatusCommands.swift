import ArgumentParser
import Foundation
import SwitchyardControl

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the live generation, every stable name's pools, weights and health, and recent runs.")
    @OptionGroup var adminOptions: AdminOptions

    func run() async throws {
        let status: AdminAPI.StatusReply = try await adminOptions.client().get("/v1/status")
        let generation = status.generation
        print("generation \(generation.number) (\(generation.actor): \(generation.reason)), serials \(generation.serials.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        if let error = status.discoveryError { print("discovery publish failing: \(error)") }
        if let fleet = status.fleet {
            print("fleet member \(fleet.member): " + (fleet.following ? "following the journal" : "NOT following the journal: \(fleet.problem ?? "")"))
            if let data = fleet.data { print("    zone data here: \(data.digest)") }
            for member in fleet.members {
                print("    \(member.name)  generation \(member.generation)  dns \(member.dns.joined(separator: ", "))  "
                      + (member.live ? "live" : "silent") + String(format: " (heartbeat %.1f s ago)", member.silentFor)
                      + "  data \(member.data?.digest ?? "unknown")")
                if let differences = member.differences, !differences.isEmpty {
                    print("        DIFFERENT ZONE DATA than this server (cutover and rollback refused until they agree):")
                    for difference in differences { print("        \(difference)") }
                }
            }
        }
        if status.failedHooks > 0 { print("\(status.failedHooks) failed hook runs since start (see the log and `history`)") }
        if let s = status.secondaries, s.axfr + s.ixfrIncremental + s.ixfrFull + s.ixfrUpToDate + s.refused + s.notifySent > 0 {
            print("secondaries: \(s.axfr) AXFR, \(s.ixfrIncremental) IXFR incremental, \(s.ixfrFull) IXFR in full, \(s.ixfrUpToDate) up to date, \(s.refused) refused; NOTIFY \(s.notifySent) sent, \(s.notifyAcknowledged) acknowledged")
            for (client, serial) in s.serials.sorted(by: { $0.key < $1.key }) { print("    \(client) last asked for serial \(serial)") }
        }
        for name in status.names {
            print("\(name.name)  \(name.kind)  ttl \(name.ttl)\(name.kind == "weighted" ? "  \(name.selection)" : "")")
            for pool in name.pools {
                let label = name.kind == "broker" ? (pool.weight > 0 ? "live" : "    ") : String(format: "%3d", pool.weight)
                let targets = pool.targets.map { target in
                    target.target + (target.healthy.map { $0 ? " (up)" : " (DOWN)" } ?? "")
                }
                print("    \(label)  \(pool.name): \(targets.isEmpty ? "-" : targets.joined(separator: ", "))")
            }
        }
        if let kafka = status.kafka, !kafka.isEmpty {
            print("Kafka, as the gates last saw it:")
            for sighting in kafka { print("    \(sighting)") }
        }
        for run in status.runs.prefix(5) { print(describe(run)) }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the journal of generations, newest first.")
    @OptionGroup var adminOptions: AdminOptions
    @Option(help: "Only generations that changed this cluster's names.") var cluster: String?
    @Option(help: "How many generations.") var limit = 20

    func validate() throws {
        if !(1...100_000).contains(limit) { throw ValidationError("--limit must be a whole number from 1 to 100000") }
    }

    func run() async throws {
        var path = "/v1/history?limit=\(limit)"
        if let cluster { path += "&cluster=\(cluster)" }
        let entries: [AdminAPI.HistoryEntry] = try await adminOptions.client().get(path)
        let formatter = ISO8601DateFormatter()
        for entry in entries {
            let generation = entry.generation
            let run = entry.run.map { "run \($0)  " } ?? ""
            print("\(generation.number)  \(formatter.string(from: generation.createdAt))  \(run)\(generation.actor)  \(generation.reason)")
            for change in generation.changes { print("    \(change.name)  \(change.before) -> \(change.after)") }
            for drain in entry.drains { print("    drain \(drain.succeeded ? "ok" : "FAILED"): \(drain)") }
        }
    }
}
