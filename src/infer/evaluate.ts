/**
 * Measuring detection quality: which address-windows belong to an attack, ROC AUC of a score over
 * them, whether a false-positive count is consistent with a budget, and the plumbing that merges an
 * attack capture into a benign background by time-shifting its flow records.
 *
 * These helpers serve the detection tests and `bench/detection-eval.js`; nothing in the scoring path
 * depends on them.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {InputDataError, UsageError} from '../core/index.js'
import type {FlowStore} from '../io/index.js'
import type {FlowBatch} from '../core/index.js'
import {appendFlowBatches, insertSource, nextSourceId, writeDetections, writeIncidents} from '../io/index.js'
import {decideIncidents} from './incidents.js'
import type {FeatureMatrix} from './features.js'
import {FEATURE_SET_VERSION} from './features.js'
import type {FirstPassResult} from './first-pass.js'
import type {ExportInfo} from './onnx-export.js'
import {exportOnnx} from './onnx-export.js'
import {trainAutoencoder} from './train.js'
import type {FeatureVectors, TrainOptions, TrainResult} from './train.js'

/** One attack: the addresses that attack or are attacked, and when (µs since the epoch, inclusive). */
export interface AttackSpan {
  name: string
  /** attacking and attacked addresses, text form as stored */
  addresses: readonly string[]
  startUs: number
  endUs: number
}

/** The key columns of a feature matrix that labels need. */
export type AddressWindows = Pick<FeatureMatrix, 'length' | 'addresses' | 'windowStart' | 'windowSec'>

/** Label of an address-window: an attack's, benign, or left out of the evaluation. */
export const POSITIVE = 1
export const NEGATIVE = 0
export const EXCLUDED = -1

/**
 * Whether a window `[start, start + window)` overlaps an attack span. Flows are attributed to windows
 * by their start, so a window that begins after the attack's last flow start sees none of it; one that
 * ends at or before the first does not either.
 */
export function windowOverlaps(windowStartUs: number, windowUs: number, attack: Pick<AttackSpan, 'startUs' | 'endUs'>): boolean {
  return windowStartUs <= attack.endUs && windowStartUs + windowUs > attack.startUs
}

/**
 * Labels every address-window: positive when its address is one of an attack's addresses and the
 * window overlaps that attack; excluded when its address is in `exclude` during an attack (e.g. a
 * spoofed source or one of hundreds of horizontal-scan targets that the truth does not list, neither
 * attack nor clean benign); negative otherwise.
 */
export function labelAddressWindows(
  rows: AddressWindows,
  attacks: readonly AttackSpan[],
  options: {exclude?: readonly AttackSpan[]} = {},
): Int8Array {
  const windowUs = rows.windowSec * 1e6
  const index = (spans: readonly AttackSpan[]): Map<string, AttackSpan[]> => {
    const m = new Map<string, AttackSpan[]>()
    for (const a of spans) for (const addr of a.addresses) m.set(addr, [...(m.get(addr) ?? []), a])
    return m
  }
  const positive = index(attacks)
  const excluded = index(options.exclude ?? [])
  const labels = new Int8Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const addr = rows.addresses[i] as string
    const ws = rows.windowStart[i] as number
    if (positive.get(addr)?.some((a) => windowOverlaps(ws, windowUs, a))) labels[i] = POSITIVE
    else if (excluded.get(addr)?.some((a) => windowOverlaps(ws, windowUs, a))) labels[i] = EXCLUDED
    else labels[i] = NEGATIVE
  }
  return labels
}

