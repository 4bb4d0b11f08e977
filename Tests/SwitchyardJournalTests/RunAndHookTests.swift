import Foundation
import SwitchyardControl
import SwitchyardJournal
import Testing

@Suite struct CutoverRunTests {
    @Test func createUpdateAndReadBack() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            #expect(try journal.activeRun(cluster: "orders") == nil)
            #expect(try journal.run(id: 1, as: Progress.self) == nil)

            let id = try journal.createRun(cluster: "orders", status: "running", record: Progress(step: 0, brokers: [1, 3], note: "plan"), at: instant(0))
            #expect(id == 1)
            let active = try #require(try journal.activeRun(cluster: "orders"))
            #expect(active.id == id && active.status == "running")
            #expect(try journal.activeRun(cluster: "payments") == nil)

            try journal.updateRun(id: id, status: "paused", record: Progress(step: 2, brokers: [1, 3], note: "ctrl-c"), at: instant(5))
            let run = try #require(try journal.run(id: id, as: Progress.self))
            #expect(run.cluster == "orders")
            #expect(run.status == "paused")
            #expect(run.record == Progress(step: 2, brokers: [1, 3], note: "ctrl-c"))
            #expect(try journal.activeRun(cluster: "orders")?.status == "paused")

            try journal.updateRun(id: id, status: "done", record: Progress(step: 3, brokers: [1, 3], note: "ok"), at: instant(9))
            #expect(try journal.activeRun(cluster: "orders") == nil)
            #expect(try journal.runs(limit: 10) == [
                CutoverRunSummary(id: 1, cluster: "orders", status: "done", createdAt: instant(0), updatedAt: instant(9)),
            ])
        }
    }

    @Test func oneActiveRunPerCluster() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            let first = try journal.createRun(cluster: "orders", status: "running", record: Progress(step: 0, brokers: [], note: ""), at: instant(0))
            #expect(throws: JournalError.runAlreadyActive(path: journal.path, cluster: "orders", activeID: first)) {
                try journal.createRun(cluster: "orders", status: "paused", record: Progress(step: 0, brokers: [], note: ""))
            }
            // Another cluster, or a finished record for the same cluster, is fine.
            let other = try journal.createRun(cluster: "payments", status: "running", record: Progress(step: 0, brokers: [], note: ""), at: instant(1))
            let failed = try journal.createRun(cluster: "orders", status: "failed", record: Progress(step: 0, brokers: [], note: ""), at: instant(2))
            // A finished run cannot come back while another is active.
            #expect(throws: JournalError.runAlreadyActive(path: journal.path, cluster: "orders", activeID: first)) {
                try journal.updateRun(id: failed, status: "running", record: Progress(step: 0, brokers: [], note: ""))
            }
            #expect(try journal.runs(limit: 10).map(\.id) == [failed, other, first])
            #expect(try journal.runs(limit: 1).map(\.id) == [failed])
            #expect(try journal.runs(limit: 10, cluster: "orders").map(\.id) == [failed, first])
        }
    }

    @Test func updatingAnUnknownRunFails() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            #expect(throws: JournalError.unknownRun(path: journal.path, id: 42)) {
                try journal.updateRun(id: 42, status: "done", record: Progress(step: 0, brokers: [], note: ""))
            }
        }
    }

    @Test func aRecordOfAnotherShapeIsAClearError() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            let id = try journal.createRun(cluster: "orders", status: "done", record: ["unexpected": true])
            do {
                _ = try journal.run(id: id, as: Progress.self)
                Issue.record("decoded a record of the wrong shape")
            } catch let error as JournalError {
                guard case let .undecodableRow(path, table, rowID, _) = error else { Issue.record("\(error)"); return }
                #expect(path == journal.path && table == "cutover_run" && rowID == id)
                #expect(error.description.contains("row \(id) of table cutover_run"))
            }
        }
    }
}

