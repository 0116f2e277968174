/**
 * Calibration of the post-processing score, fitted on a benign baseline and stored next to the model
 * (`<model>.post.json`).
 *
 * Why a stored calibration, fitted like the first pass's: the first pass's threshold is the (1 − budget)
 * quantile of benign calibration windows, fixed at training time; the post pass must mean the same
 * budget, so its threshold too comes from benign traffic and is fixed before any run. Calibrating on
 * the store being analysed would let the attacks in it move the threshold (and always flag the same
 * share of units whatever the traffic holds). It is a sidecar rather than model metadata because a
 * model's bytes are its identity (the detections' model id is a hash of them) and because a model
 * brought from elsewhere gets one the same way; the sidecar names the model id it belongs to and is
 * refused for another.
 *
 * Per scale it holds: the long window's own error normalisation of the model (benign median and MAD
 * of √sq_error, as `fitCalibration` fits for the first pass); the floors of the bucket-context spreads
 * (the benign population's robust spread of each context feature); the tail model of each evidence
 * component; and the threshold −log10(fpBudget / scales). The score is a Bonferroni-corrected tail
 * probability in −log10 units, so over all scales at most about `fpBudget` of benign (address, long
 * window) units are flagged: the first pass's budget, per unit it scores. The tail models make that
 * hold beyond the few most extreme benign units an empirical quantile at 0.05% would rest on.
 */
import {readFile, writeFile, rename} from 'node:fs/promises'
import {existsSync} from 'node:fs'

import {InputDataError, quantileSorted, UsageError} from '../core/index.js'
import {DEFAULT_FP_BUDGET, FEATURE_COUNT, FEATURE_SET_VERSION, fitCalibration} from '../infer/index.js'
import type {ErrorNormalisation} from '../infer/index.js'
import type {EvidenceTails, FanProfile, PostScale} from './post-features.js'
import {
  CONTEXT_COUNT,
  CONTEXT_FEATURE_NAMES,
  EV_CONTEXT,
  EV_FAN,
  EV_MODEL,
  EVIDENCE_COUNT,
  EVIDENCE_NAMES,
  contextDeviation,
  contextProfile,
  fanEvidence,
  modelScore,
  postScore,
} from './post-features.js'

export const POST_CALIBRATION_VERSION = 1

export interface ScaleCalibration extends PostScale {
  /** long-window error normalisation of the model */
  normalisation: ErrorNormalisation
  /** floors of the context features' bucket spreads, in CONTEXT_FEATURE_NAMES order */
  contextFloors: number[]
  /** benign fan-out per service port */
  fan: FanProfile
  evidence: EvidenceTails
  threshold: number
  /** benign units the scale was fitted on, and the share of them above the threshold */
  units: number
  fpRate: number
}

export interface PostCalibration {
  version: number
  /** id of the model (name@hash) it was fitted for */
  modelId: string
  featureSetVersion: number
  /** the first pass's budget it shares: share of benign units flagged, over all scales */
  fpBudget: number
  evidenceNames: string[]
  contextFeatureNames: string[]
  scales: ScaleCalibration[]
  /** where the benign units came from */
  baseline: {store: string; network: string | null; addresses: number; since: string | null; until: string | null}
  createdAt: string
}

/** The per-unit arrays of raw calibration data, whether one job's share or a whole scale's. */
export interface RawUnitArrays {
  rows: number
  /** rows × FEATURE_COUNT squared model errors (long window, volumes at the model's window) */
  sqErrors: Float32Array
  /** rows × EVIDENCE_COUNT; model and context entries are filled in by the fit */
  evidence: Float64Array
  /** rows × CONTEXT_COUNT context features */
  context: Float64Array
  /** rows of each group-window, for the context profiles */
  groups: number[][]
  /** (row, service port, distinct peers) triples of the rows' outbound requests */
  fanPorts: Int32Array
}

/** Raw per-unit data of one scale, gathered over a benign store's buckets. */
export interface RawScaleUnits extends RawUnitArrays {
  scale: PostScale
}

/** Benign units a port needs for its own fan-out profile; rarer ports share a pooled one. */
export const MIN_PORT_UNITS = 20

export const MIN_CALIBRATION_UNITS = 50

