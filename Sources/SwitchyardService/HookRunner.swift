import Foundation

/// The outcome of one hook command.
public struct HookResult: Sendable, Equatable, CustomStringConvertible {
    public var command: String
    public var exitCode: Int32
    public var output: String
    public var timedOut: Bool
    /// Wall-clock seconds it ran.
    public var seconds: Double = 0
    public var succeeded: Bool { exitCode == 0 && !timedOut }
    public var description: String {
        timedOut ? "`\(command)` timed out" : "`\(command)` exited \(exitCode)"
    }
}

/// Runs configured shell commands (cache flushes, discovery consumers) with placeholders
/// filled in, a timeout, and their exit code and output captured.
public enum HookRunner {

    /// Runs `command` with `/bin/sh -c`, `environment` added to this process's, stopping
    /// it (SIGTERM, then SIGKILL) after `timeout` seconds.
    public static func run(_ command: String, timeout: Double = 10, environment: [String: String] = [:]) -> HookResult {
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            return HookResult(command: command, exitCode: 127, output: "cannot start /bin/sh: \(error)", timedOut: false)
        }
        // Read while it runs, so a chatty command never blocks on a full pipe.
        let reader = OutputReader(pipe.fileHandleForReading)
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            if finished.wait(timeout: .now() + 2) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                finished.wait()
            }
        }
        let output = reader.finish()
        return HookResult(command: command, exitCode: process.terminationStatus, output: output, timedOut: timedOut,
                          seconds: Date().timeIntervalSince(started))
    }

    private final class OutputReader: @unchecked Sendable {
        private let handle: FileHandle
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ handle: FileHandle) {
            self.handle = handle
            Thread.detachNewThread { [self] in
                while case let chunk = handle.availableData, !chunk.isEmpty {
                    if data.count < 64 * 1024 { data.append(chunk) }
                }
                done.signal()
            }
        }
        func finish() -> String {
            _ = done.wait(timeout: .now() + 2)
            return String(decoding: data, as: UTF8.self)
        }
    }
}