/**
 * Area under the ROC curve of `scores` for `labels` (1 positive, 0 negative, anything else ignored):
 * the probability that a random positive scores above a random negative, ties counting one half
 * (Mann–Whitney U with mid-ranks). NaN when either class is empty.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (scores.length !== labels.length) throw new UsageError(`${scores.length} scores for ${labels.length} labels`)
  const idx: number[] = []
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === POSITIVE || labels[i] === NEGATIVE) {
      if (Number.isNaN(scores[i] as number)) throw new InputDataError(`score ${i} is NaN`)
      idx.push(i)
    }
  }
  idx.sort((a, b) => (scores[a] as number) - (scores[b] as number))
  let positives = 0
  let rankSum = 0
  for (let lo = 0; lo < idx.length; ) {
    let hi = lo
    while (hi + 1 < idx.length && scores[idx[hi + 1] as number] === scores[idx[lo] as number]) hi++
    const midRank = (lo + hi) / 2 + 1
    for (let k = lo; k <= hi; k++) {
      if (labels[idx[k] as number] === POSITIVE) {
        positives++
        rankSum += midRank
      }
    }
    lo = hi + 1
  }
  const negatives = idx.length - positives
  if (positives === 0 || negatives === 0) return Number.NaN
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives)
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = c[0] as number
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** P(X ≥ k) for X ~ Binomial(n, p); n and k may be fractional (effective sizes), k rounded up. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  const kk = Math.ceil(k)
  const nn = Math.round(n)
  if (kk <= 0) return 1
  if (kk > nn) return 0
  if (p <= 0) return 0
  if (p >= 1) return 1
  let sum = 0
  const lp = Math.log(p)
  const lq = Math.log1p(-p)
  for (let j = kk; j <= nn; j++) {
    const term = Math.exp(logChoose(nn, j) + j * lp + (nn - j) * lq)
    sum += term
    if (term < sum * 1e-17 && j > nn * p) break
  }
  return Math.min(1, sum)
}

export interface FalsePositiveCheck {
  /** flagged benign address-windows, and benign address-windows */
  flagged: number
  windows: number
  rate: number
  budget: number
  /**
   * variance inflation of the count: sliding windows overlap, so one odd burst of an address is
   * flagged in several consecutive windows and the flags are not independent trials
   */
  designEffect: number
  /** one-sided p-value of the count under "the true rate is the budget", on effective sizes */
  pValue: number
  /** most flagged windows that still pass at `alpha` */
  maxFlagged: number
  alpha: number
  /** the count is consistent with a true false-positive rate at most the budget */
  ok: boolean
}

/**
 * Whether `flagged` of `windows` benign address-windows is consistent with a false-positive rate of at
 * most `budget`: a one-sided exact binomial test at level `alpha`, on the effective sample size
 * `windows / designEffect` and count `flagged / designEffect`. The threshold itself is a quantile of a
 * finite calibration sample, so even a perfectly calibrated model flags more than the budget on about
 * half of all test sets; the test fails only when the excess is too large to be that noise.
 */
export function falsePositiveCheck(
  flagged: number,
  windows: number,
  budget: number,
  options: {designEffect?: number; alpha?: number} = {},
): FalsePositiveCheck {
  const designEffect = Math.max(1, options.designEffect ?? 1)
  const alpha = options.alpha ?? 0.05
  const n = windows / designEffect
  const pValue = binomialUpperTail(flagged / designEffect, n, budget)
  let k = Math.ceil(n * budget)
  while (binomialUpperTail(k + 1, n, budget) >= alpha) k++
  const maxFlagged = Math.floor(k * designEffect)
  return {flagged, windows, rate: windows === 0 ? 0 : flagged / windows, budget, designEffect, pValue, maxFlagged, alpha, ok: pValue >= alpha}
}

/**
 * Mean length of the runs of flagged windows (consecutive hops of one address): the design effect of
 * the false-positive count, measured instead of assumed. 1 when nothing is flagged.
 */
export function meanFlaggedRun(rows: Pick<FeatureMatrix, 'length' | 'addresses' | 'windowStart' | 'hopSec'>, flagged: ArrayLike<number>, include?: ArrayLike<boolean>): number {
  const hopUs = rows.hopSec * 1e6
  let runs = 0
  let windows = 0
  let prevAddr: string | undefined
  let prevStart = -Infinity
  for (let i = 0; i < rows.length; i++) {
    if (flagged[i] !== 1 || (include && !include[i])) continue
    const addr = rows.addresses[i]
    const ws = rows.windowStart[i] as number
    if (addr !== prevAddr || ws - prevStart > hopUs * 1.5) runs++
    windows++
    prevAddr = addr
    prevStart = ws
  }
  return runs === 0 ? 1 : windows / runs
}

/** The rows of a feature matrix for which `keep(i)` holds, as a new matrix. */
export function selectRows(m: FeatureMatrix, keep: (i: number) => boolean): FeatureMatrix {
  const picked: number[] = []
  for (let i = 0; i < m.length; i++) if (keep(i)) picked.push(i)
  const F = m.featureCount
  const values = new Float32Array(picked.length * F)
  picked.forEach((r, j) => values.set(m.values.subarray(r * F, (r + 1) * F), j * F))
  return {
    ...m,
    length: picked.length,
    networks: picked.map((r) => m.networks[r] as string),
    addresses: picked.map((r) => m.addresses[r] as string),
    windowStart: Float64Array.from(picked, (r) => m.windowStart[r] as number),
    topDstPort: Int32Array.from(picked, (r) => m.topDstPort[r] as number),
    topInPort: Int32Array.from(picked, (r) => m.topInPort[r] as number),
    udpInFraction: Float32Array.from(picked, (r) => m.udpInFraction[r] as number),
    values,
  }
}

