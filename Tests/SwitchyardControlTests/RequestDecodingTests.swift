import Foundation
import Testing
import SwitchyardControl

/// Request bodies of the admin API: the shapes the CLI sends still decode (and round-trip),
/// and every bad body gets a ``RequestError`` that names the field and says what is allowed.
@Suite("Request decoding")
struct RequestDecodingTests {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws(RequestError) -> T {
        try RequestError.decode(T.self, from: Data(json.utf8), decoder: AdminAPI.requestDecoder())
    }

    @Test("the shapes the CLI sends round-trip", arguments: [
        ShiftRequest.broker(cluster: "orders", id: 2, pool: "pod"),
        .weights(name: "bootstrap.orders", weights: ["vm": 75, "pod": 25]),
        .ttl(name: "bootstrap.orders", ttl: 30),
        .ttl(name: "bootstrap.orders", ttl: nil),
    ])
    func shiftRoundTrip(request: ShiftRequest) throws {
        let body = AdminAPI.ShiftBody(request: request, actor: "cli:me", reason: "test")
        let data = try AdminAPI.encoder().encode(body)
        let back = try RequestError.decode(AdminAPI.ShiftBody.self, from: data, decoder: AdminAPI.requestDecoder())
        #expect(back.request == request)
    }

    @Test("cutover options round-trip, and left-out fields take the defaults")
    func optionsRoundTrip() throws {
        let options = CutoverOptions(cluster: "orders", toPool: "pod", brokers: [1, 3], ramp: [10, 50, 100], batch: 2,
                                     cutoverTTL: 5, dwellSeconds: 3, gateCommands: ["true"], drainCommand: "echo")
        let data = try AdminAPI.encoder().encode(AdminAPI.RunBody(options: options))
        let back = try RequestError.decode(AdminAPI.RunBody.self, from: data, decoder: AdminAPI.requestDecoder())
        #expect(back.options == options)
        let minimal = try Self.decode(CutoverOptions.self, #"{"cluster": "orders", "toPool": "pod"}"#)
        #expect(minimal == CutoverOptions(cluster: "orders", toPool: "pod"))
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var label: String
        var json: String
        var says: [String]
        var status = 400
        var testDescription: String { label }
    }

    static let shifts: [Bad] = [
        Bad(label: "weight -1", json: #"{"request": {"weights": {"name": "b", "weights": {"pod": -1}}}, "actor": "a", "reason": "r"}"#,
            says: ["request.weights.weights.pod: weight must be a whole number from 0 to 255, not -1"]),
        Bad(label: "weight 300", json: #"{"request": {"weights": {"name": "b", "weights": {"vm": 1, "pod": 300}}}, "actor": "a", "reason": "r"}"#,
            says: ["request.weights.weights.pod:", "from 0 to 255"]),
        Bad(label: "weight as text", json: #"{"request": {"weights": {"name": "b", "weights": {"pod": "x"}}}, "actor": "a", "reason": "r"}"#,
            says: ["request.weights.weights.pod: expected a number, found a string"]),
        Bad(label: "TTL too big", json: #"{"request": {"ttl": {"name": "b", "ttl": 2147483648}}, "actor": "a", "reason": "r"}"#,
            says: ["request.ttl.ttl: TTL must be a whole number from 0 to 2147483647"]),
        Bad(label: "unknown kind", json: #"{"request": {"flip": {}}, "actor": "a", "reason": "r"}"#,
            says: ["request: expected an object with one of the keys broker, weights, ttl, found the keys flip"]),
        Bad(label: "empty request", json: #"{"request": {}, "actor": "a", "reason": "r"}"#,
            says: ["one of the keys broker, weights, ttl, found an empty object"]),
        Bad(label: "request is a list", json: #"{"request": [], "actor": "a", "reason": "r"}"#,
            says: ["request: expected an object, found a list"]),
        Bad(label: "missing pool", json: #"{"request": {"broker": {"cluster": "orders", "id": 1}}, "actor": "a", "reason": "r"}"#,
            says: ["request.broker.pool: missing"]),
        Bad(label: "null actor", json: #"{"request": {"broker": {"cluster": "orders", "id": 1, "pool": "pod"}}, "actor": null, "reason": "r"}"#,
            says: ["actor: expected a string, found null"]),
        Bad(label: "misspelt top-level field", json: #"{"request": {"ttl": {"name": "b"}}, "actor": "a", "reason": "r", "expectGeneration": 4}"#,
            says: ["expectGeneration: unknown field; the fields here are request, actor, reason, expectedGeneration"]),
        Bad(label: "misspelt broker field", json: #"{"request": {"broker": {"cluster": "orders", "id": 1, "pool": "pod", "pools": "x"}}, "actor": "a", "reason": "r"}"#,
            says: ["request.broker.pools: unknown field; the fields here are cluster, id, pool"]),
        Bad(label: "misspelt ttl field", json: #"{"request": {"ttl": {"name": "b", "tll": 30}}, "actor": "a", "reason": "r"}"#,
            says: ["request.ttl.tll: unknown field"]),
        Bad(label: "malformed", json: #"{"request": "#, says: ["the request body is not valid JSON"]),
        Bad(label: "empty body", json: "", says: ["the request body is empty"]),
    ]

    @Test("bad shift bodies name the field and the range", arguments: shifts)
    func badShift(_ bad: Bad) {
        let error = #expect(throws: RequestError.self) { try Self.decode(AdminAPI.ShiftBody.self, bad.json) }
        for piece in bad.says { #expect(error?.description.contains(piece) == true, "\(error?.description ?? "") lacks \(piece)") }
        #expect(error?.httpStatus == bad.status)
        for word in ["ShiftRequest", "UInt8", "Dictionary", "CodingKeys", "not valid JSON."] {
            #expect(error?.description.contains(word) == false)
        }
    }

    static let runs: [Bad] = [
        Bad(label: "ramp 0", json: #"{"options": {"cluster": "o", "toPool": "pod", "ramp": [0, 100]}}"#,
            says: ["options.ramp[0]: ramp percentage must be a whole number from 1 to 100, not 0"]),
        Bad(label: "batch 0", json: #"{"options": {"cluster": "o", "toPool": "pod", "batch": 0}}"#,
            says: ["options.batch: batch (brokers per step) must be a whole number from 1"]),
        Bad(label: "broker id fraction", json: #"{"options": {"cluster": "o", "toPool": "pod", "brokers": [1, 2.5]}}"#,
            says: ["options.brokers[1]: broker id must be a whole number"]),
        Bad(label: "neither", json: "{}", says: ["one of the keys options (a cutover) or rollback, not neither"]),
        Bad(label: "both", json: #"{"options": {"cluster": "o", "toPool": "pod"}, "rollback": {"cluster": "o"}}"#,
            says: ["not both"]),
        Bad(label: "misspelt option", json: #"{"options": {"cluster": "o", "toPool": "pod", "rmap": [10, 100]}}"#,
            says: ["options.rmap: unknown field; the fields here are cluster, toPool, brokers, ramp"]),
        Bad(label: "misspelt run key", json: #"{"option": {"cluster": "o", "toPool": "pod"}}"#,
            says: ["option: unknown field; the fields here are options, rollback"]),
        Bad(label: "misspelt rollback field", json: #"{"rollback": {"cluster": "o", "step": 2}}"#,
            says: ["rollback.step: unknown field"]),
        Bad(label: "rollback steps 0", json: #"{"rollback": {"cluster": "o", "steps": 0}}"#,
            says: ["rollback.steps: the number of generations to undo must be a whole number from 1"]),
        Bad(label: "rollback to generation 0", json: #"{"rollback": {"cluster": "o", "toGeneration": 0}}"#,
            says: ["rollback.toGeneration: a generation number must be a whole number from 1"]),
    ]

    @Test("bad run bodies name the field and the range", arguments: runs)
    func badRun(_ bad: Bad) {
        let error = #expect(throws: RequestError.self) { try Self.decode(AdminAPI.RunBody.self, bad.json) }
        for piece in bad.says { #expect(error?.description.contains(piece) == true, "\(error?.description ?? "") lacks \(piece)") }
    }

    @Test("an error about one field carries its JSON path apart, so the CLI can name its own flag", arguments: [
        (#"{"options": {"cluster": "o", "toPool": "pod", "ramp": [0, 100]}}"#, "options.ramp[0]"),
        (#"{"options": {"cluster": "o", "toPool": "pod", "batch": 0}}"#, "options.batch"),
        (#"{"rollback": {"cluster": "o", "toGeneration": 0}}"#, "rollback.toGeneration"),
        (#"{"options": {"cluster": "o"}}"#, "options.toPool"),
    ])
    func fieldApart(json: String, field: String) {
        let error = #expect(throws: RequestError.self) { try Self.decode(AdminAPI.RunBody.self, json) }
        #expect(error?.field == field)
        #expect(error?.description.hasPrefix(field + ": ") == true, "\(error?.description ?? "")")
        // The body as a whole is no field.
        let whole = #expect(throws: RequestError.self) { try Self.decode(AdminAPI.RunBody.self, "{}") }
        #expect(whole?.field == nil)
    }

    @Test("a number too big for a field decoded by Foundation is told apart from malformed JSON")
    func foundationNumberMisfit() throws {
        struct Small: Decodable { var n: UInt8 }
        let misfit = #expect(throws: RequestError.self) { try Self.decode(Small.self, #"{"n": 256}"#) }
        #expect(misfit?.description.contains("does not fit its field") == true)
    }

    @Test("outside request bodies unknown keys are skipped: a journal written by a newer version still reads")
    func lenientOutsideRequests() throws {
        let json = #"{"cluster": "o", "toPool": "pod", "optionFromTheFuture": 1}"#
        let options = try JSONDecoder().decode(CutoverOptions.self, from: Data(json.utf8))
        #expect(options == CutoverOptions(cluster: "o", toPool: "pod"))
        #expect(try AdminAPI.decoder().decode(CutoverOptions.self, from: Data(json.utf8)) == options)
        let cluster = #expect(throws: RequestError.self) { try Self.decode(AdminAPI.ClusterBody.self, #"{"cluster": "o", "clusterr": "p"}"#) }
        #expect(cluster?.description == "clusterr: unknown field; the fields here are cluster")
    }

    @Test("a pause body: who asks, or nothing; a misspelt field is refused")
    func pauseBody() throws {
        #expect(try Self.decode(AdminAPI.PauseBody.self, #"{"actor": "cli:alice"}"#).actor == "cli:alice")
        #expect(try Self.decode(AdminAPI.PauseBody.self, "{}").actor == nil)
        let typo = #expect(throws: RequestError.self) { try Self.decode(AdminAPI.PauseBody.self, #"{"actr": "cli:alice"}"#) }
        #expect(typo?.description == "actr: unknown field; the fields here are actor")
    }

    @Test("a run's status from an older server (no fleet fields) still decodes")
    func runStatusWithoutFleetFields() throws {
        let json = #"{"id": 7, "cluster": "orders", "status": "running", "active": true}"#
        let status = try AdminAPI.decoder().decode(AdminAPI.RunStatus.self, from: Data(json.utf8))
        #expect(status.runningOn == nil && status.pauseRequest == nil && status.message == nil)
    }

    @Test("conflicts and body size report their own status")
    func statuses() {
        #expect(ControlConflict("a run is already active for cluster orders", remedy: "wait").httpStatus == 409)
        #expect(RequestError.tooLarge(50 << 20).httpStatus == 413)
        #expect(RequestError.tooLarge(nil).description.contains("1048576 bytes"))
    }
}
