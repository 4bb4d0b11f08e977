import Foundation
import SwitchyardControl
import SwitchyardJournal
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DurabilityTests {
    @Test func walWithFullSynchronousOnEveryOpen() throws {
        try withTemporaryDirectory { dir in
            for _ in 1...2 {
                let storage = try Journal(directory: dir.path).storage()
                #expect(storage.journalMode == "wal")
                #expect(storage.synchronous == "full")
                #expect(storage.migrations == ["v1-journal", "v2-inventory-baseline", "v3-metadata"])
            }
        }
    }

    @Test func aThrowingTransactionLeavesNothingBehind() throws {
        try withTemporaryDirectory { dir in
            do {
                let journal = try Journal(directory: dir.path)
                try journal.append(state: vmState, actor: "t", reason: "kept", serials: ["kafka.example.": 1], at: instant(0))
                let runID = try journal.createRun(cluster: "orders", status: "running", record: Progress(step: 0, brokers: [1], note: "start"), at: instant(0))

                #expect(throws: Abandon.self) {
                    try journal.write { tx in
                        var moved = vmState
                        moved.brokerPools["broker-1.orders.kafka.example."] = "pod"
                        let generation = try tx.append(state: moved, actor: "cutover:1", reason: "lost", serials: ["kafka.example.": 2], at: instant(1))
                        try tx.updateRun(id: runID, status: "running", record: Progress(step: 1, brokers: [1], note: "lost"), at: instant(1))
                        try tx.recordHook(generation: generation.number, kind: .notify, target: "192.0.2.1", exitCode: 0, output: "", at: instant(1))
                        // Inside the transaction the writes are visible...
                        #expect(try tx.latest()?.number == 2)
                        throw Abandon()
                    }
                }
                // ...outside they never happened.
                #expect(try journal.latest()?.reason == "kept")
                #expect(try journal.run(id: runID, as: Progress.self)?.record.note == "start")
            }
            let reopened = try Journal(directory: dir.path)
            #expect(try reopened.latest()?.number == 1)
            #expect(try reopened.generation(2) == nil)
            #expect(try reopened.hookRuns(generation: 2).isEmpty)
            #expect(try reopened.servedSerial(origin: "kafka.example.") == 1)
            #expect(try reopened.run(id: 1, as: Progress.self)?.record == Progress(step: 0, brokers: [1], note: "start"))
            // The abandoned number is free again because it was never committed (nor served).
            #expect(try reopened.append(state: vmState, actor: "t", reason: "next", serials: [:], at: instant(2)).number == 2)
        }
    }

    @Test func aRecordThatFailsToEncodeMidwayRollsBackTheGeneration() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            let runID = try journal.createRun(cluster: "orders", status: "running", record: Progress(step: 0, brokers: [], note: "a"))
            #expect(throws: FailsToEncode.Refused.self) {
                try journal.write { tx in
                    try tx.append(state: vmState, actor: "t", reason: "lost", serials: [:], at: instant(0))
                    try tx.updateRun(id: runID, status: "running", record: FailsToEncode())
                }
            }
            #expect(try journal.latest() == nil)
            #expect(try journal.run(id: runID, as: Progress.self)?.record.note == "a")
        }
    }

    /// Re-runs this test binary as a child that appends generations and then SIGKILLs itself
    /// in the middle of a write transaction: every generation it reported as committed must be
    /// there, the one in flight must not, and the journal must carry on from there.
    @Test func survivesKillNineMidTransaction() throws {
        #if os(Linux)
        try withTemporaryDirectory { dir in
            let child = Process()
            child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            child.arguments = ["--testing-library", "swift-testing", "--filter", "crashingChild"]
            var environment = ProcessInfo.processInfo.environment
            environment[CrashChild.directoryVariable] = dir.path
            child.environment = environment
            let output = Pipe()
            child.standardOutput = output
            child.standardError = FileHandle.nullDevice
            try child.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()

            #expect(child.terminationReason == .uncaughtSignal)
            #expect(child.terminationStatus == SIGKILL)
            let reported = text.split(separator: "\n").filter { $0.hasPrefix("committed ") }
            #expect(reported == (1...CrashChild.committed).map { "committed \($0)" })
            #expect(text.contains("in flight \(CrashChild.committed + 1)"))

            let journal = try Journal(directory: dir.path)
            #expect(try journal.latest()?.number == UInt64(CrashChild.committed))
            #expect(try journal.latest()?.reason == "step \(CrashChild.committed)")
            #expect(try journal.generation(UInt64(CrashChild.committed + 1)) == nil)
            #expect(try journal.activeRun(cluster: "orders")?.status == "running")
            #expect(try journal.run(id: 1, as: Progress.self)?.record.step == CrashChild.committed)
            #expect(try journal.append(state: vmState, actor: "t", reason: "after", serials: [:], at: instant(99)).number == UInt64(CrashChild.committed + 1))
        }
        #endif
    }

    /// The child half of `survivesKillNineMidTransaction`; does nothing in a normal test run.
    @Test func crashingChild() throws {
        guard let path = ProcessInfo.processInfo.environment[CrashChild.directoryVariable] else { return }
        let journal = try Journal(directory: path)
        let runID = try journal.createRun(cluster: "orders", status: "running", record: Progress(step: 0, brokers: [1, 2], note: "child"))
        for step in 1...CrashChild.committed {
            try journal.write { tx in
                var state = vmState
                state.weights["bootstrap.orders.kafka.example."] = ["vm": UInt8(100 - step), "pod": UInt8(step)]
                try tx.append(state: state, actor: "cutover:\(runID)", reason: "step \(step)", serials: [:], at: Date())
                try tx.updateRun(id: runID, status: "running", record: Progress(step: step, brokers: [1, 2], note: "child"))
            }
            CrashChild.say("committed \(step)")
        }
        try journal.write { tx in
            try tx.append(state: ServingState(), actor: "cutover:\(runID)", reason: "never", serials: [:], at: Date())
            try tx.updateRun(id: runID, status: "done", record: Progress(step: 99, brokers: [], note: "never"))
            CrashChild.say("in flight \(CrashChild.committed + 1)")
            kill(getpid(), SIGKILL)
        }
    }
}

enum CrashChild {
    static let directoryVariable = "SWITCHYARD_JOURNAL_CRASH_CHILD_DIR"
    static let committed = 5

    static func say(_ line: String) {
        // Unbuffered, so the line is out before the SIGKILL.
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

@Suite("Inventory baseline")
struct InventoryBaselineTests {
    @Test func baselineSurvivesReopeningAndIsReplaced() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baseline-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = ServingState(brokerPools: ["broker-1.orders.kafka.example.": "vm"], weights: ["bootstrap.orders.kafka.example.": ["vm": 100, "pod": 0]])
        do {
            let journal = try Journal(directory: directory)
            #expect(try journal.inventoryBaseline() == nil)
            try journal.setInventoryBaseline(first)
        }
        let reopened = try Journal(directory: directory)
        #expect(try reopened.inventoryBaseline() == first)
        var second = first
        second.weights["bootstrap.orders.kafka.example."] = ["vm": 50, "pod": 50]
        try reopened.setInventoryBaseline(second)
        #expect(try reopened.inventoryBaseline() == second)
    }
}
