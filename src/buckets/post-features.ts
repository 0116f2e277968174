/**
 * What the post-processing pass looks at, per (address, long window): the long-history evidence that a
 * 5-minute window cannot hold, and the address's deviation from its bucket.
 *
 * Long windows (default 1 h with a 15-min hop, and 24 h days) get three kinds of evidence:
 *
 * - **model**: the same 22 features over the long window, volumes brought to the model's window
 *   (a 1-h window's bytes divided by 12) so the autoencoder sees the average 5-minute window of that
 *   hour, scored in the bucket's one batched ONNX call and normalised by the long window's own benign
 *   error median/MAD (the calibration);
 * - **periodicity**: the most regular repeated request of the address — the same peer and service port
 *   again and again at near-constant gaps (beacons, slow brute force). For a request pair with n
 *   requests, r = MAD/median of the gaps is ≈ 0.69 for a Poisson process (exponential gaps) and ≈ 0.1
 *   for a timer with ±15% jitter; evidence = max(0, 1 − r/0.69)·√(n − 1), so it grows with how regular
 *   and how long the series is (RITA's beacon analysis rests on the same dispersion idea);
 * - **service fan-out**: how many distinct peers the address opened connections to on one service
 *   port, against what benign units do on that port: max over ports of ln(1 + k) − ln(1 + q99 of the
 *   port), the q99 from the calibration (ports seen too rarely there share one pooled value). A slow
 *   sweep reaches dozens of hosts on 445 in an hour — where benign hosts reach two or three — while
 *   staying at one or two per 5-minute window; a busy browser's fifty HTTPS servers are ordinary.
 *
 * A request is a flow record whose destination port is below its source port (the client's side of a
 * connection to a service; replies and ICMP are left out).
 *
 * **Bucket context**: each address's 24 context features (the 22 long-window features, periodicity and
 * fan-out) as robust z against its bucket in the same window — the median and MAD over the bucket's
 * active addresses, the MAD floored by the benign population's spread so a bucket of identical hosts
 * does not turn a hair's difference into evidence. The positive part's L2 norm is the fourth
 * evidence component: a host that suddenly talks like no other host of its /24 (or AS).
 *
 * **Score.** The components are heavy-tailed and unlike each other (a norm of z-scores, a count, a
 * regularity), so they are not added up: each gets a tail model fitted on benign units — on
 * x = ln(1 + evidence), the share r of units above the benign 99th percentile u and an exponential
 * tail beyond it with mean excess m (peaks over threshold; exponential on the log scale is a Pareto
 * tail on the evidence) — and a unit's post score is its strongest component's surprise, −log10 of its
 * Bonferroni-corrected tail probability: score = max_k −log10(min(1, K · r_k · e^{−(x_k − u_k)/m_k})).
 * A benign unit scores above s with probability at most 10^−s, whichever component is heavy-tailed,
 * so the threshold for a budget b is simply −log10(b) (see post-calibration.ts).
 */
import type {DuckDBValue} from '@duckdb/node-api'

import {FEATURE_COUNT, FEATURE_INDEX, FEATURE_NAMES} from '../infer/index.js'
import {flowRangeSql} from '../io/index.js'
import type {FlowRangeSql} from '../io/index.js'
import type {ErrorNormalisation} from '../infer/index.js'

/** A long-window scale of the post pass. Windows start on multiples of `hopSec` since the epoch. */
export interface PostScale {
  name: string
  windowSec: number
  hopSec: number
  /** sub-bin length of `active_subbin_share` at this scale */
  subBinSec: number
}

export const DEFAULT_POST_SCALES: readonly PostScale[] = [
  {name: '1h', windowSec: 3600, hopSec: 900, subBinSec: 60},
  {name: '24h', windowSec: 86_400, hopSec: 86_400, subBinSec: 1440},
]

export const EVIDENCE_NAMES = ['long_window_model', 'periodicity', 'service_fan_out', 'bucket_deviation'] as const
export type EvidenceName = (typeof EVIDENCE_NAMES)[number]
export const EVIDENCE_COUNT = EVIDENCE_NAMES.length
export const EV_MODEL = 0
export const EV_PERIODIC = 1
export const EV_FAN = 2
export const EV_CONTEXT = 3

export const CONTEXT_FEATURE_NAMES = [...FEATURE_NAMES, 'periodicity', 'service_fan_out_log1p'] as const
export const CONTEXT_COUNT = CONTEXT_FEATURE_NAMES.length

