/// One problem found in an inventory file, with where it is and what to do about it.
///
/// Rendered as `PATH:LINE: FIELD: message`, where FIELD is a dotted path such as
/// `clusters.orders.brokers.2.pod` — the shape editors and CI annotate.
public struct InventoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The inventory file as given to the loader.
    public var path: String
    /// 1-based line of the offending value (or of the mapping that misses a key).
    public var line: Int
    /// Dotted path of the field, e.g. `clusters.orders.port`.
    public var field: String
    /// What is wrong and what to do.
    public var message: String

    public init(path: String, line: Int, field: String, message: String) {
        self.path = path
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String { "\(path):\(line): \(field): \(message)" }
}

/// Every problem found in one inventory file, in file order.
public struct InventoryErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [InventoryError]

    public init(_ errors: [InventoryError]) {
        self.errors = errors
    }

    /// One problem per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
