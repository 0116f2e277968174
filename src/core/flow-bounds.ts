/**
 * What a stored flow record may hold. Every decoder (captures, export records, flow files, the
 * collector, stream records) hands its records to the store through one gate that checks these, and
 * `flowscope doctor` finds stored rows outside them. A record outside them is a bad record: the ingest
 * stops with exit 3 naming the file and where, or skips and counts it with `--skip-bad`.
 *
 * The limits are wide enough for any real traffic and narrow enough that no query over any number of
 * rows can overflow: timestamps from 1970 to 2200 (so `ts_end - ts_start` and every epoch conversion
 * fit), `ts_end >= ts_start`, a record lasting at most 366 days, at most 2^48 packets and 2^56 bytes a
 * record (2.8e14 packets, 72 PB: a 400 Gb/s link for 16 days), and a sampling rate of 1 to 2^32 - 1.
 * Products and sums of them are computed as HUGEINT or DOUBLE by the queries.
 */
import type {FlowBatch} from './flow-batch.js'
import {visible} from './text.js'

/** 1970-01-01T00:00:00Z, in µs since the epoch */
export const FLOW_TIME_MIN_US = 0
/** 2200-01-01T00:00:00Z, in µs since the epoch (exclusive) */
export const FLOW_TIME_MAX_US = Date.UTC(2200, 0, 1) * 1000
export const MAX_FLOW_DURATION_US = 366 * 86_400 * 1e6
export const MAX_FLOW_PACKETS = 2 ** 48
export const MAX_FLOW_BYTES = 2 ** 56
export const MAX_SAMPLING_RATE = 2 ** 32 - 1
/** The longest network (tenant) label: it is a column value, a file-name part and a report heading. */
export const MAX_NETWORK_LABEL = 128

function iso(us: number): string {
  const d = new Date(us / 1000)
  return Number.isNaN(d.getTime()) ? `${us} µs since the epoch` : d.toISOString()
}

/**
 * Why a record cannot be stored, or null when it can. Plain numbers in (µs; counts), so every reader's
 * hot loop can call it per record without allocating.
 */
export function flowRecordProblem(tsStartUs: number, tsEndUs: number, packets: number, bytes: number, samplingRate: number): string | null {
  if (!(tsStartUs >= FLOW_TIME_MIN_US && tsStartUs < FLOW_TIME_MAX_US)) return `flow start ${iso(tsStartUs)} is outside 1970-01-01 .. 2200-01-01`
  if (!(tsEndUs >= tsStartUs)) return `flow end ${iso(tsEndUs)} is before its start ${iso(tsStartUs)}`
  if (!(tsEndUs - tsStartUs <= MAX_FLOW_DURATION_US)) return `flow lasts ${((tsEndUs - tsStartUs) / 86_400e6).toFixed(0)} days, more than 366`
  if (!(packets >= 0 && packets <= MAX_FLOW_PACKETS && Number.isInteger(packets))) return `packet count ${packets} is outside 0 .. 2^48`
  if (!(bytes >= 0 && bytes <= MAX_FLOW_BYTES && Number.isInteger(bytes))) return `byte count ${bytes} is outside 0 .. 2^56`
  if (!(samplingRate >= 1 && samplingRate <= MAX_SAMPLING_RATE && Number.isInteger(samplingRate))) return `sampling rate ${samplingRate} is outside 1 .. 2^32-1`
  return null
}

/** The columns (SQL expressions) `flowRecordProblemSql` checks; each count list is checked member by member. */
export interface FlowBoundsColumns {
  tsStart: string
  tsEnd: string
  packets: readonly string[]
  bytes: readonly string[]
  samplingRate: string
}

/** The store's own columns, qualified by `prefix` (`f.`). */
export function storedFlowColumns(prefix = ''): FlowBoundsColumns {
  return {tsStart: `${prefix}ts_start`, tsEnd: `${prefix}ts_end`, packets: [`${prefix}packets`], bytes: [`${prefix}bytes`], samplingRate: `${prefix}sampling_rate`}
}

/**
 * The same rule as SQL: a VARCHAR naming what is wrong, NULL for a good row. For flow files staged in
 * DuckDB and for `doctor` and the queries over stored rows (`storedFlowColumns`). Times are TIMESTAMP
 * columns, counts any integer type (compared as HUGEINT, so no stored value overflows the check).
 */
export function flowRecordProblemSql(cols: FlowBoundsColumns = storedFlowColumns()): string {
  const start = `epoch_us(${cols.tsStart})`
  const end = `epoch_us(${cols.tsEnd})`
  const count = (c: string, max: number): string => `${c} IS NULL OR ${c}::HUGEINT < 0 OR ${c}::HUGEINT > ${max}`
  return `CASE
    WHEN ${cols.tsStart} IS NULL OR ${start} < ${FLOW_TIME_MIN_US} OR ${start} >= ${FLOW_TIME_MAX_US} THEN 'flow start outside 1970-01-01 .. 2200-01-01'
    WHEN ${cols.tsEnd} IS NULL OR ${end} < ${start} THEN 'flow end before its start'
    WHEN ${end} - ${start} > ${MAX_FLOW_DURATION_US} THEN 'flow lasts more than 366 days'
    ${cols.packets.map((c) => `WHEN ${count(c, MAX_FLOW_PACKETS)} THEN 'packet count outside 0 .. 2^48'`).join('\n    ')}
    ${cols.bytes.map((c) => `WHEN ${count(c, MAX_FLOW_BYTES)} THEN 'byte count outside 0 .. 2^56'`).join('\n    ')}
    WHEN ${cols.samplingRate} IS NULL OR ${cols.samplingRate}::HUGEINT < 1 OR ${cols.samplingRate}::HUGEINT > ${MAX_SAMPLING_RATE} THEN 'sampling rate outside 1 .. 2^32-1'
  END`
}

/**
 * Why a network (tenant) label cannot be stored, or null: 1 to 128 characters, none of them a control
 * character or bidi override, so a label stored with every flow can never recolour a terminal, fake a
 * table row or reorder a report line. `--network` flags and stream records use it alike.
 */
export function networkLabelProblem(label: string): string | null {
  if (label.length === 0 || label.length > MAX_NETWORK_LABEL) return `a label has 1 to ${MAX_NETWORK_LABEL} characters, got ${label.length}`
  if (visible(label) !== label) return `the label '${visible(label)}' has control characters`
  return null
}

/** The first row of a batch outside the rule, or -1: the store's last check before an append. */
export function firstBadFlowRow(b: FlowBatch): number {
  for (let i = 0; i < b.length; i++) {
    const s = b.tsStart[i]!
    const e = b.tsEnd[i]!
    const p = b.packets[i]!
    const y = b.bytes[i]!
    const r = b.samplingRate[i]!
    // the common case in a few comparisons; the rare one asks flowRecordProblem (integers, NaN)
    if (s >= FLOW_TIME_MIN_US && s < FLOW_TIME_MAX_US && e >= s && e - s <= MAX_FLOW_DURATION_US && p >= 0 && p <= MAX_FLOW_PACKETS && y >= 0 && y <= MAX_FLOW_BYTES && r <= MAX_SAMPLING_RATE) continue
    if (flowRecordProblem(s, e, p, y, r || 1) !== null) return i
  }
  return -1
}
