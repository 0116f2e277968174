import {beforeAll, describe, expect, it} from 'vitest'

import {appendFlowRecord, createFlowBatch} from '../../src/core/flow-batch.js'
import {createRng} from '../../src/core/rng.js'
import {trialSeed} from '../../src/sampling/bench-sampling.js'
import {describeSample} from '../../src/sampling/describe-sample.js'
import {
  chao1,
  estimateByKey,
  estimateDistinctHosts,
  estimateFlowGroups,
  estimateFlowSizeTail,
  estimateFromFlows,
  estimateMix,
  estimateTcpFlows,
  estimateTopK,
  estimateTotals,
  flowSizeDistribution,
  flowSizeKsDistance,
  orderConfidence,
  sampleDesign,
  type Estimate,
} from '../../src/sampling/estimators.js'
import {computeGroundTruth} from '../../src/sampling/ground-truth.js'
import {createPacketSampler, PACKET_SAMPLER_NAMES, type PacketSamplerName} from '../../src/sampling/packet-samplers.js'
import {syntheticTable, type SyntheticTraffic} from './synthetic.js'

/** ~1M packets, Pareto(1.3) flow sizes up to 20000 packets: heavy-tailed, as real traffic is */
let heavy: SyntheticTraffic
/** ~1M flows (90% TCP), Pareto(3) sizes: many small flows */
let light: SyntheticTraffic

beforeAll(() => {
  heavy = syntheticTable({flows: 280_000, seed: 11})
  light = syntheticTable({flows: 1_000_000, seed: 12, alpha: 3, maxFlowPackets: 200, tcpShare: 0.9})
})

interface Trials {
  coverage: {packets: number; bytes: number; tcpFlows: number}
  /** mean relative error and its standard error */
  bias: {packets: [number, number]; bytes: [number, number]; tcpFlows: [number, number]}
}

/** Run `trials` seeded samples (seeds as the benchmark derives them) and score the totals. */
function runTrials(traffic: SyntheticTraffic, name: PacketSamplerName, rate: number, trials: number): Trials {
  const sampler = createPacketSampler(name, rate)
  const stats = {packets: new Acc(traffic.packets), bytes: new Acc(traffic.bytes), tcpFlows: new Acc(traffic.tcpFlows)}
  for (let t = 0; t < trials; t++) {
    const sample = sampler.sample(traffic.table, createRng(trialSeed(1, rate, name, t)))
    const totals = estimateTotals(traffic.table, sample)
    stats.packets.add(totals.packets)
    stats.bytes.add(totals.bytes)
    stats.tcpFlows.add(estimateTcpFlows(traffic.table, sample))
  }
  return {
    coverage: {packets: stats.packets.coverage(), bytes: stats.bytes.coverage(), tcpFlows: stats.tcpFlows.coverage()},
    bias: {packets: stats.packets.bias(), bytes: stats.bytes.bias(), tcpFlows: stats.tcpFlows.bias()},
  }
}

class Acc {
  n = 0
  covered = 0
  sum = 0
  sumSq = 0
  constructor(readonly truth: number) {}
  add(e: Estimate): void {
    const rel = e.estimate / this.truth - 1
    this.n++
    this.sum += rel
    this.sumSq += rel * rel
    if (e.ci95[0] <= this.truth && this.truth <= e.ci95[1]) this.covered++
  }
  coverage(): number {
    return this.covered / this.n
  }
  bias(): [number, number] {
    const mean = this.sum / this.n
    const sd = Math.sqrt(Math.max(0, this.sumSq / this.n - mean * mean) * (this.n / (this.n - 1)))
    return [mean, sd / Math.sqrt(this.n)]
  }
}

function expectUnbiased([mean, se]: [number, number]): void {
  expect(Math.abs(mean)).toBeLessThanOrEqual(3 * se + 1e-12)
}

