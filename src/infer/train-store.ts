/**
 * Training and re-calibration from the store: a network's baseline windows become feature vectors,
 * then an autoencoder (`train`) or only a new normalisation and threshold (`calibrate-only`).
 */
import {UsageError} from '../core/index.js'
import type {FlowStore} from '../io/index.js'
import {calibrate} from './calibrate.js'
import type {CalibrateResult} from './calibrate.js'
import {computeFeatures, DEFAULT_HOP_SEC, DEFAULT_MODEL_WINDOW_SEC} from './features.js'
import {closeModel, loadModel} from './model-file.js'
import type {ModelMetadata} from './model-metadata.js'
import {exportOnnx} from './onnx-export.js'
import {trainAutoencoder} from './train.js'
import type {EpochStats, TrainResult} from './train.js'

export interface TrainFromStoreOptions {
  network?: string
  /** baseline window, µs since the epoch */
  since?: number
  until?: number
  windowSec?: number
  hopSec?: number
  seed?: number
  fpBudget?: number
  maxEpochs?: number
  hiddenSizes?: readonly number[]
  out: string
  onEpoch?: (s: EpochStats) => void
}

export interface TrainFromStoreResult {
  model: string
  rows: number
  addresses: number
  epochs: number
  bestEpoch: number
  stoppedEarly: boolean
  validationLoss: number
  trainSeconds: number
  featureSeconds: number
  metadata: ModelMetadata
  warnings: string[]
}

const MIN_ROWS = 50

/** The address-window features of a store's baseline slice (network, since, until), at one window and hop. */
function baselineFeatures(
  store: FlowStore,
  o: {network?: string; since?: number; until?: number},
  windowSec: number,
  hopSec: number,
): ReturnType<typeof computeFeatures> {
  return computeFeatures(store, {
    ...(o.network === undefined ? {} : {network: o.network}),
    ...(o.since === undefined ? {} : {since: o.since}),
    ...(o.until === undefined ? {} : {until: o.until}),
    windowSec,
    hopSec,
  })
}

export async function trainFromStore(store: FlowStore, o: TrainFromStoreOptions): Promise<TrainFromStoreResult> {
  const t0 = performance.now()
  const windowSec = o.windowSec ?? DEFAULT_MODEL_WINDOW_SEC
  const hopSec = o.hopSec ?? DEFAULT_HOP_SEC
  const features = await baselineFeatures(store, o, windowSec, hopSec)
  const featureSeconds = (performance.now() - t0) / 1000
  if (features.length < MIN_ROWS) {
    throw new UsageError(`only ${features.length} address-windows in the baseline; training needs at least ${MIN_ROWS}`, {
      hint: 'ingest more benign traffic, choose a wider --since/--until, or a shorter --window',
    })
  }
  const result: TrainResult = trainAutoencoder(features, {
    seed: o.seed ?? 1,
    ...(o.fpBudget === undefined ? {} : {fpBudget: o.fpBudget}),
    ...(o.maxEpochs === undefined ? {} : {maxEpochs: o.maxEpochs}),
    ...(o.hiddenSizes === undefined ? {} : {hiddenSizes: o.hiddenSizes}),
    ...(o.onEpoch === undefined ? {} : {onEpoch: o.onEpoch}),
  })
  const metadata = await exportOnnx(result.model, o.out, {
    network: o.network ?? null,
    trainingWindow: {...(o.since === undefined ? {} : {since: o.since}), ...(o.until === undefined ? {} : {until: o.until})},
    windowSec,
    hopSec,
  })
  return {
    model: o.out,
    rows: features.length,
    addresses: new Set(features.addresses).size,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    validationLoss: result.validationLoss,
    trainSeconds: result.elapsedMs / 1000,
    featureSeconds,
    metadata,
    warnings: result.warnings,
  }
}

export interface CalibrateFromStoreOptions {
  model: string
  out?: string
  network?: string
  since?: number
  until?: number
  fpBudget?: number
}

/** Re-calibrate a model on this store's benign windows, weights untouched (the transfer step). */
export async function calibrateFromStore(store: FlowStore, o: CalibrateFromStoreOptions): Promise<CalibrateResult & {rows: number}> {
  const m = await loadModel(o.model)
  const windowSec = m.metadata.windowSec ?? DEFAULT_MODEL_WINDOW_SEC
  const hopSec = m.metadata.hopSec ?? DEFAULT_HOP_SEC
  await closeModel(m)
  const features = await baselineFeatures(store, o, windowSec, hopSec)
  const r = await calibrate(o.model, features, {
    ...(o.fpBudget === undefined ? {} : {fpBudget: o.fpBudget}),
    network: o.network ?? null,
    ...(o.out === undefined ? {} : {outPath: o.out}),
  })
  return {...r, rows: features.length}
}
