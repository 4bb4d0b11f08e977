import Glibc
import Logging
import Synchronization
import SwitchyardCore

/// Where IXFR finds the past: the stable names as they were when a zone was served at a
/// serial, or nil when the journal does not cover it (or the zone file changed since); then
/// the answer is AXFR-style (RFC 1995 section 4).
public protocol TransferHistory: Sendable {
    func stableNames(origin: DomainName, serial: UInt32) -> [StableNameSpec]?
}

/// Counters for `/metrics` and `switchyard status`.
public struct TransferStatistics: Sendable {
    public var axfr = 0
    public var ixfrIncremental = 0
    public var ixfrFull = 0
    public var ixfrUpToDate = 0
    public var refused = 0
    /// TSIG failures by error name (BADKEY, BADSIG, BADTIME).
    public var tsigErrors: [String: Int] = [:]
    public var signedQueries = 0
    /// Per client address: the last serial it asked IXFR from, or the serial an AXFR gave it.
    public var secondarySerials: [String: UInt32] = [:]
    public init() {}
}

/// The slow path: signed queries, AXFR and IXFR. The UDP and TCP loops hand it only the
/// packets the `Responder` deferred (a TSIG record, or a transfer question); everything
/// else never comes here.
public final class TransferResponder: Sendable {
    public let keyring: TSIGKeyring
    public let rules: [TransferRule]
    private let history = Mutex<(any TransferHistory)?>(nil)
    private let statistics = Mutex(TransferStatistics())
    private let clock: @Sendable () -> UInt64
    private let logger: Logger
    /// Client-caused lines (TSIG failures, refusals) are rate-limited: see `LogThrottle`.
    private let tsigFailureLog = LogThrottle(), refusalLog = LogThrottle()
    /// Largest transfer message (RFC 5936 allows 65535; smaller ones keep compression
    /// pointers in range and let the secondary start parsing early).
    public let messageSize = 16_384

    public init(keyring: TSIGKeyring = TSIGKeyring(), rules: [TransferRule] = [], logger: Logger,
                clock: @escaping @Sendable () -> UInt64 = { UInt64(time(nil)) }) {
        self.keyring = keyring; self.rules = rules; self.logger = logger; self.clock = clock
    }

    public func setHistory(_ history: any TransferHistory) { self.history.withLock { $0 = history } }
    public var stats: TransferStatistics { statistics.withLock { $0 } }

    /// The verified signature of a request, to answer with.
    struct Signing {
        var key: TSIGKey
        var requestMAC: [UInt8]
        var originalID: UInt16
        var timeSigned: UInt64
    }

    /// Answers a deferred packet with every message made at once, in order (UDP sends only
    /// the first); empty when the packet gets no answer.
    public func respond(to packet: UnsafeRawBufferPointer, transport: Transport, client: [UInt8], snapshot: Snapshot,
                        responder: Responder, scratch: UnsafeMutableRawBufferPointer) -> [[UInt8]] {
        Array(reply(to: packet, transport: transport, client: client, snapshot: snapshot, responder: responder, scratch: scratch))
    }

