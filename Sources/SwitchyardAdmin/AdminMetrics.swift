import Prometheus
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardJournal
import SwitchyardServer
import SwitchyardService
import SwitchyardTransfer

/// Prometheus exposition: the server's counters are read at scrape time and folded into
/// a swift-prometheus registry (counters advance by what happened since the last scrape).
final class AdminMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let exported = Mutex<[QueryLabels: UInt64]>([:])
    private let exportedHookFailures = Mutex<Int>(0)
    /// Counter values already folded into the registry, by metric and label.
    private let exportedCounts = Mutex<[String: Int]>([:])
    private let exportedLimited = Mutex<(dropped: Int, slipped: Int)>((0, 0))

    private static func metric(_ name: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "switchyard", metricName: name, unitName: unit, helpText: help)
    }

    private static var queries: MetricNameDescriptor { metric("queries", unit: "total", help: "DNS queries answered, by zone, stable name, pool and rcode.") }
    private static var generation: MetricNameDescriptor { metric("generation", help: "The generation being served.") }
    private static var serial: MetricNameDescriptor { metric("zone_serial", help: "The SOA serial each zone serves.") }
    private static var targetUp: MetricNameDescriptor { metric("target_up", help: "1 when a health-checked target answers its TCP probes.") }
    private static var hookFailures: MetricNameDescriptor { metric("hook_failures", unit: "total", help: "Failed cache-invalidation and discovery hook runs.") }
    private static var discoveryOK: MetricNameDescriptor { metric("discovery_publish_ok", help: "0 when the last discovery publish failed.") }
    private static var transfers: MetricNameDescriptor { metric("zone_transfers", unit: "total", help: "Zone transfers answered, by kind (axfr, ixfr_incremental, ixfr_full, ixfr_up_to_date, refused).") }
    private static var tsigErrors: MetricNameDescriptor { metric("tsig_errors", unit: "total", help: "Signed requests answered NOTAUTH, by TSIG error (BADKEY, BADSIG, BADTIME).") }
    private static var notifySent: MetricNameDescriptor { metric("notify_sent", unit: "total", help: "DNS NOTIFY messages sent to secondaries (every attempt).") }
    private static var notifyAcknowledged: MetricNameDescriptor { metric("notify_acknowledged", unit: "total", help: "DNS NOTIFY messages a secondary acknowledged.") }
    private static var secondarySerial: MetricNameDescriptor { metric("secondary_serial", help: "The serial each secondary (by address) last asked IXFR from, or got by AXFR.") }
    private static var rateLimited: MetricNameDescriptor {
        metric("rrl_limited_responses", unit: "total", help: "UDP responses over the rate limit, by action: dropped, or slipped (sent truncated).")
    }
    private static var journalWritable: MetricNameDescriptor { metric("journal_writable", help: "0 while the journal's state directory refuses writes (full, read-only, I/O error).") }
    private static var journalWriteErrors: MetricNameDescriptor { metric("journal_write_errors", unit: "total", help: "Changes refused because the journal could not be written.") }
    private static var reloadOK: MetricNameDescriptor { metric("reload_ok", help: "0 when the last SIGHUP reload was rejected (the previous data keeps serving).") }
    private static var reloadFailures: MetricNameDescriptor { metric("reload_failures", unit: "total", help: "SIGHUP reloads rejected because a file was bad.") }
    private static var cutoverRunning: MetricNameDescriptor { metric("cutover_running", help: "1 while a cutover or rollback runs for the cluster.") }
    private static var journalUp: MetricNameDescriptor { metric("journal_reachable", help: "1 while the PostgreSQL journal answers; 0 during an outage (DNS keeps answering the last generation).") }
    private static var following: MetricNameDescriptor { metric("fleet_following", help: "1 while this fleet member is connected to the journal and caught up with it.") }
    private static var followed: MetricNameDescriptor { metric("fleet_generations_followed", unit: "total", help: "Generations committed by other servers of the fleet and served here.") }
    private static var disconnects: MetricNameDescriptor { metric("fleet_journal_disconnects", unit: "total", help: "Times this member lost the journal.") }
    private static var liveMembers: MetricNameDescriptor { metric("fleet_live_members", help: "Fleet members with a recent heartbeat, as this server last read them.") }
    private static var membersDiverging: MetricNameDescriptor {
        metric("fleet_members_diverging", help: "Live fleet members serving other zone files or inventories than this server, as of its last heartbeat (0: the NS set answers alike).")
    }
    private static var localCopyServing: MetricNameDescriptor {
        metric("fleet_local_copy_serving", help: "1 while this fleet member serves the local copy of its last generation (it started while the journal database was unreachable); 0 once the database answered.")
    }

    func render(server: Server, control: ControlService, journal: JournalHealth, runs: [(cluster: String, active: Bool)], fleet: Fleet? = nil) -> String {
        let counts = server.queryMetrics.snapshot
        exported.withLock { previous in
            for (labels, value) in counts {
                let delta = value - (previous[labels] ?? 0)
                guard delta > 0 else { continue }
                registry.makeCounter(descriptor: Self.queries, labels: [
                    ("zone", labels.zone), ("name", labels.name), ("pool", labels.pool), ("rcode", labels.rcode),
                ]).increment(by: Int64(delta))
                previous[labels] = value
            }
        }
        if let generation = control.current?.generation {
            registry.makeGauge(descriptor: Self.generation).set(to: Double(generation.number))
            for (zone, serial) in generation.serials {
                registry.makeGauge(descriptor: Self.serial, labels: [("zone", zone)]).set(to: Double(serial))
            }
        }
        let down = server.servingSnapshot.down
        for target in server.checkedTargets {
            registry.makeGauge(descriptor: Self.targetUp, labels: [("target", target.description)]).set(to: down.contains(target) ? 0 : 1)
        }
        exportedHookFailures.withLock { previous in
            let failures = control.failedHookCount
            let counter = registry.makeCounter(descriptor: Self.hookFailures)
            if failures > previous { counter.increment(by: Int64(failures - previous)) }
            previous = failures
        }
        renderSecondaries(server: server, control: control)
        registry.makeGauge(descriptor: Self.discoveryOK).set(to: control.discoveryFailure == nil ? 1 : 0)
        renderFaults(journal: journal, reload: server.reloadStatus)
        if let limiter = server.rateLimiter {
            exportedLimited.withLock { previous in
                let now = (dropped: limiter.dropped, slipped: limiter.slipped)
                registry.makeCounter(descriptor: Self.rateLimited, labels: [("action", "dropped")]).increment(by: Int64(now.dropped - previous.dropped))
                registry.makeCounter(descriptor: Self.rateLimited, labels: [("action", "slipped")]).increment(by: Int64(now.slipped - previous.slipped))
                previous = now
            }
        }
        // Newest first: a cluster's latest run says whether one runs (an older one, finished,
        // must not set the gauge back to 0 under it).
        var seen: Set<String> = []
        for run in runs where seen.insert(run.cluster).inserted {
            registry.makeGauge(descriptor: Self.cutoverRunning, labels: [("cluster", run.cluster)]).set(to: run.active ? 1 : 0)
        }
        if let fleet { renderFleet(fleet, control: control) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    private func renderFleet(_ fleet: Fleet, control: ControlService) {
        let health = fleet.health
        registry.makeGauge(descriptor: Self.journalUp).set(to: fleet.postgres.state.reachable && health.following ? 1 : 0)
        registry.makeGauge(descriptor: Self.following).set(to: health.following ? 1 : 0)
        registry.makeGauge(descriptor: Self.localCopyServing).set(to: control.servingLocalCopy == nil ? 0 : 1)
        registry.makeGauge(descriptor: Self.membersDiverging).set(to: Double(health.diverging.count))
        fold([(Self.followed, health.followed), (Self.disconnects, health.disconnects)])
        if let members = try? fleet.postgres.liveMembers(within: fleet.settings.memberTimeout) {
            registry.makeGauge(descriptor: Self.liveMembers).set(to: Double(members.count))
        }
    }

    /// The journal's and the reloads' health: gauges for now, counters for what was refused.
    private func renderFaults(journal: JournalHealth, reload: ReloadStatus) {
        registry.makeGauge(descriptor: Self.journalWritable).set(to: journal.writable ? 1 : 0)
        registry.makeGauge(descriptor: Self.reloadOK).set(to: reload.lastFailure == nil ? 1 : 0)
        fold([(Self.journalWriteErrors, journal.writeErrors), (Self.reloadFailures, reload.failures)])
    }

    /// Advances unlabelled counters by what they grew since the last scrape.
    private func fold(_ counts: [(MetricNameDescriptor, Int)]) {
        exportedCounts.withLock { previous in
            for (descriptor, value) in counts {
                let counter = registry.makeCounter(descriptor: descriptor)
                let delta = value - (previous[descriptor.metricName] ?? 0)
                if delta > 0 { counter.increment(by: Int64(delta)) }
                previous[descriptor.metricName] = value
            }
        }
    }

    private func renderSecondaries(server: Server, control: ControlService) {
        let stats = server.transferStatistics ?? TransferStatistics()
        let notify = control.notifyCounts
        var counters: [(MetricNameDescriptor, [(String, String)], Int)] = [
            (Self.transfers, [("kind", "axfr")], stats.axfr),
            (Self.transfers, [("kind", "ixfr_incremental")], stats.ixfrIncremental),
            (Self.transfers, [("kind", "ixfr_full")], stats.ixfrFull),
            (Self.transfers, [("kind", "ixfr_up_to_date")], stats.ixfrUpToDate),
            (Self.transfers, [("kind", "refused")], stats.refused),
            (Self.notifySent, [], notify.sent),
            (Self.notifyAcknowledged, [], notify.acknowledged),
        ]
        for (error, count) in stats.tsigErrors { counters.append((Self.tsigErrors, [("error", error)], count)) }
        exportedCounts.withLock { previous in
            for (descriptor, labels, value) in counters {
                let key = descriptor.metricName + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
                let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
                let delta = value - (previous[key] ?? 0)
                if delta > 0 { counter.increment(by: Int64(delta)) }
                previous[key] = value
            }
        }
        for (client, serial) in stats.secondarySerials {
            registry.makeGauge(descriptor: Self.secondarySerial, labels: [("secondary", client)]).set(to: Double(serial))
        }
    }
}
