import Prometheus
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardServer

/// Prometheus exposition: the server's counters are read at scrape time and folded into
/// a swift-prometheus registry (counters advance by what happened since the last scrape).
final class AdminMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let exported = Mutex<[QueryLabels: UInt64]>([:])
    private let exportedHookFailures = Mutex<Int>(0)

    func render(server: Server, runs: [AdminAPI.RunStatus]) -> String {
        let counts = server.queryMetrics.snapshot
        exported.withLock { previous in
            for (labels, value) in counts {
                let delta = value - (previous[labels] ?? 0)
                guard delta > 0 else { continue }
                registry.makeCounter(name: "switchyard_queries_total", labels: [
                    ("zone", labels.zone), ("name", labels.name), ("pool", labels.pool), ("rcode", labels.rcode),
                ]).increment(by: Int64(delta))
                previous[labels] = value
            }
        }
        let control = server.control
        if let generation = control.current?.generation {
            registry.makeGauge(name: "switchyard_generation").set(to: Double(generation.number))
            for (zone, serial) in generation.serials {
                registry.makeGauge(name: "switchyard_zone_serial", labels: [("zone", zone)]).set(to: Double(serial))
            }
        }
        let down = server.servingSnapshot.down
        for target in server.checkedTargets {
            registry.makeGauge(name: "switchyard_target_up", labels: [("target", target.description)]).set(to: down.contains(target) ? 0 : 1)
        }
        exportedHookFailures.withLock { previous in
            let failures = control.failedHookCount
            let counter = registry.makeCounter(name: "switchyard_hook_failures_total")
            if failures > previous { counter.increment(by: Int64(failures - previous)) }
            previous = failures
        }
        registry.makeGauge(name: "switchyard_discovery_publish_ok").set(to: control.discoveryFailure == nil ? 1 : 0)
        for run in runs {
            registry.makeGauge(name: "switchyard_cutover_running", labels: [("cluster", run.cluster)]).set(to: run.active ? 1 : 0)
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
