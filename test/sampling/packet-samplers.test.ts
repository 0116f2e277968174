import {beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {createRng} from '../../src/core/rng.js'
import {
  BernoulliSampler,
  createPacketSampler,
  flowHashKeeps,
  HashFlowSampler,
  PACKET_SAMPLER_NAMES,
  SflowSampler,
  SystematicSampler,
} from '../../src/sampling/packet-samplers.js'
import type {PacketTable} from '../../src/sampling/packet-table.js'
import {syntheticTable} from './synthetic.js'

let table: PacketTable

beforeAll(() => {
  table = syntheticTable({flows: 60000, seed: 21}).table
})

/** |observed − expected| within 4 binomial standard deviations */
function expectBinomial(observed: number, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p))
  expect(Math.abs(observed - n * p)).toBeLessThanOrEqual(4 * sd)
}

describe('packet samplers', () => {
  it.each([10, 100, 1000])('sample fractions within binomial 4σ bounds at 1/%i', (rate) => {
    const rng = createRng(rate)
    for (const name of ['bernoulli', 'sflow', 'systematic'] as const) {
      for (let t = 0; t < 20; t++) {
        const s = createPacketSampler(name, rate).sample(table, rng)
        expectBinomial(s.rows.length, table.count, 1 / rate)
      }
    }
    // hash flow sampling: the number of flow keys kept is binomial over keys
    for (let t = 0; t < 20; t++) {
      const s = new HashFlowSampler(rate).sample(table, rng)
      expectBinomial(s.flowKeys!.length, table.flowKeys.count, 1 / rate)
    }
  })

  it('Bernoulli: the pooled fraction over many trials is 1/N (tight)', () => {
    const rng = createRng(5)
    let kept = 0
    const trials = 200
    for (let t = 0; t < trials; t++) kept += new BernoulliSampler(100).sample(table, rng).rows.length
    expectBinomial(kept, table.count * trials, 1 / 100)
  })

  it('systematic picks exactly every N-th packet from a start in [0, N)', () => {
    const rng = createRng(9)
    const starts = new Set<number>()
    for (let t = 0; t < 50; t++) {
      const s = new SystematicSampler(7).sample(table, rng)
      const first = s.rows[0]!
      expect(first).toBeLessThan(7)
      starts.add(first)
      let off = 0
      for (let j = 1; j < s.rows.length; j++) if (s.rows[j]! - s.rows[j - 1]! !== 7) off++
      expect(off).toBe(0)
      expect(s.rows[s.rows.length - 1]! + 7).toBeGreaterThanOrEqual(table.count)
      expect(s.rows.length).toBe(Math.floor((table.count - 1 - first) / 7) + 1)
    }
    expect(starts.size).toBe(7)
  })

  it('sFlow skips are in [1, 2N−1], with the sample pool reported', () => {
    const rng = createRng(3)
    let min = Infinity
    let max = 0
    let gaps = 0
    let sum = 0
    for (let t = 0; t < 20; t++) {
      const s = new SflowSampler(50).sample(table, rng)
      expect(s.samplePool).toBe(table.count)
      expect(s.rows[0]!).toBeLessThan(99)
      for (let j = 1; j < s.rows.length; j++) {
        const skip = s.rows[j]! - s.rows[j - 1]!
        min = Math.min(min, skip)
        max = Math.max(max, skip)
        sum += skip
        gaps++
      }
    }
    expect(min).toBe(1)
    expect(max).toBe(99)
    // mean skip N; the uniform skip's sd is ≈ N/√3
    expect(Math.abs(sum / gaps - 50)).toBeLessThan((4 * 50) / Math.sqrt(3) / Math.sqrt(gaps))
  })

  it('hash flow sampling keeps whole flows, decided by the 5-tuple alone', () => {
    const rng = createRng(17)
    for (let t = 0; t < 10; t++) {
      const s = new HashFlowSampler(20).sample(table, rng)
      const keys = new Set(s.flowKeys)
      let expected = 0
      for (const f of keys) expected += table.flowKeys.packets[f]!
      expect(s.rows.length).toBe(expected)
      const rows = new Set(s.rows)
      let mismatched = 0
      for (let i = 0; i < table.count; i++) if (rows.has(i) !== keys.has(table.flowKeyId[i]!)) mismatched++
      expect(mismatched).toBe(0)
    }
    // the seed words are the only randomness: the keep rule on the 5-tuple hash reproduces the selection
    const seedRng = createRng(99)
    const s1 = seedRng.u32()
    const s2 = seedRng.u32()
    const s = new HashFlowSampler(20).sample(table, createRng(99))
    const keys = new Set(s.flowKeys)
    let mismatched = 0
    for (let f = 0; f < table.flowKeys.count; f++) if (keys.has(f) !== flowHashKeeps(table.flowKeys.hash[f]!, s1, s2, 20)) mismatched++
    expect(mismatched).toBe(0)
    expect(keys.size).toBeGreaterThan(0)
  })

  it('is deterministic for a seed and differs across seeds', () => {
    for (const name of PACKET_SAMPLER_NAMES) {
      const a = createPacketSampler(name, 64).sample(table, createRng(1))
      const b = createPacketSampler(name, 64).sample(table, createRng(1))
      const c = createPacketSampler(name, 64).sample(table, createRng(2))
      expect(Array.from(a.rows)).toEqual(Array.from(b.rows))
      expect(Array.from(a.rows)).not.toEqual(Array.from(c.rows))
      expect(a.sampler).toBe(name)
      expect(a.rate).toBe(64)
    }
  })

  it('rate 1 keeps everything', () => {
    for (const name of PACKET_SAMPLER_NAMES) {
      expect(createPacketSampler(name, 1).sample(table, createRng(4)).rows.length).toBe(table.count)
    }
  })

  it('rejects impossible rates', () => {
    expect(() => new SystematicSampler(2.5)).toThrow(UsageError)
    expect(() => new SflowSampler(0)).toThrow(UsageError)
    expect(() => new BernoulliSampler(0.5)).toThrow(UsageError)
    expect(() => new HashFlowSampler(Number.NaN)).toThrow(UsageError)
    expect(new BernoulliSampler(2.5).rate).toBe(2.5)
  })
})
