import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {appendFlowRecord, createFlowBatch, type FlowBatch} from '../../src/core/flow-batch.js'
import {MAX_SAMPLING_RATE} from '../../src/core/flow-bounds.js'
import {createRng, type Rng} from '../../src/core/rng.js'
import {loadRateLimits, parseRateLimits, rateLimitFor, thinFlows, thinningFactor, ThinningTally} from '../../src/core/thinning.js'

const Z975 = 1.959963984540054
const WINDOW_SEC = 5
const BUDGET = 200

/** One window of `n` flows: random 5-tuples and times, heavy-ish packet counts, some sampled 1/100 at the source. */
function windowOf(rng: Rng, n: number, startUs = 1_700_000_000e6): FlowBatch {
  const b = createFlowBatch(n)
  for (let i = 0; i < n; i++) {
    const packets = 1 + Math.floor(-Math.log(1 - rng.next()) * 30)
    const ts = startUs + rng.int(WINDOW_SEC * 1e6)
    appendFlowRecord(b, {
      tsStart: ts,
      tsEnd: ts + rng.int(2e6),
      family: 4,
      src: [rng.u32()],
      dst: [0x0a000000 + rng.int(256)],
      srcPort: rng.int(65536),
      dstPort: [53, 80, 443, 22][rng.int(4)]!,
      proto: rng.int(4) === 0 ? 17 : 6,
      tcpFlags: rng.int(256),
      packets,
      bytes: packets * (40 + rng.int(1461)),
      samplingRate: rng.int(4) === 0 ? 100 : 1,
      exporter: rng.int(2) === 0 ? '192.0.2.1' : '',
    })
  }
  return b
}

function rows(b: FlowBatch): string[] {
  const out: string[] = []
  for (let i = 0; i < b.length; i++) {
    out.push([b.tsStart[i], b.tsEnd[i], b.srcAddr[i * 4 + 3], b.dstAddr[i * 4 + 3], b.srcPort[i], b.dstPort[i], b.proto[i], b.packets[i], b.bytes[i], b.samplingRate[i], b.exporter[i]].join(','))
  }
  return out
}

/** Σ value × sampling_rate, and the Horvitz–Thompson variance estimate of the thinning: Σ_kept r'² (1 − 1/k) v². */
function extrapolate(b: FlowBatch, column: 'packets' | 'bytes', k: number): {total: number; variance: number} {
  let total = 0
  let variance = 0
  for (let i = 0; i < b.length; i++) {
    const r = b.samplingRate[i]!
    const v = b[column][i]!
    total += v * r
    variance += r * r * (1 - 1 / k) * v * v
  }
  return {total, variance}
}

function truth(b: FlowBatch, column: 'packets' | 'bytes'): number {
  let t = 0
  for (let i = 0; i < b.length; i++) t += b[column][i]! * b.samplingRate[i]!
  return t
}