describe('totals: unbiased, with honest 95% intervals (400 trials)', () => {
  it.each([100, 1000])('Bernoulli 1/%i: packets and bytes covered in 93–97% of trials; unbiased', (rate) => {
    const r = runTrials(heavy, 'bernoulli', rate, 400)
    expect(r.coverage.packets).toBeGreaterThanOrEqual(0.93)
    expect(r.coverage.packets).toBeLessThanOrEqual(0.97)
    expect(r.coverage.bytes).toBeGreaterThanOrEqual(0.93)
    expect(r.coverage.bytes).toBeLessThanOrEqual(0.97)
    expectUnbiased(r.bias.packets)
    expectUnbiased(r.bias.bytes)
    expectUnbiased(r.bias.tcpFlows)
  })

  it.each([100, 1000])('sFlow 1/%i with its sample pool: packets exact, bytes covered in 93–97%', (rate) => {
    const r = runTrials(heavy, 'sflow', rate, 400)
    // the pool is every packet: the packet total is known exactly
    expect(r.coverage.packets).toBe(1)
    expect(r.bias.packets[0]).toBe(0)
    expect(r.coverage.bytes).toBeGreaterThanOrEqual(0.93)
    expect(r.coverage.bytes).toBeLessThanOrEqual(0.97)
    expectUnbiased(r.bias.bytes)
    expectUnbiased(r.bias.tcpFlows)
  })

  it.each([100, 1000])('systematic 1/%i: unbiased; the Bernoulli variance it borrows is conservative', (rate) => {
    const r = runTrials(heavy, 'systematic', rate, 400)
    expectUnbiased(r.bias.packets)
    expectUnbiased(r.bias.bytes)
    expectUnbiased(r.bias.tcpFlows)
    expect(r.coverage.packets).toBeGreaterThanOrEqual(0.95)
    expect(r.coverage.bytes).toBeGreaterThanOrEqual(0.95)
  })

  it('hash flow 1/100: unbiased; flow-level variance covers in 93–97% when flow sizes are not heavy-tailed', () => {
    const r = runTrials(light, 'hash-flow', 100, 400)
    expect(r.coverage.packets).toBeGreaterThanOrEqual(0.93)
    expect(r.coverage.packets).toBeLessThanOrEqual(0.97)
    expect(r.coverage.bytes).toBeGreaterThanOrEqual(0.93)
    expect(r.coverage.bytes).toBeLessThanOrEqual(0.97)
    expectUnbiased(r.bias.packets)
    expectUnbiased(r.bias.bytes)
    // heavy-tailed sizes: still unbiased, but a few elephant flows make the normal interval too short
    const h = runTrials(heavy, 'hash-flow', 100, 200)
    expectUnbiased(h.bias.packets)
    expectUnbiased(h.bias.bytes)
  })
})

describe('TCP flows from SYN flags', () => {
  it('is within ±3% at 1/100 on ~1M flows', () => {
    expect(light.flows).toBe(1_000_000)
    for (const name of ['bernoulli', 'sflow', 'systematic'] as const) {
      const sample = createPacketSampler(name, 100).sample(light.table, createRng(trialSeed(1, 100, name, 0)))
      const e = estimateTcpFlows(light.table, sample)
      expect(Math.abs(e.estimate / light.tcpFlows - 1)).toBeLessThanOrEqual(0.03)
      // its own standard error says about 1%
      expect(e.stderr / light.tcpFlows).toBeLessThan(0.012)
      expect(e.sampledSyn).toBeGreaterThan(8000)
    }
  })

  it('counts whole flows for hash flow samples', () => {
    const sample = createPacketSampler('hash-flow', 10).sample(heavy.table, createRng(3))
    const e = estimateTcpFlows(heavy.table, sample)
    let syn = 0
    for (const f of sample.flowKeys!) syn += heavy.table.flowKeys.synPackets[f]!
    expect(e.sampledSyn).toBe(syn)
    expect(e.estimate).toBe(10 * syn)
  })
})

describe('per-key volumes and top-k', () => {
  it('per-host estimates add up to the totals and the top-k confidences are probabilities', () => {
    const truth = computeGroundTruth(heavy.table)
    for (const name of PACKET_SAMPLER_NAMES) {
      const sample = createPacketSampler(name, 100).sample(heavy.table, createRng(trialSeed(1, 100, name, 1)))
      const totals = estimateTotals(heavy.table, sample)
      const keyed = estimateByKey(heavy.table, sample, {key: 'srcHost', measure: 'bytes'})
      const sum = keyed.estimate.reduce((a, b) => a + b, 0)
      expect(sum / totals.bytes.estimate).toBeCloseTo(1, 9)
      const packets = estimateByKey(heavy.table, sample, {key: 'srcHost', measure: 'packets'})
      expect(packets.sampledPackets.reduce((a, b) => a + b, 0)).toBe(totals.sampledPackets)
      const top = estimateTopK(keyed, 10)
      expect(top).toHaveLength(10)
      for (let i = 0; i < top.length; i++) {
        const e = top[i]!
        expect(e.rank).toBe(i + 1)
        expect(e.rankConfidence).toBeGreaterThanOrEqual(0)
        expect(e.rankConfidence).toBeLessThanOrEqual(1)
        if (i > 0) expect(e.volume.estimate).toBeLessThanOrEqual(top[i - 1]!.volume.estimate)
      }
      // the heaviest talkers are found at 1/100
      const trueTop = new Set(truth.topTalkers.subarray(0, 3))
      expect(top.slice(0, 10).filter((e) => trueTop.has(e.id)).length).toBeGreaterThanOrEqual(2)
    }
  })

  it('the packet-count rule of thumb: ~95% of host estimates within 196·√(1/c) %', () => {
    const truth = computeGroundTruth(heavy.table)
    let within = 0
    let hosts = 0
    for (let t = 0; t < 20; t++) {
      const sample = createPacketSampler('bernoulli', 100).sample(heavy.table, createRng(trialSeed(1, 100, 'bernoulli', t)))
      const keyed = estimateByKey(heavy.table, sample, {key: 'srcHost', measure: 'packets'})
      for (let j = 0; j < keyed.ids.length; j++) {
        const c = keyed.sampledPackets[j]!
        if (c < 30) continue // the rule is a normal approximation
        const tp = truth.hostPackets[keyed.ids[j]!]!
        hosts++
        if (Math.abs(keyed.estimate[j]! / tp - 1) <= 1.96 / Math.sqrt(c)) within++
      }
    }
    expect(hosts).toBeGreaterThan(100)
    expect(within / hosts).toBeGreaterThan(0.92)
    expect(within / hosts).toBeLessThan(0.98)
  })

  it('orderConfidence is Φ of the standardised difference', () => {
    expect(orderConfidence(10, 0, 5, 0)).toBe(1)
    expect(orderConfidence(5, 0, 5, 0)).toBe(0.5)
    expect(orderConfidence(10, 3, 10, 4)).toBeCloseTo(0.5, 6)
    expect(orderConfidence(110, 6, 100, 8)).toBeCloseTo(0.8413, 3) // Δ = 1σ
  })
})

