import Glibc

/// A name whose answer Switchyard computes from pools of targets instead of zone records
/// (SPEC "Two kinds of stable names").
public struct StableNameSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `broker-<id>.<cluster>`: exactly one pool is live; never fails over elsewhere.
        case exclusive
        /// `bootstrap.<cluster>` and `names:` entries: one pool per query, by weight.
        case weighted
    }

    public enum Selection: Sendable, Equatable {
        /// A fresh random draw per query.
        case random
        /// A hash of the client address (or its EDNS Client Subnet), stable per client.
        case hashed
    }

    public enum AllDown: Sendable, Equatable {
        /// Answer as if every target were healthy: a possibly-down answer beats none.
        case open
        /// Answer SERVFAIL, so clients notice instead of connecting to dead targets.
        case closed
    }

    public var name: DomainName
    public var kind: Kind
    public var ttl: UInt32
    public var selection: Selection
    public var maxAnswers: Int
    public var allDown: AllDown
    /// Declared order; it fixes the hashed-selection boundaries.
    public var pools: [StablePool]
    /// The TCP port health probes use, when this name's targets are checked.
    public var healthPort: UInt16?

    public init(name: DomainName, kind: Kind, ttl: UInt32, selection: Selection = .random, maxAnswers: Int = 8,
                allDown: AllDown = .open, pools: [StablePool], healthPort: UInt16? = nil) {
        self.name = name; self.kind = kind; self.ttl = ttl; self.selection = selection
        self.maxAnswers = max(1, maxAnswers); self.allDown = allDown; self.pools = pools; self.healthPort = healthPort
    }
}

public struct StablePool: Sendable, Equatable {
    public var name: String
    /// 0–255; 0 is drained. For an exclusive name, the live pool has weight > 0.
    public var weight: UInt8
    public var targets: [StableTarget]

    public init(name: String, weight: UInt8, targets: [StableTarget]) {
        self.name = name; self.weight = weight; self.targets = targets
    }
}

public enum StableTarget: Sendable, Hashable, CustomStringConvertible {
    case ipv4([UInt8])
    case ipv6([UInt8])
    case hostname(DomainName)

    public var description: String {
        switch self {
        case .ipv4(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .ipv6(let bytes):
            // inet_ntop spells it the RFC 5952 way (`fd00:8::5`), as every other module does.
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard bytes.count == 16,
                  bytes.withUnsafeBytes({ inet_ntop(AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }) != nil
            else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .hostname(let name): return name.description
        }
    }
}

/// One health-checked endpoint: an address target and the port probed on it.
public struct HealthKey: Sendable, Hashable, CustomStringConvertible {
    public var target: StableTarget
    public var port: UInt16
    public init(target: StableTarget, port: UInt16) { self.target = target; self.port = port }
    public var description: String {
        if case .ipv6 = target { return "[\(target)]:\(port)" }
        return "\(target):\(port)"
    }
}

extension StableNameSpec {
    /// The endpoints health checks watch for this name (hostname targets are not probed).
    public var healthKeys: [HealthKey] {
        guard let healthPort else { return [] }
        var keys: [HealthKey] = []
        for pool in pools {
            for target in pool.targets {
                if case .hostname = target { continue }
                let key = HealthKey(target: target, port: healthPort)
                if !keys.contains(key) { keys.append(key) }
            }
        }
        return keys
    }
}
