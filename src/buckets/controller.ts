/**
 * The analyze controller (design §5): the first pass over every (address, window), then the
 * post-processing pass over the addresses it did not flag — planned into buckets, handed to the
 * worker pool through a bounded p-limit queue, merged with the shared work the inference map already
 * holds — detections of both passes written, and one `runs` row with the resources it all took.
 *
 * `calibratePost` fits the post pass's calibration on a benign store through the same plan, export
 * and pool, so the units it fits on are computed exactly like the units it will judge.
 */
import os from 'node:os'
import pLimit from 'p-limit'

import {UsageError} from '../core/index.js'
import type {DetectionRow, LoadedModel} from '../infer/index.js'
import {DEFAULT_MODEL_WINDOW_SEC, FEATURE_COUNT, closeModel, decideIncidents, loadModel, modelId as modelIdOf, runFirstPass} from '../infer/index.js'
import {flowRangeSql, FlowStore, leaveOutBadFlows, nextRunId, planIncidents, recordRun, saveIncidents, writeDetections} from '../io/index.js'
import {parseIp} from '../core/index.js'
import {enrichFlowsWithAsn} from './asn.js'
import type {BucketJob, JobOutput, RawJobUnits, WindowWork, WorkSetup} from './bucket-work.js'
import type {BucketHandoffFormat} from './handoff.js'
import {handOffRunFlows} from './handoff.js'
import {InferenceMap, windowKey} from './inference-map.js'
import type {InferenceMapStats} from './inference-map.js'
import type {Bucket, PlanAddress} from './plan.js'
import {DEFAULT_BUCKET_CAP, DEFAULT_PREFIX_V4, DEFAULT_PREFIX_V6, planBuckets} from './plan.js'
import type {PostCalibration, RawScaleUnits} from './post-calibration.js'
import {fitPostCalibration, postCalibrationPath, readPostCalibration, writePostCalibration} from './post-calibration.js'
import type {PostScale} from './post-features.js'
import {CONTEXT_COUNT, DEFAULT_POST_SCALES, EVIDENCE_COUNT} from './post-features.js'
import {JobError, WorkerDiedError, WorkerPool} from './pool.js'
import type {ProcessUsage} from './worker-messages.js'
import {selfUsage} from './worker-messages.js'

export interface PostRunOptions {
  network?: string
  /** first 5-minute window start of the run, µs since the epoch (inclusive) */
  since?: number
  /** last window start, µs (exclusive) */
  until?: number
  /** model file (ONNX) */
  model: string
  /** worker processes (default: the machine's cores) */
  workers?: number
  prefixV4?: number
  prefixV6?: number
  bucketCap?: number
  /** group public addresses by AS (default true; fills missing flow ASNs first) */
  byAsn?: boolean
  /** how the run's flows reach the workers (default a DuckDB file; see handoff.ts) */
  handoffFormat?: BucketHandoffFormat
  /** compiled worker entry (default: next to this module, or `dist/` when running from sources) */
  workerEntry?: string
  /** extra environment for the workers (test hooks) */
  workerEnv?: Record<string, string>
  /** parent folder of the run's temporary export */
  tmpDir?: string
  /** called after each job: buckets done and total (addresses with `buckets: false`) */
  onProgress?: (done: number, total: number) => void
}

export interface AnalyzeOptions extends PostRunOptions {
  /** bucketed post pass (default true); false: the naive path, one query and one model call per address */
  buckets?: boolean
  /** post calibration (default `<model>.post.json`) */
  postCalibration?: string
  /** run the post pass at all (default true) */
  post?: boolean
  /** shared work kept across runs of this process (default: a fresh map per run) */
  map?: InferenceMap
  /** return every post score of the analysed addresses (for comparisons; large) */
  keepScores?: boolean
  /**
   * post-analyse only these of the unflagged addresses ('address' or 'network|address'): a sample, e.g.
   * to time the naive path on part of a large run. Their scores do not depend on it (their groups'
   * context is computed from every address of the group either way).
   */
  only?: readonly string[]
  now?: () => Date
}

export interface FailedBucket {
  bucket: string
  network: string
  /** addresses of the bucket the post pass could not analyse */
  addresses: string[]
  error: string
  attempts: number
}

export interface PostScoreRow {
  network: string
  address: string
  scale: string
  windowStart: number
  score: number
  threshold: number
}

