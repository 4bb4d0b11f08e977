import Glibc

/// A failed system call: which call, on what, and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let context: String
    public let errno: Int32

    public var description: String {
        "\(call) failed for \(context): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Runs a libc call, retrying on EINTR, and throws `SystemError` when it returns -1.
@discardableResult
func systemCall<T: BinaryInteger>(_ name: String, _ context: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(call: name, context: context(), errno: code)
    }
}
