/**
 * Beacon infrastructure pivoting: after scoring, addresses that serve the same C2 service as a
 * detected beacon server are reported too, though their own traffic is unremarkable.
 *
 * C2 operators put several servers behind one name (round-robin DNS, fail-over), usually in one
 * hosting block; an implant that beacons to one of them reaches the others now and then with the very
 * same check-in. RITA groups beacons by FQDN and Slips by destination for the same reason. Flow records
 * carry no names, so the grouping here is by what the client does: for each window the model flagged
 * and typed `beaconing`, the beacon's dominant conversation (client, server, service port) is read from
 * the flows; another address is related when, in that window,
 *
 * - the same client reached it on the same protocol and destination port,
 * - it lies in the server's /24 (IPv4) or /48 (IPv6), and
 * - the client's requests to it have the beacon's size: the median bytes of the client's connection
 *   records to it (TCP records carrying a SYN; every UDP record) within `sizeTolerance` of the median
 *   of its connection records to the server.
 *
 * The last condition is what keeps a CDN or shared-hosting block out: a client's other sites in the
 * server's /24 get requests of their own sizes, while a C2 check-in is the same request every time.
 * The step only fires where a beacon detection fired, so it adds false positives only next to those.
 */
import {duckdb} from '../core/index.js'

import {flowRangeSql} from '../io/index.js'
import type {FlowStore} from '../io/index.js'
import type {DetectionRow} from './detections.js'
import type {FeatureMatrix} from './features.js'

/** Prefix lengths that make a server's hosting block. */
export const BEACON_PIVOT_PREFIX = {v4: 24, v6: 48} as const

/** Relative tolerance on the median request size: beacons vary by a few bytes (headers, padding), ±10% in Slips' C2 capture. */
export const DEFAULT_BEACON_SIZE_TOLERANCE = 0.25

/** Name of the evidence entry that heads a related detection's `topFeatures`. */
export const RELATED_BEACON_FEATURE = 'related_beacon_server'

export interface BeaconPivotOptions {
  /** relative tolerance on the median request size (default 0.25) */
  sizeTolerance?: number
}

/** Why an address was related to a beacon detection. */
export interface BeaconRelation {
  network: string
  /** the related address and the window it is reported in (µs since the epoch) */
  address: string
  windowStart: number
  /** the beacon's dominant conversation */
  client: string
  server: string
  port: number
  proto: number
  /** the client's connection records to the related address in the window */
  records: number
  /** median bytes of the client's connection records to the server and to the related address */
  beaconBytes: number
  relatedBytes: number
  reason: string
}

/** Beacon detections to pivot from: (network, address, window start). */
export type BeaconSeed = Pick<DetectionRow, 'network' | 'address' | 'windowStart' | 'attackType'>

interface PivotRow {
  network: string
  seed: string
  wstart: bigint | number
  client: string
  server: string
  port: number
  proto: number
  related: string
  records: bigint | number
  beacon_bytes: number
  related_bytes: number
}

/**
 * The addresses related to the `beaconing` detections among `seeds`, one per (network, address,
 * window), excluding addresses that are themselves seeds in that window. `windowSec` is the model's
 * window.
 */