/** Fewest active addresses in a bucket-window for its median/MAD to mean something. */
export const MIN_CONTEXT_MEMBERS = 5

/** MAD/median of exponential gaps: sinh(d) = 1/2 → d = 0.4812, over ln 2. */
const POISSON_GAP_DISPERSION = 0.694
/** requests on one pair before its gaps say anything */
const MIN_PERIODIC_REQUESTS = 5

/** Volume features (log1p of sums): divided by the window ratio before the model sees them. */
const VOLUME_FEATURES = [
  FEATURE_INDEX.bytes_out_log1p,
  FEATURE_INDEX.bytes_in_log1p,
  FEATURE_INDEX.packets_out_log1p,
  FEATURE_INDEX.packets_in_log1p,
  FEATURE_INDEX.flows_out_log1p,
  FEATURE_INDEX.flows_in_log1p,
]

/** Window geometry in µs, and the window-start range [since, until) of a run at this scale. */
export interface ScaleWindows {
  windowUs: number
  hopUs: number
  /** first window start (inclusive), or undefined for no bound */
  since: number | undefined
  /** last window start (exclusive) */
  until: number | undefined
}

/**
 * Window starts of `scale` that overlap the run's range [since, until) of 5-minute window starts:
 * every long window that holds at least one flow of the run.
 */
export function scaleWindows(scale: PostScale, since: number | undefined, until: number | undefined): ScaleWindows {
  const windowUs = Math.round(scale.windowSec * 1e6)
  const hopUs = Math.round(scale.hopSec * 1e6)
  return {
    windowUs,
    hopUs,
    since: since === undefined ? undefined : since - windowUs + 1,
    until,
  }
}

/** SQL of exact integer floor division (DuckDB's `//` truncates toward zero). */
function floorDiv(expr: string, d: number): string {
  return `((${expr}) - ((((${expr}) % ${d}) + ${d}) % ${d})) // ${d}`
}

/** SQL that unnests each row into the start of every window (length `windowUs`, hop `hopUs`) holding its `ts`. */
function windowStartsOfTs(windowUs: number, hopUs: number): string {
  return `unnest(range(${floorDiv(`ts - ${windowUs}`, hopUs)} + 1, ${floorDiv('ts', hopUs)} + 1)) * ${hopUs}`
}

/**
 * SQL of the periodicity evidence over the table `flows` (a bucket's flows), one row per (network,
 * address, window start) with at least one request. `$addresses` limits the addresses.
 */
export function slowEvidenceSql(w: ScaleWindows): PostQuery {
  const {windowUs, hopUs} = w
  const range = requestRange(w)
  const flowFilters: string[] = ['dst_port < src_port', ...range.conditions]
  const windowFilters = windowRangeFilters(w)
  const periodic = `CASE WHEN n >= ${MIN_PERIODIC_REQUESTS} AND med > 0 THEN greatest(0, 1 - (gap_mad / med) / ${POISSON_GAP_DISPERSION}) * sqrt(n - 1) ELSE 0 END`
  const sql = `
WITH req AS (
  SELECT * FROM (
    SELECT network, src_ip AS address, dst_ip AS peer, TRUE AS outbound, dst_port AS svc, epoch_us(ts_start) AS ts
    FROM flows WHERE ${flowFilters.join(' AND ')}
    UNION ALL
    SELECT network, dst_ip AS address, src_ip AS peer, FALSE AS outbound, dst_port AS svc, epoch_us(ts_start) AS ts
    FROM flows WHERE ${flowFilters.join(' AND ')}
  ) WHERE list_contains($addresses, address)
),
win AS (
  SELECT * FROM (
    SELECT *, ${windowStartsOfTs(windowUs, hopUs)} AS wstart FROM req
  ) ${windowFilters.length > 0 ? `WHERE ${windowFilters.join(' AND ')}` : ''}
),
gaps AS (
  SELECT *, (ts - lag(ts) OVER (PARTITION BY network, address, wstart, outbound, peer, svc ORDER BY ts))::DOUBLE AS gap FROM win
),
pairs AS (
  SELECT network, address, wstart, outbound, svc, count(*) AS n, median(gap) AS med, mad(gap) AS gap_mad
  FROM gaps GROUP BY network, address, wstart, outbound, peer, svc
),
per AS (
  SELECT network, address, wstart, max(${periodic}) AS periodic,
         arg_max(svc, ${periodic} * 65536 + (65535 - svc)) AS periodic_port
  FROM pairs GROUP BY network, address, wstart
)
SELECT network, address, wstart, periodic, periodic_port::INTEGER AS periodic_port
FROM per ORDER BY network, address, wstart`
  return {sql, params: range.params}
}

