/**
 * Per-(network, address, window) behaviour features, computed in DuckDB from `flows` in one query.
 * Definitions, units and the reasons behind them are in `FEATURES.md` next to this file; a change to
 * any definition or to the order of `FEATURE_NAMES` must bump `FEATURE_SET_VERSION`, because a model
 * records the version it was trained on and refuses vectors of another.
 */
import type {DuckDBDataChunk} from '@duckdb/node-api'
import {duckdb} from '../core/index.js'

import {UsageError} from '../core/index.js'
import {flowRangeSql} from '../io/index.js'
import type {FlowStore} from '../io/index.js'

export const FEATURE_SET_VERSION = 4

/** Model input order. See FEATURES.md for each definition. */
export const FEATURE_NAMES = [
  'bytes_out_log1p',
  'bytes_in_log1p',
  'packets_out_log1p',
  'packets_in_log1p',
  'bpp_out',
  'bpp_in',
  'byte_ratio_log',
  'flows_out_log1p',
  'flows_in_log1p',
  'peers_log1p',
  'dst_ports_log1p',
  'peer_entropy',
  'dst_port_entropy',
  'top_dst_port_share',
  'syn_only_fraction',
  'udp_fraction',
  'small_packet_fraction',
  'active_subbin_share',
  'short_conn_burst_log1p',
  'long_dns_query_share',
  'repeated_response_log1p',
  'low_ports_one_peer',
] as const

export type FeatureName = (typeof FEATURE_NAMES)[number]

export const FEATURE_COUNT = FEATURE_NAMES.length

/** Index of each feature in a vector, for rules and tests that read features by name. */
export const FEATURE_INDEX = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>

export const DEFAULT_MODEL_WINDOW_SEC = 300
export const DEFAULT_HOP_SEC = 60
export const DEFAULT_SUBBIN_SEC = 30

/** A flow whose bytes per packet is below this counts as a small-packet flow (≈ headers only). */
export const SMALL_PACKET_BYTES = 100

/**
 * A TCP record carrying a SYN with at most this many packets is a short connection (one login attempt,
 * one probe or one scripted request: handshake, a few exchanges, teardown); see `short_conn_burst_log1p`.
 */
export const SHORT_CONNECTION_PACKETS = 16

/**
 * Destination ports below this are service ports, where scanners probe; from here up are the ephemeral
 * (client) ports of current systems (Linux 32768–60999, Windows, macOS and BSD 49152–65535), where a
 * server's replies go, so a busy server's answers and a client's downloads do not count. See
 * `low_ports_one_peer`.
 */
export const EPHEMERAL_PORT_START = 32768

/** UDP destination port of DNS queries (`long_dns_query_share`). */
export const DNS_PORT = 53

/**
 * A DNS query record above this many bytes per packet is a long query: 128 bytes of IP packet leave
 * about 80 characters of query name after the IP, UDP and DNS headers, the question's type and class
 * and an EDNS record. Ordinary names are far shorter (the nDPI background's longest mean query is 109
 * bytes); DNS tunnels pack data into names near the 253-character limit.
 */
export const LONG_DNS_QUERY_BYTES = 128

/**
 * Bytes per packet above this are counted as this: larger "packets" are segments a capture saw before
 * the NIC split them (TCP segmentation offload, loopback), not what crosses an Ethernet link.
 */
export const MAX_BYTES_PER_PACKET = 1500

/** More windows per flow than this (window / hop) is almost surely a unit mistake. */
const MAX_WINDOWS_PER_FLOW = 1440

