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

/** 1970-01-01T00:00:00Z, in µs since the epoch */
export const FLOW_TIME_MIN_US = 0
/** 2200-01-01T00:00:00Z, in µs since the epoch (exclusive) */
export const FLOW_TIME_MAX_US = Date.UTC(2200, 0, 1) * 1000
export const MAX_FLOW_DURATION_US = 366 * 86_400 * 1e6
export const MAX_FLOW_PACKETS = 2 ** 48
export const MAX_FLOW_BYTES = 2 ** 56
export const MAX_SAMPLING_RATE = 2 ** 32 - 1

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

/**
 * The same rule as SQL over a row with the store's column names (`ts_start`, `ts_end` TIMESTAMP;
 * `packets`, `bytes`, `sampling_rate`): a VARCHAR naming what is wrong, NULL for a good row. For flow
 * files staged in DuckDB and for `doctor` over stored rows. `prefix` qualifies the columns (`f.`).
 */
export function flowRecordProblemSql(prefix = ''): string {
  const c = (name: string): string => `${prefix}${name}`
  const start = `epoch_us(${c('ts_start')})`
  const end = `epoch_us(${c('ts_end')})`
  return `CASE
    WHEN ${c('ts_start')} IS NULL OR ${start} < ${FLOW_TIME_MIN_US} OR ${start} >= ${FLOW_TIME_MAX_US} THEN 'flow start outside 1970-01-01 .. 2200-01-01'
    WHEN ${c('ts_end')} IS NULL OR ${end} < ${start} THEN 'flow end before its start'
    WHEN ${end} - ${start} > ${MAX_FLOW_DURATION_US} THEN 'flow lasts more than 366 days'
    WHEN ${c('packets')} IS NULL OR ${c('packets')}::HUGEINT < 0 OR ${c('packets')}::HUGEINT > ${MAX_FLOW_PACKETS} THEN 'packet count outside 0 .. 2^48'
    WHEN ${c('bytes')} IS NULL OR ${c('bytes')}::HUGEINT < 0 OR ${c('bytes')}::HUGEINT > ${MAX_FLOW_BYTES} THEN 'byte count outside 0 .. 2^56'
    WHEN ${c('sampling_rate')} IS NULL OR ${c('sampling_rate')}::HUGEINT < 1 OR ${c('sampling_rate')}::HUGEINT > ${MAX_SAMPLING_RATE} THEN 'sampling rate outside 1 .. 2^32-1'
  END`
}
