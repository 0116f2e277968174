import type {DuckDBTimestampValue} from '@duckdb/node-api'
import {duckdb} from '../core/index.js'
import {UsageError} from '../core/index.js'
import {flowRangeSql} from '../io/index.js'
import {compileFilter} from './filter-sql.js'
import {ParamBag, type Enrichment} from './sql-params.js'

/** Which flows a query looks at: the filter expression plus the command-line time range and tenant. */
export interface SelectionOptions {
  /** nfdump-style filter expression (empty or absent = every flow). */
  filter?: string
  /** Flows still active at or after this instant (`ts_end >= since`). */
  since?: Date | string
  /** Flows that started before this instant (`ts_start < until`). */
  until?: Date | string
  /** Only this tenant (`network` column). */
  network?: string
}

export interface Selection {
  /** Boolean SQL over `flows` columns; `TRUE` when nothing restricts. */
  where: string
  needs: Enrichment[]
  warnings: string[]
}

/**
 * The WHERE clause shared by `flows` and `top`. The time range keeps every flow that overlaps
 * [since, until) (flow range mode `overlapping`) — a flow that started before `since` but was still
 * running counts, as a long flow is part of the traffic in the window — which is a choice: nfdump's
 * `-t` selects on first-seen.
 */
export function buildSelection(options: SelectionOptions, bag: ParamBag): Selection {
  const parts: string[] = []
  let needs: Enrichment[] = []
  let warnings: string[] = []
  if (options.filter !== undefined && options.filter.trim() !== '') {
    const f = compileFilter(options.filter, bag)
    if (f.sql !== 'TRUE') parts.push(f.sql)
    needs = f.needs
    warnings = f.warnings
  }
  const since = options.since === undefined ? undefined : toTimestamp(options.since, 'since')
  const until = options.until === undefined ? undefined : toTimestamp(options.until, 'until')
  if (since !== undefined && until !== undefined && since.micros >= until.micros) {
    throw new UsageError('--since must be earlier than --until')
  }
  const range = flowRangeSql({mode: 'overlapping', network: options.network, since: since?.micros, until: until?.micros})
  bag.absorb(range)
  parts.push(...range.conditions)
  return {where: parts.length === 0 ? 'TRUE' : parts.join(' AND '), needs, warnings}
}

/** A positive whole number bound as a parameter (LIMIT accepts one). */
export function limitParam(bag: ParamBag, value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`${what} must be a whole number ≥ 1, got ${value}`)
  return bag.add(BigInt(value), duckdb().UBIGINT)
}

/** Store timestamps are UTC wall-clock microseconds (duckdb().TIMESTAMP without time zone). */
function toTimestamp(value: Date | string, what: string): DuckDBTimestampValue {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value)
  if (!Number.isFinite(ms)) throw new UsageError(`--${what}: not a date/time: ${String(value)}`)
  return new (duckdb().DuckDBTimestampValue)(BigInt(ms) * 1000n)
}
