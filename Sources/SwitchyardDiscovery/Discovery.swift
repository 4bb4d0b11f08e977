// Filled in by the discovery work.
