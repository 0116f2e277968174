/**
 * Extrapolation from a sample to the whole, each estimate with a standard error and a 95% interval.
 *
 * Sampling designs (what the variance formulas assume):
 * - `poisson`: each unit (a packet, or a whole flow key for hash flow sampling) was kept independently
 *   with probability 1/N. Horvitz–Thompson: T̂ = N·Σy, Var̂ = N(N−1)·Σy² (Σ over kept units). For
 *   packet counts (y = 1) that is N(N−1)·c, i.e. a relative standard error ≈ √(1/c): the sFlow rule
 *   "error ≤ 196·√(1/c) %" at 95%. Unbiased for Bernoulli and hash sampling; for systematic sampling
 *   (no unbiased variance estimator exists) it is the usual stand-in, conservative unless the traffic
 *   has a period aligned with N.
 * - `pool`: c packets out of a known sample pool P (sFlow). The effective rate is P/c; the sample is
 *   treated as a simple random sample of c from P: T̂ = P·ȳ, Var̂ = P²(1 − c/P)·s²/c with s² the
 *   sample variance of y over the c packets (zeros included for per-key totals). Knowing P removes the
 *   randomness of c, so the packet total is exact (y ≡ 1, s² = 0) and byte totals get the variance of
 *   the mean packet size only — the HT formula with N = P/c would overstate it by E[b²]/Var(b).
 *
 * Other estimators: TCP flows from SYN flags (Duffield, Lund & Thorup, "Properties and prediction of
 * flow statistics from sampled packet streams", IMW 2002, and "Estimating flow distributions from
 * sampled flow statistics", SIGCOMM 2003: each TCP flow carries one SYN, so N × sampled SYNs counts
 * flows); top-k with a confidence for each adjacent rank pair; distinct hosts (observed, Chao1); mix
 * shares (ratio estimators, linearised variance); the flow-size tail from scaled sampled sizes; and
 * extrapolation of flow records that carry their own `sampling_rate`.
 */
import {IPPROTO_TCP, TCP_SYN, type FlowBatch} from '../core/index.js'
import type {PacketSample} from './packet-samplers.js'
import type {PacketTable} from './packet-table.js'
import {normalCdf, normalEstimate, Z95, type Estimate} from './stats.js'

export type {Estimate} from './stats.js'

export type SampleDesign = {kind: 'poisson'; rate: number} | {kind: 'pool'; pool: number; samples: number}

export interface DesignOptions {
  /** estimate with the nominal rate even when the sample carries a pool */
  ignorePool?: boolean
}

/** How `sample` was drawn, as the estimators see it. */
export function sampleDesign(sample: PacketSample, options: DesignOptions = {}): SampleDesign {
  if (sample.unit === 'packet' && sample.samplePool !== undefined && !options.ignorePool) {
    return {kind: 'pool', pool: sample.samplePool, samples: sample.rows.length}
  }
  return {kind: 'poisson', rate: sample.rate}
}

/** N of 1-in-N the estimate scales by: pool/samples when a pool is known, else the nominal rate. */
export function effectiveRate(design: SampleDesign): number {
  if (design.kind === 'poisson') return design.rate
  return design.samples > 0 ? design.pool / design.samples : design.pool
}

/** The total alone from Σy (`designTotal` without the variance, for hot loops). */
export function designEstimate(design: SampleDesign, s1: number): number {
  if (design.kind === 'poisson') return design.rate * s1
  return design.samples > 0 ? (design.pool * s1) / design.samples : 0
}

/** Total and its variance estimate from Σy and Σy² over the sampled units. */
export function designTotal(design: SampleDesign, s1: number, s2: number): {estimate: number; variance: number} {
  if (design.kind === 'poisson') {
    const n = design.rate
    return {estimate: n * s1, variance: n * (n - 1) * s2}
  }
  const c = design.samples
  const pool = design.pool
  if (c === 0) return {estimate: 0, variance: 0}
  if (c === 1) return {estimate: pool * s1, variance: pool * (pool - 1) * s2}
  const s2y = Math.max(0, (s2 - (s1 * s1) / c) / (c - 1))
  return {estimate: (pool * s1) / c, variance: (pool * pool * Math.max(0, 1 - c / pool) * s2y) / c}
}