/**
 * SQL of the distinct peers per (address, window, service port) of the address's outbound requests
 * over the table `flows`; `$addresses` limits the addresses.
 */
export function portFanSql(w: ScaleWindows): PostQuery {
  const {windowUs, hopUs} = w
  const range = requestRange(w)
  const flowFilters: string[] = ['dst_port < src_port', ...range.conditions]
  const windowFilters = windowRangeFilters(w)
  const sql = `
SELECT address, wstart, svc, count(DISTINCT peer)::INTEGER AS k FROM (
  SELECT *, ${windowStartsOfTs(windowUs, hopUs)} AS wstart
  FROM (SELECT src_ip AS address, dst_ip AS peer, dst_port::INTEGER AS svc, epoch_us(ts_start) AS ts FROM flows WHERE ${flowFilters.join(' AND ')})
  WHERE list_contains($addresses, address)
) ${windowFilters.length > 0 ? `WHERE ${windowFilters.join(' AND ')}` : ''}
GROUP BY address, wstart, svc ORDER BY address, wstart, svc`
  return {sql, params: range.params}
}

/** A statement over the table `flows` (a bucket's flows): its SQL and parameters, `$addresses` left to the caller. */
export interface PostQuery {
  sql: string
  params: Record<string, DuckDBValue>
}

/**
 * The requests the scale's windows hold: flow range mode `starting`, as a flow belongs to every
 * window covering its `ts_start`; a window starting just before `until` still covers flows up to
 * until + window.
 */
function requestRange(w: ScaleWindows): FlowRangeSql {
  return flowRangeSql({mode: 'starting', since: w.since, until: w.until === undefined ? undefined : Math.floor(w.until) + w.windowUs})
}

function windowRangeFilters(w: ScaleWindows): string[] {
  const filters: string[] = []
  if (w.since !== undefined) filters.push(`wstart >= ${Math.floor(w.since)}`)
  if (w.until !== undefined) filters.push(`wstart < ${Math.floor(w.until)}`)
  return filters
}

/** Benign q99 of the distinct peers per (address, window) on each service port, from the calibration. */
export interface FanProfile {
  /** port → q99, for ports with enough benign units */
  ports: Record<string, number>
  /** pooled q99 of the ports seen too rarely (or never) */
  rare: number
}

/** The fan-out evidence of one unit: max over its ports of ln(1 + k) − ln(1 + q99 of the port), at least 0. */
export function fanEvidence(ports: readonly {svc: number; k: number}[], profile: FanProfile): number {
  let best = 0
  for (const {svc, k} of ports) {
    const e = Math.log1p(k) - Math.log1p(profile.ports[svc] ?? profile.rare)
    if (e > best) best = e
  }
  return best
}

/**
 * SQL of a fingerprint of each (group, window)'s flows — count, bytes, checksums of start times and
 * tuples — over the table `flows` (a bucket's flows) and `job_groups(address, g)`: shared work cached
 * for a group's window is reused only while its flows are unchanged.
 */
export function windowFingerprintSql(w: ScaleWindows): string {
  const {windowUs, hopUs} = w
  const filters = windowRangeFilters(w)
  return `
SELECT g, wstart, count(*) AS n, sum(bytes)::DOUBLE AS b, sum(ts % 1000003)::DOUBLE AS t, sum(hash(src_ip, dst_ip, dst_port) % 1000003)::DOUBLE AS h
FROM (
  SELECT j.g, bytes, src_ip, dst_ip, dst_port, ts, ${windowStartsOfTs(windowUs, hopUs)} AS wstart
  FROM (
    SELECT src_ip AS address, bytes, src_ip, dst_ip, dst_port, epoch_us(ts_start) AS ts FROM flows
    UNION ALL
    SELECT dst_ip AS address, bytes, src_ip, dst_ip, dst_port, epoch_us(ts_start) AS ts FROM flows
  ) x JOIN job_groups j USING (address)
) ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''}
GROUP BY g, wstart ORDER BY g, wstart`
}