    /// Answers a deferred packet: the messages to send in order, made (and signed) as they are
    /// taken, so a TCP connection can send a whole zone without it ever being held in memory;
    /// none when the packet gets no answer. `responder` and `scratch` are the calling thread's
    /// own, used for signed ordinary queries.
    public func reply(to packet: UnsafeRawBufferPointer, transport: Transport, client: [UInt8], snapshot: Snapshot,
                      responder: Responder, scratch: UnsafeMutableRawBufferPointer) -> TransferReply {
        guard packet.count >= 12, packet[2] & 0x80 == 0 else { return TransferReply([]) }
        guard let question = Question(packet) else { return TransferReply([]) }
        var signing: Signing?
        var body = Array(packet)
        switch TSIG.find(in: packet) {
        case .malformed:
            return TransferReply([ZoneTransfer.reply(query: packet, questionEnd: question.end, rcode: .formErr)])
        case .unsigned:
            break
        case .signed(let record):
            switch check(record, packet: packet) {
            case .failure(let error):
                return TransferReply([tsigError(error, record: record, packet: packet, question: question)])
            case .success(let verified):
                signing = verified
                statistics.withLock { $0.signedQueries += 1 }
                // The query as if unsigned: the Responder answers it, then we sign.
                body = Array(packet[0..<record.start])
                let arcount = (Int(body[10]) << 8 | Int(body[11])) - 1
                body[10] = UInt8(arcount >> 8); body[11] = UInt8(arcount & 0xFF)
            }
        }
        if question.type == .axfr || question.type == .ixfr {
            return body.withUnsafeBytes { transfer(query: $0, question: question, transport: transport, client: client,
                                                   signing: signing, snapshot: snapshot) }
        } else {
            let reserve = signing.map { TSIG.size($0.key, keyName: $0.key.name, algorithm: $0.key.algorithm.wireName) } ?? 0
            let limit = transport == .tcp ? scratch.count : min(scratch.count, question.udpLimit(responder.maxUDPSize))
            let room = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<max(12, limit - reserve)])
            let length = body.withUnsafeBytes { query in
                client.withUnsafeBytes { peer in
                    responder.respond(to: query, transport: transport, snapshot: snapshot, client: peer, into: room)
                }
            }
            guard length > 0 else { return TransferReply([]) }
            return TransferReply([Array(room[0..<length])], signing: signing, time: clock())
        }
    }

    // MARK: TSIG

    private func check(_ record: TSIG.Record, packet: UnsafeRawBufferPointer) -> Result<Signing, TSIGFailure> {
        // RFC 8945 section 5.2: key, then MAC, then time.
        guard let key = keyring.key(named: record.keyName), key.algorithm.wireName.key == record.algorithm.key else {
            return .failure(.badKey)
        }
        guard TSIG.verify(packet, record: record, key: key, priorMAC: nil) else { return .failure(.badSig) }
        let now = clock()
        let skew = now > record.timeSigned ? now - record.timeSigned : record.timeSigned - now
        guard skew <= UInt64(record.fudge) else { return .failure(.badTime(key)) }
        return .success(Signing(key: key, requestMAC: record.mac, originalID: record.originalID, timeSigned: record.timeSigned))
    }

    enum TSIGFailure: Error {
        case badKey, badSig, badTime(TSIGKey)
        var name: String {
            switch self { case .badKey: "BADKEY"; case .badSig: "BADSIG"; case .badTime: "BADTIME" }
        }
    }

    /// NOTAUTH with the TSIG error (RFC 8945 section 5.3.2): BADKEY and BADSIG unsigned,
    /// BADTIME signed, with the server's time in Other Data.
    private func tsigError(_ failure: TSIGFailure, record: TSIG.Record, packet: UnsafeRawBufferPointer, question: Question) -> [UInt8] {
        statistics.withLock { $0.tsigErrors[failure.name, default: 0] += 1 }
        if let held = tsigFailureLog.admit(second: clock()) {
            logger.notice("TSIG check failed", metadata: ["error": "\(failure.name)", "key": "\(record.keyName)",
                                                         "held_back_before": "\(held)"])
        }
        var message = ZoneTransfer.reply(query: packet, questionEnd: question.end, rcode: .notAuth)
        switch failure {
        case .badKey:
            TSIG.sign(&message, key: nil, keyName: record.keyName, algorithm: record.algorithm, time: record.timeSigned,
                      fudge: record.fudge, originalID: record.originalID, error: TSIG.badKey, priorMAC: nil)
        case .badSig:
            TSIG.sign(&message, key: nil, keyName: record.keyName, algorithm: record.algorithm, time: record.timeSigned,
                      fudge: record.fudge, originalID: record.originalID, error: TSIG.badSig, priorMAC: nil)
        case .badTime(let key):
            TSIG.sign(&message, key: key, keyName: key.name, algorithm: key.algorithm.wireName, time: record.timeSigned,
                      fudge: record.fudge, originalID: record.originalID, error: TSIG.badTime,
                      other: TSIG.time48(clock()), priorMAC: record.mac)
        }
        return message
    }

    // MARK: Transfers

    private func transfer(query: UnsafeRawBufferPointer, question: Question, transport: Transport, client: [UInt8],
                          signing: Signing?, snapshot: Snapshot) -> TransferReply {
        let kind = question.type == .axfr ? "AXFR" : "IXFR"
        let clientText = Self.format(client)
        func refuse(_ why: String, rcode: RCode = .refused) -> TransferReply {
            statistics.withLock { $0.refused += 1 }
            if let held = refusalLog.admit(second: clock()) {
                logger.notice("zone transfer refused", metadata: ["type": "\(kind)", "zone": "\(question.name)", "client": "\(clientText)",
                                                                  "why": "\(why)", "held_back_before": "\(held)"])
            }
            return TransferReply([ZoneTransfer.reply(query: query, questionEnd: question.end, rcode: rcode)], signing: signing, time: clock())
        }
        // RFC 5936 section 4.2: AXFR is a TCP affair.
        if transport == .udp && question.type == .axfr { return refuse("AXFR over UDP") }
        guard allowed(client, signing: signing) else {
            return refuse(signing == nil ? "client not allowed (--allow-transfer), or a key is required" : "client or key not allowed (--allow-transfer)")
        }
        guard let zone = snapshot.zones.first(where: { $0.origin.key == question.name.key }) else {
            return refuse("not a zone served here", rcode: .notAuth)
        }
        let reserve = signing.map { TSIG.size($0.key, keyName: $0.key.name, algorithm: $0.key.algorithm.wireName) } ?? 0
        let current = zone.serial
        if question.type == .ixfr {
            guard let clientSerial = question.ixfrSerial(query) else {
                return TransferReply([ZoneTransfer.reply(query: query, questionEnd: question.end, rcode: .formErr)], signing: signing, time: clock())
            }
            note(clientText, serial: clientSerial)
            if clientSerial == current || (clientSerial &- current) < 0x8000_0000 || transport == .udp {
                // Up to date; or over UDP, where the lone SOA tells the client to use TCP
                // (RFC 1995 section 2).
                statistics.withLock { $0.ixfrUpToDate += 1 }
                return TransferReply([ZoneTransfer.reply(query: query, questionEnd: question.end, rcode: .noError, answer: [zone.soa])],
                                     signing: signing, time: clock())
            }
            if let past = history.withLock({ $0 })?.stableNames(origin: zone.origin, serial: clientSerial) {
                // The zone data is the same at both serials (else `past` is nil): only stable names differ.
                let old = ZoneTransfer.stableContents(of: zone, stableNames: past)
                let new = ZoneTransfer.stableContents(of: zone, stableNames: snapshot.stableNames)
                let (deleted, added) = ZoneTransfer.difference(from: old, to: new)
                let records = ZoneTransfer.ixfrRecords(oldSOA: ZoneTransfer.soa(of: zone, serial: clientSerial), newSOA: zone.soa,
                                                       deleted: deleted, added: added)
                statistics.withLock { $0.ixfrIncremental += 1; $0.secondarySerials[clientText] = clientSerial }
                logger.info("IXFR served", metadata: ["zone": "\(zone.origin)", "client": "\(clientText)", "from": "\(clientSerial)",
                                                      "to": "\(current)", "deleted": "\(deleted.count)", "added": "\(added.count)"])
                return TransferReply(ZoneTransfer.encode(records: records, query: query, questionEnd: question.end, maxSize: messageSize, reserve: reserve),
                                     signing: signing, time: clock())
            }
            statistics.withLock { $0.ixfrFull += 1 }
        } else {
            statistics.withLock { $0.axfr += 1 }
        }
        logger.info("\(kind) served in full", metadata: ["zone": "\(zone.origin)", "client": "\(clientText)", "serial": "\(current)",
                                                         "signed": "\(signing.map(\.key.displayName) ?? "no")"])
        if question.type == .axfr { note(clientText, serial: current) }
        return TransferReply(zone: ZoneTransfer.axfrMessages(of: zone, stableNames: snapshot.stableNames, query: query,
                                                             questionEnd: question.end, maxSize: messageSize, reserve: reserve),
                             signing: signing, time: clock())
    }

    private func note(_ client: String, serial: UInt32) {
        statistics.withLock { $0.secondarySerials[client] = serial }
    }

    private func allowed(_ client: [UInt8], signing: Signing?) -> Bool {
        rules.contains { rule in
            guard rule.contains(client) else { return false }
            guard let key = rule.key else { return true }
            return signing?.key.name.key == key.key
        }
    }

    static func format(_ address: [UInt8]) -> String {
        if address.count == 4 { return StableTarget.ipv4(address).description }
        if address.count == 16 { return StableTarget.ipv6(address).description }
        return "?"
    }
}