// ------------------------------------------------------------------------------------------- totals

export interface TotalsEstimate {
  packets: Estimate
  bytes: Estimate
  sampledPackets: number
  sampledBytes: number
  effectiveRate: number
  design: SampleDesign
}

/** Total IP packets and bytes. The interval's lower end is never below what was sampled. */
export function estimateTotals(table: PacketTable, sample: PacketSample, options: DesignOptions = {}): TotalsEstimate {
  const design = sampleDesign(sample, options)
  let p1 = 0
  let p2 = 0
  let b1 = 0
  let b2 = 0
  if (sample.unit === 'flow' && sample.flowKeys) {
    const {packets, bytes} = table.flowKeys
    const keys = sample.flowKeys
    for (let j = 0; j < keys.length; j++) {
      const f = keys[j]!
      const p = packets[f]!
      const b = bytes[f]!
      p1 += p
      p2 += p * p
      b1 += b
      b2 += b * b
    }
  } else {
    const rows = sample.rows
    const bytes = table.bytes
    for (let j = 0; j < rows.length; j++) {
      const b = bytes[rows[j]!]!
      b1 += b
      b2 += b * b
    }
    p1 = rows.length
    p2 = rows.length
  }
  const packets = designTotal(design, p1, p2)
  const bytes = designTotal(design, b1, b2)
  return {
    packets: normalEstimate(packets.estimate, packets.variance, p1),
    bytes: normalEstimate(bytes.estimate, bytes.variance, b1),
    sampledPackets: p1,
    sampledBytes: b1,
    effectiveRate: effectiveRate(design),
    design,
  }
}

// ---------------------------------------------------------------------------------------- per key

export const KEY_NAMES = ['srcHost', 'dstHost', 'dstPort', 'proto'] as const
export type KeyName = (typeof KEY_NAMES)[number]
export type Measure = 'packets' | 'bytes'

/** Per-key totals for the keys present in the sample (ids: host ids, port or protocol numbers). */
export interface KeyedEstimates {
  key: KeyName
  measure: Measure
  ids: Uint32Array
  estimate: Float64Array
  stderr: Float64Array
  /** sampled packets of each key: the c of the 196·√(1/c) % rule */
  sampledPackets: Float64Array
  design: SampleDesign
}

/**
 * Scratch sums over a key domain (hosts, ports, protocols), reset by the touched list only, so a trial
 * costs O(samples) however large the domain. Reuse one across trials of a benchmark.
 */
export class KeyAccumulator {
  s1: Float64Array
  s2: Float64Array
  count: Float64Array
  touched: Uint32Array
  nTouched = 0

  constructor(domain: number) {
    this.s1 = new Float64Array(domain)
    this.s2 = new Float64Array(domain)
    this.count = new Float64Array(domain)
    this.touched = new Uint32Array(Math.max(16, Math.min(domain, 1024)))
  }

  ensure(domain: number): void {
    if (this.s1.length >= domain) return
    this.nTouched = 0
    this.s1 = new Float64Array(domain)
    this.s2 = new Float64Array(domain)
    this.count = new Float64Array(domain)
  }

  add(key: number, y: number, packets: number): void {
    if (this.count[key] === 0) {
      if (this.nTouched === this.touched.length) {
        const g = new Uint32Array(Math.max(16, this.touched.length * 2))
        g.set(this.touched)
        this.touched = g
      }
      this.touched[this.nTouched++] = key
    }
    this.s1[key]! += y
    this.s2[key]! += y * y
    this.count[key]! += packets
  }

