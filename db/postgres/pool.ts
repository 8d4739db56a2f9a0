import pg from 'pg'
import { StorageFull, StoreUnavailable } from '../errors.js'

/** A schema name that needs no quoting anywhere (search_path, CREATE SCHEMA). */
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/

/** BIGINT as a JS number: every bigint the store reads (ids, seqs, times) is below 2^53. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
}

/**
 * Connection settings for a postgres:// URL. A `schema` (the option, else the URL's
 * `?schema=` parameter, which PostgreSQL itself does not know) becomes the search_path
 * of every connection; BIGINT columns read as numbers on these connections only.
 */
export function pgClientConfig (url: string, schema?: string): pg.ClientConfig & { schema: string | undefined } {
  const parsed = new URL(url)
  const chosen = schema ?? parsed.searchParams.get('schema') ?? undefined
  if (chosen === undefined) return { connectionString: url, types, schema: undefined }
  if (!SCHEMA.test(chosen)) throw new Error(`PostgreSQL schema "${chosen}" must be 1-63 of a-z, 0-9 and _, not starting with a digit`)
  // The URL's own `options` would replace ours (pg lets the URL win): both go in ours.
  const given = parsed.searchParams.get('options')
  parsed.searchParams.delete('schema')
  parsed.searchParams.delete('options')
  return {
    connectionString: parsed.toString(),
    types,
    options: `${given === null ? '' : `${given} `}-c search_path=${chosen}`,
    schema: chosen,
  }
}

/** Something to run a query on: the pool (one statement, autocommit) or a transaction's client. */
export type Queryable = Pick<pg.Pool, 'query'>

/** A statement prepared once per connection (pg names it), run with positional values. */
export interface Statement { name: string, text: string }

/** A named statement: pg prepares it once per connection. */
export const statement = (name: string, text: string): Statement => ({ name: `timgate_${name}`, text })

export async function run<R extends pg.QueryResultRow> (db: Queryable, stmt: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>({ name: stmt.name, text: stmt.text, values })
  } catch (err) {
    throw translated(err)
  }
}

/** Errors of the connection rather than of the statement: the server is away, restarting or full of clients. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006'])
/** pg's own wording of a lost or impossible connection (it gives these no code). */
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed|Cannot use a pool after calling end/

/** A pg error as the condition it reports (StoreUnavailable, StorageFull), or as it is. */
export function translated (err: unknown): unknown {
  if (err instanceof StoreUnavailable || err instanceof StorageFull) return err
  const { code, message } = err as { code?: unknown, message?: unknown }
  if (code === '53100') return new StorageFull('the database server\'s disk is full', { cause: err })
  if ((typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message))) {
    return new StoreUnavailable('PostgreSQL does not answer', { cause: err })
  }
  return err
}

/** Serialization failures and deadlocks: the transaction lost a race and may simply run again. */
const RETRYABLE = new Set(['40001', '40P01'])
const ATTEMPTS = 5

const retryable = (err: unknown): boolean => RETRYABLE.has((err as { code?: string }).code ?? '')

/** Runs `fn` again (after a short random pause) when it lost a race, a few times. */
export async function retrying<T> (fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= ATTEMPTS || !retryable(err)) throw err
      await new Promise(resolve => setTimeout(resolve, Math.random() * 10 * attempt))
    }
  }
}

/**
 * Runs `fn` in a transaction on a client of its own (READ COMMITTED: every statement sees
 * what committed before it started, which the row locks of the store rely on).
 */
export async function transaction<T> (pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return retrying(async () => {
    const client = await pool.connect().catch((err: unknown) => { throw translated(err) })
    let broken: Error | undefined
    // A checked-out client has no pool listener: a connection lost between two statements
    // would be an 'error' event nobody hears, and end the process. The next statement fails.
    const lost = (err: Error) => { broken = err }
    client.on('error', lost)
    try {
      await client.query('BEGIN')
      const out = await fn(client)
      await client.query('COMMIT')
      return out
    } catch (err) {
      // A client that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((e: Error) => { broken = e })
      throw translated(err)
    } finally {
      client.off('error', lost)
      client.release(broken)
    }
  })
}
