/**
 * The shared work of one bucket, computed once (design §5), in a worker process:
 *
 * 1. one query loads the bucket's flows — every flow with an end in the bucket, all windows of the
 *    run's range, both directions — from the run's export into the worker's in-memory DuckDB;
 * 2. per long-window scale, over that small table: the 22 features of every bucket address and window,
 *    the periodicity and fan-out evidence, and a fingerprint of each window's flows;
 * 3. the bucket's profile per window (median/MAD of the context features over its active addresses),
 *    and every address's deviation from it;
 * 4. one batched ONNX call for every unit of every scale;
 * 5. evidence, post score, and an explanation for each unit above the threshold.
 *
 * Windows whose fingerprint matches shared work the controller already holds (its inference map) are
 * not recomputed. The naive path (`address` set) does the same work for one address: it still needs
 * the whole bucket for the context, but scores only that address's units, in its own model call.
 */
import {duckdb, LOGIN_SERVICES} from '../core/index.js'

import {InputDataError} from '../core/index.js'
import {FEATURE_COUNT, computeFeatures, featureRow, guessAttackType, runSqErrors} from '../infer/index.js'
import type {AttackType, FeatureContribution, FeatureMatrix, LoadedModel} from '../infer/index.js'
import type {FlowStore} from '../io/index.js'
import type {PostCalibration, RawUnitArrays, ScaleCalibration} from './post-calibration.js'
import type {PostScale} from './post-features.js'
import {
  CONTEXT_COUNT,
  CONTEXT_FEATURE_NAMES,
  EV_CONTEXT,
  EV_FAN,
  EV_MODEL,
  EV_PERIODIC,
  EVIDENCE_COUNT,
  EVIDENCE_NAMES,
  contextDeviation,
  contextProfile,
  fanEvidence,
  modelScore,
  portFanSql,
  postScore,
  rescaleToModelWindow,
  scaleWindows,
  slowEvidenceSql,
  windowFingerprintSql,
} from './post-features.js'

/** Login services: a periodic series of requests to one of these is brute force, not a beacon. */
/** The run's flows as handed to workers: a Parquet file or a DuckDB file with a table `ends`. */
export interface RunHandoff {
  path: string
  format: 'parquet' | 'duckdb'
}

/** What every job of a run shares: set once per worker. */
export interface WorkSetup {
  handoff: RunHandoff
  modelPath: string
  modelId: string
  /** the model's window, to bring long-window volumes to its scale */
  modelWindowSec: number
  scales: PostScale[]
  /** the run's range of 5-minute window starts, µs; long windows overlapping it are analysed */
  since?: number
  until?: number
  /** null: calibration mode, jobs return raw units instead of scores */
  calibration: PostCalibration | null
}

/** A group-window whose shared work the controller already holds, with the fingerprint it was computed on. */
export interface CachedWindow {
  group: string
  scale: string
  windowStart: number
  fingerprint: string
}

export interface JobGroup {
  key: string
  addresses: string[]
}

export interface BucketJob {
  bucketId: number
  key: string
  network: string
  /** the groups to analyse (the naive path: only the address's group) */
  groups: JobGroup[]
  /** naive path: score only this address */
  address?: string
  cached: CachedWindow[]
}

export interface PostFinding {
  address: string
  score: number
  threshold: number
  attackType: AttackType
  topFeatures: FeatureContribution[]
}

/** Shared work of one group-window at one scale: the post score of every unit scored in it. */
export interface WindowWork {
  group: string
  scale: string
  windowStart: number
  windowEnd: number
  fingerprint: string
  /** addresses scored in this window (bucket path: every active address of the group; naive: the one) */
  addresses: string[]
  scores: Float64Array
  threshold: number
  /** units above the threshold, explained */
  findings: PostFinding[]
  /** active addresses of the group in the window (the profile's size) */
  active: number
}

/** Raw units of one scale (calibration mode): indices of `groups` are local to the job. */
export interface RawJobUnits extends RawUnitArrays {
  scale: string
  addresses: string[]
}

export interface JobOutput {
  /** every group-window of the job with flows, per scale, and its fingerprint */
  fingerprints: CachedWindow[]
  /** shared work of the group-windows that were not cached */
  windows: WindowWork[]
  raw: RawJobUnits[]
  flows: number
  /** units sent to the model */
  modelRows: number
  seconds: {load: number; features: number; model: number; score: number}
}

