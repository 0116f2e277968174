/**
 * The one WHERE fragment that selects the `flows` of a network over a time range. A flow has two
 * times, its first packet (`ts_start`) and its last (`ts_end`), so "the flows of [since, until)" has
 * two honest meanings, and flowscope uses both; every caller names the one it means:
 *
 * - `overlapping`: `ts_end >= since AND ts_start < until` — every flow active at some instant of
 *   the range, a long flow that began before `since` included (one whose last packet is exactly at
 *   `since` counts). This describes the traffic seen in a window: `flows` and `top`
 *   (query/selection.ts) and the flow sections of `report` (report/report-data.ts). It is a choice:
 *   nfdump's `-t` selects on first-seen.
 * - `starting`: `since <= ts_start < until` — a flow belongs where it begins, as exporters report
 *   it. Everything that attributes flows to model windows uses it, since a flow belongs to each
 *   window covering its `ts_start` (infer/FEATURES.md): the features (infer/features.ts), the
 *   beacon pivot (infer/beacon-pivot.ts), the post-processing engine's addresses, bucket export and
 *   slow-scale evidence (buckets/controller.ts, buckets/export.ts, buckets/post-features.ts). So does
 *   `export` (flowfile/export.ts): it partitions by the hour of `ts_start`, so each flow is written
 *   once, in its start hour.
 *
 * The two differ on the edges: a flow that started before `since` and ends at or after it is
 * `overlapping` but not `starting`; the bounds on `ts_start` are the same.
 */
import type {DuckDBType, DuckDBValue} from '@duckdb/node-api'

import {duckdb} from '../../core/index.js'

export const FLOW_RANGE_MODES = ['overlapping', 'starting'] as const
export type FlowRangeMode = (typeof FLOW_RANGE_MODES)[number]

/** Which flows: a network (tenant) and a half-open time range, each part optional. */
export interface FlowRange {
  /** how a flow's two times meet the range (see the module comment) */
  mode: FlowRangeMode
  /** only this network (`network` column) */
  network?: string | undefined
  /** range start, µs since the epoch (inclusive); fractions round down, as a TIMESTAMP holds whole µs */
  since?: number | bigint | undefined
  /** range end, µs since the epoch (exclusive) */
  until?: number | bigint | undefined
}

export interface FlowRangeSqlOptions {
  /** parameter names are `$<prefix>network`, `$<prefix>since`, `$<prefix>until` (default `range_`) */
  prefix?: string
  /** table alias the columns are qualified with (`f` gives `f.ts_start`) */
  alias?: string
}

/** A parameterised fragment: run it with `params` (and `types`, where the call takes them). */
export interface FlowRangeSql {
  /** the conditions, to join with a caller's own (empty when nothing restricts) */
  conditions: string[]
  /** the conditions joined with AND; `TRUE` when nothing restricts */
  where: string
  params: Record<string, DuckDBValue>
  types: Record<string, DuckDBType>
}

/** The WHERE fragment over `flows` for a range (see the module comment for the two modes). */
export function flowRangeSql(range: FlowRange, options: FlowRangeSqlOptions = {}): FlowRangeSql {
  const prefix = options.prefix ?? 'range_'
  if (!/^[a-z_]*$/.test(prefix)) throw new Error(`bad parameter prefix ${prefix}`)
  const col = (name: string): string => (options.alias === undefined ? name : `${options.alias}.${name}`)
  const conditions: string[] = []
  const params: Record<string, DuckDBValue> = {}
  const types: Record<string, DuckDBType> = {}
  const bind = (name: string, value: DuckDBValue, type: DuckDBType): string => {
    params[`${prefix}${name}`] = value
    types[`${prefix}${name}`] = type
    return `$${prefix}${name}`
  }
  if (range.network !== undefined) conditions.push(`${col('network')} = ${bind('network', range.network, duckdb().VARCHAR)}`)
  if (range.since !== undefined) {
    const since = `make_timestamp(${bind('since', micros(range.since, 'since'), duckdb().BIGINT)}::BIGINT)`
    conditions.push(range.mode === 'overlapping' ? `${col('ts_end')} >= ${since}` : `${col('ts_start')} >= ${since}`)
  }
  if (range.until !== undefined) {
    conditions.push(`${col('ts_start')} < make_timestamp(${bind('until', micros(range.until, 'until'), duckdb().BIGINT)}::BIGINT)`)
  }
  return {conditions, where: conditions.length === 0 ? 'TRUE' : conditions.join(' AND '), params, types}
}

function micros(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint') return value
  if (!Number.isFinite(value)) throw new RangeError(`flow range ${what} is not a time: ${value}`)
  return BigInt(Math.floor(value))
}
