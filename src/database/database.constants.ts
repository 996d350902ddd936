// The two DataSources. Public: the schedule, owned by another system (read, plus the
// reserved counters). Private: everything this service owns, migrated by it.
export const PUBLIC_DB = 'public';
export const PRIVATE_DB = 'private';
export const PRIVATE_MIGRATIONS_TABLE = 'private_migrations';
