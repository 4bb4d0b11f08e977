// Nothing to import: the target only contributes thrd_create to ThreadSanitizer builds
// (see thrd_create.c). Swift code never calls it.
