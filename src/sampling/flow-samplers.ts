/**
 * Samplers that keep flows rather than packets, each giving per kept flow an unbiased estimate of its
 * packets and bytes and an unbiased estimate of that estimate's variance, so totals are plain sums:
 *
 * - threshold ("smart") sampling, Duffield, Lund & Thorup, "Charging from sampled network usage"
 *   (IMW 2001): keep a flow of size x with probability min(1, x/z); a kept flow counts max(x, z).
 *   As Horvitz–Thompson with π = min(1, x/z): weight w = 1/π, variance estimate w(w−1)·y², which for
 *   the size itself is z·max(0, z − x);
 * - priority sampling, Duffield, Lund & Thorup, "Priority sampling for estimation of arbitrary subset
 *   sums" (J. ACM 54(6), 2007): priority q = x/u with u uniform in (0, 1], keep the k highest, τ = the
 *   (k+1)-th priority; a kept flow counts max(x, τ), variance estimate τ·max(0, τ − x) — the threshold
 *   formulas with z = τ, so other measures of a kept flow are weighted by max(1, τ/x) alike;
 * - sample-and-hold, Estan & Varghese, "New directions in traffic measurement and accounting"
 *   (SIGCOMM 2002), over the packets of a `PacketTable`: each packet of a flow not yet held is sampled
 *   with probability p = 1/N; once sampled, the flow is held and every later packet of it is counted.
 *   For any per-packet measure y, a held flow is estimated as Σ_counted y + (1−p)/p · y_first, where
 *   y_first is the packet that started the hold: each packet i of the flow then has coefficient
 *   (1 − q^i) + q^i = 1 in expectation (q = 1 − p), so the estimate is unbiased for every flow, and the
 *   usual c + (1−p)/p for packet counts. (Scaling the missed part by the mean counted size instead would
 *   be biased: the packets missed are a flow's first ones — SYNs, handshakes — not typical ones.)
 *   Variance estimate (1−p)/p² · y_first², the variance of the missed part of a long flow.
 */
import {UsageError} from '../core/index.js'
import type {Rng} from '../core/index.js'
import type {PacketTable} from './packet-table.js'
import {normalEstimate, type Estimate} from './stats.js'

/** Per-record sizes: a `FlowBatch` or `TableFlows` qualifies. */
export interface FlowVolumes {
  length: number
  packets: ArrayLike<number>
  bytes: ArrayLike<number>
}

export const FLOW_SAMPLER_NAMES = ['threshold', 'priority', 'sample-and-hold'] as const
export type FlowSamplerName = (typeof FLOW_SAMPLER_NAMES)[number]

export interface FlowRecordSample {
  sampler: FlowSamplerName
  /** kept flows: rows of the input records (threshold, priority) or flow keys of the table (sample-and-hold) */
  indices: Uint32Array
  /** per kept flow: unbiased estimates of its packets and bytes */
  estPackets: Float64Array
  estBytes: Float64Array
  /** per kept flow: unbiased estimates of the variances of those */
  varPackets: Float64Array
  varBytes: Float64Array
  /** threshold and priority: per kept flow, its Horvitz–Thompson weight 1/π */
  weights?: Float64Array
  /** z for threshold, τ for priority, p for sample-and-hold */
  parameter: number
  /** flows in the input (threshold, priority) or flow keys in the table (sample-and-hold) */
  inputFlows: number
}

export interface FlowRecordSampler<In> {
  readonly name: FlowSamplerName
  sample(input: In, rng: Rng): FlowRecordSample
}

export type SizeMeasure = 'bytes' | 'packets'

/** Threshold (smart) sampling with threshold z on the chosen size measure. */
export class ThresholdSampler implements FlowRecordSampler<FlowVolumes> {
  readonly name = 'threshold' as const

  constructor(
    readonly threshold: number,
    readonly measure: SizeMeasure = 'bytes',
  ) {
    if (!(threshold > 0) || !Number.isFinite(threshold)) throw new UsageError(`threshold sampling needs a threshold z > 0, got ${threshold}`)
  }

  sample(flows: FlowVolumes, rng: Rng): FlowRecordSample {
    const z = this.threshold
    const size = this.measure === 'bytes' ? flows.bytes : flows.packets
    const kept: number[] = []
    for (let i = 0; i < flows.length; i++) {
      const x = size[i]!
      if (x >= z || (x > 0 && rng.next() * z < x)) kept.push(i)
    }
    return weighted(this.name, flows, kept, (x) => (x >= z ? 1 : z / x), size, z)
  }
}

/** Priority sampling of k flows on the chosen size measure. */
export class PrioritySampler implements FlowRecordSampler<FlowVolumes> {
  readonly name = 'priority' as const

  constructor(
    readonly k: number,
    readonly measure: SizeMeasure = 'bytes',
  ) {
    if (!Number.isInteger(k) || k < 1) throw new UsageError(`priority sampling needs a sample size k ≥ 1, got ${k}`)
  }

