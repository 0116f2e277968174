import {describe, expect, it} from 'vitest'

import type {WindowWork} from '../../src/buckets/bucket-work.js'
import {InferenceMap, estimateBytes, windowKey} from '../../src/buckets/inference-map.js'
import {fitTails} from '../../src/buckets/post-calibration.js'
import {EVIDENCE_COUNT, postScore} from '../../src/buckets/post-features.js'
import {createRng} from '../../src/core/index.js'

function work(group: string, windowStart: number, addresses = 10, fingerprint = 'fp'): WindowWork {
  return {
    group,
    scale: '1h',
    windowStart,
    windowEnd: windowStart + 3600e6,
    fingerprint,
    addresses: Array.from({length: addresses}, (_, i) => `10.0.0.${i}`),
    scores: new Float64Array(addresses),
    threshold: 3.3,
    findings: [],
    active: addresses,
  }
}

describe('inference map', () => {
  it('finds a group\'s windows under one model only, and counts hits and misses', () => {
    const map = new InferenceMap()
    map.store('m1', work('lab|10.0.0.0/24', 0))
    map.store('m1', work('lab|10.0.0.0/24', 900e6))
    map.store('m2', work('lab|10.0.0.0/24', 0))
    map.store('m1', work('lab|10.0.1.0/24', 0))
    const held = map.windowsOf('m1', 'lab|10.0.0.0/24')
    expect([...held.keys()]).toEqual([windowKey('lab|10.0.0.0/24', '1h', 0), windowKey('lab|10.0.0.0/24', '1h', 900e6)])
    expect(InferenceMap.cachedRefs(held.values())).toEqual([
      {group: 'lab|10.0.0.0/24', scale: '1h', windowStart: 0, fingerprint: 'fp'},
      {group: 'lab|10.0.0.0/24', scale: '1h', windowStart: 900e6, fingerprint: 'fp'},
    ])
    map.hit('m1', held.values().next().value!)
    const s = map.stats()
    expect(s).toMatchObject({hits: 1, misses: 4, entries: 4, evictions: 0})
    expect(s.reuseRatio).toBeCloseTo(0.2, 12)
    expect(map.windowsOf('m3', 'lab|10.0.0.0/24').size).toBe(0)
  })

  it('stays under its memory bound by evicting the least recently used', () => {
    const size = estimateBytes(work('g0', 0))
    const map = new InferenceMap(size * 3 + 10)
    for (let i = 0; i < 3; i++) map.store('m', work(`g${i}`, 0))
    // touch g0: g1 is now the least recently used
    map.hit('m', map.windowsOf('m', 'g0').values().next().value!)
    map.store('m', work('g3', 0))
    expect(map.windowsOf('m', 'g1').size).toBe(0)
    expect(map.windowsOf('m', 'g0').size).toBe(1)
    expect(map.windowsOf('m', 'g3').size).toBe(1)
    const s = map.stats()
    expect(s.evictions).toBe(1)
    expect(s.entries).toBe(3)
    expect(s.bytes).toBeLessThanOrEqual(s.maxBytes)
    // an entry larger than the whole map is not kept
    map.store('m', work('huge', 0, 100_000))
    expect(map.windowsOf('m', 'huge').size).toBe(0)
    expect(map.stats().bytes).toBeLessThanOrEqual(s.maxBytes)
  })

  it('replaces a window stored again (a recomputed window of changed flows)', () => {
    const map = new InferenceMap()
    map.store('m', work('g', 0, 10, 'old'))
    map.store('m', work('g', 0, 10, 'new'))
    expect(map.stats().entries).toBe(1)
    expect(InferenceMap.cachedRefs(map.windowsOf('m', 'g').values())[0]?.fingerprint).toBe('new')
  })
})

describe('post score tail models', () => {
  it('flags about the budget of units drawn like the benign ones, over many seeds', () => {
    // heavy-tailed components (log-normal, and a count with most mass at zero): a score threshold of
    // -log10(b) must flag at most about b of fresh benign-like units
    const budget = 0.005
    const rates: number[] = []
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRng(seed)
      const draw = (rows: number): Float64Array => {
        const e = new Float64Array(rows * EVIDENCE_COUNT)
        for (let r = 0; r < rows; r++) {
          e[r * EVIDENCE_COUNT] = Math.exp(1 + 1.2 * gauss(rng))
          e[r * EVIDENCE_COUNT + 1] = rng.next() < 0.9 ? 0 : -Math.log(1 - rng.next())
          e[r * EVIDENCE_COUNT + 2] = Math.abs(gauss(rng))
          e[r * EVIDENCE_COUNT + 3] = Math.exp(0.5 * gauss(rng)) * 3
        }
        return e
      }
      const tails = fitTails(draw(20_000), 20_000)
      const fresh = draw(20_000)
      let above = 0
      for (let r = 0; r < 20_000; r++) if (postScore(fresh, r * EVIDENCE_COUNT, tails) > -Math.log10(budget)) above++
      rates.push(above / 20_000)
    }
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length
    expect(mean).toBeLessThan(budget)
    expect(Math.max(...rates)).toBeLessThan(2 * budget)
  })
})

function gauss(rng: {next(): number}): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next())
}