/** Loads the bucket's flows into the worker's `flows` table: the one query per bucket (or address). */
export async function loadBucketFlows(store: FlowStore, exp: RunHandoff, bucketId: number): Promise<number> {
  if (!Number.isInteger(bucketId) || bucketId < 0) throw new InputDataError(`bad bucket id ${bucketId}`)
  const source = exp.format === 'parquet' ? `read_parquet('${exp.path.replaceAll("'", "''")}')` : 'run_export.ends'
  await store.run('DELETE FROM flows')
  await store.run(`INSERT INTO flows
    SELECT network, NULL, ts_start, ts_start, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes,
           sampling_rate, 0, family, 0, 0, NULL, NULL
    FROM ${source} WHERE bucket = ${bucketId}`)
  const [row] = await store.all<{n: bigint | number}>('SELECT count(*) AS n FROM flows')
  return Number(row?.n ?? 0)
}

async function writeJobGroups(store: FlowStore, groups: readonly JobGroup[]): Promise<void> {
  await store.run('CREATE OR REPLACE TEMP TABLE job_groups (address VARCHAR, g INTEGER)')
  const a = await store.connection.createAppender('job_groups', null, 'temp')
  try {
    groups.forEach((g, i) => {
      for (const address of g.addresses) {
        a.appendVarchar(address)
        a.appendInteger(i)
        a.endRow()
      }
    })
  } finally {
    a.closeSync()
  }
}

interface ScaleRows {
  scale: PostScale
  /** long window / model window: the volume rescaling factor */
  ratio: number
  cal: ScaleCalibration | null
  features: FeatureMatrix
  periodic: Float64Array
  periodicPort: Int32Array
  /** distinct peers per service port of each row's outbound requests */
  fanPorts: {svc: number; k: number}[][]
  context: Float64Array
  /** 'g|windowStart' → rows of that group-window (only those to produce) */
  units: Map<string, {g: number; windowStart: number; rows: number[]}>
  fingerprints: Map<string, string>
  /** rows sent to the model, and where their squared errors start in the batch */
  scored: number[]
  batchOffset: number
}

/** Runs one job over the worker's store (see the module comment). */
export async function runBucketJob(store: FlowStore, model: LoadedModel, setup: WorkSetup, job: BucketJob): Promise<JobOutput> {
  const t0 = performance.now()
  const flows = await loadBucketFlows(store, setup.handoff, job.bucketId)
  await writeJobGroups(store, job.groups)
  const t1 = performance.now()
  const addresses = job.groups.flatMap((g) => g.addresses)
  const groupOf = new Map<string, number>()
  job.groups.forEach((g, i) => {
    for (const a of g.addresses) groupOf.set(a, i)
  })
  const cached = new Map(job.cached.map((c) => [`${c.group}|${c.scale}|${c.windowStart}`, c.fingerprint]))
  const fingerprints: CachedWindow[] = []
  const perScale: ScaleRows[] = []
  let batchRows = 0
  for (const scale of setup.scales) {
    const cal = setup.calibration?.scales.find((s) => s.name === scale.name) ?? null
    const sw = scaleWindows(scale, setup.since, setup.until)
    const fps = new Map<string, string>()
    const missedUnits = new Set<string>()
    for (const r of await store.all<{g: number; wstart: bigint | number; n: bigint | number; b: number; t: number; h: number}>(windowFingerprintSql(sw))) {
      const w = Number(r.wstart)
      const fp = `${Number(r.n)}:${r.b}:${r.t}:${r.h}`
      const group = job.groups[r.g]!.key
      fps.set(`${r.g}|${w}`, fp)
      fingerprints.push({group, scale: scale.name, windowStart: w, fingerprint: fp})
      if (cached.get(`${group}|${scale.name}|${w}`) !== fp) missedUnits.add(`${r.g}|${w}`)
    }
    if (missedUnits.size === 0) continue
    const missedWindows = [...new Set([...missedUnits].map((u) => Number(u.slice(u.indexOf('|') + 1))))].sort((a, b) => a - b)
    const since = missedWindows[0]!
    const until = missedWindows[missedWindows.length - 1]! + 1
    const features = await computeFeatures(store, {
      since,
      until,
      windowSec: scale.windowSec,
      hopSec: scale.hopSec,
      subBinSec: scale.subBinSec,
      addresses,
    })
    const slow = await readSlowEvidence(store, {...sw, since, until}, addresses)
    const portFan = await readPortFan(store, {...sw, since, until}, addresses)
    const n = features.length
    const periodic = new Float64Array(n)
    const periodicPort = new Int32Array(n).fill(-1)
    const fanPorts: {svc: number; k: number}[][] = new Array(n)
    const context = new Float64Array(n * CONTEXT_COUNT)
    const units = new Map<string, {g: number; windowStart: number; rows: number[]}>()
    const scored: number[] = []
    for (let i = 0; i < n; i++) {
      const w = features.windowStart[i]!
      const address = features.addresses[i]!
      const g = groupOf.get(address)
      if (g === undefined) continue
      const unit = `${g}|${w}`
      if (!missedUnits.has(unit)) continue
      const s = slow.get(`${address}|${w}`)
      if (s !== undefined) {
        periodic[i] = s.periodic
        periodicPort[i] = s.periodicPort
      }
      const ports = portFan.get(`${address}|${w}`) ?? []
      fanPorts[i] = ports
      let maxPeers = 0
      for (const p of ports) if (p.k > maxPeers) maxPeers = p.k
      const row = featureRow(features, i)
      for (let f = 0; f < FEATURE_COUNT; f++) context[i * CONTEXT_COUNT + f] = row[f] as number
      context[i * CONTEXT_COUNT + FEATURE_COUNT] = periodic[i]!
      context[i * CONTEXT_COUNT + FEATURE_COUNT + 1] = Math.log1p(maxPeers)
      let u = units.get(unit)
      if (u === undefined) units.set(unit, (u = {g, windowStart: w, rows: []}))
      u.rows.push(i)
      if (job.address === undefined || address === job.address) scored.push(i)
    }
    perScale.push({scale, ratio: scale.windowSec / setup.modelWindowSec, cal, features, periodic, periodicPort, fanPorts, context, units, fingerprints: fps, scored, batchOffset: batchRows})
    batchRows += scored.length
  }
  const t2 = performance.now()

  // one batched model call for every unit of every scale
  const batch = new Float32Array(batchRows * FEATURE_COUNT)
  for (const s of perScale) {
    s.scored.forEach((i, k) => batch.set(featureRow(s.features, i), (s.batchOffset + k) * FEATURE_COUNT))
    rescaleToModelWindow(batch.subarray(s.batchOffset * FEATURE_COUNT, (s.batchOffset + s.scored.length) * FEATURE_COUNT), s.scored.length, s.ratio)
  }
  const sqErrors = batchRows > 0 ? await runSqErrors(model, {values: batch, length: batchRows, featureCount: FEATURE_COUNT}, batchRows) : new Float32Array(0)
  const t3 = performance.now()

  const windows: WindowWork[] = []
  const raw: RawJobUnits[] = []
  for (const s of perScale) {
    if (s.cal === null) raw.push(rawUnits(s, sqErrors))
    else windows.push(...scoreScale(s, s.cal, sqErrors, job))
  }
  const t4 = performance.now()
  return {
    fingerprints,
    windows,
    raw,
    flows,
    modelRows: batchRows,
    seconds: {load: (t1 - t0) / 1000, features: (t2 - t1) / 1000, model: (t3 - t2) / 1000, score: (t4 - t3) / 1000},
  }
}

