import Foundation

/// The journal's tables in PostgreSQL: the SQLite schema's tables with the same columns (so
/// ``JournalTransaction`` runs unchanged), plus what only a fleet needs: its members, the
/// leases that give each cutover run one runner, and pauses asked of a run's runner. Like
/// ``JournalSchema``, an ordered list of steps that are never edited once shipped.
enum PostgresSchema {
    /// One schema step. `compatible`: binaries that do not know it may still run against a
    /// database that has it (it only adds what they need not read: a column with a default,
    /// a table they never touch). They refuse a database with any unknown step not so flagged.
    struct Migration: Sendable {
        var identifier: String
        var compatible = false
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(identifier: "v1-journal", statements: [
            // Times are seconds since 1970 as DOUBLE PRECISION, as in SQLite; JSON is text.
            """
            CREATE TABLE generation (
                number BIGINT PRIMARY KEY CHECK (number > 0),
                created_at DOUBLE PRECISION NOT NULL,
                actor TEXT NOT NULL,
                reason TEXT NOT NULL,
                state TEXT NOT NULL,
                changes TEXT NOT NULL,
                serials TEXT NOT NULL
            )
            """,
            // Append-only, as in SQLite: rollback is a new generation holding an old state.
            """
            CREATE FUNCTION switchyard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'generations are append-only'; END $$
            """,
            "CREATE TRIGGER generation_append_only BEFORE UPDATE OR DELETE ON generation FOR EACH ROW EXECUTE FUNCTION switchyard_append_only()",
            """
            CREATE TABLE cutover_run (
                id BIGSERIAL PRIMARY KEY,
                cluster TEXT NOT NULL,
                status TEXT NOT NULL,
                record TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX cutover_run_one_active ON cutover_run (cluster) WHERE status IN ('running', 'paused')",
            """
            CREATE TABLE hook_run (
                id BIGSERIAL PRIMARY KEY,
                generation BIGINT NOT NULL REFERENCES generation (number),
                kind TEXT NOT NULL,
                target TEXT NOT NULL,
                exit_code BIGINT,
                output TEXT NOT NULL,
                attempt BIGINT NOT NULL CHECK (attempt >= 1),
                ran_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX hook_run_generation ON hook_run (generation)",
            "CREATE INDEX hook_run_ran_at ON hook_run (ran_at)",
            """
            CREATE TABLE inventory_baseline (
                id BIGINT PRIMARY KEY CHECK (id = 1),
                state TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
            // One row per server of the fleet: where it answers DNS, which generation it
            // serves, and when it last said so (the database's clock, so servers' clocks
            // need not agree).
            """
            CREATE TABLE fleet_member (
                name TEXT PRIMARY KEY,
                dns_addresses TEXT NOT NULL,
                admin_address TEXT NOT NULL,
                generation BIGINT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL,
                heartbeat_at DOUBLE PRECISION NOT NULL
            )
            """,
            // Who runs a cutover run, until when (renewed by the owner's heartbeat).
            """
            CREATE TABLE run_lease (
                run_id BIGINT PRIMARY KEY REFERENCES cutover_run (id),
                owner TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )
            """,
        ]),
        Migration(identifier: "v2-run-pause-request", statements: [
            // A pause asked of a run through a server that does not run it: the run's server
            // honours it at its next step boundary (it hears `NOTIFY switchyard_pause` and
            // looks at every lease renewal), and a run whose server died with one pending is
            // marked paused instead of being taken over. One per run (the first asker's);
            // deleted when the run stops (honoured, completed or failed) or is resumed by hand.
            """
            CREATE TABLE run_pause_request (
                run_id BIGINT PRIMARY KEY REFERENCES cutover_run (id),
                requested_by TEXT NOT NULL,
                requested_via TEXT NOT NULL,
                requested_at DOUBLE PRECISION NOT NULL
            )
            """,
        ]),
        // Compatible: only columns with defaults. A binary that knows the flag but not this
        // step inserts and reads fleet_member by column name (the defaults fill the rest; its
        // members just report no data) and never reads the flag column's value of known steps.
        // (Binaries before this step, v2 and older, refuse any unknown step: they cannot learn it.)
        Migration(identifier: "v3-fleet-served-data", compatible: true, statements: [
            // Which migrations an older binary may ignore (see `Migration.compatible`).
            "ALTER TABLE switchyard_migration ADD COLUMN compatible BOOLEAN NOT NULL DEFAULT FALSE",
            // What each member serves from its own zones directory (`ServedData` as JSON; ''
            // for rows written before), and the heartbeat that wrote it: a heartbeat by an
            // older binary of the same member leaves it stale, and a stale one is not read.
            "ALTER TABLE fleet_member ADD COLUMN served_data TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE fleet_member ADD COLUMN served_data_at DOUBLE PRECISION NOT NULL DEFAULT 0",
        ]),
    ]

    /// The advisory lock held while migrating, so servers starting together migrate once.
    static let migrationLockKey: Int64 = 0x5357_594D

    /// Brings the schema up to date; refuses a database migrated by a newer Switchyard.
    static func migrate(_ session: PostgresSession) throws {
        try session.execute("BEGIN", [])
        do {
            try session.execute("SELECT pg_advisory_xact_lock(?)", [.integer(migrationLockKey)])
            try session.execute("CREATE TABLE IF NOT EXISTS switchyard_migration (identifier TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", [])
            let applied = try appliedMigrations(session)
            if let blocking = refusal(applied: applied) {
                throw JournalError.newerSchema(path: session.backend.location, unknownMigrations: blocking)
            }
            for migration in migrations where applied[migration.identifier] == nil {
                for statement in migration.statements { try session.execute(statement, []) }
                try session.execute("INSERT INTO switchyard_migration (identifier, applied_at) VALUES (?, ?)",
                                    [.text(migration.identifier), .real(Date().timeIntervalSince1970)])
                // The flag column exists from v3 on, and so from any compatible step on.
                if migration.compatible {
                    try session.execute("UPDATE switchyard_migration SET compatible = TRUE WHERE identifier = ?", [.text(migration.identifier)])
                }
            }
            try session.execute("COMMIT", [])
        } catch {
            _ = try? session.execute("ROLLBACK", [])
            throw error
        }
    }

    /// The steps applied to the database, each with its compatibility flag (false before v3
    /// added the column: only older binaries had written steps then, none flagged).
    static func appliedMigrations(_ session: PostgresSession) throws -> [String: Bool] {
        let flagged = try session.fetchOne("""
            SELECT 1 AS present FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'switchyard_migration' AND column_name = 'compatible'
            """) != nil
        let rows = try session.fetch("SELECT identifier, \(flagged ? "compatible" : "FALSE") AS compatible FROM switchyard_migration", [])
        var applied: [String: Bool] = [:]
        for row in rows { applied[try row.text("identifier")] = try row.integer("compatible") != 0 }
        return applied
    }

    /// The applied steps this binary does not know and may not ignore (sorted), or nil when it
    /// may run: every unknown step is flagged compatible (a newer binary's additive change).
    static func refusal(applied: [String: Bool], known: [Migration] = migrations) -> [String]? {
        let knownIdentifiers = Set(known.map(\.identifier))
        let blocking = applied.filter { !knownIdentifiers.contains($0.key) && !$0.value }.keys.sorted()
        return blocking.isEmpty ? nil : blocking
    }
}
