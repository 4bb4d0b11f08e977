import Testing
import SwitchyardControl

@Suite("Cutover options")
struct CutoverOptionsTests {
    @Test("--brokers takes every Kafka node id, 0 included")
    func brokerIDs() throws {
        #expect(try CutoverOptions.parseBrokers("0,3,2147483647") == [0, 3, 2_147_483_647])
    }

    @Test("--brokers refuses what is not a node id", arguments: ["-1", "2147483648", "x", "1,,3", ""])
    func badBrokerIDs(text: String) {
        #expect(throws: ControlError.self) { try CutoverOptions.parseBrokers(text) }
    }
}