/** Post-calibration path of a model file. */
export function postCalibrationPath(modelPath: string): string {
  return `${modelPath}.post.json`
}

/** Fits one scale: model normalisation, context floors, evidence standardisation and threshold. */
export function fitScale(raw: RawScaleUnits, scaleBudget: number): ScaleCalibration {
  if (raw.rows < MIN_CALIBRATION_UNITS) {
    throw new UsageError(`only ${raw.rows} benign (address, ${raw.scale.name}) units to calibrate the post pass on; it needs at least ${MIN_CALIBRATION_UNITS}`, {
      hint: 'calibrate on a longer benign baseline (several hours of traffic)',
    })
  }
  const normalisation = fitCalibration(raw.sqErrors, raw.rows, FEATURE_COUNT).normalisation
  const contextFloors: number[] = []
  for (let f = 0; f < CONTEXT_COUNT; f++) {
    const col = new Float64Array(raw.rows)
    for (let r = 0; r < raw.rows; r++) col[r] = raw.context[r * CONTEXT_COUNT + f] as number
    col.sort()
    const med = quantileSorted(col, 0.5)
    const dev = col.map((x) => Math.abs(x - med)).sort()
    // the population's spread; a feature that is almost always one value (SYN-only share, top-port share)
    // gets its spread between the 1st and 99th percentiles instead, so that one odd host in a bucket of
    // identical ones is not infinitely odd
    contextFloors.push(Math.max(1.4826 * quantileSorted(dev, 0.5), (quantileSorted(col, 0.75) - quantileSorted(col, 0.25)) / 1.349, (quantileSorted(col, 0.99) - quantileSorted(col, 0.01)) / 4.653, 1e-3))
  }
  const fan = fitFanProfile(raw.fanPorts)
  fillModelAndContext(raw, normalisation, contextFloors, fan)
  const evidence = fitTails(raw.evidence, raw.rows)
  const scores = new Float64Array(raw.rows)
  for (let r = 0; r < raw.rows; r++) scores[r] = postScore(raw.evidence, r * EVIDENCE_COUNT, evidence)
  const threshold = -Math.log10(scaleBudget)
  let above = 0
  for (const s of scores) if (s > threshold) above++
  return {...raw.scale, normalisation, contextFloors, fan, evidence, threshold, units: raw.rows, fpRate: above / raw.rows}
}

/** Smallest mean excess of a tail model, in ln units: a component with (almost) no spread past u. */
const MIN_MEAN_EXCESS = 0.05

/** Peaks-over-threshold tail model of each evidence component on ln(1 + evidence) (see post-features.ts). */
export function fitTails(evidence: Float64Array, rows: number): EvidenceTails {
  const u: number[] = []
  const r: number[] = []
  const m: number[] = []
  for (let k = 0; k < EVIDENCE_COUNT; k++) {
    const col = new Float64Array(rows)
    for (let i = 0; i < rows; i++) col[i] = Math.log1p(Math.max(0, evidence[i * EVIDENCE_COUNT + k] as number))
    col.sort()
    const threshold = quantileSorted(col, 0.99)
    let n = 0
    let excess = 0
    for (const x of col) {
      if (x > threshold) {
        n++
        excess += x - threshold
      }
    }
    u.push(threshold)
    // no unit above u: as if one were, so that the model never promises more than the data shows
    r.push(Math.max(n, 1) / rows)
    m.push(Math.max(n > 0 ? excess / n : 0, MIN_MEAN_EXCESS))
  }
  return {u, r, m}
}

/** q99 of the distinct peers per unit on each port; ports with few units pooled. */
export function fitFanProfile(triples: Int32Array): FanProfile {
  const byPort = new Map<number, number[]>()
  for (let t = 0; t + 2 < triples.length; t += 3) {
    const svc = triples[t + 1]!
    let ks = byPort.get(svc)
    if (ks === undefined) byPort.set(svc, (ks = []))
    ks.push(triples[t + 2]!)
  }
  const ports: Record<string, number> = {}
  const rare: number[] = []
  for (const [svc, ks] of [...byPort.entries()].sort((a, b) => a[0] - b[0])) {
    if (ks.length >= MIN_PORT_UNITS) ports[String(svc)] = quantileSorted(Float64Array.from(ks).sort(), 0.99)
    else rare.push(...ks)
  }
  // a port never seen in the baseline is held to what the rarely used ones do (one or two peers)
  return {ports, rare: rare.length > 0 ? Math.max(1, quantileSorted(Float64Array.from(rare).sort(), 0.99)) : 1}
}

