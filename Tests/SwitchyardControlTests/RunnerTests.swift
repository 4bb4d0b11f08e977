import Foundation
import Testing
import SwitchyardControl
import SwitchyardInventory

@Suite("Cutover runner")
struct RunnerTests {
    static let inventory = Fixture.inventory(Fixture.orders(brokers: 2))
    static let start = Fixture.state(inventory)

    /// 4 steps: lower TTLs; move brokers 1 and 2 (wait 60); bootstrap to pod (wait 30); restore TTLs (wait 30).
    static func plan(ramp: [UInt8] = [100], batch: Int = 2, dwell: UInt32 = 10) throws -> CutoverPlan {
        try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: ramp, batch: batch, dwellSeconds: dwell,
                                                 gateCommands: ["kcheck {broker} {target}"], drainCommand: "drain {old_target}"),
                         inventory: inventory, state: start)
    }

    func begin(_ plan: CutoverPlan, _ fake: FakeEffects) async throws -> CutoverProgress {
        try CutoverRunner.begin(runID: "7", plan: plan, currentState: await fake.state, currentGeneration: await fake.latest.number)
    }

    @Test("the happy path: exact effect sequence, waits on the fake clock, TTLs restored")
    func happyPath() async throws {
        let plan = try Self.plan()
        let fake = FakeEffects(state: Self.start)
        let runner = CutoverRunner(effects: fake, sliceSeconds: 30)
        let done = await runner.run(try await begin(plan, fake))

        #expect(done.status == .completed)
        #expect(done.message == "completed 4 steps; live generation 5")
        #expect(done.generations == [0: 2, 1: 3, 2: 4, 3: 5])
        #expect(done.startedFromGeneration == 1)
        #expect(await fake.state == plan.finalState)
        #expect(await fake.state.ttls.isEmpty)
        // Waits count from when the previous step was first served, so the drain wait (30 s
        // after step 2) and the dwell (10 s) use up step 3's 30 s wait, and step 3's dwell
        // 10 of step 4's.
        #expect(await fake.clock <= plan.totalWaitSeconds)
        #expect(await fake.clock == 60 + 30 + 10 + 10 + 20)
        // The drain ran 30 s (max(TTL 5, JVM 30)) after step 2 was first served at 60.
        #expect(await fake.drainClocks == [90, 90])
        #expect(done.drains?.map(\.broker) == [1, 2])
        #expect(done.drains?.allSatisfy { $0.succeeded && $0.generation == 3 && $0.step == 1 } == true)
        #expect(await fake.lastSaved == done)
        #expect(await fake.commits.map(\.actor) == Array(repeating: "cutover:7", count: 4))

        let old = "verify bootstrap 10.0.1.11,10.0.1.12; broker-1 10.0.1.11; broker-2 10.0.1.12"
        let new = "verify bootstrap 10.8.1.11,10.8.1.12; broker-1 10.8.1.11; broker-2 10.8.1.12"
        #expect(await fake.calls == [
            "pause?",
            "save running next=0 committing=0",
            "commit #2: step 1/4 (lower the TTLs of 3 names to 5 s)",
            "save running next=1 unsettled=0",
            old,
            "invalidate #2",
            "save running next=1",
            "pause?",
            "sleep 30", "pause?", "sleep 30", "pause?",
            "gate broker 1: TCP connect to 10.8.1.11:9092",
            "gate broker 1: command `kcheck 1 10.8.1.11`",
            "gate broker 2: TCP connect to 10.8.1.12:9092",
            "gate broker 2: command `kcheck 2 10.8.1.12`",
            "save running next=1 committing=1",
            "commit #3: step 2/4 (move broker-1, broker-2 to pod)",
            "save running next=2 unsettled=1",
            new,
            "invalidate #3",
            "save running next=2 unsettled=1",
            "sleep 30", "pause?",
            "drain broker 1",
            "drain broker 2",
            "save running next=2",
            "sleep 10", "pause?",
            "pause?",
            "gate broker 1: TCP connect to 10.8.1.11:9092",
            "gate broker 2: TCP connect to 10.8.1.12:9092",
            "save running next=2 committing=2",
            "commit #4: step 3/4 (bootstrap weights pod=100,vm=0 (ramp 100%))",
            "save running next=3 unsettled=2",
            new,
            "invalidate #4",
            "save running next=3",
            "sleep 10", "pause?",
            "pause?",
            "sleep 20", "pause?",
            "save running next=3 committing=3",
            "commit #5: step 4/4 (restore the TTLs of 3 names)",
            "save running next=4 unsettled=3",
            new,
            "invalidate #5",
            "save running next=4",
            "save completed next=4",
        ])
    }

    @Test("a failing gate at step k stops before committing it, at step k-1's state", arguments: [1, 2])
    func failingGate(_ k: Int) async throws {
        // batch 1: steps are lower, move 1, move 2, bootstrap, restore.
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.failingGateTargets = [Fixture.pod(k)] }
        let done = await CutoverRunner(effects: fake).run(try await begin(plan, fake))

        #expect(done.status == .failed)
        #expect(done.nextStep == k)
        #expect(await fake.commits.count == k)
        #expect(await fake.state == plan.steps[k - 1].state)
        #expect(done.message.contains("gate failed before step \(k + 1)/5 (move broker-\(k) to pod): broker \(k): TCP connect to \(Fixture.pod(k)):9092: connection refused"),
                "\(done.message)")
        #expect(done.message.contains("stays at step \(k)'s state (generation \(k + 1))"), "\(done.message)")
        #expect(await fake.lastSaved == done)
    }

    @Test("a failing verify rolls the step back as a new generation, verifies it and stops")
    func failingVerify() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.failingVerifies = [plan.verify(after: 2)] }
        let done = await CutoverRunner(effects: fake).run(try await begin(plan, fake))

        #expect(done.status == .failed)
        #expect(done.nextStep == 2)
        #expect(done.generations == [0: 2, 1: 3])
        let commits = await fake.commits
        #expect(commits.map(\.number) == [2, 3, 4, 5])
        #expect(commits[2].state == plan.steps[2].state)
        #expect(commits[3].state == plan.steps[1].state)
        #expect(commits[3].reason == "roll back step 3/5 (move broker-2 to pod): verify failed")
        #expect(await fake.state == plan.steps[1].state)
        #expect(done.message.contains("verify failed after step 3/5 (move broker-2 to pod): 127.0.0.1:53 answered the old target"), "\(done.message)")
        #expect(done.message.contains("rolled back to the state before it as generation 5, verified"), "\(done.message)")
        let calls = await fake.calls
        #expect(calls.suffix(5) == [
            "save failed next=2",
            "commit #5: roll back step 3/5 (move broker-2 to pod): verify failed",
            // Back at step 2's state: broker 1 in pod, bootstrap still all vm (broker 2).
            "verify bootstrap 10.0.1.12; broker-1 10.8.1.11; broker-2 10.0.1.12",
            "invalidate #5",
            "save failed next=2",
        ])

        // Fixed: resume retries the step from its gates and finishes.
        let resumed = try CutoverRunner.resume(progress: done, current: await fake.latest)
        #expect(resumed.nextStep == 2 && resumed.unsettledStep == nil)
        let finished = await CutoverRunner(effects: fake).run(resumed)
        #expect(finished.status == .completed)
        #expect(await fake.state == plan.finalState)
    }

    @Test("pause stops at a step boundary; resume continues exactly where it stopped")
    func pauseAndResume() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.pauseAfterCommits = 2 }
        let paused = await CutoverRunner(effects: fake).run(try await begin(plan, fake))

        #expect(paused.status == .paused)
        #expect(paused.nextStep == 2)
        // The pause came while waiting for the old target's caches to expire: not drained yet.
        #expect(paused.message.hasPrefix("paused before draining after step 2/5 (move broker-1 to pod)"), "\(paused.message)")
        #expect(paused.unsettledStep == 1)
        #expect(await fake.calls.contains("drain broker 1") == false)
        #expect(await fake.state == plan.steps[1].state)
        #expect(await fake.lastSaved == paused)

        await fake.script { $0.pauseAfterCommits = nil }
        let before = await fake.calls.count
        let resumed = try CutoverRunner.resume(progress: paused, current: await fake.latest)
        let done = await CutoverRunner(effects: fake).run(resumed)
        #expect(done.status == .completed)
        #expect(await fake.commits.map(\.state) == plan.steps.map(\.state))
        let after = await fake.calls.dropFirst(before)
        // Resuming settles step 2 (verify, the rest of the drain wait, the drain), then goes on
        // with step 3; nothing of steps 1–2 is committed again.
        #expect(after.first == "verify bootstrap 10.0.1.12; broker-1 10.8.1.11; broker-2 10.0.1.12")
        #expect(after.filter { $0 == "drain broker 1" }.count == 1)
        #expect(after.first { $0.hasPrefix("commit") } == "commit #4: step 3/5 (move broker-2 to pod)")
        let served = try #require(paused.servedAt?[1])
        #expect(Double(try #require(await fake.drainClocks.first)) >= served.timeIntervalSince1970 + 30)
    }

    @Test("a pause during a long wait stops before the step's gates")
    func pauseDuringWait() async throws {
        let plan = try Self.plan()
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.pauseAtClock = 20 }
        let paused = await CutoverRunner(effects: fake, sliceSeconds: 10).run(try await begin(plan, fake))
        #expect(paused.status == .paused)
        #expect(paused.nextStep == 1)
        #expect(await fake.clock == 20)
        #expect(await fake.calls.contains { $0.hasPrefix("gate") } == false)
        #expect(paused.message.hasPrefix("paused while waiting before step 2/4"))
    }

    @Test("a crash inside commit: resume finds the step committed and does not commit it twice")
    func crashAfterCommitApplied() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.crashAtCommit = (number: 3, applied: true) }
        _ = await CutoverRunner(effects: fake).run(try await begin(plan, fake))

        // What the journal holds after the "crash": progress saved just before commit 3.
        let saved = try #require(await fake.lastSaved)
        #expect(saved.status == .failed)
        #expect(saved.committingStep == 2)
        #expect(saved.nextStep == 2)
        let journal = await fake.latest
        #expect(journal.state == plan.steps[2].state)

        let resumed = try CutoverRunner.resume(progress: saved, current: journal)
        #expect(resumed.nextStep == 3)
        #expect(resumed.unsettledStep == 2)
        #expect(resumed.committingStep == nil)
        #expect(resumed.generations[2] == journal.number)
        #expect(resumed.message == "step 3/5 was committed as generation 4 before the interruption; verifying it again")

        let before = await fake.calls.count
        let done = await CutoverRunner(effects: fake).run(resumed, current: journal)
        #expect(done.status == .completed)
        #expect(await fake.commits.map(\.state) == plan.steps.map(\.state))
        let after = Array(await fake.calls.dropFirst(before))
        // When the step was first served is unknown after the crash: the drain waits in full.
        #expect(Array(after.prefix(4)) == [
            "verify bootstrap 10.8.1.11,10.8.1.12; broker-1 10.8.1.11; broker-2 10.8.1.12",
            "invalidate #4",
            "save running next=3 unsettled=2",
            "sleep 5",
        ])
        #expect(after.filter { $0 == "drain broker 2" }.count == 1)
    }

    @Test("a crash in the save after a commit is found the same way")
    func crashOnSaveAfterCommit() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.crashOnSaveAfterCommit = 2 }
        let returned = await CutoverRunner(effects: fake).run(try await begin(plan, fake))
        #expect(returned.status == .failed)
        #expect(returned.message.contains("could not journal"), "\(returned.message)")

        let saved = try #require(await fake.lastSaved)
        #expect(saved.committingStep == 1 && saved.nextStep == 1)
        let resumed = try CutoverRunner.resume(progress: saved, current: await fake.latest)
        #expect(resumed.nextStep == 2 && resumed.unsettledStep == 1)
        let done = await CutoverRunner(effects: fake).run(resumed, current: await fake.latest)
        #expect(done.status == .completed)
        #expect(await fake.commits.count == plan.steps.count)
    }

    @Test("a commit that failed before the journal took it is run again")
    func crashBeforeCommitApplied() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.crashAtCommit = (number: 2, applied: false) }
        let stopped = await CutoverRunner(effects: fake).run(try await begin(plan, fake))
        #expect(stopped.message.contains("the commit failed: simulated crash"), "\(stopped.message)")
        let saved = try #require(await fake.lastSaved)
        let resumed = try CutoverRunner.resume(progress: saved, current: await fake.latest)
        #expect(resumed.nextStep == 1 && resumed.unsettledStep == nil)
        #expect(resumed.message == "resuming at step 2/5")
        let done = await CutoverRunner(effects: fake).run(resumed)
        #expect(done.status == .completed)
        #expect(await fake.commits.map(\.state) == plan.steps.map(\.state))
    }

    @Test("resume refuses when the cluster changed outside the run, or the run is finished")
    func resumeRefusals() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.pauseAfterCommits = 1 }
        let paused = await CutoverRunner(effects: fake).run(try await begin(plan, fake))
        var meddled = await fake.state
        meddled.brokerPools[Fixture.broker(2)] = "pod"
        meddled.brokerPools[Fixture.broker(1)] = "vm"
        #expect {
            try CutoverRunner.resume(progress: paused, currentState: meddled, currentGeneration: 9)
        } throws: { error in
            "\(error)".contains("cluster orders no longer serves step 1's state: broker-2.orders.kafka.example. changed outside cutover 7")
        }
        // Other clusters' names are not the run's business.
        var elsewhere = await fake.state
        elsewhere.weights[Fixture.registry] = ["vm": 1, "pod": 1]
        #expect(throws: Never.self) { try CutoverRunner.resume(progress: paused, currentState: elsewhere, currentGeneration: 9) }

        var finished = paused
        finished.status = .completed
        #expect(throws: ControlError.self) { try CutoverRunner.resume(progress: finished, currentState: elsewhere) }
        #expect(throws: ControlError.self) { try CutoverRunner.begin(runID: "8", plan: plan, currentState: meddled, currentGeneration: 9) }
    }

    @Test("a failed drain stops after the step, which stays committed; failed hooks only get reported")
    func drainAndHooks() async throws {
        let plan = try Self.plan(batch: 1)
        let fake = FakeEffects(state: Self.start)
        await fake.script { $0.failingDrains = [1]; $0.failingHook = true }
        let stopped = await CutoverRunner(effects: fake).run(try await begin(plan, fake))
        #expect(stopped.status == .failed)
        #expect(stopped.nextStep == 2)
        #expect(await fake.state == plan.steps[1].state)
        #expect(stopped.message.contains("step 2/5 (move broker-1 to pod) is committed and verified, but draining failed: step 2 broker 1: `drain 10.0.1.11` exit 3 after 0.5 s: exit 3"),
                "\(stopped.message)")
        #expect(stopped.hookFailures == ["rndc flush: exit 1 after 3 tries", "rndc flush: exit 1 after 3 tries"])

        await fake.script { $0.failingDrains = [] }
        let done = await CutoverRunner(effects: fake).run(try CutoverRunner.resume(progress: stopped, current: await fake.latest))
        #expect(done.status == .completed)
        #expect(done.hookFailures.count == 5)
        #expect(done.message.contains("5 invalidation hook failure(s)"))
        #expect(await fake.calls.filter { $0 == "drain broker 1" }.count == 1)
    }

    @Test("a rollback plan reverses a completed cutover through the same runner")
    func rollbackReverses() async throws {
        let plan = try Self.plan(ramp: [50, 100], batch: 1)
        let fake = FakeEffects(state: Self.start)
        let done = await CutoverRunner(effects: fake).run(try await begin(plan, fake))
        #expect(done.status == .completed)

        let back = try Planner.rollback(from: await fake.state, to: Self.start, inventory: Self.inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: "", ramp: [50, 100], batch: 1))
        #expect(back.purpose == .rollback)
        #expect(back.steps.map(\.kind) == [.lowerTTL, .moveBrokers, .moveBrokers, .setBootstrapWeights, .setBootstrapWeights, .restoreTTL])
        #expect(back.steps[1].gates == [GateCheck(check: .tcpConnect(target: Fixture.vm(1), port: 9092), name: Fixture.broker(1), broker: 1)])
        #expect(back.steps[3].state.weights[Fixture.bootstrap] == ["vm": 50, "pod": 50])
        #expect(back.steps[3].title == "bootstrap weights pod=50,vm=50 (ramp 50% back)")
        #expect(back.steps[1].waitBefore == 60)
        #expect(back.finalState == Self.start)

        let undone = await CutoverRunner(effects: fake).run(try await begin(back, fake))
        #expect(undone.status == .completed)
        #expect(await fake.state == Self.start)
    }

    @Test("rolling back a half-done cutover skips lowering TTLs that are already low")
    func rollbackMidway() throws {
        let plan = try Self.plan(batch: 1)
        let back = try Planner.rollback(from: plan.steps[1].state, to: Self.start, inventory: Self.inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: ""))
        #expect(back.steps.map(\.kind) == [.moveBrokers, .restoreTTL])
        #expect(back.steps[0].waitBefore == 0)
        #expect(back.finalState == Self.start)
        #expect(throws: ControlError.self) {
            try Planner.rollback(from: Self.start, to: Self.start, inventory: Self.inventory, options: CutoverOptions(cluster: "orders", toPool: ""))
        }
    }

    @Test("progress survives JSON")
    func progressCodable() async throws {
        let plan = try Self.plan()
        let fake = FakeEffects(state: Self.start)
        let done = await CutoverRunner(effects: fake).run(try await begin(plan, fake))
        let data = try JSONEncoder().encode(done)
        #expect(try JSONDecoder().decode(CutoverProgress.self, from: data) == done)
    }
}
