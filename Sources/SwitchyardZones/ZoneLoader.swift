import Foundation
import SwitchyardCore

/// Loads every `*.zone` file of a directory into validated zones. Nothing is returned
/// unless every file is valid, so a caller can keep serving its last good snapshot.
public enum ZoneLoader {
    /// The origin a file name implies: `kafka.example.zone` → `kafka.example.`.
    public static func origin(forFileName name: String) -> DomainName? {
        guard name.hasSuffix(".zone") else { return nil }
        let stem = String(name.dropLast(".zone".count))
        return stem.isEmpty ? nil : DomainName(stem.hasSuffix(".") ? stem : stem + ".")
    }

    /// Paths of the zone files in `directory`, sorted.
    public static func zoneFiles(in directory: String) throws(ZoneProblems) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ZoneProblems([ZoneProblem(file: directory, line: 0, message: "cannot read the zones directory: \(error.localizedDescription)")])
        }
        let files = names.filter { $0.hasSuffix(".zone") }.sorted()
        if files.isEmpty {
            throw ZoneProblems([ZoneProblem(file: directory, line: 0, message: "no *.zone files found")])
        }
        return files.map { (directory as NSString).appendingPathComponent($0) }
    }

    /// Reads and validates one zone file.
    public static func loadZone(path: String) -> Result<Zone, ZoneProblems> {
        let fileName = (path as NSString).lastPathComponent
        guard let fileOrigin = origin(forFileName: fileName) else {
            return .failure(ZoneProblems([ZoneProblem(file: path, line: 0, message: "cannot derive a zone origin from the file name; name it <origin>zone, e.g. example.com.zone")]))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ZoneProblems([ZoneProblem(file: path, line: 0, message: "cannot read the file")]))
        }
        let parsed = ZoneFileParser.parse(contents: Array(data), origin: fileOrigin, path: path)
        // The apex is the SOA's owner when there is one; otherwise the file name's origin.
        let origin = parsed.records.first(where: { $0.type == .soa })?.owner ?? fileOrigin
        let built = ZoneBuilder.build(origin: origin, records: parsed.records, source: path)
        switch built {
        case .success(let zone):
            return parsed.problems.isEmpty ? .success(zone) : .failure(ZoneProblems(parsed.problems))
        case .failure(let problems):
            let all = (parsed.problems + problems.problems).sorted { $0.line < $1.line }
            return .failure(ZoneProblems(all))
        }
    }

    /// Loads every zone of `directory` and builds a snapshot, or reports every problem.
    public static func loadSnapshot(directory: String) throws(ZoneProblems) -> Snapshot {
        let files = try zoneFiles(in: directory)
        var zones: [Zone] = []
        var problems: [ZoneProblem] = []
        for file in files {
            switch loadZone(path: file) {
            case .success(let zone): zones.append(zone)
            case .failure(let found): problems += found.problems
            }
        }
        guard problems.isEmpty else { throw ZoneProblems(problems) }
        do {
            return try Snapshot(zones: zones)
        } catch {
            throw ZoneProblems([error])
        }
    }
}
