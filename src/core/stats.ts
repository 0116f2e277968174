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