interface SlowRow {
  periodic: number
  periodicPort: number
}

async function readSlowEvidence(store: FlowStore, sw: ReturnType<typeof scaleWindows>, addresses: readonly string[]): Promise<Map<string, SlowRow>> {
  const q = slowEvidenceSql(sw)
  const reader = await store.connection.runAndReadAll(q.sql, {...q.params, addresses: duckdb().listValue([...addresses])} as never)
  const out = new Map<string, SlowRow>()
  for (const r of reader.getRowObjectsJS() as {address: string; wstart: bigint | number; periodic: number | null; periodic_port: number | null}[]) {
    out.set(`${r.address}|${Number(r.wstart)}`, {periodic: Number(r.periodic ?? 0), periodicPort: Number(r.periodic_port ?? -1)})
  }
  return out
}

async function readPortFan(store: FlowStore, sw: ReturnType<typeof scaleWindows>, addresses: readonly string[]): Promise<Map<string, {svc: number; k: number}[]>> {
  const q = portFanSql(sw)
  const reader = await store.connection.runAndReadAll(q.sql, {...q.params, addresses: duckdb().listValue([...addresses])} as never)
  const out = new Map<string, {svc: number; k: number}[]>()
  for (const r of reader.getRowObjectsJS() as {address: string; wstart: bigint | number; svc: number; k: number}[]) {
    const key = `${r.address}|${Number(r.wstart)}`
    let list = out.get(key)
    if (list === undefined) out.set(key, (list = []))
    list.push({svc: Number(r.svc), k: Number(r.k)})
  }
  return out
}

