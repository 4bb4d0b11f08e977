import GRDB

/// The journal's tables, as an ordered list of migrations. Never edit a shipped migration:
/// add a new one, so a database written by any older Switchyard upgrades in place and a
/// database written by a newer one is recognised (``DatabaseMigrator/hasBeenSuperseded(_:)``).
enum JournalSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-journal") { db in
            // Times are REAL seconds since 1970 (`datetime(created_at, 'unixepoch')` in sqlite3)
            // so a Date round-trips exactly enough to compare; JSON columns are sorted-key JSON.
            try db.execute(sql: """
                CREATE TABLE generation (
                    number INTEGER PRIMARY KEY CHECK (number > 0),
                    created_at REAL NOT NULL,
                    actor TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    state TEXT NOT NULL,
                    changes TEXT NOT NULL,
                    serials TEXT NOT NULL
                );
                -- The journal is append-only: rollback is a new generation holding an old
                -- state, so a number once served is never reused or rewritten.
                CREATE TRIGGER generation_no_update BEFORE UPDATE ON generation
                BEGIN SELECT RAISE(ABORT, 'generations are append-only'); END;
                CREATE TRIGGER generation_no_delete BEFORE DELETE ON generation
                BEGIN SELECT RAISE(ABORT, 'generations are append-only'); END;

                CREATE TABLE cutover_run (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    cluster TEXT NOT NULL,
                    status TEXT NOT NULL,
                    record TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                -- One running or paused cutover per cluster, enforced by the database so two
                -- processes cannot both start one.
                CREATE UNIQUE INDEX cutover_run_one_active ON cutover_run (cluster)
                    WHERE status IN ('running', 'paused');

                CREATE TABLE hook_run (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    generation INTEGER NOT NULL REFERENCES generation (number),
                    kind TEXT NOT NULL,
                    target TEXT NOT NULL,
                    exit_code INTEGER,
                    output TEXT NOT NULL,
                    attempt INTEGER NOT NULL CHECK (attempt >= 1),
                    ran_at REAL NOT NULL
                );
                CREATE INDEX hook_run_generation ON hook_run (generation);
                CREATE INDEX hook_run_ran_at ON hook_run (ran_at);
                """)
        }
        migrator.registerMigration("v2-inventory-baseline") { db in
            // What the inventories declared at the last load, so that an edit made while the
            // server was down is recognised at the next start (and wins over the journal).
            try db.execute(sql: """
                CREATE TABLE inventory_baseline (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    state TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v3-metadata") { db in
            // Facts about the state directory itself, one row per key: which zones directory
            // it belongs to (`zones_directory`), so that a server started on another zones
            // directory does not serve this journal's generations by mistake.
            try db.execute(sql: """
                CREATE TABLE metadata (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                """)
        }
        return migrator
    }
}
