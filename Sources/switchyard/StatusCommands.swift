import ArgumentParser
import Foundation
import SwitchyardControl

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the live generation, every stable name's pools, weights and health, and recent runs.",
        discussion: "With more than \(StatusCommand.fullListing) stable names, broker names are summed up per cluster (live pools, targets down); --cluster or --names lists them.")
    @OptionGroup var adminOptions: AdminOptions
    @Option(help: "Only this cluster's names, each listed.") var cluster: String?
    @Flag(help: "List every stable name, however many.") var names = false

    /// Up to this many stable names every one is listed; beyond, brokers are summed up per cluster.
    static let fullListing = 60

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
        var shown = status.names
        if let cluster {
            shown = shown.filter { Self.cluster(of: $0.name) == cluster }
            if shown.isEmpty { printError("switchyard: no stable names of a cluster named \(cluster)") ; throw ExitCode(1) }
        } else if !names && shown.count > Self.fullListing {
            // Hundreds of broker names: one line per cluster, the weighted names in full.
            for line in Self.brokerSummary(shown) { print(line) }
            shown = shown.filter { $0.kind != "broker" }
        }
        for name in shown { Self.printName(name) }
        if let kafka = status.kafka, !kafka.isEmpty {
            print("Kafka, as the gates last saw it:")
            for sighting in kafka { print("    \(sighting)") }
        }
        for run in status.runs.prefix(5) { print(describe(run)) }
    }
}

extension StatusCommand {
    static func printName(_ name: AdminAPI.NameStatus) {
        print("\(name.name)  \(name.kind)  ttl \(name.ttl)\(name.kind == "weighted" ? "  \(name.selection)" : "")")
        for pool in name.pools {
            let label = name.kind == "broker" ? (pool.weight > 0 ? "live" : "    ") : String(format: "%3d", pool.weight)
            let targets = pool.targets.map { target in
                target.target + (target.healthy.map { $0 ? " (up)" : " (DOWN)" } ?? "")
            }
            print("    \(label)  \(pool.name): \(targets.isEmpty ? "-" : targets.joined(separator: ", "))")
        }
    }

    /// The cluster of `broker-<id>.<cluster>.<origin>` or `bootstrap.<cluster>.<origin>`.
    static func cluster(of name: String) -> String? {
        let labels = name.split(separator: ".")
        guard labels.count > 2, labels[0].hasPrefix("broker-") || labels[0] == "bootstrap" else { return nil }
        return String(labels[1])
    }

    /// Per cluster: how many brokers live in each pool, and the health-checked targets down.
    static func brokerSummary(_ names: [AdminAPI.NameStatus]) -> [String] {
        var order: [String] = []
        var live: [String: [String: Int]] = [:], down: [String: [String]] = [:], counts: [String: Int] = [:]
        for name in names where name.kind == "broker" {
            let cluster = Self.cluster(of: name.name) ?? name.name
            if counts[cluster] == nil { order.append(cluster) }
            counts[cluster, default: 0] += 1
            for pool in name.pools {
                if pool.weight > 0 { live[cluster, default: [:]][pool.name, default: 0] += 1 }
                for target in pool.targets where target.healthy == false { down[cluster, default: []].append("\(target.target) (\(name.name))") }
            }
        }
        var lines: [String] = []
        for cluster in order {
            let pools = (live[cluster] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) in \($0.key)" }.joined(separator: ", ")
            let gone = down[cluster] ?? []
            lines.append("cluster \(cluster): \(counts[cluster] ?? 0) brokers live: \(pools)" + (gone.isEmpty ? "" : "; \(gone.count) targets DOWN"))
            for target in gone.prefix(10) { lines.append("    DOWN \(target)") }
            if gone.count > 10 { lines.append("    … and \(gone.count - 10) more DOWN") }
        }
        lines.append("(\(names.filter { $0.kind == "broker" }.count) broker names summed up; `switchyard status --cluster NAME` or `--names` lists them)")
        return lines
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the journal of generations, newest first.")
    @OptionGroup var adminOptions: AdminOptions
    @Option(help: "Only generations that changed this cluster's names.") var cluster: String?
    @Option(help: "How many generations.") var limit = 20
    @Flag(help: "Every name a generation changed (else the first \(History.shownChanges) of each, and how many more).") var allChanges = false

    /// A cutover's TTL steps change every name of the cluster: hundreds of lines per generation.
    static let shownChanges = 10

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
            let shown = allChanges || generation.changes.count <= Self.shownChanges + 2 ? generation.changes : Array(generation.changes.prefix(Self.shownChanges))
            for change in shown { print("    \(change.name)  \(change.before) -> \(change.after)") }
            if shown.count < generation.changes.count {
                print("    … and \(generation.changes.count - shown.count) more names the same way (--all-changes lists them)")
            }
            for drain in entry.drains { print("    drain \(drain.succeeded ? "ok" : "FAILED"): \(drain)") }
        }
    }
}
