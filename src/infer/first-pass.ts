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

import type {FlowStore} from '../io/index.js'
import type {BeaconRelation} from './beacon-pivot.js'
import {relatedBeaconDetections} from './beacon-pivot.js'
import type {DetectionRow} from './detections.js'
import type {FeatureMatrix} from './features.js'
import type {LoadedModel} from './model-file.js'
import type {ScoreResult} from './score.js'
import {requireThreshold, scoreWindows} from './score-windows.js'

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
  requireThreshold(model)
  const id = await modelId(model.path)
  const scored = await scoreWindows(store, model, {
    ...(options.network === undefined ? {} : {network: options.network}),
    ...(options.since === undefined ? {} : {since: options.since}),
    ...(options.until === undefined ? {} : {until: options.until}),
    ...(options.batchSize === undefined ? {} : {batchSize: options.batchSize}),
    ...(options.topK === undefined ? {} : {topK: options.topK}),
  })
  const {features, scores} = scored
  const windowUs = features.windowSec * 1e6
  const detections: DetectionRow[] = scored.flagged.map((w) => ({
    network: w.network,
    address: w.address,
    windowStart: w.windowStart,
    windowEnd: w.windowStart + windowUs,
    model: id,
    pass: 'first',
    score: w.score,
    threshold: w.threshold,
    attackType: w.explanation.attackType,
    topFeatures: w.explanation.topFeatures,
    runId: options.runId ?? null,
  }))
  const t3 = performance.now()
  const pivot =
    options.beaconPivot === false
      ? {detections: [], relations: []}
      : await relatedBeaconDetections(store, {features, scores, detections, ownTopFeatures: (i) => scored.explain(i).topFeatures})
  return {
    modelId: id,
    features,
    scores,
    detections,
    related: pivot.detections,
    relations: pivot.relations,
    addresses: scored.addresses,
    unflaggedAddresses: scored.unflagged.map((a) => `${a.network}|${a.address}`),
    seconds: {features: scored.ms.features / 1000, scoring: scored.ms.scoring / 1000, pivot: (performance.now() - t3) / 1000},
  }
}