/** Feature vectors concatenated (e.g. the benign windows of several sampled replicas). */
export function concatVectors(parts: readonly FeatureVectors[]): FeatureVectors & {values: Float32Array} {
  const F = parts[0]?.featureCount ?? 0
  if (parts.some((p) => p.featureCount !== F)) throw new UsageError('feature vectors of different widths')
  const length = parts.reduce((a, p) => a + p.length, 0)
  const values = new Float32Array(length * F)
  let at = 0
  for (const p of parts) {
    for (let i = 0; i < p.length * F; i++) values[at + i] = p.values[i] as number
    at += p.length * F
  }
  return {values, length, featureCount: F}
}

/**
 * Interleaved time blocks for an honest split of one capture: block k of `blockSec` from `originUs`
 * gets role `roles[k mod roles.length]`, and a window belongs to its block only when it lies wholly
 * inside it (windows across a boundary share flows with two roles and are left out: `null`).
 * Interleaving, rather than one cut, matters when the capture's parts differ (a concatenation of
 * unrelated captures in file-name order).
 */
export function blockRole<R extends string>(windowStartUs: number, windowUs: number, o: {originUs: number; blockSec: number; roles: readonly R[]}): R | null {
  const blockUs = o.blockSec * 1e6
  const k = Math.floor((windowStartUs - o.originUs) / blockUs)
  if (k < 0 || windowStartUs + windowUs > o.originUs + (k + 1) * blockUs) return null
  return o.roles[k % o.roles.length] ?? null
}

/** First and last flow start of a network (µs), or null when it has no flows. */
export async function networkSpan(store: FlowStore, network: string): Promise<{startUs: number; endUs: number; addresses: string[]} | null> {
  const rows = await store.all<{a: bigint | null; b: bigint | null}>(
    'SELECT epoch_us(min(ts_start)) AS a, epoch_us(max(ts_start)) AS b FROM flows WHERE network = $1',
    [network],
  )
  const a = rows[0]?.a
  const b = rows[0]?.b
  if (a === null || a === undefined || b === null || b === undefined) return null
  const addrs = await store.all<{ip: string}>(
    'SELECT src_ip AS ip FROM flows WHERE network = $1 UNION SELECT dst_ip FROM flows WHERE network = $1 ORDER BY 1',
    [network],
  )
  return {startUs: Number(a), endUs: Number(b), addresses: addrs.map((r) => r.ip)}
}

/**
 * Copies a network's flow records into another network with their timestamps moved by `shiftUs`:
 * an attack capture ingested on its own lands inside a background capture's time span. Returns the
 * number of records copied.
 */
export async function copyShiftedFlows(store: FlowStore, o: {from: string; to: string; shiftUs: number}): Promise<number> {
  if (o.from === o.to) throw new UsageError('copy a network into another one')
  if (!Number.isSafeInteger(Math.round(o.shiftUs))) throw new UsageError(`shift ${o.shiftUs} µs is not a safe integer`)
  const before = await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows WHERE network = $1', [o.to])
  await store.run(
    `INSERT INTO flows
       SELECT $2 AS network, exporter, ts_start + to_microseconds($3::BIGINT), ts_end + to_microseconds($3::BIGINT),
              src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family,
              src_addr, dst_addr, src_as, dst_as
       FROM flows WHERE network = $1`,
    [o.from, o.to, Math.round(o.shiftUs)],
  )
  const after = await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows WHERE network = $1', [o.to])
  return Number(after[0]?.n ?? 0n) - Number(before[0]?.n ?? 0n)
}

/**
 * Appends flow batches (e.g. a sampled capture's records) to `network`, timestamps moved by `shiftUs`,
 * under a new source row named `label`. The batches are not modified.
 */