  sample(flows: FlowVolumes, rng: Rng): FlowRecordSample {
    const size = this.measure === 'bytes' ? flows.bytes : flows.packets
    const n = flows.length
    // the k + 1 highest priorities in a binary min-heap: O(n log k)
    const cap = this.k + 1
    const heapQ = new Float64Array(cap)
    const heapI = new Uint32Array(cap)
    let m = 0
    for (let i = 0; i < n; i++) {
      const x = size[i]!
      if (x <= 0) continue
      const q = x / (1 - rng.next()) // u in (0, 1]
      if (m < cap) {
        let c = m++
        while (c > 0) {
          const parent = (c - 1) >> 1
          if (heapQ[parent]! <= q) break
          heapQ[c] = heapQ[parent]!
          heapI[c] = heapI[parent]!
          c = parent
        }
        heapQ[c] = q
        heapI[c] = i
      } else if (q > heapQ[0]!) {
        let c = 0
        for (;;) {
          let child = 2 * c + 1
          if (child >= m) break
          if (child + 1 < m && heapQ[child + 1]! < heapQ[child]!) child++
          if (heapQ[child]! >= q) break
          heapQ[c] = heapQ[child]!
          heapI[c] = heapI[child]!
          c = child
        }
        heapQ[c] = q
        heapI[c] = i
      }
    }
    // with k or fewer positive flows every one is kept with certainty: τ = 0; otherwise τ is the
    // (k+1)-th priority, the heap's minimum, and that flow is dropped
    let tau = 0
    const kept: number[] = []
    for (let j = 0; j < m; j++) kept.push(heapI[j]!)
    if (m === cap) {
      tau = heapQ[0]!
      kept.splice(kept.indexOf(heapI[0]!), 1)
    }
    kept.sort((a, b) => a - b)
    return weighted(this.name, flows, kept, (x) => (x >= tau ? 1 : tau / x), size, tau)
  }
}

function weighted(
  sampler: FlowSamplerName,
  flows: FlowVolumes,
  kept: number[],
  weightOf: (x: number) => number,
  size: ArrayLike<number>,
  parameter: number,
): FlowRecordSample {
  const m = kept.length
  const estPackets = new Float64Array(m)
  const estBytes = new Float64Array(m)
  const varPackets = new Float64Array(m)
  const varBytes = new Float64Array(m)
  const weights = new Float64Array(m)
  for (let j = 0; j < m; j++) {
    const i = kept[j]!
    const w = weightOf(size[i]!)
    weights[j] = w
    const p = flows.packets[i]!
    const b = flows.bytes[i]!
    estPackets[j] = w * p
    estBytes[j] = w * b
    varPackets[j] = w * (w - 1) * p * p
    varBytes[j] = w * (w - 1) * b * b
  }
  return {sampler, indices: Uint32Array.from(kept), estPackets, estBytes, varPackets, varBytes, weights, parameter, inputFlows: flows.length}
}

/** Sample-and-hold over the packets of a table, flows = the table's flow keys. */
export class SampleAndHoldSampler implements FlowRecordSampler<PacketTable> {
  readonly name = 'sample-and-hold' as const

  constructor(readonly rate: number) {
    if (!Number.isFinite(rate) || rate < 1) throw new UsageError(`sample-and-hold needs a rate N ≥ 1 (sampling probability 1/N), got ${rate}`)
  }

  sample(table: PacketTable, rng: Rng): FlowRecordSample {
    const p = 1 / this.rate
    const fc = table.flowKeys.count
    const heldPackets = new Float64Array(fc)
    const heldBytes = new Float64Array(fc)
    const firstBytes = new Float64Array(fc)
    const order: number[] = []
    const {flowKeyId, bytes} = table
    const logQ = Math.log1p(-p)
    // Packets of not-yet-held flows are tried one by one with probability p; drawing the gap to the next
    // successful try geometrically keeps that O(samples) in rng calls while every row is still visited.
    let nextHit = p >= 1 ? 0 : Math.floor(Math.log(1 - rng.next()) / logQ)
    for (let i = 0; i < table.count; i++) {
      const f = flowKeyId[i]!
      if (heldPackets[f]! === 0) {
        if (nextHit > 0) {
          nextHit--
          continue
        }
        nextHit = p >= 1 ? 0 : Math.floor(Math.log(1 - rng.next()) / logQ)
        order.push(f)
        firstBytes[f] = bytes[i]!
      }
      heldPackets[f]!++
      heldBytes[f]! += bytes[i]!
    }
    order.sort((a, b) => a - b)
    const m = order.length
    const missed = (1 - p) / p
    const estPackets = new Float64Array(m)
    const estBytes = new Float64Array(m)
    const varPackets = new Float64Array(m)
    const varBytes = new Float64Array(m)
    const v = (1 - p) / (p * p)
    for (let j = 0; j < m; j++) {
      const f = order[j]!
      const first = firstBytes[f]!
      estPackets[j] = heldPackets[f]! + missed
      estBytes[j] = heldBytes[f]! + missed * first
      varPackets[j] = v
      varBytes[j] = v * first * first
    }
    return {sampler: this.name, indices: Uint32Array.from(order), estPackets, estBytes, varPackets, varBytes, parameter: p, inputFlows: fc}
  }
}

export interface FlowSampleTotals {
  packets: Estimate
  bytes: Estimate
  /** number of flows (Σ of inverse inclusion probabilities) — threshold and priority only */
  flows?: Estimate
  keptFlows: number
}

/** Totals over a flow-record sample: sums of the per-flow estimates and variances. */
export function estimateFlowSampleTotals(sample: FlowRecordSample): FlowSampleTotals {
  let p = 0
  let vp = 0
  let b = 0
  let vb = 0
  let f = 0
  let vf = 0
  const m = sample.indices.length
  for (let j = 0; j < m; j++) {
    p += sample.estPackets[j]!
    vp += sample.varPackets[j]!
    b += sample.estBytes[j]!
    vb += sample.varBytes[j]!
  }
  const out: FlowSampleTotals = {packets: normalEstimate(p, vp, 0), bytes: normalEstimate(b, vb, 0), keptFlows: m}
  const weights = sample.weights
  if (weights) {
    for (let j = 0; j < m; j++) {
      const w = weights[j]!
      f += w
      vf += w * (w - 1)
    }
    out.flows = normalEstimate(f, vf, m)
  }
  return out
}
