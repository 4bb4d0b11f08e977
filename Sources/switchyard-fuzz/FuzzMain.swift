import Glibc
import SwitchyardFuzzing

// One binary, every target. Built by `make fuzz` with -D FUZZING, ASan and libFuzzer's coverage
// instrumentation, `main` hands control to libFuzzer's driver; in a plain `swift build` the same
// binary replays files (`switchyard-fuzz --target=zone fuzz/corpus/zone`), so it always links.
//
// Arguments of our own start with "--": libFuzzer ignores those and takes the rest.
//   --target=NAME      query, tcp, zone, inventory or admin (default query)
//   --fixtures=DIR     the zones the query, tcp, inventory and admin targets use (default fuzz/zones)

#if FUZZING
// libFuzzer's entry for programs with their own main (linked from libclang_rt.fuzzer_no_main):
// SwiftPM links executables with `main` aliased to the module's own entry point, which clashes
// with the main in libclang_rt.fuzzer that `-sanitize=fuzzer` would bring.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

// The C callback cannot capture; the driver calls it on this one thread.
nonisolated(unsafe) var harness: FuzzHarness?
nonisolated(unsafe) var target = FuzzTarget.query

@main
enum FuzzMain {
    static func main() {
        var fixtures = "fuzz/zones"
        var inputs: [String] = []
        for argument in CommandLine.arguments.dropFirst() {
            if argument.hasPrefix("--target=") {
                guard let chosen = FuzzTarget(rawValue: String(argument.dropFirst("--target=".count))) else {
                    fail("unknown \(argument); targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                target = chosen
            } else if argument.hasPrefix("--fixtures=") {
                fixtures = String(argument.dropFirst("--fixtures=".count))
            } else if !argument.hasPrefix("-") {
                inputs.append(argument)
            }
        }
        do { harness = try FuzzHarness(fixtures: fixtures) } catch { fail("cannot load the fixtures in \(fixtures): \(error)") }
#if FUZZING
        _ = inputs
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            harness!.run(target, UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
#else
        var count = 0
        for path in inputs {
            for file in FuzzCorpus.files(at: path) {
                harness!.run(target, FuzzCorpus.contents(of: file))
                count += 1
            }
        }
        say("\(target.rawValue): \(count) inputs replayed, no finding\n")
#endif
    }

    static func say(_ text: String) { _ = text.withCString { write(2, $0, strlen($0)) } }

    static func fail(_ text: String) -> Never {
        say("switchyard-fuzz: \(text)\n")
        exit(2)
    }
}