/// The question of a deferred packet, and what else the slow path needs from it.
struct Question {
    var name: DomainName
    var type: RRType
    /// Offset just past the question.
    var end: Int
    /// The OPT record's UDP size, when there is one.
    var ednsSize: Int?

    init?(_ packet: UnsafeRawBufferPointer) {
        guard be16(packet, 4) == 1, let (name, nameEnd) = WireName.read(packet, at: 12), nameEnd + 4 <= packet.count else { return nil }
        self.name = name
        self.type = RRType(rawValue: be16(packet, nameEnd))
        self.end = nameEnd + 4
        var position = end
        let records = Int(be16(packet, 6)) + Int(be16(packet, 8)) + Int(be16(packet, 10))
        for _ in 0..<records {
            guard let skipped = WireName.skip(packet, from: position), skipped + 10 <= packet.count else { break }
            if be16(packet, skipped) == RRType.opt.rawValue { ednsSize = max(512, Int(be16(packet, skipped + 2))) }
            position = skipped + 10 + Int(be16(packet, skipped + 8))
        }
    }

    func udpLimit(_ maxUDPSize: Int) -> Int { ednsSize.map { min($0, maxUDPSize) } ?? 512 }

    /// The serial of the SOA an IXFR query carries in its authority section.
    func ixfrSerial(_ packet: UnsafeRawBufferPointer) -> UInt32? {
        guard be16(packet, 8) >= 1 else { return nil }
        var position = end
        for _ in 0..<Int(be16(packet, 6)) {
            guard let skipped = WireName.skip(packet, from: position), skipped + 10 <= packet.count else { return nil }
            position = skipped + 10 + Int(be16(packet, skipped + 8))
        }
        guard let skipped = WireName.skip(packet, from: position), skipped + 10 <= packet.count,
              be16(packet, skipped) == RRType.soa.rawValue else { return nil }
        let rdataEnd = skipped + 10 + Int(be16(packet, skipped + 8))
        guard rdataEnd <= packet.count, rdataEnd - 20 >= skipped + 10 else { return nil }
        let at = rdataEnd - 20
        return UInt32(packet[at]) << 24 | UInt32(packet[at + 1]) << 16 | UInt32(packet[at + 2]) << 8 | UInt32(packet[at + 3])
    }
}