export interface FeatureOptions {
  /** only this tenant; all networks when absent */
  network?: string
  /** first window start to emit, µs since the epoch (inclusive; windows start on multiples of the hop) */
  since?: number
  /** last window start to emit, µs since the epoch (exclusive) */
  until?: number
  /**
   * window starts are `k·hop + phase` (µs; default 0, the model's own windows). The stream scores the
   * window ending at each of its stream windows' ends with a tumbling geometry (hop = window) and the
   * phase that puts a window start there (model-scorer.ts); every feature is the same function of the
   * window's flows at any phase, with its sub-bins counted from the window's start.
   */
  phaseUs?: number
  windowSec?: number
  hopSec?: number
  /** activity sub-bin length for `active_subbin_share` */
  subBinSec?: number
  /** only these addresses (text form as stored in `src_ip`/`dst_ip`) */
  addresses?: readonly string[]
  /** query plan (see `featureSql`); `auto` picks `slots` whenever the geometry allows */
  plan?: FeaturePlan
}

/**
 * Feature vectors in columns: row `i` is (`networks[i]`, `addresses[i]`, `windowStart[i]`) and its
 * vector is `values[i * featureCount .. (i + 1) * featureCount)`. Rows are ordered by network, address
 * and window start.
 */
export interface FeatureMatrix {
  length: number
  featureCount: number
  featureSetVersion: number
  networks: string[]
  addresses: string[]
  /** window start, µs since the epoch */
  windowStart: Float64Array
  /**
   * the most frequent destination port of the address's outbound flows (lowest port on ties), -1 when
   * it has none; context for explanations (brute force on 22/3389), not a model input
   */
  topDstPort: Int32Array
  /** the most frequent destination port of its inbound flows (its own service port under attack), -1 when none */
  topInPort: Int32Array
  /** share of its inbound flows that are UDP (amplification victims receive UDP), 0 when none */
  udpInFraction: Float32Array
  values: Float32Array
  windowSec: number
  hopSec: number
}

/** The vector of row `i` (a view, not a copy). */
export function featureRow(matrix: Pick<FeatureMatrix, 'values' | 'featureCount'>, i: number): Float32Array {
  return matrix.values.subarray(i * matrix.featureCount, (i + 1) * matrix.featureCount)
}

/** Resolves defaults and checks the window geometry; shared by `computeFeatures` and its callers' flags. */
export function resolveWindowing(options: Pick<FeatureOptions, 'windowSec' | 'hopSec' | 'subBinSec'>): {
  windowUs: number
  hopUs: number
  subBinUs: number
} {
  const windowSec = options.windowSec ?? DEFAULT_MODEL_WINDOW_SEC
  const hopSec = options.hopSec ?? DEFAULT_HOP_SEC
  const subBinSec = options.subBinSec ?? DEFAULT_SUBBIN_SEC
  const windowUs = Math.round(windowSec * 1e6)
  const hopUs = Math.round(hopSec * 1e6)
  const subBinUs = Math.round(subBinSec * 1e6)
  if (!(windowUs > 0) || !(hopUs > 0) || !(subBinUs > 0)) {
    throw new UsageError(`window (${windowSec} s), hop (${hopSec} s) and sub-bin (${subBinSec} s) must be positive`)
  }
  if (hopUs > windowUs) {
    throw new UsageError(`hop (${hopSec} s) is longer than the window (${windowSec} s): flows between windows would be lost`, {
      hint: 'use a hop no longer than the window (hop = window gives tumbling windows)',
    })
  }
  if (windowUs / hopUs > MAX_WINDOWS_PER_FLOW) {
    throw new UsageError(`window / hop = ${windowSec}/${hopSec} puts each flow in more than ${MAX_WINDOWS_PER_FLOW} windows`)
  }
  if (subBinUs > windowUs) throw new UsageError(`sub-bin (${subBinSec} s) is longer than the window (${windowSec} s)`)
  return {windowUs, hopUs, subBinUs}
}

