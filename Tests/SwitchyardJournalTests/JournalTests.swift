import Foundation
import SwitchyardControl
import SwitchyardJournal
import Testing

@Suite struct GenerationTests {
    @Test func firstAppendIsNumberOneAndRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            #expect(try journal.latest() == nil)

            let appended = try journal.append(state: vmState, actor: "cli:alice", reason: "initial", serials: ["kafka.example.": 2024_06_01_01], at: instant(0.25))

            let expected = Generation(
                number: 1, createdAt: instant(0.25), actor: "cli:alice", reason: "initial", state: vmState,
                changes: [
                    NameChange(name: "bootstrap.orders.kafka.example.", before: NameSetting(), after: NameSetting(weights: ["vm": 100, "pod": 0])),
                    NameChange(name: "broker-1.orders.kafka.example.", before: NameSetting(), after: NameSetting(livePool: "vm")),
                    NameChange(name: "broker-2.orders.kafka.example.", before: NameSetting(), after: NameSetting(livePool: "vm")),
                ],
                serials: ["kafka.example.": 2024_06_01_01])
            #expect(appended == expected)
            #expect(try journal.latest() == expected)
            #expect(try journal.generation(1) == expected)
            #expect(try journal.generation(2) == nil)
            #expect(try journal.generation(0) == nil)
            #expect(try journal.generation(UInt64.max) == nil)
            #expect(FileManager.default.fileExists(atPath: dir.file("switchyard.db")))
        }
    }

    @Test func directoryIsCreated() throws {
        try withTemporaryDirectory { dir in
            let nested = dir.file("a/b/state")
            let journal = try Journal(directory: nested)
            #expect(journal.path == nested + "/switchyard.db")
            #expect(FileManager.default.fileExists(atPath: journal.path))
        }
    }

    @Test func numbersIncreaseAndSurviveReopening() throws {
        try withTemporaryDirectory { dir in
            do {
                let journal = try Journal(directory: dir.path)
                for step in 1...3 {
                    var state = vmState
                    state.weights["bootstrap.orders.kafka.example."] = ["vm": UInt8(100 - step * 10), "pod": UInt8(step * 10)]
                    let generation = try journal.append(state: state, actor: "test", reason: "step \(step)", serials: [:], at: instant(Double(step)))
                    #expect(generation.number == UInt64(step))
                }
            }
            let reopened = try Journal(directory: dir.path)
            #expect(try reopened.latest()?.number == 3)
            #expect(try reopened.latest()?.reason == "step 3")
            let fourth = try reopened.append(state: vmState, actor: "rollback", reason: "back", serials: [:], at: instant(10))
            #expect(fourth.number == 4)
            #expect(try reopened.history(limit: 10).map(\.number) == [4, 3, 2, 1])
            #expect(try reopened.history(limit: 2).map(\.number) == [4, 3])
            #expect(try reopened.history(limit: 0).isEmpty)
            #expect(try reopened.generation(2)?.createdAt == instant(2))
        }
    }

    @Test func changesAgainstThePreviousGeneration() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try journal.append(state: vmState, actor: "test", reason: "start", serials: [:], at: instant(0))

            // A broker moves, the bootstrap weights shift, a TTL override appears.
            var moved = vmState
            moved.brokerPools["broker-1.orders.kafka.example."] = "pod"
            moved.weights["bootstrap.orders.kafka.example."] = ["vm": 50, "pod": 50]
            moved.ttls["bootstrap.orders.kafka.example."] = 30
            let second = try journal.append(state: moved, actor: "cutover:1", reason: "step 1", serials: [:], at: instant(1))
            #expect(second.changes == [
                NameChange(
                    name: "bootstrap.orders.kafka.example.",
                    before: NameSetting(weights: ["vm": 100, "pod": 0]),
                    after: NameSetting(weights: ["vm": 50, "pod": 50], ttl: 30)),
                NameChange(name: "broker-1.orders.kafka.example.", before: NameSetting(livePool: "vm"), after: NameSetting(livePool: "pod")),
            ])

            // The override is removed; nothing else changes.
            var restored = moved
            restored.ttls = [:]
            let third = try journal.append(state: restored, actor: "cutover:1", reason: "restore TTLs", serials: [:], at: instant(2))
            #expect(third.changes == [
                NameChange(
                    name: "bootstrap.orders.kafka.example.",
                    before: NameSetting(weights: ["vm": 50, "pod": 50], ttl: 30),
                    after: NameSetting(weights: ["vm": 50, "pod": 50])),
            ])

            // The same state again is a generation with no changes (e.g. a serial bump).
            let fourth = try journal.append(state: restored, actor: "test", reason: "serial", serials: ["kafka.example.": 7], at: instant(3))
            #expect(fourth.changes.isEmpty)
            #expect(fourth.number == 4)

            // What was stored is what was returned.
            #expect(try journal.generation(2) == second)
            #expect(try journal.generation(3) == third)
        }
    }

    @Test func baseWhenEmptyAppliesOnlyToTheFirstGeneration() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            var shifted = vmState
            shifted.brokerPools["broker-2.orders.kafka.example."] = "pod"
            let first = try journal.append(state: shifted, actor: "serve", reason: "journal started", serials: [:], at: instant(0), baseWhenEmpty: vmState)
            #expect(first.number == 1)
            #expect(first.changes == [
                NameChange(name: "broker-2.orders.kafka.example.", before: NameSetting(livePool: "vm"), after: NameSetting(livePool: "pod")),
            ])
            // Once there is a latest generation, the base is ignored.
            let second = try journal.append(state: shifted, actor: "serve", reason: "again", serials: [:], at: instant(1), baseWhenEmpty: ServingState())
            #expect(second.changes.isEmpty)
        }
    }

    @Test func historyFiltersByNameSuffixAndPredicate() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            var state = vmState
            try journal.append(state: state, actor: "t", reason: "1 orders", serials: [:], at: instant(1))
            state.weights["api.payments.kafka.example."] = ["a": 1]
            try journal.append(state: state, actor: "t", reason: "2 payments", serials: [:], at: instant(2))
            state.brokerPools["broker-1.orders.kafka.example."] = "pod"
            try journal.append(state: state, actor: "t", reason: "3 orders", serials: [:], at: instant(3))
            state.weights["xorders.kafka.example."] = ["a": 1]
            try journal.append(state: state, actor: "t", reason: "4 xorders", serials: [:], at: instant(4))
            state.ttls["orders.kafka.example."] = 60
            try journal.append(state: state, actor: "t", reason: "5 apex", serials: [:], at: instant(5))

            #expect(try journal.history(limit: 10, nameSuffix: ".orders.kafka.example.").map(\.number) == [5, 3, 1])
            #expect(try journal.history(limit: 10, nameSuffix: "ORDERS.kafka.example").map(\.number) == [5, 3, 1])
            #expect(try journal.history(limit: 2, nameSuffix: ".orders.kafka.example.").map(\.number) == [5, 3])
            #expect(try journal.history(limit: 10, nameSuffix: "payments.kafka.example.").map(\.number) == [2])
            #expect(try journal.history(limit: 10, nameSuffix: "kafka.example.").map(\.number) == [5, 4, 3, 2, 1])
            #expect(try journal.history(limit: 10, nameSuffix: "nowhere.example.").isEmpty)
            #expect(try journal.history(limit: 10, matching: { $0.after.livePool == "pod" }).map(\.number) == [3])
        }
    }

    @Test func servedSerialComesFromTheLatestGeneration() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            #expect(try journal.servedSerial(origin: "kafka.example.") == nil)
            try journal.append(state: vmState, actor: "t", reason: "1", serials: ["kafka.example.": 10, "other.example.": 3], at: instant(1))
            try journal.append(state: vmState, actor: "t", reason: "2", serials: ["kafka.example.": 11], at: instant(2))
            #expect(try journal.servedSerial(origin: "kafka.example.") == 11)
            #expect(try journal.servedSerial(origin: "other.example.") == nil)
        }
    }
}