/** The model's view of a long-window vector: volumes scaled to the model's window (in place). */
export function rescaleToModelWindow(values: Float32Array, rows: number, ratio: number): void {
  if (ratio === 1) return
  for (let r = 0; r < rows; r++) {
    const o = r * FEATURE_COUNT
    for (const f of VOLUME_FEATURES) values[o + f] = Math.log1p(Math.expm1(values[o + f] as number) / ratio)
    values[o + FEATURE_INDEX.byte_ratio_log] = (values[o + FEATURE_INDEX.bytes_out_log1p] as number) - (values[o + FEATURE_INDEX.bytes_in_log1p] as number)
  }
}

/** Model score of one row of squared errors (the first pass's formula, with the scale's normalisation). */
export function modelScore(sq: ArrayLike<number>, offset: number, n: ErrorNormalisation): number {
  let sum = 0
  for (let f = 0; f < n.median.length; f++) {
    const z = (Math.sqrt(sq[offset + f] as number) - (n.median[f] as number)) / (n.scale[f] as number)
    if (z > 0) sum += z * z
  }
  return Math.sqrt(sum)
}

/** Median and MAD-based spread of one bucket-window's context features; null with too few members. */
export interface ContextProfile {
  median: Float64Array
  /** 1.4826 · MAD, before flooring */
  spread: Float64Array
}

/** Profiles for groups of rows (row indices of one bucket-window each) of a row-major context matrix. */
export function contextProfile(context: Float64Array, rows: readonly number[]): ContextProfile | null {
  if (rows.length < MIN_CONTEXT_MEMBERS) return null
  const median = new Float64Array(CONTEXT_COUNT)
  const spread = new Float64Array(CONTEXT_COUNT)
  const col = new Float64Array(rows.length)
  for (let f = 0; f < CONTEXT_COUNT; f++) {
    for (let i = 0; i < rows.length; i++) col[i] = context[(rows[i] as number) * CONTEXT_COUNT + f] as number
    col.sort()
    const m = medianSorted(col)
    for (let i = 0; i < col.length; i++) col[i] = Math.abs((col[i] as number) - m)
    col.sort()
    median[f] = m
    spread[f] = 1.4826 * medianSorted(col)
  }
  return {median, spread}
}

/**
 * Robust z of one row against its bucket profile, each feature's spread floored by `floors`; returns
 * the L2 norm of the positive parts and writes the z values into `zOut`.
 */
export function contextDeviation(context: Float64Array, row: number, profile: ContextProfile | null, floors: readonly number[], zOut?: Float64Array): number {
  if (profile === null) {
    zOut?.fill(0)
    return 0
  }
  let sum = 0
  for (let f = 0; f < CONTEXT_COUNT; f++) {
    const z = ((context[row * CONTEXT_COUNT + f] as number) - (profile.median[f] as number)) / Math.max(profile.spread[f] as number, floors[f] as number)
    if (zOut) zOut[f] = z
    if (z > 0) sum += z * z
  }
  return Math.sqrt(sum)
}

/** Tail model of each evidence component on x = ln(1 + max(evidence, 0)), fitted on benign units. */
export interface EvidenceTails {
  /** benign 99th percentile of x */
  u: number[]
  /** share of benign units with x > u */
  r: number[]
  /** mean excess of x over u among them */
  m: number[]
}

/**
 * Post score of one unit (the largest surprise over components, see the module comment); `surpriseOut`
 * gets each component's surprise.
 */
export function postScore(evidence: ArrayLike<number>, offset: number, tails: EvidenceTails, surpriseOut?: Float64Array): number {
  let best = 0
  for (let k = 0; k < EVIDENCE_COUNT; k++) {
    const x = Math.log1p(Math.max(0, evidence[offset + k] as number))
    const excess = Math.max(0, x - (tails.u[k] as number))
    // −log10(K · r · e^(−excess/m)), floored at 0 (a probability of 1)
    const surprise = Math.max(0, -Math.log10(EVIDENCE_COUNT * (tails.r[k] as number)) + excess / ((tails.m[k] as number) * Math.LN10))
    if (surpriseOut) surpriseOut[k] = surprise
    if (surprise > best) best = surprise
  }
  return best
}

export function medianSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length
  if (n === 0) return 0
  const h = (n - 1) / 2
  const lo = Math.floor(h)
  const hi = Math.ceil(h)
  return ((sorted[lo] as number) + (sorted[hi] as number)) / 2
}