  clear(): void {
    for (let j = 0; j < this.nTouched; j++) {
      const k = this.touched[j]!
      this.s1[k] = 0
      this.s2[k] = 0
      this.count[k] = 0
    }
    this.nTouched = 0
  }
}

function keyDomain(table: PacketTable, key: KeyName): number {
  if (key === 'srcHost' || key === 'dstHost') return table.hosts.count
  return key === 'dstPort' ? 65536 : 256
}

/** Fill `acc` with Σy, Σy² and sampled packets per key over the sample's units. */
export function accumulateByKey(table: PacketTable, sample: PacketSample, key: KeyName, measure: Measure, acc: KeyAccumulator): void {
  acc.ensure(keyDomain(table, key))
  acc.clear()
  if (sample.unit === 'flow' && sample.flowKeys) {
    const fk = table.flowKeys
    const keyOf = key === 'srcHost' ? fk.srcHostId : key === 'dstHost' ? fk.dstHostId : key === 'dstPort' ? fk.dstPort : fk.proto
    const y = measure === 'packets' ? fk.packets : fk.bytes
    const keys = sample.flowKeys
    for (let j = 0; j < keys.length; j++) {
      const f = keys[j]!
      acc.add(keyOf[f]!, y[f]!, fk.packets[f]!)
    }
    return
  }
  const keyOf = key === 'srcHost' ? table.srcHostId : key === 'dstHost' ? table.dstHostId : key === 'dstPort' ? table.dstPort : table.proto
  const rows = sample.rows
  if (measure === 'packets') {
    for (let j = 0; j < rows.length; j++) acc.add(keyOf[rows[j]!]!, 1, 1)
  } else {
    const bytes = table.bytes
    for (let j = 0; j < rows.length; j++) {
      const i = rows[j]!
      acc.add(keyOf[i]!, bytes[i]!, 1)
    }
  }
}

export interface KeyOptions extends DesignOptions {
  key: KeyName
  measure?: Measure
  /** scratch to reuse across calls (benchmarks) */
  scratch?: KeyAccumulator
}

/** Per-key volumes (hosts, ports, protocols) with the same design as the totals. */
export function estimateByKey(table: PacketTable, sample: PacketSample, options: KeyOptions): KeyedEstimates {
  const measure = options.measure ?? 'bytes'
  const design = sampleDesign(sample, options)
  const acc = options.scratch ?? new KeyAccumulator(keyDomain(table, options.key))
  accumulateByKey(table, sample, options.key, measure, acc)
  const n = acc.nTouched
  const ids = acc.touched.slice(0, n)
  const estimate = new Float64Array(n)
  const stderr = new Float64Array(n)
  const sampledPackets = new Float64Array(n)
  for (let j = 0; j < n; j++) {
    const k = ids[j]!
    const t = designTotal(design, acc.s1[k]!, acc.s2[k]!)
    estimate[j] = t.estimate
    stderr[j] = Math.sqrt(Math.max(0, t.variance))
    sampledPackets[j] = acc.count[k]!
  }
  acc.clear()
  return {key: options.key, measure, ids, estimate, stderr, sampledPackets, design}
}

/** One key's estimate as an `Estimate` (interval floored at 0). */
export function keyEstimate(keyed: KeyedEstimates, j: number): Estimate {
  const se = keyed.stderr[j]!
  return normalEstimate(keyed.estimate[j]!, se * se, 0)
}

// ------------------------------------------------------------------------------------------- top-k

export interface TopKEntry {
  rank: number
  /** host id, port or protocol number */
  id: number
  volume: Estimate
  sampledPackets: number
  /**
   * Probability that this entry really is larger than the next one in the ranking (the entry at rank
   * i+1, or the best excluded one for the last rank): Φ(Δ / √(se_i² + se_{i+1}²)), the normal
   * approximation of the difference of two independent estimates. 1 when there is no next entry.
   */
  rankConfidence: number
}