describe('thinFlows', () => {
  it('k is ceil(records / (budget × seconds)), 1 at or under budget', () => {
    expect(thinningFactor(1000, 200, 5)).toBe(1)
    expect(thinningFactor(1001, 200, 5)).toBe(2)
    expect(thinningFactor(10_000, 200, 5)).toBe(10)
    expect(thinningFactor(10_001, 200, 5)).toBe(11)
    expect(thinningFactor(0, 200, 5)).toBe(1)
  })

  it('leaves a network under budget untouched: the same batch', () => {
    const b = windowOf(createRng(1), 900)
    const before = rows(b)
    const r = thinFlows(b, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: 'small'})
    expect(r.k).toBe(1)
    expect(r.batch).toBe(b)
    expect(r.recordsKept).toBe(900)
    expect(rows(r.batch)).toEqual(before)
  })

  it('thins a network at 10× its budget to the budget ± 5%, sampling_rate × 10', () => {
    const trials = 300
    const keptPerSec: number[] = []
    for (let t = 0; t < trials; t++) {
      const b = windowOf(createRng(1000 + t), 10 * BUDGET * WINDOW_SEC)
      const r = thinFlows(b, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: 'big'})
      expect(r.k).toBe(10)
      keptPerSec.push(r.recordsKept / WINDOW_SEC)
      const incoming = new Set([1, 100])
      for (let i = 0; i < r.batch.length; i++) expect(incoming.has(r.batch.samplingRate[i]! / 10)).toBe(true)
    }
    const mean = keptPerSec.reduce((a, b) => a + b, 0) / trials
    const within = keptPerSec.filter((x) => Math.abs(x - BUDGET) <= 0.05 * BUDGET).length / trials
    // the mean over windows is the budget to 1%; a single window of 1,000 expected records (binomial
    // sd 3%) lands within ±5% about 90% of the time
    expect(Math.abs(mean - BUDGET) / BUDGET).toBeLessThan(0.01)
    expect(within).toBeGreaterThan(0.85)
    console.log(`10× budget over ${trials} windows: mean kept ${mean.toFixed(1)} records/s for a budget of ${BUDGET}; ${(within * 100).toFixed(1)}% of windows within ±5%`)
  })

  it('keeps extrapolated packet and byte totals unbiased, inside their 95% intervals about 95% of the time', () => {
    const trials = 400
    const covered = {packets: 0, bytes: 0}
    const relErr = {packets: 0, bytes: 0}
    for (let t = 0; t < trials; t++) {
      const b = windowOf(createRng(50_000 + t), 10 * BUDGET * WINDOW_SEC)
      const r = thinFlows(b, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: `net-${t % 7}`})
      for (const column of ['packets', 'bytes'] as const) {
        const truthTotal = truth(b, column)
        const {total, variance} = extrapolate(r.batch, column, r.k)
        const half = Z975 * Math.sqrt(variance)
        if (Math.abs(total - truthTotal) <= half) covered[column]++
        relErr[column] += (total - truthTotal) / truthTotal
      }
    }
    const coverage = {packets: covered.packets / trials, bytes: covered.bytes / trials}
    const bias = {packets: relErr.packets / trials, bytes: relErr.bytes / trials}
    console.log(
      `95% interval coverage over ${trials} thinned windows (k = 10): packets ${(coverage.packets * 100).toFixed(1)}%, bytes ${(coverage.bytes * 100).toFixed(1)}%; ` +
        `mean relative error packets ${(bias.packets * 100).toFixed(2)}%, bytes ${(bias.bytes * 100).toFixed(2)}%`,
    )
    for (const column of ['packets', 'bytes'] as const) {
      // binomial sd of a 95% coverage over 400 trials: 1.1 points
      expect(coverage[column]).toBeGreaterThan(0.92)
      expect(coverage[column]).toBeLessThan(0.98)
      // the relative sd of one window's estimate is about 10%; its mean over 400 windows, 0.5%
      expect(Math.abs(bias[column])).toBeLessThan(0.02)
    }
  })

  it('keeps the same records when the same window is thinned again, in any order', () => {
    const b = windowOf(createRng(7), 20_000)
    const once = thinFlows(b, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: 'big'})
    const twice = thinFlows(b, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: 'big'})
    expect(rows(twice.batch)).toEqual(rows(once.batch))
    // the same records read in another order (shards merged otherwise): the same set kept
    const reversed = createFlowBatch(b.length)
    for (let i = b.length - 1; i >= 0; i--) {
      appendFlowRecord(reversed, {
        tsStart: b.tsStart[i]!,
        tsEnd: b.tsEnd[i]!,
        family: 4,
        src: [b.srcAddr[i * 4 + 3]!],
        dst: [b.dstAddr[i * 4 + 3]!],
        srcPort: b.srcPort[i]!,
        dstPort: b.dstPort[i]!,
        proto: b.proto[i]!,
        tcpFlags: b.tcpFlags[i]!,
        packets: b.packets[i]!,
        bytes: b.bytes[i]!,
        samplingRate: b.samplingRate[i]!,
        exporter: b.exporter[i]!,
      })
    }
    const other = thinFlows(reversed, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: 'big'})
    expect(rows(other.batch).sort()).toEqual(rows(once.batch).sort())
    // another seed keeps another subset
    const seeded = thinFlows(b, {budgetPerSec: BUDGET, seconds: WINDOW_SEC, network: 'big', seed: 99})
    expect(rows(seeded.batch)).not.toEqual(rows(once.batch))
  })

  it('keeps, at a larger k, a subset of what a smaller k keeps', () => {
    const b = windowOf(createRng(8), 10_000)
    const at5 = new Set(rows(thinFlows(b, {budgetPerSec: 400, seconds: WINDOW_SEC, network: 'n'}).batch).map((r) => r.split(',').slice(0, 9).join(',')))
    const at10 = thinFlows(b, {budgetPerSec: 200, seconds: WINDOW_SEC, network: 'n'})
    expect(at10.k).toBe(10)
    expect(rows(at10.batch).every((r) => at5.has(r.split(',').slice(0, 9).join(',')))).toBe(true)
  })

  it('keeps sampling_rate within UINTEGER: a rate that cannot be multiplied by k is thinned by less', () => {
    const rng = createRng(3)
    const b = windowOf(rng, 5000)
    for (let i = 0; i < b.length; i++) b.samplingRate[i] = i % 2 === 0 ? 2 ** 31 : 2 ** 30
    const r = thinFlows(b, {budgetPerSec: 10, seconds: 5, network: 'x'})
    expect(r.k).toBe(100)
    let big = 0
    for (let i = 0; i < r.batch.length; i++) {
      const rate = r.batch.samplingRate[i]!
      expect(rate).toBeLessThanOrEqual(MAX_SAMPLING_RATE)
      // 2^31 fits ×1 only (kept, untouched); 2^30 fits ×3 (kept 1 in 3)
      expect([2 ** 31, 3 * 2 ** 30]).toContain(rate)
      if (rate === 2 ** 31) big++
    }
    expect(big).toBe(2500)
    expect(Math.abs(r.batch.length - 2500 - 2500 / 3)).toBeLessThan(100)
  })
})

