/// The one filler of `{placeholder}`s in the shell commands operators configure (gates,
/// drains, cache-invalidation and discovery hooks).
public enum Placeholders {
    /// Replaces each `{key}` with its value, single-quoted for `/bin/sh` when it holds
    /// anything but letters, digits and `.:_/-` (addresses, hostnames and numbers never do,
    /// so commands stay readable in plans and logs).
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        var result = template
        for (key, value) in values {
            result = result.replacingOccurrences(of: "{\(key)}", with: shellWord(value))
        }
        return result
    }

    static func shellWord(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar) || ".:_/-".unicodeScalars.contains(scalar))
        }
        return plain ? value : "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