/** The k largest keys by estimate, each with its rank confidence. O(keys · k). */
export function estimateTopK(keyed: KeyedEstimates, k: number): TopKEntry[] {
  const order = topOrder(keyed.estimate, k + 1)
  const out: TopKEntry[] = []
  for (let r = 0; r < Math.min(k, order.length); r++) {
    const j = order[r]!
    const next = order[r + 1]
    out.push({
      rank: r + 1,
      id: keyed.ids[j]!,
      volume: keyEstimate(keyed, j),
      sampledPackets: keyed.sampledPackets[j]!,
      rankConfidence:
        next === undefined ? 1 : orderConfidence(keyed.estimate[j]!, keyed.stderr[j]!, keyed.estimate[next]!, keyed.stderr[next]!),
    })
  }
  return out
}

/** P(a > b) for independent normal estimates a and b. */
export function orderConfidence(a: number, seA: number, b: number, seB: number): number {
  const sd = Math.sqrt(seA * seA + seB * seB)
  if (sd === 0) return a > b ? 1 : a === b ? 0.5 : 0
  return normalCdf((a - b) / sd)
}

/** Rank confidences for estimates already in descending order (last one: 1). */
export function rankConfidences(sorted: ReadonlyArray<{estimate: number; stderr: number}>): number[] {
  return sorted.map((e, i) => {
    const next = sorted[i + 1]
    return next ? orderConfidence(e.estimate, e.stderr, next.estimate, next.stderr) : 1
  })
}

/** Indices of the m largest values, largest first (ties: lower index first), by insertion into a small buffer. */
export function topOrder(values: ArrayLike<number>, m: number): number[] {
  const best: number[] = []
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (best.length === m && v <= values[best[m - 1]!]!) continue
    let p = best.length < m ? best.length : m - 1
    if (best.length < m) best.push(i)
    while (p > 0 && values[best[p - 1]!]! < v) {
      best[p] = best[p - 1]!
      p--
    }
    best[p] = i
  }
  return best
}

// -------------------------------------------------------------------------------------- TCP flows

export interface TcpFlowEstimate extends Estimate {
  /** sampled SYN-flagged TCP packets */
  sampledSyn: number
}

/**
 * TCP flows from SYN flags: every unidirectional TCP flow opens with one SYN (client) or SYN-ACK
 * (server) packet, so sampled SYN packets stand for flows one to one and N·k counts flows, with
 * Var̂ = N(N−1)·k (Poisson design; a retransmitted SYN is counted as another flow). For hash flow
 * samples the unit is the flow key and y its SYN packets.
 */
export function estimateTcpFlows(table: PacketTable, sample: PacketSample, options: DesignOptions = {}): TcpFlowEstimate {
  const design = sampleDesign(sample, options)
  let s1 = 0
  let s2 = 0
  if (sample.unit === 'flow' && sample.flowKeys) {
    const syn = table.flowKeys.synPackets
    const keys = sample.flowKeys
    for (let j = 0; j < keys.length; j++) {
      const y = syn[keys[j]!]!
      s1 += y
      s2 += y * y
    }
  } else {
    const {rows} = sample
    const {tcpFlags, proto} = table
    for (let j = 0; j < rows.length; j++) {
      const i = rows[j]!
      if ((tcpFlags[i]! & TCP_SYN) !== 0 && proto[i] === IPPROTO_TCP) s1++
    }
    s2 = s1
  }
  const t = designTotal(design, s1, s2)
  return {...normalEstimate(t.estimate, t.variance, s1), sampledSyn: s1}
}

// ---------------------------------------------------------------------------------- distinct hosts

export interface DistinctEstimate {
  /** distinct values seen in the sample: a lower bound */
  observed: number
  /** singletons and doubletons: values seen in exactly one / two sampled units */
  f1: number
  f2: number
  /** Chao1 richness estimate, ≥ observed, with Chao's (1987) log-normal interval */
  chao1: Estimate
}