describe('mix, distinct hosts, flow sizes', () => {
  it('protocol shares sum to 1 with intervals inside [0, 1]', () => {
    const sample = createPacketSampler('bernoulli', 100).sample(heavy.table, createRng(8))
    for (const measure of ['packets', 'bytes'] as const) {
      const mix = estimateMix(heavy.table, sample, {key: 'proto', measure})
      expect(mix.reduce((a, m) => a + m.share.estimate, 0)).toBeCloseTo(1, 9)
      for (const m of mix) {
        expect(m.share.ci95[0]).toBeGreaterThanOrEqual(0)
        expect(m.share.ci95[1]).toBeLessThanOrEqual(1)
      }
      expect(mix[0]!.id).toBe(6)
    }
    const truth = computeGroundTruth(heavy.table)
    const tcp = estimateMix(heavy.table, sample, {key: 'proto'})[0]!
    const trueShare = truth.protoPackets[6]! / truth.packets
    expect(Math.abs(tcp.share.estimate - trueShare)).toBeLessThan(4 * tcp.share.stderr)
  })

  it('Chao1 is at least the observed count, with an interval above it', () => {
    for (const rate of [10, 100, 1000]) {
      const sample = createPacketSampler('bernoulli', rate).sample(heavy.table, createRng(rate))
      const d = estimateDistinctHosts(heavy.table, sample)
      expect(d.observed).toBeGreaterThan(0)
      expect(d.observed).toBeLessThanOrEqual(heavy.table.hosts.count)
      expect(d.chao1.estimate).toBeGreaterThanOrEqual(d.observed)
      expect(d.chao1.ci95[0]).toBeGreaterThanOrEqual(d.observed)
      expect(d.chao1.ci95[1]).toBeGreaterThanOrEqual(d.chao1.estimate)
    }
    expect(chao1(10, 0, 0).estimate).toBe(10)
    expect(chao1(10, 4, 2).estimate).toBe(14)
    expect(chao1(10, 4, 0).estimate).toBe(16) // bias-corrected: f1(f1−1)/2
    expect(chao1(10, 4, 0).ci95[0]).toBeGreaterThanOrEqual(10)
  })

  it('flow-size tail: scaled sizes above 10·N, exact sizes for flow sampling, KS near 0 at N = 1', () => {
    const truth = computeGroundTruth(heavy.table)
    const all = estimateFlowSizeTail(truth.recordPackets, 1)
    expect(all.threshold).toBe(10)
    expect(flowSizeKsDistance(truth.flowSizes, all)).toBeCloseTo(0, 12)
    const t = estimateFlowSizeTail([1, 5, 10, 12, 12, 40], 100)
    expect(Array.from(t.sizes)).toEqual([1000, 1200, 4000])
    expect(Array.from(t.atLeast)).toEqual([4, 3, 1])
    const f = estimateFlowSizeTail([3, 3, 7], 50, {unit: 'flow'})
    expect(Array.from(f.counts)).toEqual([100, 50])
    expect(f.threshold).toBe(1)
    expect(flowSizeKsDistance(flowSizeDistribution([1, 2, 3]), estimateFlowSizeTail([], 1000))).toBeNaN()
    expect(flowSizeKsDistance(flowSizeDistribution([1e5]), estimateFlowSizeTail([], 1000))).toBe(1)
    // two point masses against one: half the mass is misplaced
    expect(flowSizeKsDistance(flowSizeDistribution([10, 20]), flowSizeDistribution([20, 20]), 1)).toBeCloseTo(0.5, 12)
  })
})