function rawUnits(s: ScaleRows, sqErrors: Float32Array): RawJobUnits {
  const index = new Map<number, number>()
  s.scored.forEach((i, k) => index.set(i, k))
  const rows = s.scored.length
  const sq = new Float32Array(rows * FEATURE_COUNT)
  const evidence = new Float64Array(rows * EVIDENCE_COUNT)
  const context = new Float64Array(rows * CONTEXT_COUNT)
  const addresses: string[] = []
  const triples: number[] = []
  s.scored.forEach((i, k) => {
    sq.set(sqErrors.subarray((s.batchOffset + k) * FEATURE_COUNT, (s.batchOffset + k + 1) * FEATURE_COUNT), k * FEATURE_COUNT)
    evidence[k * EVIDENCE_COUNT + EV_PERIODIC] = s.periodic[i]!
    for (const p of s.fanPorts[i] ?? []) triples.push(k, p.svc, p.k)
    context.set(s.context.subarray(i * CONTEXT_COUNT, (i + 1) * CONTEXT_COUNT), k * CONTEXT_COUNT)
    addresses.push(s.features.addresses[i]!)
  })
  const groups = [...s.units.values()].map((u) => u.rows.map((i) => index.get(i)).filter((k): k is number => k !== undefined))
  return {scale: s.scale.name, rows, sqErrors: sq, evidence, context, groups, fanPorts: Int32Array.from(triples), addresses}
}

function scoreScale(s: ScaleRows, cal: ScaleCalibration, sqErrors: Float32Array, job: BucketJob): WindowWork[] {
  const out: WindowWork[] = []
  const windowUs = Math.round(s.scale.windowSec * 1e6)
  const ev = new Float64Array(EVIDENCE_COUNT)
  const surprise = new Float64Array(EVIDENCE_COUNT)
  const zCtx = new Float64Array(CONTEXT_COUNT)
  const batchIndex = new Map<number, number>()
  s.scored.forEach((i, k) => batchIndex.set(i, s.batchOffset + k))
  const units = [...s.units.values()].sort((a, b) => a.g - b.g || a.windowStart - b.windowStart)
  for (const unit of units) {
    const profile = contextProfile(s.context, unit.rows)
    const addresses: string[] = []
    const scores: number[] = []
    const findings: PostFinding[] = []
    for (const i of unit.rows) {
      const b = batchIndex.get(i)
      if (b === undefined) continue
      const address = s.features.addresses[i]!
      ev[EV_MODEL] = modelScore(sqErrors, b * FEATURE_COUNT, cal.normalisation)
      ev[EV_PERIODIC] = s.periodic[i]!
      ev[EV_FAN] = fanEvidence(s.fanPorts[i] ?? [], cal.fan)
      ev[EV_CONTEXT] = contextDeviation(s.context, i, profile, cal.contextFloors, zCtx)
      const score = postScore(ev, 0, cal.evidence, surprise)
      addresses.push(address)
      scores.push(score)
      if (score > cal.threshold) findings.push(explainUnit(s, i, address, score, cal, ev, surprise, zCtx))
    }
    out.push({
      group: job.groups[unit.g]!.key,
      scale: s.scale.name,
      windowStart: unit.windowStart,
      windowEnd: unit.windowStart + windowUs,
      fingerprint: s.fingerprints.get(`${unit.g}|${unit.windowStart}`) ?? '',
      addresses,
      scores: Float64Array.from(scores),
      threshold: cal.threshold,
      findings,
      active: unit.rows.length,
    })
  }
  return out
}

function explainUnit(
  s: ScaleRows,
  i: number,
  address: string,
  score: number,
  cal: ScaleCalibration,
  ev: Float64Array,
  surprise: Float64Array,
  zCtx: Float64Array,
): PostFinding {
  const order = Array.from(surprise, (_, k) => k).sort((a, b) => surprise[b]! - surprise[a]! || a - b)
  const top = order[0]!
  let attackType: AttackType
  if (top === EV_PERIODIC) attackType = LOGIN_SERVICES.has(s.periodicPort[i]!) ? 'brute_force' : 'beaconing'
  else if (top === EV_FAN) attackType = 'scan'
  else {
    const values = Float32Array.from(featureRow(s.features, i))
    rescaleToModelWindow(values, 1, s.ratio)
    attackType = guessAttackType(values, {
      topDstPort: s.features.topDstPort[i] ?? -1,
      topInPort: s.features.topInPort[i] ?? -1,
      udpInFraction: s.features.udpInFraction[i] ?? 0,
    }).attackType
  }
  // the evidence components by surprise (value: the raw evidence), then the feature most unlike the bucket
  const topFeatures: FeatureContribution[] = order
    .filter((k) => surprise[k]! > 0)
    .slice(0, 3)
    .map((k) => ({name: `${EVIDENCE_NAMES[k]}_${cal.name}`, value: ev[k]!, standardisedError: surprise[k]!}))
  let bestCtx = 0
  for (let f = 1; f < CONTEXT_COUNT; f++) if (zCtx[f]! > zCtx[bestCtx]!) bestCtx = f
  if (zCtx[bestCtx]! > 0) {
    topFeatures.push({name: `bucket_z_${CONTEXT_FEATURE_NAMES[bestCtx]}`, value: s.context[i * CONTEXT_COUNT + bestCtx]!, standardisedError: zCtx[bestCtx]!})
  }
  return {address, score, threshold: cal.threshold, attackType, topFeatures}
}