/**
 * Chao1 from abundance counts: S = S_obs + f1²/(2·f2), or the bias-corrected S_obs + f1(f1−1)/2 when
 * f2 = 0; variance f2·(½(f1/f2)² + (f1/f2)³ + ¼(f1/f2)⁴) (Chao 1987), or its f2 = 0 form. The 95%
 * interval is Chao's log-normal one for the unseen part T = S − S_obs:
 * [S_obs + T/K, S_obs + T·K], K = exp(1.96·√(ln(1 + Var/T²))), so it never drops below S_obs.
 */
export function chao1(observed: number, f1: number, f2: number): Estimate {
  let s: number
  let variance: number
  if (f1 === 0) {
    s = observed
    variance = 0
  } else if (f2 > 0) {
    const q = f1 / f2
    s = observed + (f1 * f1) / (2 * f2)
    variance = f2 * (0.5 * q * q + q * q * q + 0.25 * q * q * q * q)
  } else {
    s = observed + (f1 * (f1 - 1)) / 2
    variance = (f1 * (f1 - 1)) / 2 + (f1 * (2 * f1 - 1) * (2 * f1 - 1)) / 4 - (f1 * f1 * f1 * f1) / (4 * s)
  }
  variance = Math.max(0, variance)
  const t = s - observed
  if (t <= 0 || variance === 0) return {estimate: s, stderr: Math.sqrt(variance), ci95: [observed, s]}
  const k = Math.exp(Z95 * Math.sqrt(Math.log(1 + variance / (t * t))))
  return {estimate: s, stderr: Math.sqrt(variance), ci95: [observed + t / k, observed + t * k]}
}

/**
 * Distinct addresses (as source or destination). The abundance of a host is the number of sampled
 * packets it appears in.
 */
export function estimateDistinctHosts(table: PacketTable, sample: PacketSample, scratch?: KeyAccumulator): DistinctEstimate {
  const acc = scratch ?? new KeyAccumulator(table.hosts.count)
  acc.ensure(table.hosts.count)
  acc.clear()
  if (sample.unit === 'flow' && sample.flowKeys) {
    const fk = table.flowKeys
    const keys = sample.flowKeys
    for (let j = 0; j < keys.length; j++) {
      const f = keys[j]!
      const p = fk.packets[f]!
      acc.add(fk.srcHostId[f]!, 0, p)
      acc.add(fk.dstHostId[f]!, 0, p)
    }
  } else {
    const {rows} = sample
    const {srcHostId, dstHostId} = table
    for (let j = 0; j < rows.length; j++) {
      const i = rows[j]!
      acc.add(srcHostId[i]!, 0, 1)
      acc.add(dstHostId[i]!, 0, 1)
    }
  }
  let f1 = 0
  let f2 = 0
  for (let j = 0; j < acc.nTouched; j++) {
    const c = acc.count[acc.touched[j]!]!
    if (c === 1) f1++
    else if (c === 2) f2++
  }
  const observed = acc.nTouched
  acc.clear()
  return {observed, f1, f2, chao1: chao1(observed, f1, f2)}
}

// --------------------------------------------------------------------------------------------- mix

export interface MixEntry {
  /** protocol or port number */
  id: number
  /** share of the total, in [0, 1] */
  share: Estimate
  volume: Estimate
}

/**
 * Protocol or port mix as shares of the total (packets or bytes), largest first. A share is a ratio
 * R = T_k / T of two estimated totals; its variance is linearised (delta method): the design variance
 * of z = y·(1[key = k] − R) divided by T̂², which for packet shares under Poisson sampling is
 * (1 − 1/N)·R(1 − R)/c.
 */
