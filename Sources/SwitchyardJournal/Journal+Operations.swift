import Foundation
import SwitchyardControl

// One-call forms of the transaction operations: each is its own transaction. See
// `JournalTransaction` for what they do.
extension Journal {
    // MARK: Generations

    public func latest() throws -> Generation? {
        try read { try $0.latest() }
    }

    public func generation(_ number: UInt64) throws -> Generation? {
        try read { try $0.generation(number) }
    }

    /// Appends the next generation and returns once it is committed and synced to disk.
    @discardableResult
    public func append(state: ServingState, actor: String, reason: String, serials: [String: UInt32], at date: Date) throws -> Generation {
        try write { try $0.append(state: state, actor: actor, reason: reason, serials: serials, at: date) }
    }

    /// Appends the next generation, diffing against `baseWhenEmpty` when the journal is empty;
    /// returns once it is committed and synced to disk.
    @discardableResult
    public func append(state: ServingState, actor: String, reason: String, serials: [String: UInt32], at date: Date,
                       baseWhenEmpty: ServingState) throws -> Generation {
        try write { try $0.append(state: state, actor: actor, reason: reason, serials: serials, at: date, baseWhenEmpty: baseWhenEmpty) }
    }

    public func history(limit: Int, matching: ((NameChange) -> Bool)? = nil) throws -> [Generation] {
        try read { try $0.history(limit: limit, matching: matching) }
    }

    public func history(limit: Int, nameSuffix: String) throws -> [Generation] {
        try read { try $0.history(limit: limit, nameSuffix: nameSuffix) }
    }

    public func generations(atOrBelow number: UInt64, limit: Int) throws -> [Generation] {
        try read { try $0.generations(atOrBelow: number, limit: limit) }
    }

    public func ttlHistory(atOrBelow number: UInt64, limit: Int) throws -> [Generation] {
        try read { try $0.ttlHistory(atOrBelow: number, limit: limit) }
    }

    public func walkChanges(_ visit: (JournalTransaction.ChangeEntry) throws -> Bool) throws {
        try read { try $0.walkChanges(visit) }
    }

    public func generation(serving serial: UInt32, origin: String, since: UInt64) throws -> Generation? {
        try read { try $0.generation(serving: serial, origin: origin, since: since) }
    }

    public func servedSerial(origin: String) throws -> UInt32? {
        try read { try $0.servedSerial(origin: origin) }
    }

    // MARK: Cutover runs

    public func createRun<T: Encodable>(cluster: String, status: String, record: T, at date: Date = Date()) throws -> Int64 {
        try write { try $0.createRun(cluster: cluster, status: status, record: record, at: date) }
    }

    public func updateRun<T: Encodable>(id: Int64, status: String, record: T, at date: Date = Date()) throws {
        try write { try $0.updateRun(id: id, status: status, record: record, at: date) }
    }

    public func run<T: Decodable>(id: Int64, as type: T.Type) throws -> (cluster: String, status: String, record: T)? {
        try read { try $0.run(id: id, as: type) }
    }

    public func activeRun(cluster: String) throws -> (id: Int64, status: String)? {
        try read { try $0.activeRun(cluster: cluster) }
    }

    public func runs(limit: Int, cluster: String? = nil) throws -> [CutoverRunSummary] {
        try read { try $0.runs(limit: limit, cluster: cluster) }
    }

    // MARK: Hook runs

    @discardableResult
    public func recordHook(generation: UInt64, kind: HookKind, target: String, exitCode: Int32?, output: String,
                           attempt: Int = 1, at date: Date = Date()) throws -> HookRun {
        try write { try $0.recordHook(generation: generation, kind: kind, target: target, exitCode: exitCode,
                                      output: output, attempt: attempt, at: date) }
    }

    public func hookRuns(generation: UInt64) throws -> [HookRun] {
        try read { try $0.hookRuns(generation: generation) }
    }

    public func failedHooks(since: Date, includingRetried: Bool = false) throws -> [HookRun] {
        try read { try $0.failedHooks(since: since, includingRetried: includingRetried) }
    }

    /// The settings the inventories declared at the last load, if recorded.
    public func inventoryBaseline() throws -> ServingState? { try read { try $0.inventoryBaseline() } }

    public func setInventoryBaseline(_ state: ServingState, at date: Date = Date()) throws {
        try write { try $0.setInventoryBaseline(state, at: date) }
    }
}

extension Journal {
    // MARK: Ownership

    /// The zones directory this journal belongs to, if recorded.
    public func zonesDirectory() throws -> String? { try read { try $0.zonesDirectory() } }

    /// See ``JournalTransaction/claim(zonesDirectory:adopt:at:)``.
    @discardableResult
    public func claim(zonesDirectory: String, adopt: Bool, at date: Date = Date()) throws -> StateClaim {
        try write { try $0.claim(zonesDirectory: zonesDirectory, adopt: adopt, at: date) }
    }
}
