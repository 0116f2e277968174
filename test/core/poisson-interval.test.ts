import {describe, expect, it} from 'vitest'

import {createRng} from '../../src/core/rng.js'
import type {Rng} from '../../src/core/rng.js'
import {poissonInterval95} from '../../src/core/stats.js'

/**
 * Exact (Garwood) 95% limits, [χ²(0.025; 2n)/2, χ²(0.975; 2n + 2)/2], as published (e.g. the tables of
 * Garwood 1936 and of Ulm 1990) and as scipy.stats.chi2.ppf gives them to five digits.
 */
const GARWOOD: ReadonlyArray<[n: number, low: number, high: number]> = [
  [0, 0, 3.6889],
  [1, 0.025318, 5.5716],
  [2, 0.24221, 7.2247],
  [5, 1.6235, 11.668],
  [10, 4.7954, 18.39],
  [30, 20.241, 42.827],
  [100, 81.364, 121.63],
  [101, 82.266, 122.72],
  [1000, 938.97, 1064.0],
]

const sig3 = (x: number): number => Number(x.toPrecision(3))

/** A Poisson draw by inversion (exact for the means used here: e^-200 is still a normal double). */
function poissonDraw(rng: Rng, mean: number): number {
  const u = rng.next()
  let k = 0
  let p = Math.exp(-mean)
  let cdf = p
  while (u >= cdf && k < 100 * mean + 100) {
    k++
    p *= mean / k
    cdf += p
  }
  return k
}

describe('poissonInterval95', () => {
  it.each(GARWOOD)('n = %i gives the Garwood interval [%f, %f] to 3 significant digits', (n, low, high) => {
    const got = poissonInterval95(n)
    expect(sig3(got.low)).toBe(sig3(low))
    expect(sig3(got.high)).toBe(sig3(high))
    // and closer than that: bisection is exact, the Wilson–Hilferty branch (n > 100) within 1e-3
    expect(Math.abs(got.high - high) / high).toBeLessThan(1e-3)
    if (low > 0) expect(Math.abs(got.low - low) / low).toBeLessThan(1e-3)
    else expect(got.low).toBe(0)
  })

  it('the brief’s examples: n = 10 → [4.795, 18.390], n = 100 → [81.364, 121.627]', () => {
    const ten = poissonInterval95(10)
    expect(ten.low).toBeCloseTo(4.795, 3)
    expect(ten.high).toBeCloseTo(18.39, 3)
    const hundred = poissonInterval95(100)
    expect(hundred.low).toBeCloseTo(81.364, 3)
    expect(hundred.high).toBeCloseTo(121.627, 3)
  })

  it('widens and moves up with n, and is continuous across the n = 100 / 101 switch of method', () => {
    let prev = poissonInterval95(0)
    for (let n = 1; n <= 300; n++) {
      const cur = poissonInterval95(n)
      expect(cur.low).toBeGreaterThan(prev.low)
      expect(cur.high).toBeGreaterThan(prev.high)
      expect(cur.low).toBeLessThan(n)
      expect(cur.high).toBeGreaterThan(n)
      // one more event moves each limit by about one (never by two, never backwards)
      expect(cur.high - prev.high).toBeLessThan(2)
      prev = cur
    }
    // non-integers and negatives are floored to a count
    expect(poissonInterval95(10.7)).toEqual(poissonInterval95(10))
    expect(poissonInterval95(-3)).toEqual(poissonInterval95(0))
  })

  it.each([0.5, 3, 20, 200])('covers the true mean %f in at least 95 percent of seeded Poisson draws (Garwood is conservative)', (mean) => {
    const rng = createRng(16_000 + Math.round(mean * 10))
    const draws = 50_000
    const cache = new Map<number, {low: number; high: number}>()
    let covered = 0
    for (let i = 0; i < draws; i++) {
      const n = poissonDraw(rng, mean)
      let iv = cache.get(n)
      if (iv === undefined) cache.set(n, (iv = poissonInterval95(n)))
      if (iv.low <= mean && mean <= iv.high) covered++
    }
    const coverage = covered / draws
    expect(coverage).toBeGreaterThanOrEqual(0.95)
    // and not trivially: an interval that covered everything would be useless (exact coverage is 0.952..0.988 here)
    expect(coverage).toBeLessThan(0.995)
  })
})