export function estimateMix(
  table: PacketTable,
  sample: PacketSample,
  options: {key: 'proto' | 'dstPort'; measure?: Measure; top?: number} & DesignOptions,
): MixEntry[] {
  const measure = options.measure ?? 'packets'
  const design = sampleDesign(sample, options)
  const acc = new KeyAccumulator(keyDomain(table, options.key))
  accumulateByKey(table, sample, options.key, measure, acc)
  let s1 = 0
  let s2 = 0
  for (let j = 0; j < acc.nTouched; j++) {
    const k = acc.touched[j]!
    s1 += acc.s1[k]!
    s2 += acc.s2[k]!
  }
  const ids = Array.from(acc.touched.subarray(0, acc.nTouched)).sort((a, b) => acc.s1[b]! - acc.s1[a]! || a - b)
  const out: MixEntry[] = []
  for (const k of ids.slice(0, options.top ?? ids.length)) {
    const r = s1 > 0 ? acc.s1[k]! / s1 : 0
    const sk2 = acc.s2[k]!
    const z2 = sk2 * (1 - r) * (1 - r) + (s2 - sk2) * r * r
    let variance: number
    if (design.kind === 'poisson') {
      variance = s1 > 0 ? ((design.rate - 1) / design.rate) * (z2 / (s1 * s1)) : 0
    } else {
      const c = design.samples
      variance = c > 1 && s1 > 0 ? (Math.max(0, 1 - c / design.pool) * (c / (c - 1)) * z2) / (s1 * s1) : 0
    }
    const share = normalEstimate(r, variance, 0)
    share.ci95[1] = Math.min(1, share.ci95[1])
    const v = designTotal(design, acc.s1[k]!, sk2)
    out.push({id: k, share, volume: normalEstimate(v.estimate, v.variance, acc.s1[k]!)})
  }
  return out
}

// ------------------------------------------------------------------------------- flow-size tail

/** Flow sizes (packets per flow) as distinct sizes, ascending, with the number of flows of each. */
export interface FlowSizeDistribution {
  sizes: Float64Array
  counts: Float64Array
}

/** The distribution of the given sizes, each flow counting `weight`. */
export function flowSizeDistribution(sizes: ArrayLike<number>, weight = 1): FlowSizeDistribution {
  const sorted = Float64Array.from(sizes).sort()
  let distinct = 0
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++
  const out = {sizes: new Float64Array(distinct), counts: new Float64Array(distinct)}
  let d = -1
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) out.sizes[++d] = sorted[i]!
    out.counts[d]! += weight
  }
  return out
}

export interface FlowSizeTail extends FlowSizeDistribution {
  unit: 'packet' | 'flow'
  rate: number
  /** sizes (packets per flow) below this are not estimated: minSampled·N, or 1 for flow sampling */
  threshold: number
  /** estimated number of flows of at least each size (the complementary CDF, in flows) */
  atLeast: Float64Array
}

/**
 * The tail of the flow-size distribution (packets per flow) from the sizes of sampled flow records.
 *
 * Packet sampling: a flow of x packets shows k ~ Binomial(x, 1/N) of them, so its size is estimated as
 * N·k, with relative noise ≈ √(N/x). Small flows mostly vanish and the few that show up look like N·k
 * for tiny k, so only records with k ≥ `minSampled` (default 10) are used and the tail starts at
 * threshold = minSampled·N, where a scaled size is within about ±60% (two standard errors) of the truth.
 * Flow sampling (hash): kept flows are whole, so sizes are exact and each stands for N flows; the
 * whole distribution is estimated (threshold 1).
 */
export function estimateFlowSizeTail(
  sampledSizes: ArrayLike<number>,
  rate: number,
  options: {unit?: 'packet' | 'flow'; minSampled?: number} = {},
): FlowSizeTail {
  const unit = options.unit ?? 'packet'
  const minSampled = unit === 'flow' ? 1 : Math.max(1, options.minSampled ?? DEFAULT_TAIL_MIN_SAMPLED)
  const scale = unit === 'flow' ? 1 : rate
  const kept: number[] = []
  for (let i = 0; i < sampledSizes.length; i++) {
    const k = sampledSizes[i]!
    if (k >= minSampled) kept.push(k * scale)
  }
  const {sizes, counts} = flowSizeDistribution(kept, unit === 'flow' ? rate : 1)
  const atLeast = new Float64Array(sizes.length)
  let acc = 0
  for (let i = sizes.length - 1; i >= 0; i--) {
    acc += counts[i]!
    atLeast[i] = acc
  }
  return {unit, rate, threshold: minSampled * scale, sizes, counts, atLeast}
}

