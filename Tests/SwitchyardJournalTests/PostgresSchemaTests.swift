import Testing
@testable import SwitchyardJournal

/// Which databases a binary may run against: steps it does not know refuse it, unless the
/// newer binary that applied them flagged them compatible (additive changes it need not read).
@Suite struct PostgresSchemaTests {
    static let known = PostgresSchema.migrations.map(\.identifier)

    @Test func everyKnownStepRuns() {
        let applied = Dictionary(uniqueKeysWithValues: Self.known.map { ($0, false) })
        #expect(PostgresSchema.refusal(applied: applied) == nil)
        #expect(PostgresSchema.refusal(applied: [:]) == nil)
    }

    @Test func anUnknownStepFlaggedCompatibleRuns() {
        var applied = Dictionary(uniqueKeysWithValues: Self.known.map { ($0, false) })
        applied["v9-future-column"] = true
        #expect(PostgresSchema.refusal(applied: applied) == nil)
    }

    @Test func anUnknownStepNotFlaggedRefusesNamingOnlyThoseSteps() {
        var applied = Dictionary(uniqueKeysWithValues: Self.known.map { ($0, false) })
        applied["v9-future-column"] = true
        applied["v10-new-table-read-by-all"] = false
        applied["v11-renamed-column"] = false
        #expect(PostgresSchema.refusal(applied: applied) == ["v10-new-table-read-by-all", "v11-renamed-column"])
    }

    @Test func theFleetDataStepIsCompatibleAndAddsOnlyColumnsWithDefaults() throws {
        let step = try #require(PostgresSchema.migrations.first { $0.identifier == "v3-fleet-served-data" })
        #expect(step.compatible)
        // Compatible means additive: nothing an older binary reads or writes changes shape.
        for statement in step.statements {
            #expect(statement.hasPrefix("ALTER TABLE ") && statement.contains(" ADD COLUMN ") && statement.contains(" NOT NULL DEFAULT "))
        }
        let olderFlagged = PostgresSchema.migrations.filter { $0.identifier < "v3" && $0.compatible }
        #expect(olderFlagged.isEmpty)
    }
}