export async function appendShiftedBatches(
  store: FlowStore,
  batches: readonly FlowBatch[],
  o: {network: string; shiftUs?: number; label: string},
): Promise<number> {
  const shift = o.shiftUs ?? 0
  return store.transaction(async () => {
    const id = await nextSourceId(store)
    const moved = batches.map((b): FlowBatch => ({...b, tsStart: b.tsStart.map((t) => t + shift), tsEnd: b.tsEnd.map((t) => t + shift)}))
    const {flows: records, bytes, first, last} = await appendFlowBatches(store, moved, o.network, id)
    const rate = batches.find((b) => b.length > 0)?.samplingRate[0] ?? 1
    await insertSource(store, {
      sourceId: id,
      path: o.label,
      sha256: `evaluation|${o.network}|${o.label}|${id}`,
      format: 'evaluation',
      network: o.network,
      flows: records,
      bytes,
      tsFirstUs: Number.isFinite(first) ? Math.floor(first) : null,
      tsLastUs: Number.isFinite(last) ? Math.floor(last) : null,
      samplingRate: rate,
      ingestedAtUs: Date.now() * 1000,
      content: 'packets',
    })
    return records
  })
}

/** The attacks of a generator truth file (`flowscope gen` → `*.truth.json`), as spans of their listed addresses. */
export function attacksFromTruth(truth: {attacks?: readonly {kind: string; src: readonly string[]; dst: readonly string[]; startUs: number; endUs: number}[]}): AttackSpan[] {
  if (!Array.isArray(truth.attacks)) throw new InputDataError('the truth file has no attacks list')
  return truth.attacks.map((a) => ({name: a.kind, addresses: [...a.src, ...a.dst], startUs: a.startUs, endUs: a.endUs}))
}

/**
 * Every address of the attack flows of a generator flow list (`gen --truth-flows` → `*.flows.csv`,
 * column `kind`), per attack kind and span: the spoofed sources, reflectors and scan targets the truth
 * JSON only counts. Used to leave them out of the benign windows rather than call them benign.
 */
export function attackAddressesFromFlowsCsv(csv: string, attacks: readonly AttackSpan[]): AttackSpan[] {
  const lines = csv.split('\n')
  const header = (lines[0] ?? '').split(',')
  const col = (name: string): number => {
    const i = header.indexOf(name)
    if (i < 0) throw new InputDataError(`the flow list has no ${name} column`)
    return i
  }
  const [src, dst, kind, ts] = [col('src_ip'), col('dst_ip'), col('kind'), col('ts_start_us')]
  const byKind = new Map<string, Set<string>>()
  for (let l = 1; l < lines.length; l++) {
    const line = lines[l]
    if (!line) continue
    const f = line.split(',')
    const k = f[kind] as string
    if (!attacks.some((a) => a.name === k)) continue
    const t = Number(f[ts])
    const span = attacks.find((a) => a.name === k && t >= a.startUs && t <= a.endUs)
    if (!span) continue
    const set = byKind.get(span.name) ?? new Set<string>()
    set.add(f[src] as string)
    set.add(f[dst] as string)
    byKind.set(span.name, set)
  }
  return attacks.map((a) => ({...a, addresses: [...(byKind.get(a.name) ?? [])]}))
}

/** What a detection run made of one attack address. */
export interface AddressOutcome {
  attack: string
  address: string
  /** its windows overlapping the attack, and how many were flagged */
  windows: number
  flagged: number
  maxScore: number
  /** attack-type guesses of its flagged windows, most frequent first */
  types: string[]
}

/** Per attack and address: was it flagged in a window overlapping the attack, and as what. */
export function attackOutcomes(
  rows: AddressWindows,
  scores: {scores: ArrayLike<number>; flagged: ArrayLike<number>},
  attacks: readonly AttackSpan[],
  typeOf: (i: number) => string | undefined,
): AddressOutcome[] {
  const windowUs = rows.windowSec * 1e6
  const byAddress = new Map<string, number[]>()
  for (let i = 0; i < rows.length; i++) {
    const a = rows.addresses[i] as string
    const list = byAddress.get(a)
    if (list) list.push(i)
    else byAddress.set(a, [i])
  }
  const out: AddressOutcome[] = []
  for (const attack of attacks) {
    for (const address of attack.addresses) {
      const idx = (byAddress.get(address) ?? []).filter((i) => windowOverlaps(rows.windowStart[i] as number, windowUs, attack))
      const counts = new Map<string, number>()
      let flagged = 0
      let maxScore = 0
      for (const i of idx) {
        maxScore = Math.max(maxScore, scores.scores[i] as number)
        if (scores.flagged[i] !== 1) continue
        flagged++
        const t = typeOf(i) ?? 'unknown'
        counts.set(t, (counts.get(t) ?? 0) + 1)
      }
      const types = [...counts.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([t]) => t)
      out.push({attack: attack.name, address, windows: idx.length, flagged, maxScore, types})
    }
  }
  return out
}

