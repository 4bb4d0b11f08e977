import Foundation
import Testing
import SwitchyardControl

/// The CLI rewords the admin API's errors about a field so they name the flag its user typed.
@Suite("CLI flags for API fields")
struct CLIFlagsTests {
    @Test("every field the CLI sets from a flag maps to that flag, wherever the body nests it", arguments: [
        ("ramp[0]", "--ramp"), ("options.ramp[2]", "--ramp"), ("options.batch", "--batch"), ("cutoverTTL", "--cutover-ttl"),
        ("options.jvmCacheSeconds", "--jvm-cache"), ("resolverFloorSeconds", "--resolver-floor"), ("dwellSeconds", "--dwell"),
        ("verifyTimeoutSeconds", "--verify-timeout"), ("drainAfterSeconds", "--drain-after"), ("drainTimeoutSeconds", "--drain-timeout"),
        ("maxUnderReplicated", "--max-under-replicated"), ("brokers[1]", "--brokers"), ("toPool", "--to"),
        ("rollback.toGeneration", "--to-generation"), ("toGeneration", "--to-generation"), ("rollback.run", "--run"),
        ("rollback.steps", "--steps"), ("rollback.options.batch", "--batch"), ("expectedGeneration", "--expect-generation"),
        ("request.ttl.ttl", "--ttl"), ("request.weights.weights.pod", "--weights"), ("request.broker.id", "broker-<id>"),
        ("request.broker.pool", "--to"),
    ])
    func mapping(field: String, flag: String) {
        #expect(CLIFlags.flag(forField: field) == flag)
    }

    @Test("fields the CLI never sets from a flag have none")
    func unmapped() {
        #expect(CLIFlags.flag(forField: "actor") == nil)
        #expect(CLIFlags.flag(forField: "request.flip") == nil)
    }

    @Test("an API error is reworded to the flag; a list element keeps its position")
    func reword() {
        #expect(CLIFlags.reword("options.ramp[0]: ramp percentage must be a whole number from 1 to 100, not 0", field: "options.ramp[0]")
                == "--ramp, value 1: ramp percentage must be a whole number from 1 to 100, not 0")
        #expect(CLIFlags.reword("rollback.toGeneration: a generation number must be a whole number from 1 to 9007199254740992, not 0",
                                field: "rollback.toGeneration")
                == "--to-generation: a generation number must be a whole number from 1 to 9007199254740992, not 0")
        // Not about that field, or no flag for it: as the server said it.
        #expect(CLIFlags.reword("something else", field: "batch") == "something else")
        #expect(CLIFlags.reword("actor: expected a string", field: "actor") == "actor: expected a string")
    }

    @Test("the reply to a bad request carries the field the message starts with")
    func throughDecoding() throws {
        let body = Data(#"{"options": {"cluster": "o", "toPool": "pod", "verifyTimeoutSeconds": 0}}"#.utf8)
        let error = #expect(throws: RequestError.self) {
            try RequestError.decode(AdminAPI.RunBody.self, from: body, decoder: AdminAPI.requestDecoder())
        }
        let field = try #require(error?.field)
        #expect(CLIFlags.reword(try #require(error?.description), field: field)
                == "--verify-timeout: verify timeout seconds must be a whole number from 1 to 2147483647, not 0")
    }
}