export const DEFAULT_TAIL_MIN_SAMPLED = 10

/**
 * Kolmogorov–Smirnov distance between two flow-size distributions, both restricted to sizes at or above
 * `threshold` (an estimated tail's own threshold by default) and normalised there. NaN when the truth
 * has no flow that large (nothing to compare), 1 when only the estimate is empty.
 */
export function flowSizeKsDistance(
  truth: FlowSizeDistribution,
  estimate: FlowSizeDistribution & {threshold?: number},
  threshold = estimate.threshold ?? 1,
): number {
  const a = fromThreshold(truth, threshold)
  const b = fromThreshold(estimate, threshold)
  const wa = sumFrom(truth.counts, a)
  const wb = sumFrom(estimate.counts, b)
  if (wa === 0) return Number.NaN
  if (wb === 0) return 1
  let i = a
  let j = b
  let ca = 0
  let cb = 0
  let d = 0
  const na = truth.sizes.length
  const nb = estimate.sizes.length
  while (i < na || j < nb) {
    const x = Math.min(i < na ? truth.sizes[i]! : Infinity, j < nb ? estimate.sizes[j]! : Infinity)
    if (i < na && truth.sizes[i] === x) ca += truth.counts[i++]!
    if (j < nb && estimate.sizes[j] === x) cb += estimate.counts[j++]!
    const gap = Math.abs(ca / wa - cb / wb)
    if (gap > d) d = gap
  }
  return Math.min(1, d)
}

/** first index with sizes[i] ≥ threshold */
function fromThreshold(dist: FlowSizeDistribution, threshold: number): number {
  let lo = 0
  let hi = dist.sizes.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (dist.sizes[mid]! < threshold) lo = mid + 1
    else hi = mid
  }
  return lo
}

function sumFrom(a: Float64Array, from: number): number {
  let s = 0
  for (let i = from; i < a.length; i++) s += a[i]!
  return s
}

// ---------------------------------------------------------------------------- sampled flow records

/** A flow record as SQL returns it (DuckDB UBIGINT columns come back as bigint). */
export interface FlowRow {
  packets: number | bigint
  bytes: number | bigint
  /** N of 1-in-N at the source; 1 or absent = unsampled */
  sampling_rate?: number | bigint | null
  tcp_flags?: number | null
  proto?: number | null
}

export interface FlowExtrapolation {
  records: number
  sampledPackets: number
  sampledBytes: number
  packets: Estimate
  bytes: Estimate
  /** TCP flows, from records with SYN among their flags */
  tcpFlows: Estimate
  minRate: number
  maxRate: number
  /** set when the records come from simulated (not real) packet sampling */
  simulated?: 'binomial-thinning'
}

/**
 * Extrapolate flow records that were packet-sampled at the source (NetFlow/IPFIX/sFlow
 * `sampling_rate` N > 1, or `thinFlows`): per record, packets k → N·k with variance N(N−1)·k; bytes
 * b → N·b with variance N(N−1)·Σ b_j² over its packets, which a record does not carry — b²/k (all its
 * packets of mean size) is used, a lower bound (Jensen), so byte intervals from records are at best
 * slightly narrow; TCP flows → N per record with SYN, variance N(N−1) each.
 */
