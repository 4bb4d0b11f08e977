import Foundation

/// An error that knows the HTTP status the admin endpoint answers it with.
///
/// The admin server's one error mapping (`errorResponse` in `AdminServer.swift`) asks this
/// first, so a new error type only has to conform to choose its status: 400 for what the
/// caller got wrong, 409 for a conflict with the current state (a run already active, a
/// generation that moved), 503 while the server is not ready.
public protocol HTTPStatusReporting: Error {
    var httpStatus: Int { get }
}

/// A run, a generation or some other state the request collides with: HTTP 409.
public struct ControlConflict: Error, HTTPStatusReporting, CustomStringConvertible, Equatable, Sendable {
    /// What collides, naming the cluster, run or generation.
    public var problem: String
    /// What to do about it.
    public var remedy: String

    public init(_ problem: String, remedy: String) {
        self.problem = problem
        self.remedy = remedy
    }

    public var httpStatus: Int { 409 }

    public var description: String {
        remedy.isEmpty ? problem : "\(problem); \(remedy)"
    }
}

/// The request names something that does not exist (a cluster without runs): HTTP 404.
public struct ControlNotFound: Error, HTTPStatusReporting, CustomStringConvertible, Equatable, Sendable {
    /// What is missing, by name, and what to do about it.
    public var refusal: ControlError

    public init(_ problem: String, remedy: String) { refusal = ControlError(problem, remedy: remedy) }

    public var httpStatus: Int { 404 }
    public var description: String { refusal.description }
}

/// A request body the admin endpoint cannot take: too big (413), not JSON, or JSON of the
/// wrong shape or with a value out of range (400). ``description`` names the field by its JSON
/// path (`request.weights.weights.pod`) and says what is allowed, in plain words.
public struct RequestError: Error, HTTPStatusReporting, CustomStringConvertible, Equatable, Sendable {
    public var httpStatus: Int
    public var description: String
    /// The field the error is about, as its JSON path (`options.ramp[0]`); ``description``
    /// then starts with it and a colon. `nil` for the body as a whole. The admin API's error
    /// reply carries it, so the CLI can name the flag its user typed instead.
    public var field: String?

    public init(status: Int = 400, _ description: String, field: String? = nil) {
        self.httpStatus = status
        self.description = description
        self.field = field
    }

    /// An error about the field at `codingPath`: `"<path>: <problem>"`.
    init(at codingPath: [any CodingKey], _ problem: String) {
        let path = Self.path(codingPath)
        self.init("\(path): \(problem)", field: codingPath.isEmpty ? nil : path)
    }

    /// The largest request body the admin endpoint reads (1 MiB); larger ones get 413.
    public static let maxBodyBytes = 1 << 20

    public static func tooLarge(_ size: Int?) -> RequestError {
        let got = size.map { " (\($0) bytes)" } ?? ""
        return RequestError(status: 413, "the request body is too large\(got); the admin API takes at most \(maxBodyBytes) bytes (1 MiB)")
    }

    /// Decodes `T` from a request body, turning every failure into a ``RequestError``.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, decoder: JSONDecoder) throws(RequestError) -> T {
        guard !data.isEmpty else {
            throw RequestError("the request body is empty; send a JSON object")
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw RequestError(describing: error, body: data)
        } catch {
            throw RequestError("the request body cannot be read: \(error)")
        }
    }

    /// Plain words for a decoding failure: the field's JSON path and what it should be;
    /// never a Swift type name.
    public init(describing error: DecodingError, body: Data? = nil) {
        switch error {
        case .typeMismatch(let type, let context):
            let found = Self.found(in: context.debugDescription).map { ", found \($0)" } ?? ""
            self.init(at: context.codingPath, "expected \(Self.plainName(of: type))\(found)")
        case .valueNotFound(let type, let context):
            self.init(at: context.codingPath, "expected \(Self.plainName(of: type)), found null")
        case .keyNotFound(let key, let context):
            self.init(at: context.codingPath + [key], "missing; this field is required")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // Foundation says "not valid JSON" also for valid JSON whose number does not fit its
            // type; the body's own syntax check tells the two apart.
            let foundation = context.debugDescription.hasPrefix("The given data was not valid JSON")
            self.init(Self.syntaxProblem(in: body, numberMisfit: foundation) ?? "the request body: \(context.debugDescription)")
        case .dataCorrupted(let context):
            self.init(at: context.codingPath, context.debugDescription)
        @unknown default:
            self.init("the request body does not fit the API: \(error.localizedDescription)")
        }
    }

    /// `request.weights.weights.pod`, `ramp[2]`; `the request body` for the top level.
    public static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") || key.stringValue == String(index) {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "the request body" : text
    }

    /// The JSON kind a Swift type is read from, in words.
    static func plainName(of type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type,
             is UInt.Type, is UInt8.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type:
            return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        default: break
        }
        let name = String(describing: type)
        if name.hasPrefix("Array<") || name.hasPrefix("[") && !name.contains(":") { return "a list" }
        return "an object"
    }

    /// `a string` out of Foundation's "Expected to decode X but found a string instead.".
    static func found(in debugDescription: String) -> String? {
        guard let start = debugDescription.range(of: "but found "),
              let end = debugDescription.range(of: " instead", range: start.upperBound..<debugDescription.endIndex) else { return nil }
        var what = String(debugDescription[start.upperBound..<end.lowerBound])
        for article in ["a ", "an "] where what.hasPrefix(article) { what.removeFirst(article.count) }
        switch what.lowercased() {
        case "dictionary", "object": return "an object"
        case "array", "list": return "a list"
        case "number": return "a number"
        case "string": return "a string"
        case "bool", "boolean": return "true or false"
        case "null", "nil": return "null"
        default: return nil
        }
    }

    /// Why `body` is not JSON, with the position when the parser gives one. When it is JSON
    /// and Foundation still said it is not (`numberMisfit`), a number does not fit its field;
    /// otherwise nil.
    static func syntaxProblem(in body: Data?, numberMisfit: Bool) -> String? {
        guard let body else { return numberMisfit ? "the request body is not valid JSON" : nil }
        do {
            _ = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            return "the request body is not valid JSON: \(detail)"
        }
        guard numberMisfit else { return nil }
        return "a number in the request body does not fit its field (negative, fractional or too large where a whole number is expected)"
    }
}

