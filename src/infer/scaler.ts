/**
 * Input standardisation, fitted on the training split and baked into the ONNX graph (Sub, Div).
 *
 * Median and IQR rather than mean and standard deviation: a network's baseline is never clean (a few
 * scans and backups hide in it), and the features are heavy-tailed with point masses at 0 (an address
 * with no inbound traffic); a handful of extreme windows would inflate a standard deviation and squash
 * every normal window towards 0, while the median/IQR ignore them. The IQR is divided by 1.349 so a
 * Gaussian feature gets unit scale. A feature whose IQR is (nearly) zero — a fraction that is 0 in 90%
 * of windows — falls back to its standard deviation, and one that never varies keeps its own units
 * (scale 1), so a later change of it is still measured rather than divided by ~0.
 */
import {quantileSorted} from '../core/index.js'
import {meanAndStd, sortedColumn} from './stats.js'

export const IQR_TO_SIGMA = 1.349

export interface FeatureScaler {
  kind: 'median-iqr'
  center: number[]
  scale: number[]
}

export interface ScalerOptions {
  /** smallest scale taken from the data; below it the next fallback applies (default 0.01) */
  minScale?: number
}

export function fitRobustScaler(values: ArrayLike<number>, rows: number, width: number, options: ScalerOptions = {}): FeatureScaler {
  const minScale = options.minScale ?? 0.01
  const center: number[] = []
  const scale: number[] = []
  for (let f = 0; f < width; f++) {
    const col = sortedColumn(values, rows, width, f)
    center.push(Math.fround(quantileSorted(col, 0.5)))
    const iqr = (quantileSorted(col, 0.75) - quantileSorted(col, 0.25)) / IQR_TO_SIGMA
    const {std} = meanAndStd(col)
    const s = iqr >= minScale ? iqr : std >= minScale ? std : 1
    // float32 so the TypeScript path and the graph's initializers hold the same constants
    scale.push(Math.fround(s))
  }
  return {kind: 'median-iqr', center, scale}
}

/** (x − center) / scale of every row, as Float64Array. */
export function standardise(scaler: FeatureScaler, values: ArrayLike<number>, rows: number, width: number): Float64Array {
  const out = new Float64Array(rows * width)
  for (let r = 0; r < rows; r++) {
    const o = r * width
    for (let f = 0; f < width; f++) {
      // the graph computes in float32; rounding here keeps the two paths bit-close
      out[o + f] = Math.fround(Math.fround(Math.fround(values[o + f] as number) - (scaler.center[f] as number)) / (scaler.scale[f] as number))
    }
  }
  return out
}
