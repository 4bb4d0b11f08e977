import CNetShim
import Glibc
import Logging
import Synchronization
import SwitchyardCore
import SwitchyardTransfer

/// One thread serving one UDP socket: receive a batch with recvmmsg, answer each query
/// from the current snapshot, send the batch with sendmmsg. Every buffer is allocated
/// once, when the worker starts.
final class UDPWorker: @unchecked Sendable {
    static let batchSize = 32
    /// Queries larger than this are not DNS queries we can answer; the kernel truncates them.
    static let receiveSize = 4096
    /// Slots one cache line apart from a page multiple: the first bytes of every query (all
    /// that most queries have) would otherwise share one set of the L1 cache.
    static let receiveStride = receiveSize + 64

    private let fd: Int32
    private let address: ListenAddress
    private let store: SnapshotStore
    private let responder: Responder
    private let stopping: StopFlag
    private let logger: Logger
    private let metrics: QueryMetrics
    private let limiter: ResponseRateLimiter?
    /// Signed queries and transfer questions (IXFR over UDP gets the SOA only).
    private let transfers: TransferResponder?

    private let received: UnsafeMutableBufferPointer<sy_mmsghdr>
    private let sending: UnsafeMutableBufferPointer<sy_mmsghdr>
    private let receiveVectors: UnsafeMutableBufferPointer<iovec>
    private let sendVectors: UnsafeMutableBufferPointer<iovec>
    private let peers: UnsafeMutableBufferPointer<sockaddr_storage>
    /// Reply → the index of the datagram (and peer) it answers.
    private let replyPeers: UnsafeMutableBufferPointer<Int>
    private let receiveBuffers: UnsafeMutableRawBufferPointer
    private let sendBuffers: UnsafeMutableRawBufferPointer

    init(fd: Int32, address: ListenAddress, store: SnapshotStore, maxUDPSize: Int, stopping: StopFlag,
         metrics: QueryMetrics, limiter: ResponseRateLimiter?, transfers: TransferResponder?, logger: Logger) {
        self.fd = fd
        self.limiter = limiter
        self.transfers = transfers
        self.metrics = metrics
        self.address = address
        self.store = store
        self.responder = Responder(maxUDPSize: maxUDPSize, defersSlowPath: transfers != nil)
        self.stopping = stopping
        self.logger = logger
        let batch = UDPWorker.batchSize
        received = .allocate(capacity: batch)
        sending = .allocate(capacity: batch)
        receiveVectors = .allocate(capacity: batch)
        sendVectors = .allocate(capacity: batch)
        peers = .allocate(capacity: batch)
        replyPeers = .allocate(capacity: batch)
        receiveBuffers = .allocate(byteCount: batch * UDPWorker.receiveStride, alignment: 64)
        sendBuffers = .allocate(byteCount: batch * responder.maxUDPSize, alignment: 16)
        for i in 0..<batch {
            receiveVectors[i] = iovec(iov_base: receiveBuffers.baseAddress! + i * UDPWorker.receiveStride, iov_len: UDPWorker.receiveSize)
        }
    }

    deinit {
        received.deallocate(); sending.deallocate(); receiveVectors.deallocate(); sendVectors.deallocate()
        peers.deallocate(); replyPeers.deallocate(); receiveBuffers.deallocate(); sendBuffers.deallocate()
    }