extension KeyedDecodingContainer {
    /// A JSON number that must be a whole number in `range`; otherwise a decoding error at
    /// this key whose words are `"<what> must be a whole number from <lower> to <upper>"`.
    ///
    /// Read as a `Double` first so that `-1`, `300` or `1.5` get this message rather than
    /// Foundation's "not valid JSON" (which it says for any number that does not fit the type).
    public func decodeWholeNumber<T: FixedWidthInteger>(
        _ type: T.Type, forKey key: Key, in range: ClosedRange<Int64>, what: String
    ) throws -> T {
        let value = try decode(Double.self, forKey: key)
        return try Self.checked(value, range: range, what: what) {
            DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: $0)
        }
    }

    /// Like ``decodeWholeNumber(_:forKey:in:what:)`` for an optional field (absent or null: nil).
    public func decodeWholeNumberIfPresent<T: FixedWidthInteger>(
        _ type: T.Type, forKey key: Key, in range: ClosedRange<Int64>, what: String
    ) throws -> T? {
        guard let value = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        return try Self.checked(value, range: range, what: what) {
            DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: $0)
        }
    }

    /// A list of whole numbers in `range`; an error names the element (`ramp[2]`).
    public func decodeWholeNumbers<T: FixedWidthInteger>(
        _ type: T.Type, forKey key: Key, in range: ClosedRange<Int64>, what: String
    ) throws -> [T] {
        var list = try nestedUnkeyedContainer(forKey: key)
        var values: [T] = []
        while !list.isAtEnd {
            let value = try list.decode(Double.self)
            values.append(try Self.checked(value, range: range, what: what) {
                // The container has moved past the element: name it by its index.
                DecodingError.dataCorrupted(.init(codingPath: list.codingPath + [IndexKey(values.count)], debugDescription: $0))
            })
        }
        return values
    }

    static func checked<T: FixedWidthInteger>(
        _ value: Double, range: ClosedRange<Int64>, what: String, error: (String) -> DecodingError
    ) throws -> T {
        guard value.rounded() == value, value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            throw error("\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(Self.render(value))")
        }
        return T(Int64(value))
    }

    private static func render(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

extension CodingUserInfoKey {
    /// Set (true) by ``AdminAPI/requestDecoder()``: request bodies reject keys they do not know.
    /// Journal records do not, so that a server reads runs written by a newer version.
    public static let rejectsUnknownKeys = CodingUserInfoKey(rawValue: "switchyard.rejectsUnknownKeys")!
}

extension Decoder {
    /// In a request body, fails on an object key that is not one of `Keys`: a misspelt
    /// optional field (`rmap` for `ramp`) would otherwise be ignored and its default used
    /// without a word. `nestedIn` checks the object under that key instead. The error names
    /// the first unknown key (sorted) and lists the known ones.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type, nestedIn key: AnyKey? = nil) throws {
        guard userInfo[.rejectsUnknownKeys] as? Bool == true else { return }
        var fields = try container(keyedBy: AnyKey.self)
        if let key { fields = try fields.nestedContainer(keyedBy: AnyKey.self, forKey: key) }
        let known = Keys.allCases.map(\.stringValue)
        guard let unknown = fields.allKeys.map(\.stringValue).filter({ !known.contains($0) }).min() else { return }
        throw DecodingError.dataCorrupted(.init(
            codingPath: fields.codingPath + [AnyKey(unknown)],
            debugDescription: "unknown field; the fields here are \(known.joined(separator: ", "))"))
    }
}

/// A position in a JSON list, for error paths.
struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String
    init(_ index: Int) { intValue = index; stringValue = "Index \(index)" }
    init?(intValue: Int) { self.init(intValue) }
    init?(stringValue: String) { return nil }
}

/// Any object key, for objects whose keys are data (pool names of `weights`).
public struct AnyKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}