/** An attack to merge: the flows to copy, and the network whose flows say who and when (default the same). */
export interface AttackSource {
  name: string
  network: string
  /**
   * where the attack's addresses and span are read from: the full capture when `network` holds a
   * sampled copy (a sampled attack may have lost an address, which still counts as missed)
   */
  truthNetwork?: string
}

/**
 * Builds network `into` from the background's flows and every attack's flows, attack k moved to
 * start `offsetsSec[k]` after the background's first flow (default `firstOffsetSec + k · spacingSec`),
 * and returns the attacks' spans in the merged time line. With the default placement the attacks come
 * one after another and none shares a window with another (checked: spacing > attack length + window).
 */
export async function mergeAttacks(
  store: FlowStore,
  o: {
    background: string
    into: string
    attacks: readonly AttackSource[]
    firstOffsetSec?: number
    spacingSec?: number
    offsetsSec?: readonly number[]
    windowSec?: number
  },
): Promise<AttackSpan[]> {
  const bg = await networkSpan(store, o.background)
  if (!bg) throw new InputDataError(`network ${o.background} has no flows`)
  if (o.offsetsSec === undefined && (o.firstOffsetSec === undefined || o.spacingSec === undefined)) {
    throw new UsageError('place the attacks with offsetsSec, or with firstOffsetSec and spacingSec')
  }
  if (o.offsetsSec !== undefined && o.offsetsSec.length < o.attacks.length) throw new UsageError(`${o.offsetsSec.length} offsets for ${o.attacks.length} attacks`)
  await copyShiftedFlows(store, {from: o.background, to: o.into, shiftUs: 0})
  const windowUs = (o.windowSec ?? 300) * 1e6
  const spans: AttackSpan[] = []
  for (const [k, a] of o.attacks.entries()) {
    const truth = await networkSpan(store, a.truthNetwork ?? a.network)
    if (!truth) throw new InputDataError(`network ${a.truthNetwork ?? a.network} has no flows`)
    const offsetSec = o.offsetsSec?.[k] ?? (o.firstOffsetSec as number) + k * (o.spacingSec as number)
    const at = bg.startUs + offsetSec * 1e6
    const shiftUs = at - truth.startUs
    if (o.offsetsSec === undefined && truth.endUs - truth.startUs + windowUs > (o.spacingSec as number) * 1e6) {
      throw new UsageError(`attack ${a.name} lasts ${((truth.endUs - truth.startUs) / 1e6).toFixed(0)} s: space the attacks further apart than ${o.spacingSec} s`)
    }
    if (truth.endUs + shiftUs > bg.endUs) throw new UsageError(`attack ${a.name} would end after the background; use fewer attacks or a smaller spacing`)
    await copyShiftedFlows(store, {from: a.network, to: o.into, shiftUs})
    spans.push({name: a.name, addresses: truth.addresses, startUs: truth.startUs + shiftUs, endUs: truth.endUs + shiftUs})
  }
  return spans
}

export interface DetectionSummary {
  /** per attack and address */
  outcomes: AddressOutcome[]
  /** attack addresses flagged in at least one window overlapping their attack, of all attack addresses */
  recall: {flagged: number; addresses: number}
  /** benign address-windows (every window not labelled positive) */
  falsePositives: FalsePositiveCheck
}

/**
 * Recall per attack address and the false-positive check of a first pass over a merged network. A
 * window counts as flagged when the model flagged it or it is a `related` detection (beacon
 * pivoting), for recall and for the false-positive count alike. The design effect of the check is the
 * measured mean run of consecutive flagged benign windows.
 */
