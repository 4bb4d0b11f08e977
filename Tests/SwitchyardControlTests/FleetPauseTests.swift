import Foundation
import Testing
import SwitchyardControl

/// Pausing a fleet's run from any server: where the pause goes, what happens to a run whose
/// server died, and the run as it is marked paused on request.
@Suite("Fleet pause")
struct FleetPauseTests {
    struct RouteCase: CustomTestStringConvertible, Sendable {
        var label: String
        var runsHere = false
        var status: String?
        var lease: (owner: String, remaining: Double)?
        var expected: FleetPause.Route
        var testDescription: String { label }
    }

    static let routes: [RouteCase] = [
        RouteCase(label: "this server runs it: the local flag, as with one server", runsHere: true, status: "running",
                  lease: ("ns1", 9), expected: .here),
        RouteCase(label: "another server's live lease: ask that server through the journal", status: "running",
                  lease: ("ns2", 4.5), expected: .askOwner("ns2")),
        RouteCase(label: "the lease expired: its server died, mark it paused here", status: "running",
                  lease: ("ns2", -0.2), expected: .orphaned(lastOwner: "ns2")),
        RouteCase(label: "the lease expires right now: nobody will renew it", status: "running",
                  lease: ("ns2", 0), expected: .orphaned(lastOwner: "ns2")),
        RouteCase(label: "running without a lease (released without journaling its end)", status: "running",
                  lease: nil, expected: .orphaned(lastOwner: nil)),
        RouteCase(label: "this server's own lease, but it does not execute the run: left over, mark it paused here", status: "running",
                  lease: ("ns1", 8), expected: .orphaned(lastOwner: "ns1")),
        RouteCase(label: "already paused: nothing to pause", status: "paused", lease: nil, expected: .notRunning),
        RouteCase(label: "completed, a stale lease notwithstanding", status: "completed", lease: ("ns2", 5), expected: .notRunning),
        RouteCase(label: "failed", status: "failed", expected: .notRunning),
        RouteCase(label: "no run at all", status: nil, expected: .notRunning),
    ]

    @Test("where a pause asked of one server goes", arguments: routes)
    func route(_ c: RouteCase) {
        #expect(FleetPause.route(runsHere: c.runsHere, status: c.status, lease: c.lease, me: "ns1") == c.expected)
    }

    @Test("a run whose server died: a pending pause wins over takeover, and holds with --no-takeover")
    func orphan() {
        #expect(FleetPause.orphanAction(pauseRequested: true, takeOver: true) == .markPaused)
        #expect(FleetPause.orphanAction(pauseRequested: true, takeOver: false) == .markPaused)
        #expect(FleetPause.orphanAction(pauseRequested: false, takeOver: true) == .takeOver)
        #expect(FleetPause.orphanAction(pauseRequested: false, takeOver: false) == .leave)
    }

    static let request = PauseRequest(runID: 7, requestedBy: "cli:alice", requestedVia: "ns2",
                                      requestedAt: Date(timeIntervalSince1970: 1_796_000_000))

    @Test("the request names who asked, through which server, and when")
    func requestText() {
        #expect("\(Self.request)" == "pause requested by cli:alice through server ns2 at 2026-11-30T00:53:20Z")
    }

    @Test("the reply to a pause asked of another server names it, its admin endpoint and what happens next")
    func requestedMessage() {
        #expect(FleetPause.requestedMessage(runID: 7, cluster: "orders", owner: "ns1", ownerAdmin: "192.0.2.1:8053", via: "ns2")
            == "pause of run 7 (cluster orders) requested of server ns1 (admin 192.0.2.1:8053), which runs it; recorded in the journal "
            + "through server ns2. It stops at its next step boundary (`switchyard cutover status orders` shows it, "
            + "or `switchyard cutover pause orders --wait` waits for it)")
        #expect(FleetPause.requestedMessage(runID: 7, cluster: "orders", owner: "ns1", ownerAdmin: nil, via: "ns2")
            .hasPrefix("pause of run 7 (cluster orders) requested of server ns1, which runs it;"))
    }

    @Test("a run marked paused on request where its dead server left it resumes like an interrupted run")
    func pausedWhereLeft() throws {
        let plan = try RunnerTests.plan()
        var progress = try CutoverRunner.begin(runID: "7", plan: plan, currentState: RunnerTests.start, currentGeneration: 1)
        // Its server died after committing step 2 (generation 3), before verifying it.
        progress.generations = [0: 2, 1: 3]
        progress.nextStep = 2
        progress.unsettledStep = 1
        progress.message = "step 2/4 (move broker-1, broker-2 to pod): committed as generation 3; verifying"

        let paused = progress.paused(honouring: Self.request, lastOwner: "ns1")
        #expect(paused.status == .paused)
        #expect(paused.message == "paused with 2/4 steps done (pause requested by cli:alice through server ns2 at 2026-11-30T00:53:20Z); "
            + "its server ns1 had stopped renewing its lease, so it was marked paused where the journal left it; "
            + "`switchyard cutover resume orders` continues from there")
        // Nothing else changes: the journal's record of what was done stands.
        var same = paused
        same.status = progress.status
        same.message = progress.message
        #expect(same == progress)

        // `resume` verifies the committed step again before going on, as after a crash.
        let resumed = try CutoverRunner.resume(progress: paused, currentState: plan.steps[1].state, currentGeneration: 3)
        #expect(resumed.status == .running)
        #expect(resumed.nextStep == 2)
        #expect(resumed.unsettledStep == 1)
        #expect(progress.paused(honouring: Self.request, lastOwner: nil).message.contains("); no server held its lease, so it was marked paused"))
    }
}