export interface ResourceFigures {
  wallS: number
  cpuUserS: number
  cpuSystemS: number
  cpuS: number
  /** largest peak RSS of one process */
  peakRssMb: number
  /** sum of every process's peak RSS */
  peakRssTotalMb: number
  addresses: number
  addressesPerS: number
  addressesPerCpuS: number
}

export interface AnalyzeResult {
  runId: number
  status: 'ok' | 'partial' | 'failed'
  model: string
  network: string | null
  since: number | null
  until: number | null
  mode: 'buckets' | 'naive'
  workers: number
  addresses: {
    /** distinct addresses of the run (scored by the first pass) */
    total: number
    flaggedFirst: number
    /** addresses the post pass analysed (not flagged by the first pass), and those it could not */
    analysed: number
    failed: number
  }
  /** `related`: of the first pass's, those reported beside a beacon detection (infer/beacon-pivot.ts), not flagged by the model */
  detections: {first: number; related: number; post: number; postAddresses: number}
  /** incidents the run's detections belong to (src/infer/INCIDENTS.md), of those still open, and the wall time of building them */
  incidents: {total: number; open: number; wallS: number}
  firstDetections: DetectionRow[]
  postDetections: DetectionRow[]
  buckets: {planned: number; analysed: number; jobs: number; retried: number; failed: FailedBucket[]}
  map: InferenceMapStats
  /** the whole run: controller plus workers */
  resources: ResourceFigures
  /** the phases: first pass (controller only) and post pass (controller plus workers) */
  phases: {firstPass: ResourceFigures; post: ResourceFigures & PostSteps}
  processes: ProcessUsage[]
  scales: string[]
  warnings: string[]
  postScores?: PostScoreRow[]
}

