/** Order statistics shared by the scaler and the calibration. */

/** Quantile `p` ∈ [0, 1] of ascending `sorted`, linear between order statistics (Hyndman–Fan type 7, numpy's default). */
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

/** Column `col` of a row-major matrix, sorted ascending (a copy). */
export function sortedColumn(values: ArrayLike<number>, rows: number, width: number, col: number): Float64Array {
  const out = new Float64Array(rows)
  for (let r = 0; r < rows; r++) out[r] = values[r * width + col] as number
  return out.sort()
}

export function meanAndStd(values: ArrayLike<number>): {mean: number; std: number} {
  const n = values.length
  if (n === 0) return {mean: Number.NaN, std: Number.NaN}
  let sum = 0
  for (let i = 0; i < n; i++) sum += values[i] as number
  const mean = sum / n
  let ss = 0
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - mean
    ss += d * d
  }
  return {mean, std: Math.sqrt(ss / n)}
}
