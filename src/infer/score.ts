/**
 * Scoring with onnxruntime-node: the model gives per-feature squared errors in batches; the score
 * and the flag come from the model's calibration (metadata), computed here rather than read from
 * the graph's optional `score` output, so any model with the `features` → `sq_error` signature
 * scores the same way.
 */
import {Tensor} from 'onnxruntime-node'

import {InputDataError, UsageError} from '../core/index.js'
import type {LoadedModel} from './model-file.js'
import type {ModelCalibration} from './model-metadata.js'
import {scoreAt} from './normalisation.js'
import type {FeatureVectors} from './train.js'

export const DEFAULT_SCORE_BATCH = 8192

export interface ScoreOptions {
  /** rows per `session.run` call */
  batchSize?: number
  /** overrides the model's calibrated threshold */
  threshold?: number
}

export interface ScoreResult {
  length: number
  featureCount: number
  /** per row: ‖positive part of the standardised errors‖₂ */
  scores: Float64Array
  /** row-major [length × featureCount] squared reconstruction errors */
  sqErrors: Float32Array
  /** 1 where score > threshold */
  flagged: Uint8Array
  flaggedCount: number
  threshold: number
}

/**
 * The model's `sq_error` for every row, in batches of `batchSize` (or of the model's fixed batch size,
 * the last batch padded with zeros whose results are dropped).
 */
export async function runSqErrors(model: LoadedModel, data: FeatureVectors, batchSize = DEFAULT_SCORE_BATCH): Promise<Float32Array> {
  const F = model.featureCount
  if (data.featureCount !== F) throw new UsageError(`the model takes ${F} features per row, got ${data.featureCount}`)
  if (!(batchSize >= 1)) throw new UsageError(`batch size must be at least 1, got ${batchSize}`)
  const batch = model.fixedBatchSize ?? batchSize
  const out = new Float32Array(data.length * F)
  const all = data.values instanceof Float32Array ? data.values : Float32Array.from({length: data.length * F}, (_, i) => data.values[i] as number)
  for (let start = 0; start < data.length; start += batch) {
    const n = Math.min(batch, data.length - start)
    let rows = all.subarray(start * F, (start + n) * F)
    if (model.fixedBatchSize !== null && n < batch) {
      const padded = new Float32Array(batch * F)
      padded.set(rows)
      rows = padded
    }
    const shapeRows = rows.length / F
    const input = new Tensor('float32', rows, [shapeRows, F])
    const result = await model.session.run({[model.inputName]: input}, [model.sqErrorOutput])
    const sq = result[model.sqErrorOutput]
    if (sq === undefined || !(sq.data instanceof Float32Array) || sq.data.length !== shapeRows * F) {
      throw new InputDataError(`${model.path}: output "${model.sqErrorOutput}" is not float32 [${shapeRows}, ${F}]`)
    }
    out.set(sq.data.subarray(0, n * F), start * F)
  }
  return out
}

export function requireCalibration(model: Pick<LoadedModel, 'metadata' | 'path'>): ModelCalibration {
  const c = model.metadata.calibration
  if (c === null) {
    throw new InputDataError(`${model.path}: the model has no loss normalisation or threshold`, {
      hint: 'calibrate it on a benign baseline with `flowscope train --calibrate-only`',
    })
  }
  return c
}

/** Scores feature vectors: squared errors from the model, normalised scores and flags from its calibration. */
export async function scoreFeatures(model: LoadedModel, data: FeatureVectors, options: ScoreOptions = {}): Promise<ScoreResult> {
  const calibration = requireCalibration(model)
  const threshold = options.threshold ?? calibration.threshold
  const F = model.featureCount
  const sqErrors = await runSqErrors(model, data, options.batchSize)
  const scores = new Float64Array(data.length)
  const flagged = new Uint8Array(data.length)
  let flaggedCount = 0
  for (let r = 0; r < data.length; r++) {
    const s = scoreAt(sqErrors, r * F, F, calibration.normalisation)
    scores[r] = s
    if (s > threshold) {
      flagged[r] = 1
      flaggedCount++
    }
  }
  return {length: data.length, featureCount: F, scores, sqErrors, flagged, flaggedCount, threshold}
}