@Suite struct HookRunTests {
    @Test func recordAndListByGeneration() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            try journal.append(state: vmState, actor: "t", reason: "2", serials: [:], at: instant(1))

            let notify = try journal.recordHook(generation: 2, kind: .notify, target: "192.0.2.53", exitCode: 0, output: "", at: instant(2))
            let flush = try journal.recordHook(generation: 2, kind: .hook, target: "unbound-control flush_zone kafka.example.",
                                               exitCode: 1, output: "error: connection refused", attempt: 1, at: instant(3))
            let retry = try journal.recordHook(generation: 2, kind: .hook, target: "unbound-control flush_zone kafka.example.",
                                               exitCode: 0, output: "ok", attempt: 2, at: instant(4))
            try journal.recordHook(generation: 1, kind: .discovery, target: "discovery/", exitCode: 0, output: "", at: instant(1))

            #expect(try journal.hookRuns(generation: 2) == [notify, flush, retry])
            #expect(flush == HookRun(id: 2, generation: 2, kind: .hook, target: "unbound-control flush_zone kafka.example.",
                                     exitCode: 1, output: "error: connection refused", attempt: 1, ranAt: instant(3)))
            #expect(try journal.hookRuns(generation: 1).map(\.kind) == [.discovery])
            #expect(try journal.hookRuns(generation: 3).isEmpty)
        }
    }

    @Test func failedHooksLeaveOutThoseARetryFixed() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            let old = try journal.recordHook(generation: 1, kind: .gate, target: "tcp 10.0.0.1:9092", exitCode: 1, output: "", at: instant(1))
            let fixed = try journal.recordHook(generation: 1, kind: .hook, target: "rndc flushname x", exitCode: 2, output: "", attempt: 1, at: instant(10))
            try journal.recordHook(generation: 1, kind: .hook, target: "rndc flushname x", exitCode: 0, output: "", attempt: 2, at: instant(11))
            let noReply = try journal.recordHook(generation: 1, kind: .notify, target: "192.0.2.53", exitCode: nil, output: "timed out", attempt: 3, at: instant(12))
            try journal.recordHook(generation: 1, kind: .notify, target: "192.0.2.54", exitCode: 0, output: "", at: instant(12))

            #expect(try journal.failedHooks(since: instant(5)) == [noReply])
            #expect(try journal.failedHooks(since: instant(5), includingRetried: true) == [fixed, noReply])
            #expect(try journal.failedHooks(since: instant(0)) == [old, noReply])
            #expect(try journal.failedHooks(since: instant(13)).isEmpty)
        }
    }

    @Test func outputIsCutToFourKiB() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            try journal.append(state: vmState, actor: "t", reason: "1", serials: [:], at: instant(0))
            // Multi-byte characters, so a cut at a fixed byte count would split one.
            let long = String(repeating: "é", count: 5000)
            let run = try journal.recordHook(generation: 1, kind: .hook, target: "noisy", exitCode: 0, output: long, at: instant(1))
            let stored = try #require(try journal.hookRuns(generation: 1).first)
            #expect(stored.output == run.output)
            #expect(stored.output.utf8.count <= HookRun.outputLimit)
            #expect(stored.output.utf8.count > HookRun.outputLimit - 40)
            let kept = stored.output.prefix { $0 == "é" }.count
            #expect(stored.output == String(repeating: "é", count: kept) + "\n[… \(10000 - kept * 2) more bytes]")

            let exact = String(repeating: "x", count: HookRun.outputLimit)
            #expect(try journal.recordHook(generation: 1, kind: .hook, target: "exact", exitCode: 0, output: exact).output == exact)
        }
    }

    @Test func aHookForAnUnknownGenerationIsRefused() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(directory: dir.path)
            #expect(throws: JournalError.unknownGeneration(path: journal.path, number: 1)) {
                try journal.recordHook(generation: 1, kind: .notify, target: "x", exitCode: 0, output: "")
            }
        }
    }
}
