/**
 * The detection loop the first pass (`runFirstPass`) and the stream's model scorer share: features
 * per (network, address, window) of the chosen flows, one batched model run over them, the scores
 * normalised and held against the calibrated threshold, and each flagged window explained (its top
 * features and an attack-type guess). What a caller makes of a flagged window — a stored detection
 * row, a stream detection — and which windows it asks for stay with the caller.
 */
import {UsageError} from '../core/index.js'
import type {FlowStore} from '../io/index.js'
import {explainRow} from './explain.js'
import type {Explanation} from './explain.js'
import {computeFeatures, DEFAULT_HOP_SEC, DEFAULT_MODEL_WINDOW_SEC} from './features.js'
import type {FeatureMatrix} from './features.js'
import type {LoadedModel} from './model-file.js'
import type {ModelCalibration} from './model-metadata.js'
import {scoreFeatures} from './score.js'
import type {ScoreResult} from './score.js'

export interface ScoreWindowsOptions {
  network?: string
  /** windows starting in [since, until), µs since the epoch */
  since?: number
  until?: number
  /**
   * windows of the model's length starting every `hopSec` from `phaseUs` instead of the model's own hop
   * (the stream's trailing windows, see FeatureOptions.phaseUs); the threshold is the model's
   */
  geometry?: {hopSec: number; phaseUs: number}
  /** only these addresses' windows */
  addresses?: readonly string[]
  /** rows per model call */
  batchSize?: number
  /** features that explain a detection (default 3) */
  topK?: number
}

/** A window above the threshold, explained. */
export interface FlaggedWindow {
  /** its row in `features` and `scores` */
  row: number
  network: string
  address: string
  /** µs since the epoch */
  windowStart: number
  score: number
  threshold: number
  explanation: Explanation
}

export interface WindowScores {
  features: FeatureMatrix
  scores: ScoreResult
  /** flagged windows, in row order */
  flagged: FlaggedWindow[]
  /** distinct (network, address) seen, in the order first seen */
  addresses: number
  /** of those, the ones with no flagged window, in the order first seen */
  unflagged: Array<{network: string; address: string}>
  /** the explanation of any row (`flagged` holds those of the flagged rows) */
  explain: (row: number) => Explanation
  /** time spent computing features and running the model */
  ms: {features: number; scoring: number}
}

/** The model's calibration, or a usage error saying how to get one: without it there is no threshold. */
export function requireThreshold(model: LoadedModel): ModelCalibration {
  const calibration = model.metadata.calibration
  if (!calibration) {
    throw new UsageError(`${model.path}: the model has no calibration, so it has no threshold`, {
      hint: 'calibrate it on benign traffic first: flowscope train --calibrate-only --model FILE',
    })
  }
  return calibration
}

/**
 * Features → model → threshold → explanation over the windows of the chosen flows, with the model's
 * own window and hop (from its metadata).
 */
export async function scoreWindows(store: FlowStore, model: LoadedModel, options: ScoreWindowsOptions = {}): Promise<WindowScores> {
  const meta = model.metadata
  const calibration = requireThreshold(model)
  const topK = options.topK ?? 3
  const t0 = performance.now()
  const features = await computeFeatures(store, {
    ...(options.network === undefined ? {} : {network: options.network}),
    ...(options.since === undefined ? {} : {since: options.since}),
    ...(options.until === undefined ? {} : {until: options.until}),
    windowSec: meta.windowSec ?? DEFAULT_MODEL_WINDOW_SEC,
    hopSec: options.geometry?.hopSec ?? meta.hopSec ?? DEFAULT_HOP_SEC,
    ...(options.geometry === undefined ? {} : {phaseUs: options.geometry.phaseUs}),
    ...(options.addresses === undefined ? {} : {addresses: options.addresses}),
  })
  const t1 = performance.now()
  const scores = await scoreFeatures(model, features, options.batchSize === undefined ? {} : {batchSize: options.batchSize})
  const t2 = performance.now()
  const explain = (row: number): Explanation => explainRow(meta.featureNames, calibration.normalisation, features, scores.sqErrors, row, topK)
  const flagged: FlaggedWindow[] = []
  const seen = new Map<string, {network: string; address: string}>()
  const flaggedKeys = new Set<string>()
  for (let i = 0; i < features.length; i++) {
    const network = features.networks[i]!
    const address = features.addresses[i]!
    const key = `${network}|${address}`
    if (!seen.has(key)) seen.set(key, {network, address})
    if (scores.flagged[i] !== 1) continue
    flaggedKeys.add(key)
    flagged.push({row: i, network, address, windowStart: features.windowStart[i]!, score: scores.scores[i]!, threshold: scores.threshold, explanation: explain(i)})
  }
  const unflagged = [...seen].filter(([key]) => !flaggedKeys.has(key)).map(([, a]) => a)
  return {features, scores, flagged, addresses: seen.size, unflagged, explain, ms: {features: t1 - t0, scoring: t2 - t1}}
}
