/// A request the controller refuses: what was wrong and what to do about it.
///
/// Every refusal of ``Shifts/apply(_:to:inventories:)``, ``Planner`` and
/// ``CutoverRunner/resume(progress:currentState:currentGeneration:)`` is one of these; the CLI
/// prints ``description`` as is.
public struct ControlError: Error, CustomStringConvertible, Codable, Equatable, Sendable {
    /// What was wrong, naming the cluster, broker, name, pool or option involved.
    public var problem: String
    /// What to do about it.
    public var remedy: String

    public init(_ problem: String, remedy: String) {
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String {
        remedy.isEmpty ? problem : "\(problem); \(remedy)"
    }
}

extension Array where Element == String {
    /// `a, b and c` (or `none`), for lists inside error messages.
    var spokenList: String {
        switch count {
        case 0: return "none"
        case 1: return self[0]
        default: return dropLast().joined(separator: ", ") + " and " + self[count - 1]
        }
    }
}
