import SwitchyardFuzzing
import Testing

/// The harness itself: the fixtures load, and a crafted input of each kind runs through.
@Suite struct FuzzHarnessTests {
    @Test func emptyAndTinyInputsRunEverywhere() throws {
        let harness = try FuzzHarness(fixtures: repositoryRoot + "/fuzz/zones")
        for target in FuzzTarget.allCases {
            harness.run(target, [])
            harness.run(target, [0])
            harness.run(target, [UInt8](repeating: 0xFF, count: 600))
        }
    }
}
