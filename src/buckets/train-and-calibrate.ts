/**
 * `flowscope train` as layer functions. Training fits the model (infer) and then, unless told not
 * to, the post-processing calibration that analyze needs (this layer's `calibratePost`), which is why
 * this lives above infer. Re-calibration keeps the weights and fits the network's normalisation and
 * threshold only.
 */
import {calibrateFromStore, trainFromStore} from '../infer/index.js'
import type {EpochStats, TrainFromStoreResult} from '../infer/index.js'
import {openStoreForReading} from '../io/index.js'
import {calibratePost} from './controller.js'
import type {CalibratePostResult} from './controller.js'

/** The baseline: which flows train or calibrate the model (µs since the epoch). */
export interface BaselineSelection {
  network?: string
  since?: number
  until?: number
}

export interface TrainAndCalibrateOptions extends BaselineSelection {
  /** model file to write */
  out: string
  windowSec?: number
  hopSec?: number
  seed?: number
  fpBudget: number
  maxEpochs?: number
  /** also fit the post-processing calibration (`<out>.post.json`); default true */
  post?: boolean
  onEpoch?: (e: EpochStats) => void
}

export interface TrainAndCalibrateResult {
  trained: TrainFromStoreResult
  /** null when not asked for */
  post: CalibratePostResult | null
}

/** Train on the store's baseline, then fit the post-processing calibration on the same baseline. */
export async function trainAndCalibrate(db: string, o: TrainAndCalibrateOptions): Promise<TrainAndCalibrateResult> {
  const baseline = baselineOf(o)
  const store = await openStoreForReading(db)
  let trained: TrainFromStoreResult
  try {
    trained = await trainFromStore(store, {
      out: o.out,
      ...baseline,
      ...(o.windowSec === undefined ? {} : {windowSec: o.windowSec}),
      ...(o.hopSec === undefined ? {} : {hopSec: o.hopSec}),
      ...(o.seed === undefined ? {} : {seed: o.seed}),
      fpBudget: o.fpBudget,
      ...(o.maxEpochs === undefined ? {} : {maxEpochs: o.maxEpochs}),
      ...(o.onEpoch === undefined ? {} : {onEpoch: o.onEpoch}),
    })
  } finally {
    // calibratePost opens the store itself
    await store.close()
  }
  const post = o.post === false ? null : await calibratePost(db, {model: o.out, ...baseline, fpBudget: o.fpBudget})
  return {trained, post}
}

export interface RecalibrateOptions extends BaselineSelection {
  /** the model whose weights are kept */
  model: string
  /** where to write the re-calibrated model (default: over `model`) */
  out?: string
  fpBudget: number
}

export interface RecalibrateResult {
  model: string
  rows: number
  threshold: number
  previousThreshold: number | null
  fpRate: number
  warnings: string[]
}

/** Keep the model's weights; fit its normalisation and threshold on this store's baseline. */
export async function recalibrateModel(db: string, o: RecalibrateOptions): Promise<RecalibrateResult> {
  const store = await openStoreForReading(db)
  try {
    const r = await calibrateFromStore(store, {model: o.model, ...(o.out === undefined ? {} : {out: o.out}), ...baselineOf(o), fpBudget: o.fpBudget})
    const c = r.metadata.calibration!
    return {model: r.path, rows: r.rows, threshold: c.threshold, previousThreshold: r.previous?.threshold ?? null, fpRate: c.fpRate, warnings: r.warnings}
  } finally {
    await store.close()
  }
}

function baselineOf(o: BaselineSelection): BaselineSelection {
  return {
    ...(o.network === undefined ? {} : {network: o.network}),
    ...(o.since === undefined ? {} : {since: o.since}),
    ...(o.until === undefined ? {} : {until: o.until}),
  }
}