/// The messages answering one deferred packet, made and signed one at a time as they are
/// taken (`next()`): a list made already, or a whole zone encoded from its storage message by
/// message. Each message is signed when the query was, the first after the request's MAC, the
/// others after the previous message's MAC with the timers only (RFC 8945 section 5.3.1).
public struct TransferReply: Sequence, IteratorProtocol {
    private var list: [[UInt8]]
    private var zone: TransferMessages?
    private var made = 0
    private let signing: TransferResponder.Signing?
    private var priorMAC: [UInt8]
    private let time: UInt64

    init(_ messages: [[UInt8]], signing: TransferResponder.Signing? = nil, time: UInt64 = 0) {
        list = messages; zone = nil; self.signing = signing; priorMAC = signing?.requestMAC ?? []; self.time = time
    }

    init(zone: TransferMessages, signing: TransferResponder.Signing?, time: UInt64) {
        list = []; self.zone = zone; self.signing = signing; priorMAC = signing?.requestMAC ?? []; self.time = time
    }

    public mutating func next() -> [UInt8]? {
        var message: [UInt8]
        if zone != nil {
            guard let next = zone!.next() else { return nil }
            message = next
        } else {
            guard made < list.count else { return nil }
            message = list[made]
        }
        if let signing {
            priorMAC = TSIG.sign(&message, key: signing.key, keyName: signing.key.name, algorithm: signing.key.algorithm.wireName,
                                 time: time, originalID: signing.originalID, priorMAC: priorMAC, timersOnly: made > 0)
        }
        made += 1
        return message
    }
}
