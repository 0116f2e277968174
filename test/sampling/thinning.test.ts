import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {appendFlowRecord, createFlowBatch, type FlowBatch} from '../../src/core/flow-batch.js'
import {createRng} from '../../src/core/rng.js'
import {binomial} from '../../src/sampling/binomial.js'
import {estimateFromFlows} from '../../src/sampling/estimators.js'
import {thinFlows} from '../../src/sampling/thinning.js'

describe('binomial', () => {
  // [n, p]: inversion (n·p < 10), BTRD (n·p ≥ 10), the p > ½ mirror, and huge n
  it.each([
    [20, 0.1],
    [1000, 0.004],
    [200, 0.3],
    [100_000, 0.01],
    [50, 0.8],
    [3_000_000_000, 1 / 4096],
  ])('Binomial(%i, %f) has the right mean and variance', (n, p) => {
    const rng = createRng(Math.round(n * p * 1000))
    const draws = 20000
    let sum = 0
    let sumSq = 0
    for (let i = 0; i < draws; i++) {
      const k = binomial(n, p, rng)
      expect(Number.isInteger(k) && k >= 0 && k <= n).toBe(true)
      sum += k
      sumSq += k * k
    }
    const mean = sum / draws
    const variance = sumSq / draws - mean * mean
    const trueVar = n * p * (1 - p)
    // mean within 4 standard errors; variance within 10% (its own relative SE is ≈ √(2/draws) = 1%)
    expect(Math.abs(mean - n * p)).toBeLessThan(4 * Math.sqrt(trueVar / draws))
    expect(Math.abs(variance / trueVar - 1)).toBeLessThan(0.1)
  })

  it('handles the edges', () => {
    const rng = createRng(1)
    expect(binomial(0, 0.5, rng)).toBe(0)
    expect(binomial(10, 0, rng)).toBe(0)
    expect(binomial(10, 1, rng)).toBe(10)
  })

  it('matches the exact distribution at small n (χ² over the support)', () => {
    const rng = createRng(77)
    const n = 12
    const p = 0.3
    const draws = 50000
    const counts = new Array<number>(n + 1).fill(0)
    for (let i = 0; i < draws; i++) counts[binomial(n, p, rng)]!++
    let chi2 = 0
    let pk = Math.pow(1 - p, n)
    for (let k = 0; k <= n; k++) {
      const expected = draws * pk
      chi2 += (counts[k]! - expected) ** 2 / expected
      pk *= ((n - k) / (k + 1)) * (p / (1 - p))
    }
    // 12 degrees of freedom: the 99.9th percentile is 32.9
    expect(chi2).toBeLessThan(32.9)
  })
})

function flows(): FlowBatch {
  const rng = createRng(5)
  const b = createFlowBatch(5000)
  for (let i = 0; i < 5000; i++) {
    const packets = 1 + Math.floor(1 / Math.pow(1 - rng.next(), 1 / 1.2)) * 3
    appendFlowRecord(b, {
      tsStart: i,
      tsEnd: i + 10,
      family: 4,
      src: [0x0a000000 + (i % 300)],
      dst: [0xc0000001],
      srcPort: 1024 + i,
      dstPort: 443,
      proto: 6,
      tcpFlags: 0x1b, // FIN SYN PSH ACK
      packets,
      bytes: packets * (100 + (i % 1000)),
    })
  }
  return b
}

describe('thinFlows', () => {
  it('keeps Binomial(packets, 1/N) packets per flow, drops empty flows, and says it was simulated', () => {
    const input = flows()
    const out = thinFlows(input, 100, createRng(1))
    expect(out.simulated).toBe('binomial-thinning')
    expect(out.rate).toBe(100)
    expect(out.inputFlows).toBe(5000)
    expect(out.flows.length + out.droppedFlows).toBe(5000)
    expect(out.flows.length).toBeGreaterThan(0)
    for (let j = 0; j < out.flows.length; j++) {
      expect(out.flows.packets[j]!).toBeGreaterThan(0)
      expect(out.flows.samplingRate[j]).toBe(100)
      // bytes scaled with the flow's mean packet size
      const meanSize = 100 + (out.flows.srcPort[j]! - 1024) % 1000
      expect(out.flows.bytes[j]).toBe(Math.round(out.flows.packets[j]! * meanSize))
      // ACK and PSH stay; SYN and FIN only when their packet was kept
      expect(out.flows.tcpFlags[j]! & 0x18).toBe(0x18)
    }
  })

  it('preserves expected totals: extrapolated thinned flows are unbiased', () => {
    const input = flows()
    let truePackets = 0
    let trueBytes = 0
    for (let i = 0; i < input.length; i++) {
      truePackets += input.packets[i]!
      trueBytes += input.bytes[i]!
    }
    const trials = 200
    const rel = {packets: [0, 0], bytes: [0, 0], tcp: [0, 0]}
    let covered = 0
    for (let t = 0; t < trials; t++) {
      const thinned = thinFlows(input, 50, createRng(1000 + t))
      const e = estimateFromFlows(thinned.flows, {simulated: thinned.simulated})
      expect(e.simulated).toBe('binomial-thinning')
      for (const [k, v] of [
        ['packets', e.packets.estimate / truePackets - 1],
        ['bytes', e.bytes.estimate / trueBytes - 1],
        // every input flow has one SYN: thinned SYN flags estimate the flow count
        ['tcp', e.tcpFlows.estimate / input.length - 1],
      ] as const) {
        rel[k][0]! += v
        rel[k][1]! += v * v
      }
      if (e.packets.ci95[0] <= truePackets && truePackets <= e.packets.ci95[1]) covered++
    }
    for (const [sum, sumSq] of Object.values(rel)) {
      const mean = sum! / trials
      const se = Math.sqrt((sumSq! / trials - mean * mean) / (trials - 1))
      expect(Math.abs(mean)).toBeLessThanOrEqual(3 * se)
    }
    expect(covered / trials).toBeGreaterThan(0.9)
  })

  it('multiplies an existing sampling rate', () => {
    const b = createFlowBatch(1)
    appendFlowRecord(b, {tsStart: 0, tsEnd: 0, family: 4, src: [1], dst: [2], srcPort: 1, dstPort: 2, proto: 17, tcpFlags: 0, packets: 1e6, bytes: 1e8, samplingRate: 10})
    const out = thinFlows(b, 100, createRng(2))
    expect(out.flows.samplingRate[0]).toBe(1000)
    expect(Math.abs(out.flows.packets[0]! - 1e4)).toBeLessThan(4 * Math.sqrt(1e4))
    expect(() => thinFlows(b, 0.5, createRng(1))).toThrow(UsageError)
  })
})