/** Fills the model, fan-out and bucket-deviation evidence of every row (they need fitted constants). */
export function fillModelAndContext(raw: RawScaleUnits, normalisation: ErrorNormalisation, floors: readonly number[], fan: FanProfile): void {
  for (let r = 0; r < raw.rows; r++) raw.evidence[r * EVIDENCE_COUNT + EV_MODEL] = modelScore(raw.sqErrors, r * FEATURE_COUNT, normalisation)
  const perRow = new Map<number, {svc: number; k: number}[]>()
  for (let t = 0; t + 2 < raw.fanPorts.length; t += 3) {
    const row = raw.fanPorts[t]!
    let list = perRow.get(row)
    if (list === undefined) perRow.set(row, (list = []))
    list.push({svc: raw.fanPorts[t + 1]!, k: raw.fanPorts[t + 2]!})
  }
  for (let r = 0; r < raw.rows; r++) raw.evidence[r * EVIDENCE_COUNT + EV_FAN] = fanEvidence(perRow.get(r) ?? [], fan)
  for (const rows of raw.groups) {
    const profile = contextProfile(raw.context, rows)
    for (const r of rows) raw.evidence[r * EVIDENCE_COUNT + EV_CONTEXT] = contextDeviation(raw.context, r, profile, floors)
  }
}

export function fitPostCalibration(
  raws: readonly RawScaleUnits[],
  info: {modelId: string; fpBudget?: number; baseline: PostCalibration['baseline']; now?: () => Date},
): PostCalibration {
  const fpBudget = info.fpBudget ?? DEFAULT_FP_BUDGET
  if (!(fpBudget > 0 && fpBudget < 0.5)) throw new UsageError(`the false-positive budget must be between 0 and 0.5, got ${fpBudget}`)
  const scales = raws.map((raw) => fitScale(raw, fpBudget / raws.length))
  return {
    version: POST_CALIBRATION_VERSION,
    modelId: info.modelId,
    featureSetVersion: FEATURE_SET_VERSION,
    fpBudget,
    evidenceNames: [...EVIDENCE_NAMES],
    contextFeatureNames: [...CONTEXT_FEATURE_NAMES],
    scales,
    baseline: info.baseline,
    createdAt: (info.now ?? (() => new Date()))().toISOString(),
  }
}

export async function writePostCalibration(file: string, calibration: PostCalibration): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(calibration, null, 2)}\n`)
  await rename(tmp, file)
}

/** Reads a post calibration and checks that it belongs to `modelId` and this feature set. */
export async function readPostCalibration(file: string, modelId: string): Promise<PostCalibration> {
  if (!existsSync(file)) {
    throw new UsageError(`${file}: the model has no post-processing calibration`, {
      hint: 'fit it on a benign baseline of the same network first (the post calibration step), or analyze with the first pass alone',
    })
  }
  let c: PostCalibration
  try {
    c = JSON.parse(await readFile(file, 'utf8')) as PostCalibration
  } catch (error) {
    throw new InputDataError(`${file}: not a post-processing calibration (${(error as Error).message})`, {cause: error})
  }
  if (c.version !== POST_CALIBRATION_VERSION || !Array.isArray(c.scales) || c.scales.length === 0) {
    throw new InputDataError(`${file}: unsupported post-processing calibration (version ${String(c.version)})`)
  }
  if (c.modelId !== modelId) {
    throw new InputDataError(`${file}: fitted for model ${c.modelId}, not ${modelId}`, {hint: 're-fit the post calibration for this model'})
  }
  if (c.featureSetVersion !== FEATURE_SET_VERSION || c.evidenceNames.join(',') !== EVIDENCE_NAMES.join(',') || c.contextFeatureNames.join(',') !== CONTEXT_FEATURE_NAMES.join(',')) {
    throw new InputDataError(`${file}: fitted for another feature set or evidence layout`, {hint: 're-fit the post calibration'})
  }
  return c
}
