/**
 * The model file's metadata (ONNX `metadata_props`, string to string): what a model was trained on
 * and how its scores are normalised. Structured values are JSON. Keys, as written and read:
 *
 *   feature_set_version  integer; the scorer refuses a model of another version
 *   feature_names        JSON array of the input columns, in order
 *   network              tenant whose baseline trained the weights
 *   training_window      JSON {"since": ISO | null, "until": ISO | null}
 *   window_sec, hop_sec  feature windowing the model expects
 *   architecture         JSON {"sizes": [18, 32, …], "activation": "tanh"}
 *   scaler               JSON {"kind": "median-iqr", "center": […], "scale": […]} (informational: baked into the graph)
 *   threshold            score above which a window is flagged
 *   fp_budget            false-positive budget the threshold was chosen for
 *   normalisation        JSON {"median": […], "scale": […]}: benign median and MAD scale of each feature's
 *                        absolute error √sq_error
 *   calibration          JSON {"network", "rows", "fp_rate", "calibrated_at"}
 *   created_at           ISO time of export
 *   flowscope_version    version of flowscope that wrote the file
 *
 * A model brought from elsewhere may lack all of these: then the current feature set is assumed (with
 * a warning) and scoring needs a calibration first (`train --calibrate-only`).
 */
import {InputDataError} from '../core/index.js'
import {FEATURE_NAMES, FEATURE_SET_VERSION} from './features.js'
import type {ErrorNormalisation} from './normalisation.js'
import type {FeatureScaler} from './scaler.js'

export interface ModelCalibration {
  normalisation: ErrorNormalisation
  threshold: number
  fpBudget: number
  /** tenant whose benign windows fitted the normalisation and threshold */
  network: string | null
  rows: number
  /** share of the calibration windows above the threshold */
  fpRate: number
  calibratedAt: string
}

export interface ModelMetadata {
  featureSetVersion: number
  featureNames: string[]
  network: string | null
  trainingWindow: {since: string | null; until: string | null} | null
  windowSec: number | null
  hopSec: number | null
  architecture: {sizes: number[]; activation: string} | null
  scaler: FeatureScaler | null
  /** null for a model that was never calibrated: it cannot score until it is */
  calibration: ModelCalibration | null
  createdAt: string | null
  flowscopeVersion: string | null
}

export interface MetadataEntry {
  key: string
  value: string
}

export function encodeMetadata(m: ModelMetadata): MetadataEntry[] {
  const entries: Record<string, string | null> = {
    feature_set_version: String(m.featureSetVersion),
    feature_names: JSON.stringify(m.featureNames),
    network: m.network,
    training_window: m.trainingWindow === null ? null : JSON.stringify(m.trainingWindow),
    window_sec: m.windowSec === null ? null : String(m.windowSec),
    hop_sec: m.hopSec === null ? null : String(m.hopSec),
    architecture: m.architecture === null ? null : JSON.stringify(m.architecture),
    scaler: m.scaler === null ? null : JSON.stringify(m.scaler),
    threshold: m.calibration === null ? null : String(m.calibration.threshold),
    fp_budget: m.calibration === null ? null : String(m.calibration.fpBudget),
    normalisation: m.calibration === null ? null : JSON.stringify(m.calibration.normalisation),
    calibration:
      m.calibration === null
        ? null
        : JSON.stringify({
            network: m.calibration.network,
            rows: m.calibration.rows,
            fp_rate: m.calibration.fpRate,
            calibrated_at: m.calibration.calibratedAt,
          }),
    created_at: m.createdAt,
    flowscope_version: m.flowscopeVersion,
  }
  return Object.entries(entries)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([key, value]) => ({key, value}))
}

/** Parses metadata entries; `source` names the file in errors. Unknown keys are ignored. */
export function decodeMetadata(entries: readonly MetadataEntry[], source: string): {metadata: ModelMetadata; warnings: string[]} {
  const props = new Map(entries.map((e) => [e.key, e.value]))
  const warnings: string[] = []
  const json = <T>(key: string): T | null => {
    const text = props.get(key)
    if (text === undefined) return null
    try {
      return JSON.parse(text) as T
    } catch (error) {
      throw new InputDataError(`${source}: model metadata "${key}" is not valid JSON`, {cause: error})
    }
  }
  const num = (key: string): number | null => {
    const text = props.get(key)
    if (text === undefined) return null
    const v = Number(text)
    if (!Number.isFinite(v)) throw new InputDataError(`${source}: model metadata "${key}" is not a number: ${text}`)
    return v
  }

  let featureSetVersion = num('feature_set_version')
  if (featureSetVersion === null) {
    warnings.push(`${source}: no feature_set_version in the model metadata; assuming feature set ${FEATURE_SET_VERSION}`)
    featureSetVersion = FEATURE_SET_VERSION
  }
  let featureNames = json<string[]>('feature_names')
  if (featureNames === null) {
    warnings.push(`${source}: no feature_names in the model metadata; assuming the ${FEATURE_NAMES.length} features of this version`)
    featureNames = [...FEATURE_NAMES]
  } else if (!Array.isArray(featureNames) || !featureNames.every((n) => typeof n === 'string')) {
    throw new InputDataError(`${source}: model metadata "feature_names" is not a list of names`)
  }

  const threshold = num('threshold')
  const normalisation = json<ErrorNormalisation>('normalisation')
  let calibration: ModelCalibration | null = null
  if (threshold !== null && normalisation !== null) {
    checkVector(normalisation.median, featureNames.length, 'normalisation.median', source)
    checkVector(normalisation.scale, featureNames.length, 'normalisation.scale', source)
    const info = json<{network?: string | null; rows?: number; fp_rate?: number; calibrated_at?: string}>('calibration') ?? {}
    calibration = {
      normalisation: {median: normalisation.median, scale: normalisation.scale},
      threshold,
      fpBudget: num('fp_budget') ?? Number.NaN,
      network: info.network ?? null,
      rows: info.rows ?? 0,
      fpRate: info.fp_rate ?? Number.NaN,
      calibratedAt: info.calibrated_at ?? '',
    }
  }

  return {
    metadata: {
      featureSetVersion,
      featureNames,
      network: props.get('network') ?? null,
      trainingWindow: json('training_window'),
      windowSec: num('window_sec'),
      hopSec: num('hop_sec'),
      architecture: json('architecture'),
      scaler: json('scaler'),
      calibration,
      createdAt: props.get('created_at') ?? null,
      flowscopeVersion: props.get('flowscope_version') ?? null,
    },
    warnings,
  }
}

function checkVector(v: unknown, length: number, name: string, source: string): void {
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new InputDataError(`${source}: model metadata "${name}" must be ${length} finite numbers`)
  }
}