export function summariseDetections(
  result: Pick<FirstPassResult, 'features' | 'scores' | 'detections'> & {related?: FirstPassResult['related']},
  attacks: readonly AttackSpan[],
  o: {fpBudget: number; alpha?: number},
): DetectionSummary {
  const f = result.features
  const types = new Map<string, string>()
  for (const d of result.detections) types.set(`${d.address}|${d.windowStart}`, d.attackType)
  const related = result.related ?? []
  for (const d of related) types.set(`${d.address}|${d.windowStart}`, d.attackType)
  const flagged = Uint8Array.from(result.scores.flagged)
  if (related.length > 0) {
    const keys = new Set(related.map((d) => `${d.address}|${d.windowStart}`))
    for (let i = 0; i < f.length; i++) if (keys.has(`${f.addresses[i]}|${f.windowStart[i]}`)) flagged[i] = 1
  }
  const outcomes = attackOutcomes(f, {scores: result.scores.scores, flagged}, attacks, (i) => types.get(`${f.addresses[i]}|${f.windowStart[i]}`))
  const labels = labelAddressWindows(f, attacks)
  const benign = Array.from(labels, (l) => l === NEGATIVE)
  let windows = 0
  let flaggedBenign = 0
  for (let i = 0; i < f.length; i++) {
    if (!benign[i]) continue
    windows++
    if (flagged[i] === 1) flaggedBenign++
  }
  const designEffect = meanFlaggedRun(f, flagged, benign)
  return {
    outcomes,
    recall: {flagged: outcomes.filter((x) => x.flagged > 0).length, addresses: outcomes.length},
    falsePositives: falsePositiveCheck(flaggedBenign, windows, o.fpBudget, {designEffect, ...(o.alpha === undefined ? {} : {alpha: o.alpha})}),
  }
}

/** Share of `reference` scores at or above `score`: the smallest false-positive budget that would flag it. */
export function exceedanceShare(score: number, reference: ArrayLike<number>): number {
  let above = 0
  for (let i = 0; i < reference.length; i++) if ((reference[i] as number) >= score) above++
  return reference.length === 0 ? Number.NaN : above / reference.length
}

/**
 * Trains an autoencoder and exports it, or reuses the file a previous call made from the same vectors,
 * options and `salt` (e.g. a hash of the trainer's source): training is deterministic, so the cached
 * model is the one this call would make. Returns the model file and, when it trained, the result.
 */
export async function trainModelCached(
  data: FeatureVectors,
  options: Omit<TrainOptions, 'onEpoch'>,
  o: {cacheDir: string; salt?: string; exportInfo?: ExportInfo},
): Promise<{path: string; cached: boolean; result: TrainResult | null}> {
  const h = createHash('sha256')
  h.update(JSON.stringify({v: FEATURE_SET_VERSION, salt: o.salt ?? '', options, info: o.exportInfo ?? {}, rows: data.length, width: data.featureCount}))
  const values = data.values instanceof Float32Array ? data.values : Float32Array.from(data.values)
  h.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
  const file = path.join(o.cacheDir, `model-${h.digest('hex').slice(0, 24)}.onnx`)
  if (existsSync(file)) return {path: file, cached: true, result: null}
  await mkdir(o.cacheDir, {recursive: true})
  const result = trainAutoencoder(data, options)
  await exportOnnx(result.model, file, o.exportInfo ?? {})
  return {path: file, cached: false, result}
}

/** An attack's incidents: those overlapping its span whose entity, or a folded counterpart, is one of its addresses. */
export interface AttackIncidents {
  attack: string
  incidents: {incidentId: string; entity: string; role: string | null; type: string; confidence: string | null; folded: number}[]
}

export interface IncidentSummary {
  attacks: AttackIncidents[]
  /** incidents that belong to no attack */
  falsePositives: {incidentId: string; entity: string; role: string | null; type: string; severity: number}[]
  total: number
}

/**
 * Writes a first pass's detections and builds their incidents with the rules (as `analyze` does), in
 * one transaction; then matches the network's incidents to the attacks. An incident belongs to an
 * attack when its span overlaps the attack's and its entity or one of its folded counterparts is an
 * address of the attack.
 */