describe('records sampled at the source (sampling_rate)', () => {
  it('extrapolates FlowBatches and SQL rows alike, with the per-record variance', () => {
    const b = createFlowBatch(3)
    const base = {tsStart: 0, tsEnd: 0, family: 4 as const, src: [1], dst: [2], srcPort: 1, dstPort: 2, proto: 6}
    appendFlowRecord(b, {...base, tcpFlags: 0x02, packets: 2, bytes: 200, samplingRate: 100})
    appendFlowRecord(b, {...base, tcpFlags: 0x10, packets: 1, bytes: 1500, samplingRate: 100})
    appendFlowRecord(b, {...base, proto: 17, tcpFlags: 0, packets: 4, bytes: 400, samplingRate: 1})
    const e = estimateFromFlows(b)
    expect(e.packets.estimate).toBe(304)
    expect(e.packets.stderr).toBeCloseTo(Math.sqrt(100 * 99 * 3), 9)
    expect(e.bytes.estimate).toBe(170400)
    expect(e.bytes.stderr).toBeCloseTo(Math.sqrt(9900 * (200 ** 2 / 2 + 1500 ** 2)), 6)
    expect(e.tcpFlows.estimate).toBe(100)
    expect(e.minRate).toBe(1)
    expect(e.maxRate).toBe(100)
    expect(e.simulated).toBeUndefined()
    const rows = [
      {packets: 2n, bytes: 200n, sampling_rate: 100, tcp_flags: 0x02, proto: 6},
      {packets: 1n, bytes: 1500n, sampling_rate: 100, tcp_flags: 0x10, proto: 6},
      {packets: 4n, bytes: 400n, sampling_rate: 1, tcp_flags: 0, proto: 17},
    ]
    expect(estimateFromFlows(rows, {simulated: 'binomial-thinning'})).toEqual({...e, simulated: 'binomial-thinning'})
    const groups = estimateFlowGroups([
      {key: 'a', packets: 1, bytes: 100, sampling_rate: 10},
      {key: 'b', packets: 50, bytes: 50000, sampling_rate: 10},
      {key: 'a', packets: 1, bytes: 100, sampling_rate: 10},
    ])
    expect(groups.map((g) => g.key)).toEqual(['b', 'a'])
    expect(groups[0]!.bytes.estimate).toBe(500000)
    expect(groups[0]!.rankConfidence).toBeGreaterThan(0.99)
    expect(groups[1]!.rankConfidence).toBe(1)
  })

  it('the sample design follows the pool unless told to ignore it', () => {
    const s = createPacketSampler('sflow', 100).sample(heavy.table, createRng(1))
    expect(sampleDesign(s).kind).toBe('pool')
    expect(sampleDesign(s, {ignorePool: true})).toEqual({kind: 'poisson', rate: 100})
    const e = estimateTotals(heavy.table, s)
    expect(e.packets.estimate).toBe(heavy.packets)
    expect(e.effectiveRate).toBeCloseTo(heavy.packets / s.rows.length, 9)
  })
})

describe('describeSample', () => {
  it('puts the extrapolated picture beside the truth', () => {
    const truth = computeGroundTruth(heavy.table)
    const sample = createPacketSampler('sflow', 100).sample(heavy.table, createRng(5))
    const p = describeSample(heavy.table, sample, {truth, top: 5})
    expect(p.design).toBe('pool')
    expect(p.samplePool).toBe(heavy.packets)
    expect(p.packets.estimate).toBe(heavy.packets)
    expect(p.topTalkers).toHaveLength(5)
    expect(p.topTalkers[0]!.address).toMatch(/^10\.0\.\d+\.\d+$/)
    expect(p.protocols[0]!.proto).toBe(6)
    expect(p.dstPorts.length).toBeGreaterThan(0)
    expect(p.truth!.packets).toEqual({truth: heavy.packets, estimate: heavy.packets, relError: 0, covered: true})
    expect(Math.abs(p.truth!.bytes.relError)).toBeLessThan(0.1)
    expect(p.truth!.topTalkers).toHaveLength(5)
    expect(p.truth!.topKRecall).toBeGreaterThanOrEqual(0.6)
    expect(JSON.parse(JSON.stringify(p))).toEqual(p)
    expect(describeSample(heavy.table, sample).truth).toBeUndefined()
  })
})
