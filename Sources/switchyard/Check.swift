import ArgumentParser
import SwitchyardCore
import SwitchyardZones

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate zone files; print file:line for every problem.")

    @Option(help: "Directory of <origin>zone files.")
    var zones = "zones"

    func run() throws {
        let files: [String]
        do {
            files = try ZoneLoader.zoneFiles(in: zones)
        } catch {
            for problem in error.problems { printError(problem.description) }
            throw ExitCode(1)
        }
        var failed = false
        var loaded: [Zone] = []
        for file in files {
            switch ZoneLoader.loadZone(path: file) {
            case .success(let zone):
                loaded.append(zone)
            case .failure(let problems):
                failed = true
                for problem in problems.problems { printError(problem.description) }
            }
        }
        if !failed {
            do {
                _ = try Snapshot(zones: loaded)
            } catch {
                printError(error.description)
                failed = true
            }
        }
        guard !failed else { throw ExitCode(1) }
        for zone in loaded {
            print("\(zone.origin): ok, serial \(zone.serial), \(zone.recordCount) records, \(zone.nodes.count) names (\(zone.source))")
        }
    }
}