export async function summariseIncidents(
  store: FlowStore,
  network: string,
  result: Pick<FirstPassResult, 'detections' | 'related'>,
  attacks: readonly AttackSpan[],
  o: {idleUs?: number} = {},
): Promise<IncidentSummary> {
  const detections = [...result.detections, ...result.related]
  await store.transaction(async () => {
    await writeDetections(store, detections)
    await writeIncidents(store, detections, {decide: decideIncidents, ...(o.idleUs === undefined ? {} : {idleUs: o.idleUs})})
  })
  const rows = await store.all<{
    incident_id: string
    entity: string
    role: string | null
    attack_type: string
    confidence: string | null
    severity: number
    first_us: bigint
    last_us: bigint
    folded: string | null
  }>(
    `SELECT incident_id, entity, role, attack_type, confidence, severity, epoch_us(first_seen) AS first_us, epoch_us(last_seen) AS last_us,
            CAST(counterparts->'$.folded' AS VARCHAR) AS folded
       FROM incidents WHERE network = $1 ORDER BY first_seen, entity`,
    [network],
  )
  const foldedOf = new Map(rows.map((r) => [r.incident_id, r.folded === null ? [] : (JSON.parse(r.folded) as string[])]))
  const claimed = new Set<string>()
  const out: AttackIncidents[] = attacks.map((a) => {
    const addresses = new Set(a.addresses)
    const mine = rows.filter((r) => {
      if (Number(r.first_us) > a.endUs || Number(r.last_us) < a.startUs) return false
      return addresses.has(r.entity) || (foldedOf.get(r.incident_id) ?? []).some((x) => addresses.has(x))
    })
    for (const r of mine) claimed.add(r.incident_id)
    return {
      attack: a.name,
      incidents: mine.map((r) => ({
        incidentId: r.incident_id,
        entity: r.entity,
        role: r.role,
        type: r.attack_type,
        confidence: r.confidence,
        folded: foldedOf.get(r.incident_id)?.length ?? 0,
      })),
    }
  })
  const falsePositives = rows
    .filter((r) => !claimed.has(r.incident_id))
    .map((r) => ({incidentId: r.incident_id, entity: r.entity, role: r.role, type: r.attack_type, severity: r.severity}))
  return {attacks: out, falsePositives, total: rows.length}
}

/** The incident an attack should be: its type, role and entity, over its span, and every address it involves. */
export interface ExpectedIncident {
  attack: string
  type: string
  role: string
  entity: string
  startUs: number
  endUs: number
  /** every address of the attack (spoofed sources, reflectors, targets…): an incident on any of them in the span is the attack's */
  addresses: readonly string[]
}

/** An incident as stored, with its span (µs) and the addresses folded into it. */
export interface FoundIncident {
  incidentId: string
  entity: string
  role: string | null
  type: string
  firstUs: number
  lastUs: number
  folded: readonly string[]
}

export interface IncidentScore {
  /** per attack: its incidents (overlapping its span, entity or a folded address its own) and whether they are exactly the expected one */
  attacks: {attack: string; incidents: FoundIncident[]; right: boolean}[]
  /** incidents equal to an overlapping attack's expected incident (type, role, entity) */
  correct: number
  total: number
  /** correct / total, null without incidents */
  precision: number | null
  /** attacks found right / attacks, null without attacks */
  recall: number | null
}

/**
 * Incident precision and recall against a truth: an attack is found right when its incidents are
 * exactly one, of its type and role, on its entity; an incident is correct when it is the expected
 * incident of an attack whose span it overlaps (whether or not that attack has other incidents too).
 * Other incidents are an attack's when they overlap its span and their entity or a folded address is
 * one of its addresses; a correct incident is only its own attack's.
 */
export function scoreIncidents(expected: readonly ExpectedIncident[], found: readonly FoundIncident[]): IncidentScore {
  const overlaps = (i: FoundIncident, e: ExpectedIncident): boolean => i.firstUs <= e.endUs && i.lastUs >= e.startUs
  const isExpected = (i: FoundIncident, e: ExpectedIncident): boolean => overlaps(i, e) && i.type === e.type && i.role === e.role && i.entity === e.entity
  // an incident that is one attack's expected incident is that attack's alone (a flood's victim can be a scan's target too)
  const owner = new Map(found.map((i) => [i.incidentId, expected.find((e) => isExpected(i, e))]))
  const attacks = expected.map((e) => {
    const addresses = new Set([...e.addresses, e.entity])
    const incidents = found.filter((i) => {
      const o = owner.get(i.incidentId)
      if (o !== undefined) return o === e
      return overlaps(i, e) && (addresses.has(i.entity) || i.folded.some((a) => addresses.has(a)))
    })
    return {attack: e.attack, incidents, right: incidents.length === 1 && isExpected(incidents[0] as FoundIncident, e)}
  })
  const correct = found.filter((i) => owner.get(i.incidentId) !== undefined).length
  const right = attacks.filter((a) => a.right).length
  return {
    attacks,
    correct,
    total: found.length,
    precision: found.length === 0 ? null : correct / found.length,
    recall: expected.length === 0 ? null : right / expected.length,
  }
}
