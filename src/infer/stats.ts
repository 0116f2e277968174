/** Column statistics of the scaler and the calibration (their quantile is core's `quantileSorted`). */

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
