import Testing
@testable import SwitchyardServer

@Suite("Zone transfers share one output budget")
struct TransferBudgetTests {
    @Test func eachTransferGetsAShareNeverBelowAMessage() {
        #expect(TCPServer.transferPiece(inProgress: 1) == 256 << 10)
        #expect(TCPServer.transferPiece(inProgress: 64) == 256 << 10)
        #expect(TCPServer.transferPiece(inProgress: 128) == 128 << 10)
        #expect(TCPServer.transferPiece(inProgress: 2000) == 16 << 10)
        // Together they stay within the budget until each is down to one message.
        for count in [1, 10, 100, 1024] {
            #expect(TCPServer.transferPiece(inProgress: count) * count <= max(16 << 20, count * (16 << 10)))
        }
    }
}
