import CNetShim
import Glibc
import Logging
import SwitchyardCore
import SwitchyardTransfer

/// DNS over TCP (RFC 7766) on one event-loop thread: two-byte length framing, any number
/// of pipelined queries per connection answered in order, an idle timeout, and a cap on
/// open connections. Output that the peer does not read pauses reading (back-pressure).
final class TCPServer: @unchecked Sendable {
    struct Settings: Sendable {
        var idleTimeout: Double
        var maxConnections: Int
    }

    /// How many connections have a zone transfer going (their share of `transferBudget`).
    private final class TransferCount {
        var value = 0
    }

    private final class Connection {
        let fd: Int32
        /// The peer's address bytes, for hashed selection.
        var peer: [UInt8] = []
        var frames = TCPFrameReader()
        var output: [UInt8] = []
        var outputOffset = 0
        var lastActive: Double
        var waitingToWrite = false
        /// The rest of a zone transfer, made as the peer takes what was sent (a whole zone is
        /// never held here: at most `TCPServer.transferPiece` bytes of it at a time).
        var transfer: TransferReply? {
            didSet { transferring.value += (transfer != nil ? 1 : 0) - (oldValue != nil ? 1 : 0) }
        }
        private let transferring: TransferCount
        init(fd: Int32, now: Double, transferring: TransferCount) {
            self.fd = fd; self.lastActive = now; self.transferring = transferring
        }
        var hasPendingOutput: Bool { outputOffset < output.count }
    }

