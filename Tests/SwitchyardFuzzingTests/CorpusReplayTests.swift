import Foundation
import SwitchyardFuzzing
import Testing

/// The repository's root, found from this file (Tests/SwitchyardFuzzingTests/...).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Replays every committed corpus file through the fuzz targets' own entry points, without the
/// fuzzer: a change that makes any seed or past finding crash fails here, in `make test`.
@Suite struct CorpusReplayTests {
    @Test(arguments: FuzzTarget.allCases)
    func corpusReplays(_ target: FuzzTarget) throws {
        // One per test: a harness keeps scratch space and is not shared between threads.
        let harness = try FuzzHarness(fixtures: repositoryRoot + "/fuzz/zones")
        let files = FuzzCorpus.files(at: repositoryRoot + "/fuzz/corpus/" + target.rawValue)
        #expect(!files.isEmpty, "no corpus for \(target.rawValue)")
        for file in files { harness.run(target, FuzzCorpus.contents(of: file)) }
    }
}
