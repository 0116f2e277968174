/**
 * Per-network loss normalisation and threshold (design §5, the transfer idea).
 *
 * A model's raw per-feature errors depend on the network it sees: a busier network has larger volume
 * errors everywhere. Standardising each feature's error by that network's benign median and MAD puts
 * every network on one scale, so a threshold chosen for a false-positive budget on one network's
 * benign windows means the same on another after re-calibration, without retraining.
 *
 *   e_f   = √sq_error_f = |reconstruction_f − input_f|   (standardised units)
 *   z_f   = (e_f − median_f) / max(1.4826 · MAD_f, floor)
 *   score = ‖max(z, 0)‖₂
 *
 * The absolute error rather than the squared one: squared errors are so heavy-tailed that their MAD
 * says little about their tail, a benign window with one 5σ residual then scores in the hundreds and
 * the 99.9th-percentile threshold rests on a handful of such windows; on absolute errors z behaves
 * like a z-score and the L2 norm adds up evidence across features instead of being ruled by the
 * single largest one. Only the positive part counts: an error smaller than usual is no evidence of an
 * attack. The floor keeps a feature that is always reconstructed almost perfectly (MAD ≈ 0) from
 * turning a rounding difference into a detection: floor = max(`madFloor`, `relativeMadFloor` × the
 * mean MAD scale over features). The threshold is the (1 − fpBudget) quantile of the calibration
 * windows' scores, and a window is flagged when its score is strictly above it.
 */
import {quantileSorted, UsageError} from '../core/index.js'
import {sortedColumn} from './stats.js'

export const MAD_TO_SIGMA = 1.4826
export const DEFAULT_FP_BUDGET = 0.001
export const DEFAULT_MAD_FLOOR = 1e-3
export const DEFAULT_RELATIVE_MAD_FLOOR = 0.05

export interface ErrorNormalisation {
  /** benign median of each feature's absolute error √sq_error */
  median: number[]
  /** max(1.4826 · MAD, floor) of each feature's absolute error */
  scale: number[]
}

export interface Calibration {
  normalisation: ErrorNormalisation
  threshold: number
  fpBudget: number
  /** benign windows the constants were fitted on */
  rows: number
  /** share of those windows above the threshold (≈ fpBudget; larger when scores tie) */
  calibrationFpRate: number
  warnings: string[]
}

export interface CalibrationOptions {
  /** target share of benign windows flagged (default 0.001) */
  fpBudget?: number
  madFloor?: number
  relativeMadFloor?: number
}

export function checkFpBudget(fpBudget: number): void {
  if (!(fpBudget > 0 && fpBudget < 1)) {
    throw new UsageError(`the false-positive budget must be between 0 and 1 (got ${fpBudget})`, {hint: 'e.g. 0.001 for 0.1% of address-windows'})
  }
}

/** Fits the normalisation and threshold on benign squared errors (the model's `sq_error`, row-major, `width` per row). */
export function fitCalibration(sqErrors: ArrayLike<number>, rows: number, width: number, options: CalibrationOptions = {}): Calibration {
  const fpBudget = options.fpBudget ?? DEFAULT_FP_BUDGET
  checkFpBudget(fpBudget)
  if (rows < 2) throw new UsageError(`calibration needs benign windows; got ${rows}`, {hint: 'widen the baseline time range'})
  const absErrors = new Float64Array(rows * width)
  for (let i = 0; i < absErrors.length; i++) absErrors[i] = Math.sqrt(sqErrors[i] as number)
  const median: number[] = []
  const madScale: number[] = []
  for (let f = 0; f < width; f++) {
    const col = sortedColumn(absErrors, rows, width, f)
    const med = quantileSorted(col, 0.5)
    const dev = new Float64Array(rows)
    for (let r = 0; r < rows; r++) dev[r] = Math.abs((col[r] as number) - med)
    dev.sort()
    median.push(Math.fround(med))
    madScale.push(MAD_TO_SIGMA * quantileSorted(dev, 0.5))
  }
  const meanScale = madScale.reduce((a, b) => a + b, 0) / Math.max(width, 1)
  const floor = Math.max(options.madFloor ?? DEFAULT_MAD_FLOOR, (options.relativeMadFloor ?? DEFAULT_RELATIVE_MAD_FLOOR) * meanScale)
  const normalisation: ErrorNormalisation = {median, scale: madScale.map((s) => Math.fround(Math.max(s, floor)))}
  const scores = normalisedScores(sqErrors, rows, width, normalisation)
  const sorted = Float64Array.from(scores).sort()
  const threshold = quantileSorted(sorted, 1 - fpBudget)
  let above = 0
  for (const s of scores) if (s > threshold) above++
  const warnings: string[] = []
  if (rows * fpBudget < 10) {
    warnings.push(
      `only ${rows} calibration windows: at a false-positive budget of ${fpBudget} the threshold rests on ${Math.floor(rows * fpBudget)} ` +
        `windows above it; use at least ${Math.ceil(10 / fpBudget)} benign windows for a stable threshold`,
    )
  }
  return {normalisation, threshold, fpBudget, rows, calibrationFpRate: above / rows, warnings}
}

/** Score of the row at `offset` of a squared-error array. */
export function scoreAt(sqErrors: ArrayLike<number>, offset: number, width: number, n: ErrorNormalisation): number {
  let sum = 0
  for (let f = 0; f < width; f++) {
    const z = (Math.sqrt(sqErrors[offset + f] as number) - (n.median[f] as number)) / (n.scale[f] as number)
    if (z > 0) sum += z * z
  }
  return Math.sqrt(sum)
}

export function normalisedScores(sqErrors: ArrayLike<number>, rows: number, width: number, n: ErrorNormalisation): Float64Array {
  const out = new Float64Array(rows)
  for (let r = 0; r < rows; r++) out[r] = scoreAt(sqErrors, r * width, width, n)
  return out
}

/** Standardised error z_f of each feature of one row (negative values kept, for display). */
export function standardisedErrors(sqError: ArrayLike<number>, n: ErrorNormalisation): Float64Array {
  const out = new Float64Array(n.median.length)
  for (let f = 0; f < out.length; f++) out[f] = (Math.sqrt(sqError[f] as number) - (n.median[f] as number)) / (n.scale[f] as number)
  return out
}