/** Runs the first pass and the post pass over a store (see the module comment). */
export async function runAnalyze(storePath: string, options: AnalyzeOptions): Promise<AnalyzeResult> {
  const now = options.now ?? (() => new Date())
  const startedAt = now()
  const wall0 = performance.now()
  const cpu0 = process.cpuUsage()
  const store = await FlowStore.open(storePath, {mustExist: true})
  const warnings: string[] = []
  let model: LoadedModel | undefined
  try {
    await leaveOutBadFlows(store, {onBadFlows: (m) => warnings.push(m)})
    model = await loadModel(options.model)
    warnings.push(...model.warnings)
    const id = await modelIdOf(options.model)
    const wantPost = options.post ?? true
    const calibration = wantPost ? await readPostCalibration(options.postCalibration ?? postCalibrationPath(options.model), id) : null
    const runId = await nextRunId(store)

    const first = await runFirstPass(store, model, {
      ...(options.network === undefined ? {} : {network: options.network}),
      ...(options.since === undefined ? {} : {since: options.since}),
      ...(options.until === undefined ? {} : {until: options.until}),
      runId,
    })
    const cpuFirst = process.cpuUsage(cpu0)
    const wallFirst = performance.now()
    const onlySet = options.only === undefined ? null : new Set(options.only)
    const unflagged = new Set(first.unflaggedAddresses.filter((k) => onlySet === null || onlySet.has(k) || onlySet.has(k.slice(k.indexOf('|') + 1))))
    const allKeys = new Set<string>()
    for (let i = 0; i < first.features.length; i++) allKeys.add(`${first.features.networks[i]}|${first.features.addresses[i]}`)

    const map = options.map ?? new InferenceMap()
    const mapBefore = {hits: map.hits, misses: map.misses}
    const mode = options.buckets === false ? 'naive' : 'buckets'
    let post: PostPhase = emptyPost()
    // the post pass failing as a whole (workers that cannot start, the export) still leaves the first
    // pass's detections and a `failed` run row behind; the error then goes to the caller
    let postError: unknown
    if (calibration !== null && unflagged.size > 0) {
      try {
        post = await runPostPhase(store, {
          ...options,
          calibration,
          modelId: id,
          modelWindowSec: model.metadata.windowSec ?? DEFAULT_MODEL_WINDOW_SEC,
          addresses: [...allKeys],
          members: unflagged,
          mode,
          map,
          runId,
        })
      } catch (error) {
        postError = error
        post.failedAddresses = unflagged.size
        post.warnings.push(`the post pass failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    const postDetections = post.detections
    const cpuAfterPost = process.cpuUsage(cpu0)
    const cpuPostController = {user: cpuAfterPost.user - cpuFirst.user, system: cpuAfterPost.system - cpuFirst.system}
    const failures = post.failed.length
    const status: AnalyzeResult['status'] =
      postError !== undefined || (failures > 0 && failures >= post.jobsTotal) ? 'failed' : failures > 0 ? 'partial' : 'ok'
    const wallPost = (performance.now() - wallFirst) / 1000

    const controller = selfUsage('controller')
    const processes = [controller, ...post.workers]
    const workerUser = sum(post.workers.map((w) => w.cpuUserS))
    const workerSystem = sum(post.workers.map((w) => w.cpuSystemS))
    const firstFigures = figures((wallFirst - wall0) / 1000, cpuFirst.user / 1e6, cpuFirst.system / 1e6, [controller], allKeys.size)
    const postFigures = figures(wallPost, cpuPostController.user / 1e6 + workerUser, cpuPostController.system / 1e6 + workerSystem, processes, post.analysed)
    const cpuAll = process.cpuUsage(cpu0)
    const total = figures((performance.now() - wall0) / 1000, cpuAll.user / 1e6 + workerUser, cpuAll.system / 1e6 + workerSystem, processes, allKeys.size)
    const mapStats = map.stats()
    const runMap: InferenceMapStats = {
      ...mapStats,
      hits: map.hits - mapBefore.hits,
      misses: map.misses - mapBefore.misses,
      reuseRatio: ratio(map.hits - mapBefore.hits, map.hits - mapBefore.hits + map.misses - mapBefore.misses),
    }
    const result: AnalyzeResult = {
      runId,
      status,
      model: id,
      network: options.network ?? null,
      since: options.since ?? null,
      until: options.until ?? null,
      mode,
      workers: post.workerCount,
      addresses: {total: allKeys.size, flaggedFirst: allKeys.size - first.unflaggedAddresses.length, analysed: post.analysed, failed: post.failedAddresses},
      detections: {
        first: first.detections.length + first.related.length,
        related: first.related.length,
        post: postDetections.length,
        postAddresses: new Set(postDetections.map((d) => `${d.network}|${d.address}`)).size,
      },
      incidents: {total: 0, open: 0, wallS: 0},
      firstDetections: [...first.detections, ...first.related],
      postDetections,
      buckets: {planned: post.planned, analysed: post.bucketsAnalysed, jobs: post.jobsTotal, retried: post.retried, failed: post.failed},
      map: runMap,
      resources: total,
      phases: {firstPass: firstFigures, post: {...postFigures, ...post.steps}},
      processes,
      scales: calibration?.scales.map((s) => s.name) ?? [],
      warnings: [...warnings, ...post.warnings],
      ...(options.keepScores ? {postScores: post.scores} : {}),
    }
    // the incidents of the run's detections, decided from their flows before the transaction (it only
    // reads) and written in it; idle time (largest gap, and what closes one): one model window
    const incidentsStarted = performance.now()
    const plan = await planIncidents(store, [...first.detections, ...first.related, ...postDetections], {
      runId,
      idleUs: (model?.metadata.windowSec ?? DEFAULT_MODEL_WINDOW_SEC) * 1e6,
      decide: decideIncidents,
    })
    let incidentsS = (performance.now() - incidentsStarted) / 1000
    await store.transaction(async () => {
      await writeDetections(store, first.detections)
      await writeDetections(store, first.related)
      await writeDetections(store, postDetections)
      const savingStarted = performance.now()
      const written = await saveIncidents(store, plan)
      incidentsS += (performance.now() - savingStarted) / 1000
      result.incidents = {total: written.incidents, open: written.open, wallS: incidentsS}
      await writeRunRow(store, result, startedAt, now(), options)
    })
    if (postError !== undefined) throw postError
    return result
  } finally {
    if (model !== undefined) await closeModel(model)
    await store.close()
  }
}

interface PostPhaseOptions extends AnalyzeOptions {
  calibration: PostCalibration
  modelId: string
  modelWindowSec: number
  /** 'network|address' of every address of the run */
  addresses: string[]
  /** 'network|address' of those to analyse */
  members: Set<string>
  mode: 'buckets' | 'naive'
  map: InferenceMap
  runId: number
}

interface PostPhase {
  detections: DetectionRow[]
  scores: PostScoreRow[]
  analysed: number
  failed: FailedBucket[]
  failedAddresses: number
  planned: number
  bucketsAnalysed: number
  jobsTotal: number
  retried: number
  workers: ProcessUsage[]
  workerCount: number
  steps: PostSteps
  warnings: string[]
}

/** Where the post pass's wall time went, and the size of the run's export. */
export interface PostSteps {
  /** listing the addresses and planning the buckets */
  planS: number
  /** writing the run's flows for the workers */
  exportS: number
  exportRows: number
  /** starting the workers (fork, DuckDB, model) */
  startS: number
  /** from the first job handed out to the last answer */
  jobsS: number
}

function emptyPost(): PostPhase {
  return {
    detections: [],
    scores: [],
    analysed: 0,
    failed: [],
    failedAddresses: 0,
    planned: 0,
    bucketsAnalysed: 0,
    jobsTotal: 0,
    retried: 0,
    workers: [],
    workerCount: 0,
    steps: {planS: 0, exportS: 0, exportRows: 0, startS: 0, jobsS: 0},
    warnings: [],
  }
}

async function runPostPhase(store: FlowStore, o: PostPhaseOptions): Promise<PostPhase> {
  const t0 = performance.now()
  const scales: PostScale[] = o.calibration.scales.map((s) => ({name: s.name, windowSec: s.windowSec, hopSec: s.hopSec, subBinSec: s.subBinSec}))
  const maxWindow = Math.max(...scales.map((s) => s.windowSec)) * 1e6
  const flowRange = {
    ...(o.network === undefined ? {} : {network: o.network}),
    ...(o.since === undefined ? {} : {flowSince: o.since - maxWindow}),
    ...(o.until === undefined ? {} : {flowUntil: o.until + maxWindow}),
  }
  // groups hold every address active in the long windows, not only the run's: a group-window's
  // shared work then depends on its flows alone, and a later run over an overlapping range reuses it
  const keys = new Set([...o.addresses, ...(await activeAddresses(store, flowRange))])
  const plan = await planRun(store, o, [...keys].sort())
  const memberBuckets = plan.buckets.filter((b) => b.addresses.some((a) => o.members.has(`${b.network}|${a}`)))
  const modelKey = `${o.modelId}#${o.calibration.createdAt}`
  const jobs: {job: BucketJob; bucket: Bucket; members: string[]; pinned: Map<string, WindowWork>}[] = []
  for (const b of memberBuckets) {
    const base = {bucketId: b.id, key: b.key, network: b.network}
    if (o.mode === 'buckets') {
      const members = b.addresses.filter((a) => o.members.has(`${b.network}|${a}`))
      const pinned = new Map<string, WindowWork>()
      for (const g of b.groups) for (const [k, w] of o.map.windowsOf(modelKey, g.key)) pinned.set(k, w)
      const groups = b.groups.map((g) => ({key: g.key, addresses: g.addresses}))
      jobs.push({job: {...base, groups, cached: InferenceMap.cachedRefs(pinned.values())}, bucket: b, members, pinned})
    } else {
      // the naive path: each address on its own, with its group for the context, nothing shared
      for (const g of b.groups) {
        for (const address of g.addresses) {
          if (!o.members.has(`${b.network}|${address}`)) continue
          jobs.push({job: {...base, groups: [{key: g.key, addresses: g.addresses}], address, cached: []}, bucket: b, members: [address], pinned: new Map()})
        }
      }
    }
  }
  const out = emptyPost()
  out.steps.planS = (performance.now() - t0) / 1000
  out.planned = plan.buckets.length
  out.jobsTotal = jobs.length
  out.warnings.push(...plan.warnings)
  if (jobs.length === 0) return out
  const exp = await handOffRunFlows(store, memberBuckets, {
    ...flowRange,
    ...(o.handoffFormat === undefined ? {} : {format: o.handoffFormat}),
    ...(o.tmpDir === undefined ? {} : {tmpDir: o.tmpDir}),
  })
  out.steps.exportS = exp.seconds
  out.steps.exportRows = exp.rows
  for (const d of exp.removedOrphans) out.warnings.push(`removed ${d}, the temporary folder of an analyze run that was killed`)
  const setup: WorkSetup = {
    handoff: {path: exp.path, format: exp.format},
    modelPath: o.model,
    modelId: o.modelId,
    modelWindowSec: o.modelWindowSec,
    scales,
    ...(o.since === undefined ? {} : {since: o.since}),
    ...(o.until === undefined ? {} : {until: o.until}),
    calibration: o.calibration,
  }
  const size = Math.max(1, Math.min(o.workers ?? os.availableParallelism(), jobs.length))
  out.workerCount = size
  let pool: WorkerPool | undefined
  try {
    const t1 = performance.now()
    pool = await WorkerPool.start({size, setup, ...(o.workerEntry === undefined ? {} : {entry: o.workerEntry}), ...(o.workerEnv === undefined ? {} : {env: o.workerEnv})})
    const t2 = performance.now()
    out.steps.startS = (t2 - t1) / 1000
    const started = pool
    const detections = new Map<string, DetectionRow>()
    let done = 0
    const analysedBuckets = new Set<number>()
    await runBounded(jobs, size, async (j) => {
      try {
        const run = await started.run(j.job)
        const works = mergeWithMap(run.output, j.pinned, o.mode === 'buckets' ? {map: o.map, modelKey} : null)
        collect(works, j.bucket.network, new Set(j.members), detections, o.keepScores ? out.scores : null, o, o.modelId)
        out.analysed += j.members.length
        analysedBuckets.add(j.bucket.id)
      } catch (error) {
        const attempts = error instanceof WorkerDiedError ? error.attempts : 1
        if (!(error instanceof WorkerDiedError || error instanceof JobError)) throw error
        out.failed.push({bucket: j.bucket.key, network: j.bucket.network, addresses: j.members, error: error.message, attempts})
        out.failedAddresses += j.members.length
      }
      done++
      o.onProgress?.(done, jobs.length)
    })
    out.detections = [...detections.values()].sort((a, b) => cmp(a.network, b.network) || cmp(a.address, b.address) || a.windowStart - b.windowStart)
    out.bucketsAnalysed = analysedBuckets.size
    out.retried = pool.retried
    out.steps.jobsS = (performance.now() - t2) / 1000
  } finally {
    if (pool !== undefined) out.workers = await pool.close()
    await exp.dispose()
  }
  return out
}

/**
 * The windows of a job's answer: the ones it computed (stored in the map as misses) and the ones
 * whose fingerprint matched what the map held (hits, taken from the pinned entries).
 */
function mergeWithMap(output: JobOutput, pinned: Map<string, WindowWork>, cache: {map: InferenceMap; modelKey: string} | null): WindowWork[] {
  const fresh = new Map(output.windows.map((w) => [windowKey(w.group, w.scale, w.windowStart), w]))
  const works: WindowWork[] = []
  for (const fp of output.fingerprints) {
    const key = windowKey(fp.group, fp.scale, fp.windowStart)
    const computed = fresh.get(key)
    if (computed !== undefined) {
      cache?.map.store(cache.modelKey, computed)
      works.push(computed)
      continue
    }
    const held = pinned.get(key)
    if (held !== undefined && held.fingerprint === fp.fingerprint) {
      cache?.map.hit(cache.modelKey, held)
      works.push(held)
    }
  }
  return works
}

/** Post detections of the analysed addresses: one per (address, window start), the strongest scale. */
function collect(
  works: readonly WindowWork[],
  network: string,
  members: Set<string>,
  detections: Map<string, DetectionRow>,
  scores: PostScoreRow[] | null,
  o: PostPhaseOptions,
  modelId: string,
): void {
  for (const w of works) {
    if (scores !== null) {
      w.addresses.forEach((address, i) => {
        if (members.has(address)) scores.push({network, address, scale: w.scale, windowStart: w.windowStart, score: w.scores[i]!, threshold: w.threshold})
      })
    }
    for (const f of w.findings) {
      if (!members.has(f.address)) continue
      const key = `${network}|${f.address}|${w.windowStart}`
      const held = detections.get(key)
      if (held !== undefined && held.score / held.threshold >= f.score / f.threshold) continue
      detections.set(key, {
        network,
        address: f.address,
        windowStart: w.windowStart,
        windowEnd: w.windowEnd,
        model: modelId,
        pass: 'post',
        score: f.score,
        threshold: f.threshold,
        attackType: f.attackType,
        topFeatures: f.topFeatures,
        runId: o.runId,
      })
    }
  }
}

/** 'network|address' of every address with a flow in the range. */
async function activeAddresses(store: FlowStore, range: {network?: string; flowSince?: number; flowUntil?: number}): Promise<string[]> {
  // flows attributed where they start, as the windows the addresses are scored in
  const flows = flowRangeSql({mode: 'starting', network: range.network, since: range.flowSince, until: range.flowUntil})
  const where = flows.conditions.length > 0 ? `WHERE ${flows.where}` : ''
  const rows = await store.all<{network: string; ip: string}>(
    `SELECT DISTINCT network, ip FROM (SELECT network, src_ip AS ip FROM flows ${where} UNION ALL SELECT network, dst_ip AS ip FROM flows ${where}) ORDER BY network, ip`,
    flows.params,
  )
  return rows.map((r) => `${r.network}|${r.ip}`)
}

/** Buckets are packed to give each worker about this many jobs… */
const JOBS_PER_WORKER = 4
/** …but no smaller than this many addresses, below which per-job overhead dominates. */
const MIN_PACK = 256

interface RunPlan {
  buckets: Bucket[]
  warnings: string[]
}

/** Buckets of the run's addresses ('network|address' keys), with their AS from the flows. */
async function planRun(store: FlowStore, o: PostRunOptions, keys: readonly string[]): Promise<RunPlan> {
  const warnings: string[] = []
  const byAsn = o.byAsn ?? true
  const asns = new Map<string, number>()
  if (byAsn) {
    if (!store.readOnly) {
      const [missing] = await store.all<{n: bigint | number}>('SELECT count(*) AS n FROM flows WHERE src_as IS NULL OR dst_as IS NULL')
      if (Number(missing?.n ?? 0) > 0) await enrichFlowsWithAsn(store)
    }
    const filters: string[] = []
    const params: Record<string, unknown> = {}
    if (o.network !== undefined) {
      filters.push('network = $network')
      params.network = o.network
    }
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''
    const rows = await store.all<{network: string; ip: string; asn: number | null}>(
      `SELECT network, ip, max(asn) AS asn FROM (
         SELECT network, src_ip AS ip, src_as AS asn FROM flows ${where}
         UNION ALL
         SELECT network, dst_ip AS ip, dst_as AS asn FROM flows ${where}
       ) GROUP BY network, ip`,
      params,
    )
    for (const r of rows) asns.set(`${r.network}|${r.ip}`, Number(r.asn ?? 0))
  }
  const addresses: PlanAddress[] = []
  for (const key of keys) {
    const cut = key.indexOf('|')
    const network = key.slice(0, cut)
    const address = key.slice(cut + 1)
    const parsed = parseIp(address)
    if (parsed === undefined) {
      warnings.push(`${address}: not an IP address; left out of the post pass`)
      continue
    }
    addresses.push({network, address, value: parsed.value, family: parsed.family, asn: asns.get(key) ?? 0})
  }
  const cap = o.bucketCap ?? DEFAULT_BUCKET_CAP
  const workers = o.workers ?? os.availableParallelism()
  const buckets = planBuckets(addresses, {
    prefixV4: o.prefixV4 ?? DEFAULT_PREFIX_V4,
    prefixV6: o.prefixV6 ?? DEFAULT_PREFIX_V6,
    bucketCap: cap,
    byAsn,
    // at least a few jobs per worker, so that a small run still keeps every worker busy
    packTarget: Math.max(MIN_PACK, Math.ceil(addresses.length / (workers * JOBS_PER_WORKER))),
  })
  return {buckets, warnings}
}

/**
 * p-limit over a bounded queue: at most `concurrency` jobs run and at most `2 × concurrency` wait, so
 * a run over a million addresses never holds a million pending promises.
 */
export async function runBounded<T>(items: Iterable<T>, concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const limit = pLimit(concurrency)
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  for (const item of items) {
    if (failure !== undefined) break
    const p: Promise<void> = limit(() => fn(item)).then(
      () => {
        inFlight.delete(p)
      },
      (error: unknown) => {
        inFlight.delete(p)
        failure ??= error
      },
    )
    inFlight.add(p)
    if (inFlight.size >= concurrency * 3) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  if (failure !== undefined) throw failure
}

function figures(wallS: number, cpuUserS: number, cpuSystemS: number, processes: readonly ProcessUsage[], addresses: number): ResourceFigures {
  const cpuS = cpuUserS + cpuSystemS
  return {
    wallS,
    cpuUserS,
    cpuSystemS,
    cpuS,
    peakRssMb: Math.max(0, ...processes.map((p) => p.peakRssMb)),
    peakRssTotalMb: sum(processes.map((p) => p.peakRssMb)),
    addresses,
    addressesPerS: ratio(addresses, wallS),
    addressesPerCpuS: ratio(addresses, cpuS),
  }
}

async function writeRunRow(store: FlowStore, r: AnalyzeResult, startedAt: Date, finishedAt: Date, o: AnalyzeOptions): Promise<void> {
  const t = r.resources
  const details = {
    mode: r.mode,
    workers: r.workers,
    since: r.since,
    until: r.until,
    model: r.model,
    parameters: {
      prefixV4: o.prefixV4 ?? DEFAULT_PREFIX_V4,
      prefixV6: o.prefixV6 ?? DEFAULT_PREFIX_V6,
      bucketCap: o.bucketCap ?? DEFAULT_BUCKET_CAP,
      byAsn: o.byAsn ?? true,
      // the stored runs row keeps its key
      exportFormat: o.handoffFormat ?? 'duckdb',
      scales: r.scales,
    },
    addresses: r.addresses,
    detectionsByPass: {first: r.detections.first, post: r.detections.post},
    phases: r.phases,
    processes: r.processes,
    map: r.map,
    buckets: {planned: r.buckets.planned, analysed: r.buckets.analysed, jobs: r.buckets.jobs, retried: r.buckets.retried},
    failedBuckets: r.buckets.failed,
    warnings: r.warnings,
  }
  await recordRun(store, {
    runId: r.runId,
    kind: 'analyze',
    status: r.status,
    network: r.network,
    startedAtUs: startedAt.getTime() * 1000,
    finishedAtUs: finishedAt.getTime() * 1000,
    wallS: t.wallS,
    cpuUserS: t.cpuUserS,
    cpuSystemS: t.cpuSystemS,
    peakRssMb: t.peakRssMb,
    peakRssTotalMb: t.peakRssTotalMb,
    addresses: t.addresses,
    addressesPerS: t.addressesPerS,
    addressesPerCpuS: t.addressesPerCpuS,
    buckets: r.buckets.planned,
    mapHits: r.map.hits,
    mapMisses: r.map.misses,
    reuseRatio: r.map.reuseRatio,
    failures: r.buckets.failed.length,
    detections: r.detections.first + r.detections.post,
    details,
  })
}

export interface CalibratePostOptions extends PostRunOptions {
  /** where to write the calibration (default `<model>.post.json`) */
  out?: string
  fpBudget?: number
  scales?: readonly PostScale[]
  now?: () => Date
}

export interface CalibratePostResult {
  path: string
  calibration: PostCalibration
  addresses: number
  buckets: number
  units: Record<string, number>
  seconds: number
}

/**
 * Fits the post-processing calibration on a benign store (see post-calibration.ts) and writes it next
 * to the model. Every address of the range is a unit: the baseline is taken to be benign.
 */
export async function calibratePost(storePath: string, options: CalibratePostOptions): Promise<CalibratePostResult> {
  const t0 = performance.now()
  const scales = [...(options.scales ?? DEFAULT_POST_SCALES)]
  const store = await FlowStore.open(storePath, {mustExist: true})
  try {
    await leaveOutBadFlows(store)
    const model = await loadModel(options.model)
    const modelWindowSec = model.metadata.windowSec ?? DEFAULT_MODEL_WINDOW_SEC
    await closeModel(model)
    const id = await modelIdOf(options.model)
    const maxWindow = Math.max(...scales.map((s) => s.windowSec)) * 1e6
    const flowRange = {
      ...(options.network === undefined ? {} : {network: options.network}),
      ...(options.since === undefined ? {} : {flowSince: options.since - maxWindow}),
      ...(options.until === undefined ? {} : {flowUntil: options.until + maxWindow}),
    }
    const keys = await activeAddresses(store, flowRange)
    const plan = await planRun(store, options, keys)
    if (plan.buckets.length === 0) throw new UsageError('no flows to calibrate the post pass on', {hint: 'check the store, --network and the time range'})
    const exp = await handOffRunFlows(store, plan.buckets, {
      ...flowRange,
      ...(options.handoffFormat === undefined ? {} : {format: options.handoffFormat}),
      ...(options.tmpDir === undefined ? {} : {tmpDir: options.tmpDir}),
    })
    const setup: WorkSetup = {
      handoff: {path: exp.path, format: exp.format},
      modelPath: options.model,
      modelId: id,
      modelWindowSec,
      scales,
      ...(options.since === undefined ? {} : {since: options.since}),
      ...(options.until === undefined ? {} : {until: options.until}),
      calibration: null,
    }
    const raws = new Map<string, RawJobUnits[]>(scales.map((s) => [s.name, []]))
    const size = Math.max(1, Math.min(options.workers ?? os.availableParallelism(), plan.buckets.length))
    let pool: WorkerPool | undefined
    try {
      pool = await WorkerPool.start({size, setup, ...(options.workerEntry === undefined ? {} : {entry: options.workerEntry}), ...(options.workerEnv === undefined ? {} : {env: options.workerEnv})})
      const started = pool
      let done = 0
      // in plan order, so the fitted constants do not depend on which worker finished first
      const outputs: (JobOutput | undefined)[] = new Array(plan.buckets.length)
      await runBounded(plan.buckets, size, async (b) => {
        const groups = b.groups.map((g) => ({key: g.key, addresses: g.addresses}))
        const run = await started.run({bucketId: b.id, key: b.key, network: b.network, groups, cached: []})
        outputs[b.id] = run.output
        options.onProgress?.(++done, plan.buckets.length)
      })
      for (const output of outputs) for (const r of output?.raw ?? []) raws.get(r.scale)?.push(r)
    } finally {
      if (pool !== undefined) await pool.close()
      await exp.dispose()
    }
    const units = scales.map((s) => concatRaw(s, raws.get(s.name) ?? []))
    const calibration = fitPostCalibration(units, {
      modelId: id,
      ...(options.fpBudget === undefined ? {} : {fpBudget: options.fpBudget}),
      baseline: {
        store: storePath,
        network: options.network ?? null,
        addresses: keys.length,
        since: options.since === undefined ? null : new Date(options.since / 1000).toISOString(),
        until: options.until === undefined ? null : new Date(options.until / 1000).toISOString(),
      },
      ...(options.now === undefined ? {} : {now: options.now}),
    })
    const out = options.out ?? postCalibrationPath(options.model)
    await writePostCalibration(out, calibration)
    return {
      path: out,
      calibration,
      addresses: keys.length,
      buckets: plan.buckets.length,
      units: Object.fromEntries(units.map((u) => [u.scale.name, u.rows])),
      seconds: (performance.now() - t0) / 1000,
    }
  } finally {
    await store.close()
  }
}

function concatRaw(scale: PostScale, parts: readonly RawJobUnits[]): RawScaleUnits {
  const rows = sum(parts.map((p) => p.rows))
  const sqErrors = new Float32Array(rows * FEATURE_COUNT)
  const evidence = new Float64Array(rows * EVIDENCE_COUNT)
  const context = new Float64Array(rows * CONTEXT_COUNT)
  const groups: number[][] = []
  const fanPorts = new Int32Array(sum(parts.map((p) => p.fanPorts.length)))
  let offset = 0
  let fanAt = 0
  for (const p of parts) {
    for (let t = 0; t + 2 < p.fanPorts.length; t += 3) {
      fanPorts[fanAt++] = p.fanPorts[t]! + offset
      fanPorts[fanAt++] = p.fanPorts[t + 1]!
      fanPorts[fanAt++] = p.fanPorts[t + 2]!
    }
    sqErrors.set(p.sqErrors, offset * FEATURE_COUNT)
    evidence.set(p.evidence, offset * EVIDENCE_COUNT)
    context.set(p.context, offset * CONTEXT_COUNT)
    for (const g of p.groups) groups.push(g.map((i) => i + offset))
    offset += p.rows
  }
  return {scale, rows, sqErrors, evidence, context, groups, fanPorts}
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
