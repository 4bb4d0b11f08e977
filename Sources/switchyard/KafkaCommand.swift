import ArgumentParser
import Foundation
import SwitchyardControl
import SwitchyardKafka

/// `switchyard kafka metadata HOST:PORT`: what a Kafka gate would read at a target, from this
/// machine, without the server.
struct Kafka: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at Kafka endpoints the way cutover gates do.",
        subcommands: [Metadata.self])

    struct Metadata: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the brokers (node id, advertised listener), controller, cluster id and partition health an endpoint reports.",
            discussion: "Plaintext only. Exit status 1 when the metadata cannot be read.")
        @Argument(help: "HOST:PORT (an IPv6 address in brackets: [fd00::5]:9092).") var bootstrap: String
        @Option(help: "Seconds to wait.") var timeout = 5.0
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            switch KafkaMetadataClient.fetch(bootstrap: bootstrap, timeout: timeout) {
            case .failure(let error):
                let line = "switchyard: \(error)\n"
                _ = line.withCString { write(2, $0, strlen($0)) }
                throw ExitCode.failure
            case .success(let metadata):
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                    print(String(decoding: try encoder.encode(metadata), as: UTF8.self))
                    return
                }
                print("cluster id \(metadata.clusterID ?? "-"), controller \(metadata.controllerID.map(String.init) ?? "-"), answered by node \(metadata.answeringBrokerID.map(String.init) ?? "unknown")")
                for broker in metadata.brokers { print("  node \(broker.id) advertises \(broker.advertised)") }
                print("  read with \(metadata.reader ?? "-")")
                print("  \(metadata.partitions.count) partitions, \(metadata.offlinePartitions.count) offline, \(metadata.underReplicatedPartitions.count) under-replicated")
            }
        }
    }
}
