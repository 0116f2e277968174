/**
 * Executes query-layer statements against the store and hands rows over as plain JSON values, a
 * chunk at a time (DuckDB's streaming result: memory stays flat however many rows). 64-bit and
 * 128-bit integers become numbers when exact, else decimal strings; timestamps ISO 8601 with µs.
 */
import {duckdb} from '../core/index.js'
import type {DuckDBResult} from '@duckdb/node-api'

import type {FlowStore} from '../io/index.js'
import type {SqlQuery} from './sql-params.js'

export type JsonScalar = string | number | boolean | null
export type JsonRow = Record<string, JsonScalar | JsonScalar[] | Record<string, unknown>>

export interface QueryStream {
  columns: string[]
  chunks: AsyncGenerator<JsonRow[]>
}

const BIG = new Set<number>([duckdb().DuckDBTypeId.BIGINT, duckdb().DuckDBTypeId.UBIGINT, duckdb().DuckDBTypeId.HUGEINT, duckdb().DuckDBTypeId.UHUGEINT, duckdb().DuckDBTypeId.DECIMAL])
const TIMESTAMPS = new Set<number>([
  duckdb().DuckDBTypeId.TIMESTAMP,
  duckdb().DuckDBTypeId.TIMESTAMP_MS,
  duckdb().DuckDBTypeId.TIMESTAMP_NS,
  duckdb().DuckDBTypeId.TIMESTAMP_S,
  duckdb().DuckDBTypeId.TIMESTAMP_TZ,
])

export async function streamQuery(store: FlowStore, q: SqlQuery, rowHook?: (row: JsonRow) => JsonRow): Promise<QueryStream> {
  const result = await store.connection.stream(q.sql, q.params, q.types)
  const columns = result.deduplicatedColumnNames()
  return {columns, chunks: convertChunks(result, columns, rowHook)}
}

export async function runQuery(store: FlowStore, q: SqlQuery, rowHook?: (row: JsonRow) => JsonRow): Promise<{columns: string[]; rows: JsonRow[]}> {
  const s = await streamQuery(store, q, rowHook)
  const rows: JsonRow[] = []
  for await (const chunk of s.chunks) for (const r of chunk) rows.push(r)
  return {columns: s.columns, rows}
}

async function* convertChunks(result: DuckDBResult, columns: string[], rowHook?: (row: JsonRow) => JsonRow): AsyncGenerator<JsonRow[]> {
  const kinds = columns.map((_, i) => {
    const t = result.columnTypeId(i)
    return BIG.has(t) ? 'big' : TIMESTAMPS.has(t) ? 'ts' : 'plain'
  })
  for await (const chunk of result.yieldRowObjectJson()) {
    const out: JsonRow[] = new Array(chunk.length)
    for (let r = 0; r < chunk.length; r++) {
      const row = chunk[r]!
      for (let c = 0; c < columns.length; c++) {
        const k = kinds[c]
        const name = columns[c]!
        const v = row[name]
        if (v === null || v === undefined) continue
        if (k === 'big' && typeof v === 'string') {
          const n = Number(v)
          if (Number.isSafeInteger(n) || (!/^-?\d+$/.test(v) && Number.isFinite(n))) row[name] = n
        } else if (k === 'ts' && typeof v === 'string') {
          row[name] = isoTimestamp(v)
        }
      }
      out[r] = (rowHook ? rowHook(row as JsonRow) : row) as JsonRow
    }
    yield out
  }
}

/**
 * ISO 8601 of DuckDB's timestamp text (`2026-01-05 00:00:04.314149`, `+00` for TIMESTAMPTZ). Years
 * outside 0000..9999, which only a store poisoned before the validation gate holds, get the extended
 * form JavaScript writes too (`+294247-01-10T…`, `-290031-06-25T…` for DuckDB's `290032-06-25 (BC)`).
 */
export function isoTimestamp(v: string): string {
  const bc = / \(BC\)/.test(v)
  const m = /^(\d+)-(.*)$/.exec(v.replace(' (BC)', ''))
  if (!m) return v
  const year = bc ? 1 - Number(m[1]) : Number(m[1])
  const y = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`
  const rest = m[2]!.replace(' ', 'T').replace(/\+00(:00)?$/, '')
  return `${y}-${rest}${rest.includes('.') ? '' : '.000000'}Z`
}