/**
 * Query plans. Both turn each flow into two "ends" (the source's outbound view, the destination's
 * inbound view) and aggregate three ways per (network, address, window): additive volumes and
 * counts; flow counts per peer (distinct peers, peer entropy); flow counts per destination port and
 * direction (distinct ports, port entropy, top ports).
 *
 * - `slots` (used when the window is a whole number of hops and the hop a whole number of sub-bins,
 *   as with the defaults 300/60/30 s): aggregate per hop-long slot first, then repeat each slot's
 *   partial aggregates into the window/hop windows containing it and add them up. Every statistic
 *   is a sum over disjoint slots (counts per peer and per port add; active sub-bins never straddle a
 *   slot) or a maximum over sub-bins (connection bursts, repeated responses: a slot's maximum, then the
 *   window's); distinct low ports per peer are kept as each slot's distinct (direction, peer, port)
 *   triples and counted again per window. So the result equals the direct plan's, while the repeated
 *   rows are slot aggregates, not flows: several times less memory and time on real traffic, where a
 *   host talks to the same peers and ports many times a minute.
 * - `direct`: repeat every end into each window covering its `ts_start`, then aggregate. Any geometry.
 */
export const FEATURE_PLANS = ['auto', 'slots', 'direct'] as const
export type FeaturePlan = (typeof FEATURE_PLANS)[number]

/**
 * Builds the feature query. Integers (µs) are validated numbers and inlined; strings are bound.
 * `floorDiv` is exact integer floor division (DuckDB's `//` truncates toward zero).
 */
