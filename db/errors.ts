/**
 * The conditions a store reports in its own terms, whatever the database: the services
 * and the HTTP layer see these, never a SqliteError or a pg error (src/plugins/errors.ts
 * answers them as 507 and 503). The original error is the `cause`.
 */

/** The database cannot grow: its disk (or its quota) is full. */
export class StorageFull extends Error {
  override name = 'StorageFull'
}

/** The database does not answer: unreachable, restarting, or out of connections. */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable'
}
