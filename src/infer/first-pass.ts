/**
 * The first pass of detection: every (address, window) of the chosen flows gets its features, one
 * batched model run scores them all, and the windows above the model's threshold become detections
 * with the features that drove them and an attack-type guess. The addresses it does not flag are what
 * the post-processing engine (src/buckets) looks at more deeply.
 *
 * Beacon detections are then pivoted on (`beacon-pivot.ts`): addresses serving the same C2 service as
 * a detected beacon server are returned as `related` detections, apart from the model's own.
 */
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {UsageError} from '../core/index.js'
import type {FlowStore} from '../io/index.js'
import type {BeaconRelation} from './beacon-pivot.js'
import {relatedBeaconDetections} from './beacon-pivot.js'
import type {DetectionRow} from './detections.js'
import {explainRow} from './explain.js'
import {computeFeatures, DEFAULT_HOP_SEC, DEFAULT_MODEL_WINDOW_SEC} from './features.js'
import type {FeatureMatrix} from './features.js'
import type {LoadedModel} from './model-file.js'
import {scoreFeatures} from './score.js'
import type {ScoreResult} from './score.js'

export interface FirstPassOptions {
  network?: string
  /** µs since the epoch */
  since?: number
  until?: number
  runId?: number
  batchSize?: number
  /** features that explain a detection (default 3) */
  topK?: number
  /** report the addresses related to beacon detections (`related`; default true) */
  beaconPivot?: boolean
}

export interface FirstPassResult {
  modelId: string
  features: FeatureMatrix
  scores: ScoreResult
  /** the windows the model flagged */
  detections: DetectionRow[]
  /**
   * windows the model did not flag, reported because the address serves the same C2 service as a
   * beacon detection's server (type `beaconing`, `topFeatures` headed by the relation); see `relations`
   */
  related: DetectionRow[]
  relations: BeaconRelation[]
  /** distinct addresses seen, and those with no flagged window */
  addresses: number
  unflaggedAddresses: string[]
  seconds: {features: number; scoring: number; pivot: number}
}

/** A stable id for a model file: its name and the start of its content hash. */
export async function modelId(file: string): Promise<string> {
  const bytes = await readFile(file)
  return `${path.basename(file)}@${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`
}

export async function runFirstPass(store: FlowStore, model: LoadedModel, options: FirstPassOptions = {}): Promise<FirstPassResult> {
  const meta = model.metadata
  if (!meta.calibration) {
    throw new UsageError(`${model.path}: the model has no calibration, so it has no threshold`, {
      hint: 'calibrate it on benign traffic first: flowscope train --calibrate-only --model FILE',
    })
  }
  const calibration = meta.calibration
  const id = await modelId(model.path)
  const t0 = performance.now()
  const features = await computeFeatures(store, {
    ...(options.network === undefined ? {} : {network: options.network}),
    ...(options.since === undefined ? {} : {since: options.since}),
    ...(options.until === undefined ? {} : {until: options.until}),
    windowSec: meta.windowSec ?? DEFAULT_MODEL_WINDOW_SEC,
    hopSec: meta.hopSec ?? DEFAULT_HOP_SEC,
  })
  const t1 = performance.now()
  const scores = await scoreFeatures(model, features, options.batchSize === undefined ? {} : {batchSize: options.batchSize})
  const t2 = performance.now()
  const detections: DetectionRow[] = []
  const flaggedAddresses = new Set<string>()
  const all = new Set<string>()
  const windowUs = features.windowSec * 1e6
  for (let i = 0; i < features.length; i++) {
    const key = `${features.networks[i]}|${features.addresses[i]}`
    all.add(key)
    if (scores.flagged[i] !== 1) continue
    flaggedAddresses.add(key)
    const e = explainRow(meta.featureNames, meta.calibration.normalisation, features, scores.sqErrors, i, options.topK ?? 3)
    detections.push({
      network: features.networks[i]!,
      address: features.addresses[i]!,
      windowStart: features.windowStart[i]!,
      windowEnd: features.windowStart[i]! + windowUs,
      model: id,
      pass: 'first',
      score: scores.scores[i]!,
      threshold: scores.threshold,
      attackType: e.attackType,
      topFeatures: e.topFeatures,
      runId: options.runId ?? null,
    })
  }
  const t3 = performance.now()
  const pivot =
    options.beaconPivot === false
      ? {detections: [], relations: []}
      : await relatedBeaconDetections(store, {
          features,
          scores,
          detections,
          ownTopFeatures: (i) => explainRow(meta.featureNames, calibration.normalisation, features, scores.sqErrors, i, options.topK ?? 3).topFeatures,
        })
  const unflaggedAddresses = [...all].filter((k) => !flaggedAddresses.has(k))
  return {
    modelId: id,
    features,
    scores,
    detections,
    related: pivot.detections,
    relations: pivot.relations,
    addresses: all.size,
    unflaggedAddresses,
    seconds: {features: (t1 - t0) / 1000, scoring: (t2 - t1) / 1000, pivot: (performance.now() - t3) / 1000},
  }
}
