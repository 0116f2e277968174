/** Order statistics shared by the first pass (scaler, calibration) and the post pass (its calibration must mean the same). */

/** Quantile `p` ∈ [0, 1] of ascending `sorted`, linear between order statistics (Hyndman–Fan type 7, numpy's default); NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const h = (n - 1) * Math.min(Math.max(p, 0), 1)
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, n - 1)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (h - lo) * (b - a)
}

const Z975 = 1.959963984540054

/**
 * The exact (Garwood) 95% interval of a Poisson mean from an observed count `n` ≥ 0:
 * [χ²(0.025; 2n)/2, χ²(0.975; 2n + 2)/2], found by bisection on the Poisson distribution for n ≤ 100
 * and by the Wilson–Hilferty approximation of the χ² quantile above (relative error under 1e-3 there).
 * One observed event gives [0.025, 5.57]; none gives [0, 3.69].
 */
export function poissonInterval95(n: number): {low: number; high: number} {
  const k = Math.max(0, Math.floor(n))
  if (k > 100) return {low: chiSquareWh(2 * k, -Z975) / 2, high: chiSquareWh(2 * k + 2, Z975) / 2}
  // upper: P(X ≤ k; λ) = 0.025; lower: P(X ≥ k; λ) = 0.025, i.e. P(X ≤ k − 1; λ) = 0.975
  const high = solveDecreasing((lambda) => poissonCdf(k, lambda) - 0.025, 0, k + 10 * Math.sqrt(k) + 10)
  const low = k === 0 ? 0 : solveDecreasing((lambda) => poissonCdf(k - 1, lambda) - 0.975, 0, k + 10 * Math.sqrt(k) + 10)
  return {low, high}
}

function poissonCdf(k: number, lambda: number): number {
  let term = Math.exp(-lambda)
  let sum = term
  for (let i = 1; i <= k; i++) {
    term *= lambda / i
    sum += term
  }
  return sum
}

/** The root of a decreasing function on [lo, hi] by bisection. */
function solveDecreasing(f: (x: number) => number, lo: number, hi: number): number {
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2
    if (f(mid) > 0) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

function chiSquareWh(df: number, z: number): number {
  const c = 2 / (9 * df)
  return df * Math.pow(1 - c + z * Math.sqrt(c), 3)
}
