import type {DuckDBConnection} from '@duckdb/node-api'

import type {StatementType} from '@duckdb/node-api'
import {duckdb} from '../core/index.js'
import {UsageError} from '../core/index.js'
import {type SqlQuery} from './sql-params.js'

export interface UserSqlQuery extends SqlQuery {
  /** Always SELECT today: the only statement type the guard lets through. */
  statementType: 'SELECT'
}

/** Leading keywords of the statements `flowscope sql` accepts. */
const ALLOWED_LEADS = new Set(['select', 'with', 'from', 'values', 'table', 'describe', 'desc', 'show', 'summarize', 'pragma', '('])

/** Pragmas that only read the catalogue; DuckDB rewrites these into SELECTs. */
const ALLOWED_PRAGMAS = new Set(['table_info', 'show_tables', 'show_tables_expanded', 'database_size', 'database_list', 'storage_info', 'version', 'platform', 'show'])

/**
 * Read-only guard for `flowscope sql`. Accepts exactly one statement that DuckDB itself classifies
 * as a SELECT — that covers SELECT, WITH … SELECT, FROM-first queries, VALUES, DESCRIBE, SHOW,
 * SUMMARIZE and the catalogue pragmas (DuckDB rewrites `PRAGMA table_info` into a SELECT) — and
 * whose text also starts with one of those keywords (belt and braces). Everything else (INSERT,
 * UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH, COPY, EXPORT, SET, CALL, LOAD, INSTALL, PRAGMA with
 * side effects, EXPLAIN, transactions, several statements) is a usage error.
 *
 * Parsing executes nothing, but preparing is not always free of effects: DuckDB creates the target
 * folder of `EXPORT DATABASE '/…'` while binding it. So the leading keyword and the pragma name are
 * checked after parsing and before preparing; only a statement that starts like a query is prepared.
 * The guard is not the only defence: the command opens the
 * store read-only (DuckDB `access_mode = READ_ONLY`), so even a statement that slipped through could
 * not change it. A SELECT can still read files (`read_csv('/…')`) — that is a feature for people
 * joining their own data; a deployment that must prevent it should set `enable_external_access = false`.
 */
export async function buildSqlQuery(userSql: string, connection: DuckDBConnection): Promise<UserSqlQuery> {
  const lead = leadingKeyword(userSql)
  if (lead === undefined) throw new UsageError('no SQL statement given')
  let count: number
  let statementType: StatementType
  try {
    const extracted = await connection.extractStatements(userSql)
    count = extracted.count
    if (count !== 1) throw new UsageError(`flowscope sql runs exactly one statement, got ${count}`)
    refuseByText(lead)
    const prepared = await extracted.prepare(0)
    try {
      statementType = prepared.statementType
    } finally {
      prepared.destroySync()
    }
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`SQL error: ${firstLine(err)}`, {cause: err})
  }
  if (statementType !== duckdb().StatementType.SELECT) {
    const kind = duckdb().StatementType[statementType] ?? String(statementType)
    throw notAllowed(`${kind} statements are not allowed`)
  }
  return {sql: userSql, params: {}, types: {}, statementType: 'SELECT'}
}

/** Refuses, from its text alone, a statement that does not start like a query or an allowed pragma. */
function refuseByText(lead: {word: string; next: string}): void {
  if (!ALLOWED_LEADS.has(lead.word)) throw notAllowed(`${lead.word.toUpperCase()} statements are not allowed`)
  if (lead.word === 'pragma' && !ALLOWED_PRAGMAS.has(lead.next)) {
    throw new UsageError(`flowscope sql is read-only: PRAGMA ${lead.next} is not allowed`, {
      hint: `allowed pragmas: ${[...ALLOWED_PRAGMAS].join(', ')}`,
    })
  }
}

function notAllowed(what: string): UsageError {
  return new UsageError(`flowscope sql is read-only: ${what}`, {
    hint: 'use SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or PRAGMA table_info; the store is opened read-only',
  })
}

/** First keyword after leading whitespace and comments, lower-cased, and the word after it. */
function leadingKeyword(sql: string): {word: string; next: string} | undefined {
  let s = sql
  for (;;) {
    s = s.trimStart()
    if (s.startsWith('--')) {
      const nl = s.indexOf('\n')
      s = nl < 0 ? '' : s.slice(nl + 1)
    } else if (s.startsWith('/*')) {
      const end = s.indexOf('*/', 2)
      s = end < 0 ? '' : s.slice(end + 2)
    } else {
      break
    }
  }
  if (s === '') return undefined
  if (s.startsWith('(')) return {word: '(', next: ''}
  const m = /^([A-Za-z_]+)\s*([A-Za-z_]*)/.exec(s)
  if (!m) return {word: s.slice(0, 1), next: ''}
  return {word: m[1]!.toLowerCase(), next: m[2]!.toLowerCase()}
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.split('\n')[0] ?? msg
}