export async function findBeaconRelations(
  store: FlowStore,
  seeds: readonly BeaconSeed[],
  windowSec: number,
  options: BeaconPivotOptions = {},
): Promise<BeaconRelation[]> {
  const beacons = seeds.filter((d) => d.attackType === 'beaconing')
  if (beacons.length === 0) return []
  const tolerance = options.sizeTolerance ?? DEFAULT_BEACON_SIZE_TOLERANCE
  const windowUs = Math.round(windowSec * 1e6)
  const starts = beacons.map((d) => Math.floor(d.windowStart))
  const from = Math.min(...starts)
  const to = Math.max(...starts) + windowUs
  // addresses are 128-bit numbers, IPv4 in the low 32 bits (::ffff:0:0/96)
  const shift = (family: string): string => `(CASE WHEN ${family} = 4 THEN ${32 - BEACON_PIVOT_PREFIX.v4} ELSE ${128 - BEACON_PIVOT_PREFIX.v6} END)::UHUGEINT`
  // a connection record: TCP with a SYN (a lone ACK or RST left after a flow timed out is not a request), or UDP
  const connection = `(f.proto = 17 OR (f.proto = 6 AND (f.tcp_flags & 2) <> 0))`
  // the seeds' windows hold the flows starting in them (flow range `starting`, as the features)
  const near = flowRangeSql({mode: 'starting', since: from, until: to}, {alias: 'f'})
  const sql = `
WITH seeds AS (
  SELECT DISTINCT network, address, wstart FROM (
    SELECT unnest($networks) AS network, unnest($addresses) AS address, unnest($starts)::BIGINT AS wstart)
),
near AS (
  SELECT f.network, f.src_ip, f.dst_ip, f.dst_port, f.proto, f.tcp_flags, f.bytes, f.family, f.dst_addr, epoch_us(f.ts_start) AS ts
  FROM flows f
  WHERE f.network IN (SELECT DISTINCT network FROM seeds)
    AND ${near.where}
    AND f.proto IN (6, 17)
),
conversations AS (
  SELECT s.network, s.address AS seed, s.wstart, f.src_ip AS client, f.dst_ip AS server, f.dst_port AS port, f.proto,
         any_value(f.family) AS family, any_value(f.dst_addr) AS server_addr, count(*) AS c
  FROM seeds s JOIN near f ON f.network = s.network AND (f.src_ip = s.address OR f.dst_ip = s.address)
    AND f.ts >= s.wstart AND f.ts < s.wstart + ${windowUs}
  GROUP BY ALL
),
beacon AS (
  -- the beacon's dominant conversation: most records, ties broken by address and port so runs agree
  SELECT * FROM conversations
  QUALIFY row_number() OVER (PARTITION BY network, seed, wstart ORDER BY c DESC, client, server, port, proto) = 1
),
beacon_size AS (
  SELECT b.network, b.seed, b.wstart, median(f.bytes) AS beacon_bytes
  FROM beacon b JOIN near f ON f.network = b.network AND f.src_ip = b.client AND f.dst_ip = b.server AND f.dst_port = b.port
    AND f.proto = b.proto AND f.ts >= b.wstart AND f.ts < b.wstart + ${windowUs} AND ${connection}
  GROUP BY ALL
),
related AS (
  SELECT b.network, b.seed, b.wstart, b.client, b.server, b.port, b.proto, f.dst_ip AS related,
         count(*) AS records, median(f.bytes) AS related_bytes
  FROM beacon b JOIN near f ON f.network = b.network AND f.src_ip = b.client AND f.dst_port = b.port AND f.proto = b.proto
    AND f.dst_ip <> b.server AND f.family = b.family
    AND (f.dst_addr >> ${shift('f.family')}) = (b.server_addr >> ${shift('b.family')})
    AND f.ts >= b.wstart AND f.ts < b.wstart + ${windowUs} AND ${connection}
  GROUP BY ALL
)
SELECT r.*, s.beacon_bytes FROM related r JOIN beacon_size s USING (network, seed, wstart)
WHERE r.related_bytes BETWEEN s.beacon_bytes / (1 + ${tolerance}) AND s.beacon_bytes * (1 + ${tolerance})
ORDER BY r.network, r.related, r.wstart, r.seed`
  const rows = await store.all<PivotRow>(sql, {
    ...near.params,
    networks: duckdb().listValue(beacons.map((d) => d.network)),
    addresses: duckdb().listValue(beacons.map((d) => d.address)),
    starts: duckdb().listValue(starts.map((s) => BigInt(s))),
  })
  const seedKeys = new Set(beacons.map((d) => `${d.network}|${d.address}|${Math.floor(d.windowStart)}`))
  const out = new Map<string, BeaconRelation>()
  for (const r of rows) {
    const windowStart = Number(r.wstart)
    const key = `${r.network}|${r.related}|${windowStart}`
    if (seedKeys.has(key) || out.has(key)) continue
    const prefix = r.related.includes(':') ? BEACON_PIVOT_PREFIX.v6 : BEACON_PIVOT_PREFIX.v4
    const protoName = r.proto === 6 ? 'TCP' : 'UDP'
    out.set(key, {
      network: r.network,
      address: r.related,
      windowStart,
      client: r.client,
      server: r.server,
      port: r.port,
      proto: r.proto,
      records: Number(r.records),
      beaconBytes: r.beacon_bytes,
      relatedBytes: r.related_bytes,
      reason:
        `same /${prefix} and service (${protoName} ${r.port}) as beacon server ${r.server}, reached by its client ${r.client} ` +
        `${Number(r.records)} time(s) with the beacon's request size (median ${Math.round(r.related_bytes)} vs ${Math.round(r.beacon_bytes)} bytes)`,
    })
  }
  return [...out.values()]
}

/**
 * The related addresses of a first pass's beacon detections as detections of type `beaconing`: their
 * own score and the model's threshold (the score is below it: the relation, not the score, is the
 * evidence), `topFeatures` headed by the relation (`related_beacon_server`, value = the client's
 * connection records to the address) and then the address's own top features.
 */
export async function relatedBeaconDetections(
  store: FlowStore,
  first: {
    features: Pick<FeatureMatrix, 'length' | 'networks' | 'addresses' | 'windowStart' | 'windowSec'>
    scores: {scores: ArrayLike<number>; threshold: number}
    detections: readonly DetectionRow[]
    ownTopFeatures: (row: number) => DetectionRow['topFeatures']
  },
  options: BeaconPivotOptions = {},
): Promise<{detections: DetectionRow[]; relations: BeaconRelation[]}> {
  const f = first.features
  const relations = await findBeaconRelations(store, first.detections, f.windowSec, options)
  if (relations.length === 0) return {detections: [], relations}
  const rowOf = new Map<string, number>()
  for (let i = 0; i < f.length; i++) rowOf.set(`${f.networks[i]}|${f.addresses[i]}|${f.windowStart[i]}`, i)
  const template = first.detections[0] as DetectionRow
  const windowUs = f.windowSec * 1e6
  const detections: DetectionRow[] = []
  for (const r of relations) {
    const i = rowOf.get(`${r.network}|${r.address}|${r.windowStart}`)
    // the client reached it in the window, so it has a row there; a since/until cut can drop it
    if (i === undefined) continue
    detections.push({
      network: r.network,
      address: r.address,
      windowStart: r.windowStart,
      windowEnd: r.windowStart + windowUs,
      model: template.model,
      pass: template.pass,
      score: first.scores.scores[i] as number,
      threshold: first.scores.threshold,
      attackType: 'beaconing',
      topFeatures: [
        {name: `${RELATED_BEACON_FEATURE} ${r.server} via ${r.client}`, value: r.records, standardisedError: Number.NaN},
        ...first.ownTopFeatures(i).slice(0, 2),
      ],
      runId: template.runId ?? null,
    })
  }
  return {detections, relations}
}
