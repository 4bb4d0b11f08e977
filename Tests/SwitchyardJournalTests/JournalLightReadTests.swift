import Foundation
import SwitchyardControl
import SwitchyardJournal
import Testing

/// Reads that look through a long history without decoding every generation's whole state
/// (each holds every stable name): what cache horizons, `history --cluster`, lowered-TTL
/// attribution and IXFR need.
@Suite struct JournalLightReadTests {
    /// 600 generations over 300 pages' worth of names: flips of payments' broker, a TTL lowered
    /// by hand at 100, an orders change at 5 and 590; serial = 1000 + number.
    func longJournal(_ journal: Journal) throws {
        var state = vmState
        for number in 1...600 {
            if number == 5 || number == 590 { state.brokerPools["broker-1.orders.kafka.example."] = number == 5 ? "pod" : "vm" }
            else { state.brokerPools["broker-7.payments.kafka.example."] = number % 2 == 0 ? "pod" : "vm" }
            if number == 100 { state.loweredTTLs["broker-1.orders.kafka.example."] = 5 }
            try journal.append(state: state, actor: number == 100 ? "cutover:3" : "cli:bob", reason: "\(number)",
                               serials: ["kafka.example.": UInt32(1000 + number)], at: instant(Double(number)))
        }
    }

    @Test func historyOfAClusterLooksPastOtherClustersChanges() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try longJournal(journal)
            let found = try journal.history(limit: 3, nameSuffix: ".orders.kafka.example.")
            #expect(found.map(\.number) == [590, 100, 5])
            // Whole generations, as before.
            #expect(found == [try journal.generation(590), try journal.generation(100), try journal.generation(5)].compactMap { $0 })
        }
    }

    @Test func walkingChangesStopsWhenAsked() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try longJournal(journal)
            var seen: [UInt64] = []
            try journal.walkChanges { entry in
                seen.append(entry.number)
                return !entry.changes.contains { $0.after.loweredTTL != nil && $0.before.loweredTTL == nil }
            }
            #expect(seen.first == 600 && seen.last == 100 && seen.count == 501)
            #expect(seen == Array((100...600).reversed()))
        }
    }

    @Test func ttlHistoryCarriesTimesAndTTLsOnly() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try longJournal(journal)
            let page = try journal.ttlHistory(atOrBelow: 101, limit: 3)
            #expect(page.map(\.number) == [101, 100, 99])
            #expect(page.map(\.createdAt) == [instant(101), instant(100), instant(99)])
            #expect(page[0].state.servedTTL(of: "broker-1.orders.kafka.example.") == 5)
            #expect(page[2].state.servedTTL(of: "broker-1.orders.kafka.example.") == nil)
            #expect(page.allSatisfy { $0.state.brokerPools.isEmpty && $0.changes.isEmpty })
        }
    }

    @Test func theGenerationThatServedASerial() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try longJournal(journal)
            #expect(try journal.generation(serving: 1003, origin: "kafka.example.", since: 1) == journal.generation(3))
            #expect(try journal.generation(serving: 1003, origin: "kafka.example.", since: 4) == nil)
            #expect(try journal.generation(serving: 1003, origin: "other.example.", since: 1) == nil)
            #expect(try journal.generation(serving: 9999, origin: "kafka.example.", since: 1) == nil)
        }
    }
}
