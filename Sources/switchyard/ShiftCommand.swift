import ArgumentParser
import Foundation
import SwitchyardControl
import SwitchyardInventory

struct Shift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change one stable name now: flip a broker, or set weights of a weighted name.",
        discussion: """
            switchyard shift orders broker-3 --to pod
            switchyard shift orders bootstrap --weights vm=75,pod=25
            switchyard shift --name schema-registry --weights vm=0,pod=100
            switchyard shift orders broker-3 --ttl 5        (TTL override; --ttl default removes it)
            """)

    @OptionGroup var adminOptions: AdminOptions

    @Argument(help: "The cluster (omit with --name).")
    var cluster: String?

    @Argument(help: "broker-<id> or bootstrap.")
    var target: String?

    @Option(help: "A weighted name from the inventory's names: (relative or absolute).")
    var name: String?

    @Option(help: "The pool a broker moves to.")
    var to: String?

    @Option(help: "Weights per pool, e.g. vm=75,pod=25.")
    var weights: String?

    @Option(help: "TTL override in seconds, or `default` to remove it.")
    var ttl: String?

    @Option(help: "Why; kept in the journal.")
    var reason = "manual shift"

    @Option(help: "Apply only if this is still the live generation (else exit 1, nothing changed).")
    var expectGeneration: UInt64?

    /// Checked while parsing, so a mistake prints this command's usage, not the top level's.
    func validate() throws {
        _ = try makeRequest()
    }

    func run() async throws {
        let request = try makeRequest()
        let client = try adminOptions.client()
        let body = AdminAPI.ShiftBody(request: request, actor: cliActor(), reason: reason, expectedGeneration: expectGeneration)
        let reply: AdminAPI.GenerationReply = try await client.post("/v1/shift", body)
        guard reply.changed != false else {
            print("nothing to change: already served that way; generation \(reply.generation.number) stays live")
            return
        }
        print("generation \(reply.generation.number) committed and served")
        for change in reply.generation.changes { print("  \(change.name)  \(change.before) -> \(change.after)") }
        for hook in reply.invalidation where !hook.succeeded { printError("warning: invalidation failed: \(hook.hook): \(hook.detail)") }
        for warning in reply.warnings ?? [] { printError("warning: \(warning)") }
    }

    private func makeRequest() throws -> ShiftRequest {
        let subject: String
        if let name {
            guard cluster == nil, target == nil else { throw ValidationError("give either --name NAME or <cluster> <broker-N|bootstrap>, not both") }
            subject = name
        } else {
            guard let cluster, let target else { throw ValidationError("missing <cluster> <broker-N|bootstrap> (or --name NAME)") }
            if target.hasPrefix("broker-") {
                guard let id = Broker.nodeID(target.dropFirst("broker-".count)) else {
                    throw ValidationError("\(target): expected broker-<id> with a Kafka node id from 0 to 2147483647, e.g. broker-0 or broker-3")
                }
                if let to {
                    guard weights == nil else { throw ValidationError("broker names are exclusive: use --to POOL, not --weights") }
                    return .broker(cluster: cluster, id: id, pool: to)
                }
                if weights != nil { throw ValidationError("broker names are exclusive: partial weights are refused; use --to POOL") }
                subject = "broker-\(id).\(cluster)"
            } else if target == "bootstrap" {
                subject = "bootstrap.\(cluster)"
            } else {
                throw ValidationError("\(target): expected broker-<id> or bootstrap")
            }
        }
        if let weights {
            do { return .weights(name: subject, weights: try ShiftRequest.parseWeights(weights)) } catch {
                throw ValidationError("--weights \(weights): \(error)")
            }
        }
        if let ttl {
            if ttl == "default" { return .ttl(name: subject, ttl: nil) }
            guard let seconds = UInt32(ttl) else { throw ValidationError("--ttl \(ttl): expected seconds or `default`") }
            return .ttl(name: subject, ttl: seconds)
        }
        throw ValidationError("nothing to change: give --to POOL (brokers), --weights (weighted names) or --ttl")
    }
}
