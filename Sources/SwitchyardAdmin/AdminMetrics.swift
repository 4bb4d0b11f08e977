import Prometheus
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardServer
import SwitchyardService

/// Prometheus exposition: the server's counters are read at scrape time and folded into
/// a swift-prometheus registry (counters advance by what happened since the last scrape).
final class AdminMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let exported = Mutex<[QueryLabels: UInt64]>([:])
    private let exportedHookFailures = Mutex<Int>(0)
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
    private static var rateLimited: MetricNameDescriptor {
        metric("rrl_limited_responses", unit: "total", help: "UDP responses over the rate limit, by action: dropped, or slipped (sent truncated).")
    }
    private static var cutoverRunning: MetricNameDescriptor { metric("cutover_running", help: "1 while a cutover or rollback runs for the cluster.") }

    func render(server: Server, control: ControlService, runs: [AdminAPI.RunStatus]) -> String {
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
        registry.makeGauge(descriptor: Self.discoveryOK).set(to: control.discoveryFailure == nil ? 1 : 0)
        if let limiter = server.rateLimiter {
            exportedLimited.withLock { previous in
                let now = (dropped: limiter.dropped, slipped: limiter.slipped)
                registry.makeCounter(descriptor: Self.rateLimited, labels: [("action", "dropped")]).increment(by: Int64(now.dropped - previous.dropped))
                registry.makeCounter(descriptor: Self.rateLimited, labels: [("action", "slipped")]).increment(by: Int64(now.slipped - previous.slipped))
                previous = now
            }
        }
        for run in runs {
            registry.makeGauge(descriptor: Self.cutoverRunning, labels: [("cluster", run.cluster)]).set(to: run.active ? 1 : 0)
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
