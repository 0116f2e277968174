import {beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {createRng} from '../../src/core/rng.js'
import {assembleTableFlows, type TableFlows} from '../../src/sampling/flow-records.js'
import {
  estimateFlowSampleTotals,
  PrioritySampler,
  SampleAndHoldSampler,
  ThresholdSampler,
  type FlowRecordSample,
} from '../../src/sampling/flow-samplers.js'
import type {PacketTable} from '../../src/sampling/packet-table.js'
import {syntheticTable} from './synthetic.js'

let table: PacketTable
let flows: TableFlows
let totalPackets = 0
let totalBytes = 0

beforeAll(() => {
  table = syntheticTable({flows: 40000, seed: 31}).table
  flows = assembleTableFlows(table)
  for (let r = 0; r < flows.length; r++) {
    totalPackets += flows.packets[r]!
    totalBytes += flows.bytes[r]!
  }
})

/** mean relative error over trials within 3 standard errors of 0; returns the interval coverage */
function expectUnbiased(trials: number, draw: (t: number) => {estimate: number; ci95: [number, number]}, truth: number): number {
  let sum = 0
  let sumSq = 0
  let covered = 0
  for (let t = 0; t < trials; t++) {
    const e = draw(t)
    const rel = e.estimate / truth - 1
    sum += rel
    sumSq += rel * rel
    if (e.ci95[0] <= truth && truth <= e.ci95[1]) covered++
  }
  const mean = sum / trials
  const se = Math.sqrt((sumSq / trials - mean * mean) / (trials - 1))
  expect(Math.abs(mean)).toBeLessThanOrEqual(3 * se)
  return covered / trials
}

describe('threshold (smart) sampling', () => {
  it('keeps a flow with probability min(1, x/z) and renormalises to max(x, z)', () => {
    const z = 50_000
    const sampler = new ThresholdSampler(z)
    let expected = 0
    let variance = 0
    for (let r = 0; r < flows.length; r++) {
      const p = Math.min(1, flows.bytes[r]! / z)
      expected += p
      variance += p * (1 - p)
    }
    const s = sampler.sample(flows, createRng(1))
    expect(Math.abs(s.indices.length - expected)).toBeLessThanOrEqual(4 * Math.sqrt(variance))
    for (let j = 0; j < s.indices.length; j++) {
      const x = flows.bytes[s.indices[j]!]!
      expect(s.estBytes[j]).toBeCloseTo(Math.max(x, z), 6)
      expect(s.varBytes[j]).toBeCloseTo(z * Math.max(0, z - x), 0)
    }
    expect(s.indices.length).toBeLessThan(flows.length / 5)
  })

  it('gives unbiased totals of bytes, packets and flows', () => {
    const sampler = new ThresholdSampler(50_000)
    const runs = Array.from({length: 300}, (_, t) => estimateFlowSampleTotals(sampler.sample(flows, createRng(100 + t))))
    const coverage = expectUnbiased(runs.length, (t) => runs[t]!.bytes, totalBytes)
    expect(coverage).toBeGreaterThan(0.9)
    expectUnbiased(runs.length, (t) => runs[t]!.packets, totalPackets)
    expectUnbiased(runs.length, (t) => runs[t]!.flows!, flows.length)
  })
})

describe('priority sampling', () => {
  it('keeps exactly k flows; estimates max(x, τ) are unbiased', () => {
    const k = 500
    const sampler = new PrioritySampler(k)
    const samples: FlowRecordSample[] = []
    for (let t = 0; t < 300; t++) samples.push(sampler.sample(flows, createRng(500 + t)))
    for (const s of samples.slice(0, 5)) {
      expect(s.indices.length).toBe(k)
      const tau = s.parameter
      for (let j = 0; j < s.indices.length; j++) {
        const x = flows.bytes[s.indices[j]!]!
        expect(s.estBytes[j]).toBeCloseTo(Math.max(x, tau), 6)
      }
    }
    const totals = samples.map(estimateFlowSampleTotals)
    expectUnbiased(totals.length, (t) => totals[t]!.bytes, totalBytes)
    expectUnbiased(totals.length, (t) => totals[t]!.packets, totalPackets)
  })

  it('keeps everything when k covers every flow', () => {
    const s = new PrioritySampler(flows.length + 10).sample(flows, createRng(1))
    expect(s.parameter).toBe(0)
    expect(estimateFlowSampleTotals(s).bytes.estimate).toBe(totalBytes)
  })
})

describe('sample-and-hold', () => {
  it('counts every packet of a flow after its first sampled one; c + (1−p)/p is unbiased', () => {
    const sampler = new SampleAndHoldSampler(20)
    const runs = Array.from({length: 300}, (_, t) => estimateFlowSampleTotals(sampler.sample(table, createRng(900 + t))))
    expectUnbiased(runs.length, (t) => runs[t]!.packets, table.count)
    expectUnbiased(runs.length, (t) => runs[t]!.bytes, totalBytes)
    // large flows are held early: their counts are nearly exact
    const s = sampler.sample(table, createRng(7))
    let big = 0
    for (let j = 0; j < s.indices.length; j++) {
      const size = table.flowKeys.packets[s.indices[j]!]!
      expect(s.estPackets[j]! - 19).toBeLessThanOrEqual(size)
      if (size >= 1000) {
        big++
        expect(Math.abs(s.estPackets[j]! - size) / size).toBeLessThan(0.1)
      }
    }
    expect(big).toBeGreaterThan(0)
  })

  it('at rate 1 holds every flow from its first packet', () => {
    const s = new SampleAndHoldSampler(1).sample(table, createRng(1))
    expect(s.indices.length).toBe(table.flowKeys.count)
    const t = estimateFlowSampleTotals(s)
    expect(t.packets.estimate).toBe(table.count)
    expect(t.packets.stderr).toBe(0)
  })

  it('rejects bad parameters', () => {
    expect(() => new ThresholdSampler(0)).toThrow(UsageError)
    expect(() => new PrioritySampler(0)).toThrow(UsageError)
    expect(() => new SampleAndHoldSampler(0.5)).toThrow(UsageError)
  })
})
