import Foundation
import Yams

/// Reads `zones/<origin>yaml` into a validated ``Inventory``, reporting every problem found.
///
/// The whole file is checked before anything is returned, so a caller either gets a complete,
/// valid model or the full list of what to fix (never just the first problem).
public enum InventoryLoader {
    /// TTL of stable names when the inventory sets none.
    public static let defaultTTL: UInt32 = 60

    /// Reads and validates the inventory at `path`.
    ///
    /// - Parameters:
    ///   - origin: the zone origin, e.g. `kafka.example.` (made absolute and lowercase).
    ///   - zoneOwnerNames: owner names of the zone file's records; a stable name equal to one of
    ///     them is an error, since the zone would answer it in two ways.
    public static func load(
        path: String, origin: String, zoneOwnerNames: Set<String>
    ) -> Result<Inventory, InventoryErrors> {
        load(path: path, contents: FileManager.default.contents(atPath: path), origin: origin, zoneOwnerNames: zoneOwnerNames)
    }

    /// Validates `contents`, the bytes just read from `path` (nil: they could not be read), so
    /// a caller that also fingerprints the inventory describes exactly the bytes parsed.
    public static func load(
        path: String, contents: Data?, origin: String, zoneOwnerNames: Set<String>
    ) -> Result<Inventory, InventoryErrors> {
        guard let data = contents else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            return .failure(InventoryErrors([InventoryError(
                path: path, line: 1, field: "(file)",
                message: "the inventory file \(why): check the path and its permissions")]))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(InventoryErrors([InventoryError(
                path: path, line: 1, field: "(file)", message: "the inventory is not UTF-8 text: save it as UTF-8")]))
        }
        return parse(text: text, path: path, origin: origin, zoneOwnerNames: zoneOwnerNames)
    }

    /// Validates inventory `text` as if read from `path` (which only appears in messages).
    public static func parse(
        text: String, path: String, origin: String, zoneOwnerNames: Set<String> = []
    ) -> Result<Inventory, InventoryErrors> {
        let reader = InventoryReader(path: path, origin: normalizedOrigin(origin), zoneOwnerNames: zoneOwnerNames)
        let inventory = reader.read(text)
        if let inventory, reader.errors.isEmpty {
            return .success(inventory)
        }
        // Stable sort: file order first, and the order found within one line.
        let sorted = reader.errors.enumerated()
            .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map(\.element)
        return .failure(InventoryErrors(sorted))
    }

    static func normalizedOrigin(_ origin: String) -> String {
        let lower = origin.lowercased()
        if lower.isEmpty || lower == "." { return "." }
        return lower.hasSuffix(".") ? lower : lower + "."
    }
}