export function featureSql(options: FeatureOptions): {sql: string; params: Record<string, unknown>; plan: 'slots' | 'direct'} {
  const {windowUs, hopUs, subBinUs} = resolveWindowing(options)
  const slotsFit = windowUs % hopUs === 0 && hopUs % subBinUs === 0
  const requested = options.plan ?? 'auto'
  if (requested === 'slots' && !slotsFit) {
    throw new UsageError('the slot plan needs a window that is a whole number of hops and a hop that is a whole number of sub-bins')
  }
  const plan = requested === 'direct' || !slotsFit ? 'direct' : 'slots'
  const windowFilters: string[] = []
  const since = options.since === undefined ? undefined : checkedMicros(options.since, 'since')
  const until = options.until === undefined ? undefined : checkedMicros(options.until, 'until')
  // times inside the query are shifted by the phase, so windows and sub-bins start on multiples of hop and sub-bin
  const phase = ((checkedMicros(options.phaseUs ?? 0, 'phase') % hopUs) + hopUs) % hopUs
  if (since !== undefined) windowFilters.push(`wstart >= ${since - phase}`)
  if (until !== undefined) windowFilters.push(`wstart < ${until - phase}`)
  // flows belong to the windows covering their start (flow range `starting`); a window starting
  // just before `until` still covers flows up to until + window
  const flows = flowRangeSql({mode: 'starting', network: options.network, since, until: until === undefined ? undefined : until + windowUs})
  const params: Record<string, unknown> = {...flows.params}
  const flowFilters = flows.conditions
  let addressFilter = ''
  if (options.addresses !== undefined) {
    // semi-joins against the list (list_contains would scan the list once per row: quadratic)
    addressFilter = 'WHERE address IN (SELECT unnest($addresses))'
    params.addresses = duckdb().listValue([...options.addresses])
    // only the flows of those addresses are read into the ends
    flowFilters.push('(src_ip IN (SELECT unnest($addresses)) OR dst_ip IN (SELECT unnest($addresses)))')
  }
  const subBins = Math.ceil(windowUs / subBinUs)
  const where = (clauses: string[]): string => (clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '')
  const floorDiv = (expr: string, d: number): string => `((${expr}) - ((((${expr}) % ${d}) + ${d}) % ${d})) // ${d}`
  const endColumns = 'network, address, peer, outbound, src_port, dst_port, proto, ts, bytes, est_bytes, est_packets, small, syn_only, short_conn, response, long_dns'
  const additive = (src: {bytes: string; packets: string; count: (cond: string) => string}): string => `
    coalesce(sum(${src.bytes}) FILTER (WHERE outbound), 0) AS bytes_out,
    coalesce(sum(${src.bytes}) FILTER (WHERE NOT outbound), 0) AS bytes_in,
    coalesce(sum(${src.packets}) FILTER (WHERE outbound), 0) AS packets_out,
    coalesce(sum(${src.packets}) FILTER (WHERE NOT outbound), 0) AS packets_in,
    ${src.count('outbound')} AS flows_out,
    ${src.count('NOT outbound')} AS flows_in,
    ${src.count('TRUE')} AS flows_all,
    ${src.count('outbound AND proto = 6')} AS tcp_out,
    ${src.count('outbound AND syn_only')} AS syn_only_out,
    ${src.count('outbound AND proto = 17')} AS udp_out,
    ${src.count('NOT outbound AND proto = 17')} AS udp_in,
    ${src.count('small')} AS small_flows,
    ${src.count(`proto = 17 AND dst_port = ${DNS_PORT}`)} AS dns_queries,
    ${src.count(`long_dns`)} AS long_dns_queries`

  const head = `
WITH base AS (
  SELECT network, src_ip, dst_ip, src_port, dst_port, proto,
         epoch_us(ts_start) - ${phase} AS ts, bytes,
         CAST(bytes AS DOUBLE) * sampling_rate AS est_bytes,
         CAST(packets AS DOUBLE) * sampling_rate AS est_packets,
         (packets > 0 AND bytes < ${SMALL_PACKET_BYTES} * packets) AS small,
         (proto = 6 AND (tcp_flags & 2) <> 0 AND (tcp_flags & 16) = 0) AS syn_only,
         (proto = 6 AND (tcp_flags & 2) <> 0 AND packets <= ${SHORT_CONNECTION_PACKETS}) AS short_conn,
         -- a short connection's service side (source port below destination port): repeated_response_log1p
         (proto = 6 AND (tcp_flags & 2) <> 0 AND packets <= ${SHORT_CONNECTION_PACKETS} AND src_port < dst_port) AS response,
         (proto = 17 AND dst_port = ${DNS_PORT} AND packets > 0 AND bytes > ${LONG_DNS_QUERY_BYTES} * packets) AS long_dns
  FROM flows ${where(flowFilters)}
),
ends AS (
  SELECT * FROM (
    SELECT network, src_ip AS address, dst_ip AS peer, TRUE AS outbound, src_port, dst_port, proto, ts,
           bytes, est_bytes, est_packets, small, syn_only, short_conn, response, long_dns FROM base
    UNION ALL
    SELECT network, dst_ip AS address, src_ip AS peer, FALSE AS outbound, src_port, dst_port, proto, ts,
           bytes, est_bytes, est_packets, small, syn_only, short_conn, response, long_dns FROM base
  ) ${addressFilter}
),`

  const lowPort = `proto IN (6, 17) AND dst_port < ${EPHEMERAL_PORT_START}`
  const direct = `
windowed AS (
  SELECT * FROM (
    SELECT ${endColumns}, k * ${hopUs} AS wstart
    FROM (
      SELECT *, unnest(range(${floorDiv(`ts - ${windowUs}`, hopUs)} + 1, ${floorDiv('ts', hopUs)} + 1)) AS k
      FROM ends
    )
  ) ${where(windowFilters)}
),
volumes AS (
  SELECT network, address, wstart,${additive({bytes: 'est_bytes', packets: 'est_packets', count: (c) => `count(*) FILTER (WHERE ${c})`})},
    count(DISTINCT (ts - wstart) // ${subBinUs}) AS active_subbins
  FROM windowed GROUP BY network, address, wstart
),
peer_counts AS (
  SELECT network, address, wstart, count(*)::DOUBLE AS c FROM windowed GROUP BY network, address, wstart, peer
),
port_counts AS (
  SELECT network, address, wstart, outbound, dst_port, count(*)::DOUBLE AS c
  FROM windowed GROUP BY network, address, wstart, outbound, dst_port
),
bursts AS (
  SELECT network, address, wstart, max(c) AS burst
  FROM (
    SELECT network, address, wstart, count(*) AS c FROM windowed WHERE short_conn
    GROUP BY network, address, wstart, (ts - wstart) // ${subBinUs}, peer, outbound, dst_port
  ) GROUP BY network, address, wstart
),
repeats AS (
  SELECT network, address, wstart, max(c) - 1 AS repeats
  FROM (
    SELECT network, address, wstart, count(*) AS c FROM windowed WHERE response
    GROUP BY network, address, wstart, (ts - wstart) // ${subBinUs}, peer, outbound, src_port, bytes
  ) GROUP BY network, address, wstart
),
low_ports AS (
  SELECT network, address, wstart, max(k) AS low_ports
  FROM (
    SELECT network, address, wstart, outbound, count(DISTINCT dst_port) AS k FROM windowed WHERE ${lowPort}
    GROUP BY network, address, wstart, outbound, peer
  ) GROUP BY network, address, wstart
),`

  const windowsOfSlot = `unnest(range(slot - ${windowUs / hopUs} + 1, slot + 1)) * ${hopUs} AS wstart`
  const slots = `
slotted AS (
  SELECT *, ${floorDiv('ts', hopUs)} AS slot, ${floorDiv('ts', subBinUs)} AS sub FROM ends
),
slot_volumes AS (
  SELECT network, address, slot,${additive({bytes: 'est_bytes', packets: 'est_packets', count: (c) => `count(*) FILTER (WHERE ${c})`})},
    count(DISTINCT sub) AS active_subbins
  FROM slotted GROUP BY network, address, slot
),
slot_peers AS (
  SELECT network, address, slot, peer, count(*) AS c FROM slotted GROUP BY network, address, slot, peer
),
slot_ports AS (
  SELECT network, address, slot, outbound, dst_port, count(*) AS c FROM slotted GROUP BY network, address, slot, outbound, dst_port
),
slot_bursts AS (
  SELECT network, address, slot, max(c) AS burst
  FROM (SELECT network, address, slot, count(*) AS c FROM slotted WHERE short_conn GROUP BY network, address, slot, sub, peer, outbound, dst_port)
  GROUP BY network, address, slot
),
slot_repeats AS (
  SELECT network, address, slot, max(c) AS same_size
  FROM (SELECT network, address, slot, count(*) AS c FROM slotted WHERE response GROUP BY network, address, slot, sub, peer, outbound, src_port, bytes)
  GROUP BY network, address, slot
),
slot_low_ports AS (
  SELECT DISTINCT network, address, slot, outbound, peer, dst_port FROM slotted WHERE ${lowPort}
),
volumes AS (
  SELECT network, address, wstart,
    sum(bytes_out) AS bytes_out, sum(bytes_in) AS bytes_in, sum(packets_out) AS packets_out, sum(packets_in) AS packets_in,
    sum(flows_out) AS flows_out, sum(flows_in) AS flows_in, sum(flows_all) AS flows_all, sum(tcp_out) AS tcp_out,
    sum(syn_only_out) AS syn_only_out, sum(udp_out) AS udp_out, sum(udp_in) AS udp_in, sum(small_flows) AS small_flows,
    sum(dns_queries) AS dns_queries, sum(long_dns_queries) AS long_dns_queries, sum(active_subbins) AS active_subbins
  FROM (SELECT * FROM (SELECT *, ${windowsOfSlot} FROM slot_volumes) ${where(windowFilters)})
  GROUP BY network, address, wstart
),
peer_counts AS (
  SELECT network, address, wstart, sum(c)::DOUBLE AS c
  FROM (SELECT * FROM (SELECT *, ${windowsOfSlot} FROM slot_peers) ${where(windowFilters)})
  GROUP BY network, address, wstart, peer
),
port_counts AS (
  SELECT network, address, wstart, outbound, dst_port, sum(c)::DOUBLE AS c
  FROM (SELECT * FROM (SELECT *, ${windowsOfSlot} FROM slot_ports) ${where(windowFilters)})
  GROUP BY network, address, wstart, outbound, dst_port
),
bursts AS (
  SELECT network, address, wstart, max(burst) AS burst
  FROM (SELECT * FROM (SELECT *, ${windowsOfSlot} FROM slot_bursts) ${where(windowFilters)})
  GROUP BY network, address, wstart
),
repeats AS (
  SELECT network, address, wstart, max(same_size) - 1 AS repeats
  FROM (SELECT * FROM (SELECT *, ${windowsOfSlot} FROM slot_repeats) ${where(windowFilters)})
  GROUP BY network, address, wstart
),
low_ports AS (
  SELECT network, address, wstart, max(k) AS low_ports
  FROM (
    SELECT network, address, wstart, outbound, count(DISTINCT dst_port) AS k
    FROM (SELECT * FROM (SELECT *, ${windowsOfSlot} FROM slot_low_ports) ${where(windowFilters)})
    GROUP BY network, address, wstart, outbound, peer
  ) GROUP BY network, address, wstart
),`

  const tail = `
peer_stats AS (
  SELECT network, address, wstart, sum(c) AS n, count(*) AS k, sum(c * ln(c)) AS c_ln_c
  FROM peer_counts GROUP BY network, address, wstart
),
port_stats AS (
  SELECT network, address, wstart,
         sum(c) FILTER (WHERE outbound) AS n,
         count(*) FILTER (WHERE outbound) AS k,
         sum(c * ln(c)) FILTER (WHERE outbound) AS c_ln_c,
         max(c) FILTER (WHERE outbound) AS top,
         -- most flows first, then the lowest port, so ties resolve the same way every run
         arg_max(dst_port, c * 65536 + (65535 - dst_port)) FILTER (WHERE outbound) AS top_port,
         arg_max(dst_port, c * 65536 + (65535 - dst_port)) FILTER (WHERE NOT outbound) AS top_in_port
  FROM port_counts GROUP BY network, address, wstart
)
SELECT v.network, v.address, v.wstart + ${phase} AS wstart,
  coalesce(ps.top_port::INTEGER, -1) AS top_port,
  coalesce(ps.top_in_port::INTEGER, -1) AS top_in_port,
  CASE WHEN v.flows_in > 0 THEN v.udp_in / v.flows_in ELSE 0 END AS udp_in_fraction,
  ln(1 + v.bytes_out) AS f0,
  ln(1 + v.bytes_in) AS f1,
  ln(1 + v.packets_out) AS f2,
  ln(1 + v.packets_in) AS f3,
  CASE WHEN v.packets_out > 0 THEN least(v.bytes_out / v.packets_out, ${MAX_BYTES_PER_PACKET}) ELSE 0 END AS f4,
  CASE WHEN v.packets_in > 0 THEN least(v.bytes_in / v.packets_in, ${MAX_BYTES_PER_PACKET}) ELSE 0 END AS f5,
  ln(1 + v.bytes_out) - ln(1 + v.bytes_in) AS f6,
  ln(1 + v.flows_out) AS f7,
  ln(1 + v.flows_in) AS f8,
  ln(1 + pe.k) AS f9,
  ln(1 + ps.k) AS f10,
  CASE WHEN pe.k > 1 THEN greatest(0, ln(pe.n) - pe.c_ln_c / pe.n) / ln(pe.k) ELSE 0 END AS f11,
  CASE WHEN ps.k > 1 THEN greatest(0, ln(ps.n) - ps.c_ln_c / ps.n) / ln(ps.k) ELSE 0 END AS f12,
  CASE WHEN ps.n > 0 THEN ps.top / ps.n ELSE 0 END AS f13,
  CASE WHEN v.tcp_out > 0 THEN v.syn_only_out / v.tcp_out ELSE 0 END AS f14,
  CASE WHEN v.flows_out > 0 THEN v.udp_out / v.flows_out ELSE 0 END AS f15,
  v.small_flows / v.flows_all AS f16,
  v.active_subbins / ${subBins} AS f17,
  ln(1 + coalesce(b.burst, 0)) AS f18,
  CASE WHEN v.dns_queries > 0 THEN v.long_dns_queries / v.dns_queries ELSE 0 END AS f19,
  ln(1 + coalesce(rr.repeats, 0)) AS f20,
  coalesce(lp.low_ports, 0) AS f21
FROM volumes v
JOIN peer_stats pe USING (network, address, wstart)
JOIN port_stats ps USING (network, address, wstart)
LEFT JOIN bursts b USING (network, address, wstart)
LEFT JOIN repeats rr USING (network, address, wstart)
LEFT JOIN low_ports lp USING (network, address, wstart)
ORDER BY v.network, v.address, v.wstart`
  return {sql: head + (plan === 'slots' ? slots : direct) + tail, params, plan}
}