    private let listeners: [Int32: ListenAddress]
    private let epoll: Int32
    private let store: SnapshotStore
    private let responder: Responder
    private let settings: Settings
    private let stopping: StopFlag
    private let logger: Logger
    private let metrics: QueryMetrics
    /// Signed queries and zone transfers (several messages per query).
    private let transfers: TransferResponder?
    private var tally: QueryTally
    private var connections: [Int32: Connection] = [:]
    private let response = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 16)
    private let transferring = TransferCount()
    /// How much of a zone transfer is made ahead of what the peer has taken, at most.
    static let transferBuffer = 256 << 10
    /// What all transfers together may have made ahead: with many at once each gets a share,
    /// so that memory does not grow with the connection limit (1000 transfers would
    /// otherwise hold 256 MB).
    static let transferBudget = 16 << 20
    /// A share never goes below about one transfer message (the transfer writer fills
    /// messages to 16 KiB).
    static let smallestTransferPiece = 16 << 10
    /// A connection's output buffer keeps at most this much capacity once its transfer is done.
    static let keptOutputCapacity = 64 << 10

    /// The output one connection's transfer may be ahead by while `inProgress` transfers run.
    static func transferPiece(inProgress: Int) -> Int {
        min(transferBuffer, max(smallestTransferPiece, transferBudget / max(1, inProgress)))
    }

    init(listeners: [Int32: ListenAddress], store: SnapshotStore, maxUDPSize: Int, settings: Settings,
         stopping: StopFlag, metrics: QueryMetrics, transfers: TransferResponder?, logger: Logger) throws(SystemError) {
        self.listeners = listeners
        self.transfers = transfers
        self.metrics = metrics
        self.tally = QueryTally(snapshot: store.snapshot)
        self.store = store
        self.responder = Responder(maxUDPSize: maxUDPSize, defersSlowPath: transfers != nil)
        self.settings = settings
        self.stopping = stopping
        self.logger = logger
        self.epoll = try systemCall("epoll_create", "TCP listeners") { sy_epoll_create() }
        for (fd, address) in listeners {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            try systemCall("listen", address.description) { listen(fd, 1024) }
            try systemCall("epoll_ctl", address.description) { sy_epoll_ctl(epoll, EPOLL_CTL_ADD, fd, EPOLLIN.rawValue) }
        }
    }

    deinit {
        response.deallocate()
        close(epoll)
    }

    func run() {
        var cache = SnapshotCache(store: store)
        let fds = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 128)
        let events = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: 128)
        defer { fds.deallocate(); events.deallocate() }
        var lastSweep = monotonicSeconds()
        var lastFlush = lastSweep
        while !stopping.isSet {
            let count = sy_epoll_wait(epoll, fds.baseAddress, events.baseAddress, 128, 250)
            let now = monotonicSeconds()
            cache.refresh()
            if tally.needsFlush(since: &lastFlush, serving: cache.snapshot) {
                tally.flush(into: metrics, next: cache.snapshot)
            }
            for i in 0..<max(0, Int(count)) {
                let fd = fds[i], event = events[i]
                if listeners[fd] != nil {
                    acceptAll(on: fd, now: now)
                    continue
                }
                guard let connection = connections[fd] else { continue }
                if event & EPOLLERR.rawValue != 0 { drop(connection); continue }
                var readable = event & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLRDHUP.rawValue) != 0
                if event & EPOLLOUT.rawValue != 0 {
                    guard flush(connection, now: now) else { continue }
                    // Queries that waited behind a transfer are answered once it has all gone.
                    if !connection.waitingToWrite && connection.frames.count > 0 { readable = true }
                }
                if readable && !connection.waitingToWrite {
                    readAndAnswer(connection, snapshot: cache.snapshot, now: now)
                }
            }
            if now - lastSweep >= 0.25 {
                lastSweep = now
                closeIdle(now: now)
            }
        }
        shutdown()
        tally.flush(into: metrics)
    }

    private func acceptAll(on listener: Int32, now: Double) {
        while true {
            let fd = sy_accept_nonblocking(listener)
            if fd < 0 {
                let code = errno
                if code == EINTR || code == ECONNABORTED { continue }
                if code != EAGAIN && code != EWOULDBLOCK {
                    logger.warning("accept failed", metadata: ["listen": "\(listeners[listener]!)", "errno": "\(code)"])
                }
                return
            }
            guard connections.count < settings.maxConnections else {
                // Over the cap: close at once so the client fails fast and retries elsewhere.
                close(fd)
                logger.debug("TCP connection refused: at the connection cap", metadata: ["cap": "\(settings.maxConnections)"])
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            guard sy_epoll_ctl(epoll, EPOLL_CTL_ADD, fd, EPOLLIN.rawValue | EPOLLRDHUP.rawValue) == 0 else {
                close(fd); continue
            }
            let connection = Connection(fd: fd, now: now, transferring: transferring)
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            if withUnsafeMutablePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) } }) == 0 {
                connection.peer = withUnsafePointer(to: &address) { Array(clientAddress($0)) }
            }
            connections[fd] = connection
        }
    }

    private func readAndAnswer(_ connection: Connection, snapshot: Snapshot, now: Double) {
        var peerClosed = false
        while true {
            // Nil: the buffer is at its limit and holds a whole message; answer before reading on.
            guard let (result, room) = connection.frames.fill({ read(connection.fd, $0.baseAddress, $0.count) }) else { break }
            if result > 0 {
                connection.lastActive = now
                if result < room { break }
                continue
            }
            if result == 0 { peerClosed = true; break }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { break }
            drop(connection)
            return
        }
        guard answerAndFlush(connection, snapshot: snapshot, now: now) else { return }
        if peerClosed {
            if connection.hasPendingOutput || connection.transfer != nil { connection.waitingToWrite = true } else { drop(connection) }
        }
    }

    /// Answers what is buffered and sends it; again while a transfer finished in the send and
    /// queries wait behind it. False when the connection was closed.
    private func answerAndFlush(_ connection: Connection, snapshot: Snapshot, now: Double) -> Bool {
        repeat {
            let buffered = connection.frames.count
            guard answerFrames(connection, snapshot: snapshot) else { drop(connection); return false }
            guard flush(connection, now: now) else { return false }
            if connection.frames.count == buffered { break }  // only part of a message is left
        } while !connection.waitingToWrite && connection.transfer == nil && connection.frames.count > 0
        return true
    }

    /// Answers the complete frames in the input buffer, in order, up to a zone transfer that
    /// is still being made: the queries behind it wait in the buffer until it is done, so a
    /// pipelined query never makes the rest of a zone pile up in memory. False when the
    /// stream is not DNS.
    private func answerFrames(_ connection: Connection, snapshot: Snapshot) -> Bool {
        connection.frames.takeMessages(while: { packet in
            let answer = connection.peer.withUnsafeBytes { peer in
                responder.respond(to: packet, transport: .tcp, snapshot: snapshot, client: peer, into: response)
            }
            tally.count(responder.outcome)
            if responder.outcome.deferred, let transfers {
                connection.transfer = transfers.reply(to: packet, transport: .tcp, client: connection.peer, snapshot: snapshot,
                                                      responder: responder, scratch: response)
                continueTransfer(connection)
                return connection.transfer == nil
            }
            if answer > 0 { append(UnsafeRawBufferPointer(rebasing: response[0..<answer]), to: connection) }
            return true
        })
    }

    private func append(_ message: UnsafeRawBufferPointer, to connection: Connection) {
        guard message.count <= 65_535 else { return }
        connection.output.append(UInt8(message.count >> 8))
        connection.output.append(UInt8(message.count & 0xFF))
        connection.output.append(contentsOf: message)
    }

    /// Makes more of the connection's transfer, up to `transferBuffer` bytes of output; false
    /// when there is none left to make.
    @discardableResult
    private func continueTransfer(_ connection: Connection) -> Bool {
        guard connection.transfer != nil else { return false }
        let piece = Self.transferPiece(inProgress: transferring.value)
        while connection.output.count - connection.outputOffset < piece {
            guard let message = connection.transfer!.next() else {
                connection.transfer = nil
                break
            }
            message.withUnsafeBytes { append($0, to: connection) }
        }
        return connection.hasPendingOutput
    }

    /// Writes pending output, then makes and writes one more piece of a transfer in progress.
    /// False when the connection was closed.
    @discardableResult
    private func flush(_ connection: Connection, now: Double) -> Bool {
        var madeMore = false
        while true {
            while connection.hasPendingOutput {
                let result = connection.output.withUnsafeBytes {
                    Glibc.send(connection.fd, $0.baseAddress! + connection.outputOffset, connection.output.count - connection.outputOffset, Int32(MSG_NOSIGNAL))
                }
                if result > 0 {
                    connection.outputOffset += result
                    connection.lastActive = now
                    continue
                }
                let code = errno
                if result < 0 && code == EINTR { continue }
                if result < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                    // Stop reading until the peer takes what we have (RFC 7766 section 6.2.3).
                    waitToWrite(connection)
                    return true
                }
                drop(connection)
                return false
            }
            if connection.transfer == nil && connection.output.capacity > Self.keptOutputCapacity {
                connection.output = []  // a finished transfer's buffer goes back
            } else {
                connection.output.removeAll(keepingCapacity: true)
            }
            connection.outputOffset = 0
            guard connection.transfer != nil, !madeMore else { break }
            continueTransfer(connection)
            madeMore = true
        }
        if connection.transfer != nil {
            // One piece per turn, so a zone going out does not hold up the other connections:
            // the rest follows when the socket is writable again (at once, if it still is).
            waitToWrite(connection)
        } else if connection.waitingToWrite {
            connection.waitingToWrite = false
            _ = sy_epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        }
        return true
    }

    private func waitToWrite(_ connection: Connection) {
        guard !connection.waitingToWrite else { return }
        connection.waitingToWrite = true
        _ = sy_epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, EPOLLOUT.rawValue | EPOLLRDHUP.rawValue)
    }

    private func closeIdle(now: Double) {
        for connection in connections.values where now - connection.lastActive > settings.idleTimeout {
            drop(connection)
        }
    }

    private func drop(_ connection: Connection) {
        connection.transfer = nil
        _ = sy_epoll_ctl(epoll, EPOLL_CTL_DEL, connection.fd, 0)
        close(connection.fd)
        connections[connection.fd] = nil
    }

    /// Stop accepting, give pending answers a moment to leave, then close everything.
    private func shutdown() {
        for fd in listeners.keys { close(fd) }
        let deadline = monotonicSeconds() + 1
        for connection in connections.values {
            connection.transfer = nil  // the rest of a zone is not worth the wait: secondaries retry
            _ = fcntl(connection.fd, F_SETFL, fcntl(connection.fd, F_GETFL) & ~O_NONBLOCK)
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            _ = setsockopt(connection.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if monotonicSeconds() < deadline { flush(connection, now: 0) }
            if connections[connection.fd] != nil { drop(connection) }
        }
    }
}

public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// The monotonic clock to the last timer tick (a few ms): cheaper to read, which matters
/// where it is read once per batch of queries only to see whether a second has passed.
func coarseMonotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
