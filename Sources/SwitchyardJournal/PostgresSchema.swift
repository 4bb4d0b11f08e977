import Foundation

/// The journal's tables in PostgreSQL: the SQLite schema's tables with the same columns (so
/// ``JournalTransaction`` runs unchanged), plus what only a fleet needs: its members, the
/// leases that give each cutover run one runner, and pauses asked of a run's runner. Like
/// ``JournalSchema``, an ordered list of steps that are never edited once shipped.
enum PostgresSchema {
    static let migrations: [(identifier: String, statements: [String])] = [
        ("v1-journal", [
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
        ("v2-run-pause-request", [
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
    ]

    /// The advisory lock held while migrating, so servers starting together migrate once.
    static let migrationLockKey: Int64 = 0x5357_594D

    /// Brings the schema up to date; refuses a database migrated by a newer Switchyard.
    static func migrate(_ session: PostgresSession) throws {
        try session.execute("BEGIN", [])
        do {
            try session.execute("SELECT pg_advisory_xact_lock(?)", [.integer(migrationLockKey)])
            try session.execute("CREATE TABLE IF NOT EXISTS switchyard_migration (identifier TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", [])
            let applied = Set(try session.fetch("SELECT identifier FROM switchyard_migration", []).map { try $0.text("identifier") })
            let known = Set(migrations.map(\.identifier))
            let unknown = applied.subtracting(known).sorted()
            guard unknown.isEmpty else { throw JournalError.newerSchema(path: session.backend.location, unknownMigrations: unknown) }
            for migration in migrations where !applied.contains(migration.identifier) {
                for statement in migration.statements { try session.execute(statement, []) }
                try session.execute("INSERT INTO switchyard_migration (identifier, applied_at) VALUES (?, ?)",
                                    [.text(migration.identifier), .real(Date().timeIntervalSince1970)])
            }
            try session.execute("COMMIT", [])
        } catch {
            _ = try? session.execute("ROLLBACK", [])
            throw error
        }
    }
}