function checkedMicros(value: number, name: string): number {
  if (!Number.isFinite(value)) throw new UsageError(`${name} must be a finite time in µs since the epoch`)
  return Math.floor(value)
}

/**
 * Feature vectors for every (network, address, window) with at least one flow, in one query. A flow
 * belongs to every window `[k·hop, k·hop + window)` that covers its `ts_start`.
 */
export async function computeFeatures(store: FlowStore, options: FeatureOptions = {}): Promise<FeatureMatrix> {
  const {sql, params} = featureSql(options)
  const result = await store.connection.stream(sql, params as never)
  const networks: string[] = []
  const addresses: string[] = []
  const windowStart: number[] = []
  const topDstPort: number[] = []
  const topInPort: number[] = []
  const udpInFraction: number[] = []
  let values = new Float32Array(1024 * FEATURE_COUNT)
  let length = 0
  const firstFeatureColumn = 6
  for (let chunk = await result.fetchChunk(); chunk !== null && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    const rows = chunk.rowCount
    if ((length + rows) * FEATURE_COUNT > values.length) {
      const grown = new Float32Array(Math.max(values.length * 2, (length + rows) * FEATURE_COUNT))
      grown.set(values.subarray(0, length * FEATURE_COUNT))
      values = grown
    }
    readKeys(chunk, {networks, addresses, windowStart, topDstPort, topInPort, udpInFraction})
    for (let f = 0; f < FEATURE_COUNT; f++) {
      const vector = chunk.getColumnVector(firstFeatureColumn + f)
      for (let r = 0; r < rows; r++) {
        values[(length + r) * FEATURE_COUNT + f] = Number(vector.getItem(r) ?? 0)
      }
    }
    length += rows
  }
  const {windowUs, hopUs} = resolveWindowing(options)
  return {
    length,
    featureCount: FEATURE_COUNT,
    featureSetVersion: FEATURE_SET_VERSION,
    networks,
    addresses,
    windowStart: Float64Array.from(windowStart),
    topDstPort: Int32Array.from(topDstPort),
    topInPort: Int32Array.from(topInPort),
    udpInFraction: Float32Array.from(udpInFraction),
    values: values.slice(0, length * FEATURE_COUNT),
    windowSec: windowUs / 1e6,
    hopSec: hopUs / 1e6,
  }
}

interface KeyColumns {
  networks: string[]
  addresses: string[]
  windowStart: number[]
  topDstPort: number[]
  topInPort: number[]
  udpInFraction: number[]
}

function readKeys(chunk: DuckDBDataChunk, out: KeyColumns): void {
  const net = chunk.getColumnVector(0)
  const addr = chunk.getColumnVector(1)
  const start = chunk.getColumnVector(2)
  const port = chunk.getColumnVector(3)
  const inPort = chunk.getColumnVector(4)
  const udpIn = chunk.getColumnVector(5)
  for (let r = 0; r < chunk.rowCount; r++) {
    out.networks.push(String(net.getItem(r)))
    out.addresses.push(String(addr.getItem(r)))
    out.windowStart.push(Number(start.getItem(r)))
    out.topDstPort.push(Number(port.getItem(r)))
    out.topInPort.push(Number(inPort.getItem(r)))
    out.udpInFraction.push(Number(udpIn.getItem(r)))
  }
}