export function estimateFromFlows(
  input: FlowBatch | readonly FlowBatch[] | Iterable<FlowRow>,
  options: {simulated?: 'binomial-thinning'} = {},
): FlowExtrapolation {
  const acc = new FlowRecordSums()
  if (isFlowBatch(input)) {
    addBatch(acc, input)
  } else if (Array.isArray(input) && input.every(isFlowBatch)) {
    for (const b of input as readonly FlowBatch[]) addBatch(acc, b)
  } else {
    for (const r of input as Iterable<FlowRow>) {
      acc.add(Number(r.packets), Number(r.bytes), Number(r.sampling_rate ?? 1), r.tcp_flags ?? 0, r.proto ?? 0)
    }
  }
  const out = acc.result()
  if (options.simulated) out.simulated = options.simulated
  return out
}

export interface FlowGroupEstimate {
  key: string
  records: number
  packets: Estimate
  bytes: Estimate
  /** confidence that this group's bytes really exceed the next group's (see `TopKEntry`) */
  rankConfidence: number
}

/**
 * Per-key extrapolation of sampled flow records (e.g. rows grouped by src_ip), largest bytes first,
 * with rank confidences; `top` keeps the first groups only (the confidence of the last kept one is
 * still against the next group).
 */
export function estimateFlowGroups(rows: Iterable<FlowRow & {key: string}>, options: {top?: number} = {}): FlowGroupEstimate[] {
  const groups = new Map<string, FlowRecordSums>()
  for (const r of rows) {
    let g = groups.get(r.key)
    if (!g) {
      g = new FlowRecordSums()
      groups.set(r.key, g)
    }
    g.add(Number(r.packets), Number(r.bytes), Number(r.sampling_rate ?? 1), r.tcp_flags ?? 0, r.proto ?? 0)
  }
  const all = [...groups].map(([key, g]) => ({key, e: g.result()}))
  all.sort((a, b) => b.e.bytes.estimate - a.e.bytes.estimate || (a.key < b.key ? -1 : 1))
  const conf = rankConfidences(all.map((a) => a.e.bytes))
  return all.slice(0, options.top ?? all.length).map((a, i) => ({
    key: a.key,
    records: a.e.records,
    packets: a.e.packets,
    bytes: a.e.bytes,
    rankConfidence: conf[i]!,
  }))
}

class FlowRecordSums {
  records = 0
  k = 0
  b = 0
  estP = 0
  varP = 0
  estB = 0
  varB = 0
  estT = 0
  varT = 0
  synRecords = 0
  minRate = Infinity
  maxRate = 0

  add(packets: number, bytes: number, rate: number, flags: number, proto: number): void {
    const n = rate >= 1 ? rate : 1
    const w = n * (n - 1)
    this.records++
    this.k += packets
    this.b += bytes
    this.estP += n * packets
    this.varP += w * packets
    this.estB += n * bytes
    if (packets > 0) this.varB += (w * bytes * bytes) / packets
    if (proto === IPPROTO_TCP && (flags & TCP_SYN) !== 0) {
      this.synRecords++
      this.estT += n
      this.varT += w
    }
    if (n < this.minRate) this.minRate = n
    if (n > this.maxRate) this.maxRate = n
  }

  result(): FlowExtrapolation {
    return {
      records: this.records,
      sampledPackets: this.k,
      sampledBytes: this.b,
      packets: normalEstimate(this.estP, this.varP, this.k),
      bytes: normalEstimate(this.estB, this.varB, this.b),
      tcpFlows: normalEstimate(this.estT, this.varT, this.synRecords),
      minRate: this.records > 0 ? this.minRate : 1,
      maxRate: this.records > 0 ? this.maxRate : 1,
    }
  }
}

function addBatch(acc: FlowRecordSums, b: FlowBatch): void {
  for (let i = 0; i < b.length; i++) acc.add(b.packets[i]!, b.bytes[i]!, b.samplingRate[i]!, b.tcpFlags[i]!, b.proto[i]!)
}

function isFlowBatch(input: unknown): input is FlowBatch {
  return typeof input === 'object' && input !== null && (input as FlowBatch).samplingRate instanceof Uint32Array
}