describe('rate limits', () => {
  it('reads a budget file and picks the network’s budget over the default', () => {
    const limits = parseRateLimits('{"default": 100, "networks": {"core": 5000}}', 'f.json')
    expect(rateLimitFor(limits, 'core')).toBe(5000)
    expect(rateLimitFor(limits, 'edge')).toBe(100)
    expect(rateLimitFor(parseRateLimits('{"networks": {"core": 5}}', 'f.json'), 'edge')).toBeUndefined()
  })

  it('names the file and the key of bad content', () => {
    expect(() => parseRateLimits('{"networks": {"core": -1}}', 'limits.json')).toThrow(/limits\.json: 'networks\.core' must be a positive number/)
    expect(() => parseRateLimits('{"defualt": 5}', 'limits.json')).toThrow(/limits\.json: unknown key 'defualt'/)
    expect(() => parseRateLimits('{"default": "fast"}', 'limits.json')).toThrow(/limits\.json: 'default' must be/)
    expect(() => parseRateLimits('[1]', 'limits.json')).toThrow(/limits\.json: must be a JSON object/)
    expect(() => parseRateLimits('{', 'limits.json')).toThrow(/limits\.json: not JSON/)
  })

  it('--rate-limit is the default over the file’s', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'thin-'))
    const file = path.join(dir, 'limits.json')
    await writeFile(file, '{"default": 100, "networks": {"core": 5000}}')
    expect(await loadRateLimits({file, rateLimit: 7})).toEqual({default: 7, networks: {core: 5000}})
    expect(await loadRateLimits({})).toBeUndefined()
    await expect(loadRateLimits({file: path.join(dir, 'missing.json')})).rejects.toThrow(/cannot read --rate-limit-file/)
  })

  it('tallies k per network', () => {
    const t = new ThinningTally()
    t.add('a', 10, {k: 1, recordsIn: 5, recordsKept: 5})
    t.add('a', 10, {k: 4, recordsIn: 200, recordsKept: 49})
    t.add('a', 10, {k: 4, recordsIn: 200, recordsKept: 51})
    expect(t.networks()).toEqual([{network: 'a', budget: 10, recordsIn: 405, recordsKept: 105, intervals: 3, thinned: 2, maxK: 4, kCounts: {'1': 1, '4': 2}}])
  })
})
