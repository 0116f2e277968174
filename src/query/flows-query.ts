import {BPP_SQL, BPS_SQL, DURATION_MS_SQL, PPS_SQL} from './filter-sql.js'
import {protocolNameEntries} from '../core/index.js'
import {buildSelection, limitParam, type SelectionOptions} from './selection.js'
import {type Enrichment, ParamBag, type SqlQuery} from './sql-params.js'

export const FLOW_ORDERS = ['ts', 'bytes', 'packets', 'duration'] as const
export type FlowOrder = (typeof FLOW_ORDERS)[number]

export interface FlowsQueryOptions extends SelectionOptions {
  /** At most this many rows (default: all — the command streams them). */
  limit?: number
  /** Sort key (default `ts`, first seen). bytes/packets sort by the record's stored (sampled) figure, like nfdump -O. */
  order?: FlowOrder
  /** Descending; defaults to true for bytes/packets/duration (largest first) and false for ts. */
  desc?: boolean
}

export interface FlowsQuery extends SqlQuery {
  needs: Enrichment[]
  warnings: string[]
  /** Output column names, in order. */
  columns: readonly string[]
}

/** Output columns of `flows`: the stored record, nfdump-style derived figures, and scaled volumes. */
export const FLOW_COLUMNS_OUT = [
  'ts_start',
  'ts_end',
  'duration_ms',
  'network',
  'exporter',
  'proto',
  'proto_name',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'tcp_flags',
  'flags',
  'packets',
  'bytes',
  'sampling_rate',
  'packets_scaled',
  'bytes_scaled',
  'pps',
  'bps',
  'bpp',
  'source_id',
] as const

/** nfdump prints TCP flags as CEUAPRSF with '.' for a clear bit. */
const FLAGS_TEXT_SQL = `concat(${[
  [128, 'C'],
  [64, 'E'],
  [32, 'U'],
  [16, 'A'],
  [8, 'P'],
  [4, 'R'],
  [2, 'S'],
  [1, 'F'],
]
  .map(([bit, ch]) => `CASE WHEN tcp_flags & ${bit} <> 0 THEN '${ch}' ELSE '.' END`)
  .join(', ')})`

/** Protocol names from the fixed table (constants of this module, never user text). */
const PROTO_NAME_SQL = `CASE proto ${protocolNameEntries()
  .map(([num, name]) => `WHEN ${num} THEN '${name}'`)
  .join(' ')} ELSE CAST(proto AS VARCHAR) END`

const ORDER_SQL: Record<FlowOrder, string> = {
  ts: 'ts_start',
  bytes: 'bytes',
  packets: 'packets',
  duration: DURATION_MS_SQL,
}

/**
 * List flow records. pps/bps/bpp are nfdump's per-record definitions (integer division, 0 for a
 * zero-length flow); `*_scaled` multiply by the record's sampling rate (1 for unsampled data).
 * Ties are broken by start time and the 5-tuple so the order is stable between runs.
 */
export function buildFlowsQuery(options: FlowsQueryOptions = {}): FlowsQuery {
  const bag = new ParamBag('q')
  const sel = buildSelection(options, bag)
  const order = options.order ?? 'ts'
  const desc = options.desc ?? order !== 'ts'
  const dir = desc ? 'DESC' : 'ASC'
  const tiebreak = ['ts_start', 'src_addr', 'dst_addr', 'src_port', 'dst_port', 'proto'].filter((c) => c !== ORDER_SQL[order])
  const orderBy = [`${ORDER_SQL[order]} ${dir}`, ...tiebreak.map((c) => `${c} ${dir}`)].join(', ')
  const limit = options.limit === undefined ? '' : `\nLIMIT ${limitParam(bag, options.limit, '--limit')}`
  const sql = `SELECT
  ts_start,
  ts_end,
  ${DURATION_MS_SQL} AS duration_ms,
  network,
  exporter,
  proto,
  ${PROTO_NAME_SQL} AS proto_name,
  src_ip,
  src_port,
  dst_ip,
  dst_port,
  tcp_flags,
  ${FLAGS_TEXT_SQL} AS flags,
  packets,
  bytes,
  sampling_rate,
  packets::HUGEINT * sampling_rate AS packets_scaled,
  bytes::HUGEINT * sampling_rate AS bytes_scaled,
  ${PPS_SQL} AS pps,
  ${BPS_SQL} AS bps,
  ${BPP_SQL} AS bpp,
  source_id
FROM flows
WHERE ${sel.where}
ORDER BY ${orderBy}${limit}`
  return {sql, params: bag.params, types: bag.types, needs: sel.needs, warnings: sel.warnings, columns: FLOW_COLUMNS_OUT}
}