    func run() {
        var cache = SnapshotCache(store: store)
        var tally = QueryTally(snapshot: cache.snapshot)
        var lastFlush = coarseMonotonicSeconds()
        let batch = UDPWorker.batchSize
        let waitForOne = sy_msg_waitforone()
        let responseSize = responder.maxUDPSize
        for i in 0..<batch {
            received[i].msg_hdr = msghdr(
                msg_name: UnsafeMutableRawPointer(peers.baseAddress! + i),
                msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size),
                msg_iov: receiveVectors.baseAddress! + i, msg_iovlen: 1,
                msg_control: nil, msg_controllen: 0, msg_flags: 0)
        }
        // The kernel writes back only the address length, flags and length of the messages
        // it filled: those are all that need resetting before the next batch.
        var filled = 0
        while !stopping.isSet {
            for i in 0..<filled {
                received[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                received[i].msg_hdr.msg_flags = 0
                received[i].msg_len = 0
            }
            let count = sy_recvmmsg(fd, received.baseAddress, UInt32(batch), waitForOne)
            let receiveError = count < 0 ? errno : 0
            filled = max(0, Int(count))
            cache.refresh()
            if tally.needsFlush(since: &lastFlush, serving: cache.snapshot) {
                tally.flush(into: metrics, next: cache.snapshot)
            }
            if count < 0 {
                let code = receiveError
                // EAGAIN: the receive timeout expired, time to look at the stop flag.
                if code != EAGAIN && code != EWOULDBLOCK && code != EINTR {
                    logger.error("recvmmsg failed", metadata: ["listen": "\(address)", "errno": "\(code)"])
                }
                continue
            }
            var replies = 0
            for i in 0..<Int(count) {
                let message = received[i]
                // MSG_TRUNC: bigger than any query we answer; drop it.
                if message.msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0 { continue }
                let packet = UnsafeRawBufferPointer(start: receiveBuffers.baseAddress! + i * UDPWorker.receiveStride, count: Int(message.msg_len))
                let out = UnsafeMutableRawBufferPointer(start: sendBuffers.baseAddress! + replies * responseSize, count: responseSize)
                var length = responder.respond(to: packet, transport: .udp, snapshot: cache.snapshot,
                                               client: clientAddress(peers.baseAddress! + i), into: out)
                tally.count(responder.outcome)
                if responder.outcome.deferred, let transfers {
                    length = slowPath(transfers, packet: packet, peer: peers.baseAddress! + i, snapshot: cache.snapshot, out: out)
                }
                guard length > 0 else { continue }
                sendVectors[replies] = iovec(iov_base: out.baseAddress, iov_len: length)
                sending[replies].msg_hdr = msghdr(
                    msg_name: message.msg_hdr.msg_name, msg_namelen: message.msg_hdr.msg_namelen,
                    msg_iov: sendVectors.baseAddress! + replies, msg_iovlen: 1,
                    msg_control: nil, msg_controllen: 0, msg_flags: 0)
                sending[replies].msg_len = 0
                replyPeers[replies] = i
                replies += 1
            }
            if let limiter, replies > 0 { replies = limit(replies, with: limiter) }
            send(replies)
        }
        tally.flush(into: metrics)
    }

    /// Off the answer path: the first message of the slow path's answer, copied into `out`.
    private func slowPath(_ transfers: TransferResponder, packet: UnsafeRawBufferPointer, peer: UnsafePointer<sockaddr_storage>,
                          snapshot: Snapshot, out: UnsafeMutableRawBufferPointer) -> Int {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: out.count, alignment: 16)
        defer { scratch.deallocate() }
        let messages = transfers.respond(to: packet, transport: .udp, client: Array(clientAddress(peer)), snapshot: snapshot,
                                         responder: responder, scratch: scratch)
        guard let first = messages.first, first.count <= out.count else { return 0 }
        first.withUnsafeBytes { out.copyMemory(from: $0) }
        return first.count
    }

    /// Drops or truncates the replies over the rate (RRL) and packs the rest to the front;
    /// returns how many are left to send.
    private func limit(_ replies: Int, with limiter: ResponseRateLimiter) -> Int {
        var kept = 0
        limiter.judge(count: replies, now: monotonicSeconds(), client: { clientAddress(peers.baseAddress! + replyPeers[$0]) }) { reply, verdict in
            switch verdict {
            case .drop: return
            case .slip: sendVectors[reply].iov_len = ResponseRateLimiter.slip(sendVectors[reply].iov_base, length: sendVectors[reply].iov_len)
            case .send: break
            }
            if kept != reply {
                sendVectors[kept] = sendVectors[reply]
                sending[kept] = sending[reply]
            }
            sending[kept].msg_hdr.msg_iov = sendVectors.baseAddress! + kept
            kept += 1
        }
        return kept
    }

    private func send(_ total: Int) {
        var sent = 0
        while sent < total {
            let result = sy_sendmmsg(fd, sending.baseAddress! + sent, UInt32(total - sent), 0)
            if result < 0 {
                let code = errno
                if code == EINTR { continue }
                // A reply that cannot be sent (e.g. unreachable peer) is skipped, not retried.
                if code != EAGAIN && code != EWOULDBLOCK {
                    logger.debug("sendmmsg failed", metadata: ["listen": "\(address)", "errno": "\(code)"])
                }
                sent += 1
                continue
            }
            sent += Int(result)
        }
    }
}

/// Set once when the server stops; read by every worker between batches.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// The address bytes of a peer (4 for IPv4, 16 for IPv6), for hashed selection.
func clientAddress(_ peer: UnsafePointer<sockaddr_storage>) -> UnsafeRawBufferPointer {
    let raw = UnsafeRawPointer(peer)
    switch Int32(peer.pointee.ss_family) {
    case AF_INET: return UnsafeRawBufferPointer(start: raw + MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, count: 4)
    case AF_INET6: return UnsafeRawBufferPointer(start: raw + MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!, count: 16)
    default: return UnsafeRawBufferPointer(start: nil, count: 0)
    }
}
