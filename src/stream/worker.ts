/**
 * The stream worker: reads its shards, cuts event-time windows, scores and commits each window, and
 * checkpoints only what committed windows cover.
 *
 *   coordinator (leases or local) ──assignments──▶ one reader per shard ──flows──▶ WindowAssembler
 *   window loop: closable windows ──scoreWindow──▶ detections + stream_windows ──▶ checkpoints
 *
 * Windows are processed one at a time, oldest first. Readers stop pulling when the open windows hold
 * `maxBufferedRecords`, except the shards that hold the watermark back (they must go on for windows
 * to close). A stop (signal) finishes the window being committed; open windows are left to be read
 * again from the checkpoints, unless `drainOnStop` commits them.
 */
import type {DynamoDBClient} from '@aws-sdk/client-dynamodb'
import type {KinesisClient} from '@aws-sdk/client-kinesis'

import {ThinningTally, UsageError, type NetworkThinning, type RateLimits} from '../core/index.js'
import type {FlowStore, WrittenIncident} from '../io/index.js'
import type {StreamWindowView} from '../report/index.js'
import {isStopped, sleep} from './aws.js'
import {SHARD_END, ShardProgress, StoreCheckpoints} from './checkpoints.js'
import {readShard, type ReadEvent, type ShardStart, type StartPosition} from './consumer.js'
import {LeaseCoordinator, LocalCoordinator, type CoordinatorEvent, type ShardAssignment, type ShardCoordinator} from './coordinator.js'
import {FlowBatchBuilder} from './flow-builder.js'
import {LeaseManager} from './leases.js'
import {decodeFlowRecords} from './record-codec.js'
import {commitWindow, ensureStreamTables, type NetworkDetections, type RaiseIncidents, type ScoreWindow, type WindowMetricsRow} from './results.js'
import {finishRunRecord, startRunRecord} from './run-record.js'
import {ScaleMonitor, type ScaleOptions, type ScaleSignal} from './scale.js'
import {thinWindowFlows} from './window-thinning.js'
import {DEFAULT_LATENESS_SEC, DEFAULT_STREAM_WINDOW_SEC, WindowAssembler, windowFlows, type ClosedWindow, type CloseReason} from './windows.js'

export interface StreamReadTuning {
  /** records per GetRecords (default 10,000) */
  limit?: number
  /** least time between GetRecords on a shard, ms (default 200) */
  minIntervalMs?: number
  /** pause when caught up, ms (default 250) */
  idlePollMs?: number
}

export interface StreamWorkerOptions {
  kinesis: KinesisClient
  /** with `leaseTable`: several workers share the stream through leases in this DynamoDB table */
  dynamo?: DynamoDBClient
  stream: string
  leaseTable?: string
  workerId: string
  store: FlowStore
  scoreWindow: ScoreWindow
  /** builds the incidents of each window's detections in its transaction (the model scorer's `raiseIncidents`) */
  raiseIncidents?: RaiseIncidents
  windowSec?: number
  latenessSec?: number
  /** where shards without a checkpoint start (default LATEST) */
  startPosition?: StartPosition
  signal: AbortSignal
  /** after each window is committed */
  onWindow?: (report: WindowReport) => void
  onEvent?: (event: StreamEvent) => void
  /**
   * `runs.run_id` of this run, when the caller wrote the `runs` row; without it the worker adds a
   * row (kind 'stream') and completes it when it stops
   */
  runId?: number
  /** shard re-discovery interval, ms (default 10 s) */
  discoveryMs?: number
  /** lease renewal interval, ms (default failoverMs / 3) */
  renewMs?: number
  /** a lease not renewed for this long may be taken, ms (default 10 s) */
  failoverMs?: number
  /** how often free and expired leases are looked for, ms (default failoverMs / 2) */
  takeIntervalMs?: number
  read?: StreamReadTuning
  /** time limit of each AWS request, ms (default 5 s) */
  requestTimeoutMs?: number
  /** wall ms without records after which event time follows wall time (see windows.ts) */
  idleTimeoutMs?: number
  /** a shard silent for this long stops holding windows open, ms (default 30 s) */
  stallMs?: number
  /** records held in open windows before readers that are ahead pause (default 2,000,000) */
  maxBufferedRecords?: number
  /** flows starting more than this far in the future are dropped (default 3600 s) */
  maxFutureSec?: number
  /** on stop, commit the open windows instead of leaving them to be read again (default false) */
  drainOnStop?: boolean
  /** on stop, give leases up at once (default true); false leaves them to expire, like a crash */
  releaseLeasesOnStop?: boolean
  scale?: ScaleOptions
  /** budgets of flow records per second by network: a window's flows above theirs are thinned (core/thinning.ts) */
  rateLimits?: RateLimits
  /** seed of the thinning hash (default DEFAULT_THINNING_SEED) */
  thinningSeed?: number
  /** wall clock, ms (default Date.now) */
  now?: () => number
}

export interface NetworkWindowReport {
  network: string
  model: string
  records: number
  detections: number
  undetermined: string[]
}

export interface WindowReport extends StreamWindowView {
  closedBy: CloseReason
  networks: NetworkWindowReport[]
  scaleSignal: ScaleSignal
  shards: string[]
  /** wall ms of the first record added to the window, of its close, and of its commit */
  firstArrivalMs: number
  closedAtMs: number
  committedAtMs: number
  /** the incidents this window's detections raised or extended, as written in its transaction */
  incidents: WrittenIncident[]
}

export type StreamEvent =
  | ReadEvent
  | CoordinatorEvent
  | {type: 'shard-started'; shardId: string; start: ShardStart}
  | {type: 'shard-ended'; shardId: string}
  | {type: 'shard-stopped'; shardId: string}
  | {type: 'checkpoint'; shardId: string; sequenceNumber: string}
  | {type: 'bad-records'; shardId: string; count: number}
  | {type: 'scale'; signal: ScaleSignal; utilisation: number}
  | {type: 'coordinator-error'; error: string}

export interface StreamRunSummary {
  runId: number
  workerId: string
  stream: string
  windowSec: number
  latenessSec: number
  windows: number
  stragglerWindows: number
  /** flows placed in windows */
  records: number
  lateDropped: number
  /** flows before a resume frontier: committed by a previous owner */
  replaySkipped: number
  /** flows that could not be decoded, or too far in the future */
  badRecords: number
  kinesisRecords: number
  detections: number
  /** incidents this run's detections belong to, at its end */
  incidents: number
  undetermined: number
  checkpoints: number
  shardsRead: string[]
  throttled: number
  iteratorsExpired: number
  /** scoring + writing time of all windows, ms */
  processingMs: number
  maxRatio: number
  meanRatio: number
  utilisation: number
  scaleSignal: ScaleSignal
  /** per network with a budget (`rateLimits`): records in, kept, and k over the windows */
  thinning: NetworkThinning[]
  startedAtMs: number
  endedAtMs: number
}

interface Reader {
  controller: AbortController
  parents: string[]
  done: Promise<void>
}

/** A promise the window loop can wait on, resolved early when readers bring records. */
class Wakeup {
  private resolve: (() => void) | undefined
  notify(): void {
    this.resolve?.()
    this.resolve = undefined
  }
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.resolve = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, {once: true})
      this.resolve = done
    })
  }
}

const MAX_COORDINATOR_FAILURES = 10

export async function runStreamWorker(o: StreamWorkerOptions): Promise<StreamRunSummary> {
  const now = o.now ?? Date.now
  const windowSec = o.windowSec ?? DEFAULT_STREAM_WINDOW_SEC
  const latenessSec = o.latenessSec ?? DEFAULT_LATENESS_SEC
  const windowMs = windowSec * 1000
  const emit = (e: StreamEvent): void => o.onEvent?.(e)
  if (!(windowSec > 0)) throw new UsageError(`the window must be positive, got ${windowSec} s`)
  if (!(latenessSec >= 0)) throw new UsageError(`the allowed lateness must not be negative, got ${latenessSec} s`)
  if (o.leaseTable !== undefined && !o.dynamo) throw new UsageError('a lease table needs a DynamoDB client', {hint: 'pass dynamo with leaseTable'})
  await ensureStreamTables(o.store)
  const cpuAtStart = process.cpuUsage()
  const startedAtMs = now()
  const ownRun = o.runId === undefined
  const runId =
    o.runId ??
    (await startRunRecord(
      o.store,
      {stream: o.stream, workerId: o.workerId, windowSec, latenessSec, leaseTable: o.leaseTable ?? null, startPosition: o.startPosition ?? {type: 'LATEST'}},
      startedAtMs,
    ))

  const run = new AbortController()
  const stopRun = (): void => run.abort()
  if (o.signal.aborted) run.abort()
  else o.signal.addEventListener('abort', stopRun, {once: true})
  const signal = run.signal
  let fatal: unknown
  const fail = (error: unknown): void => {
    fatal ??= error
    run.abort()
  }

  const failoverMs = o.failoverMs ?? 10_000
  const discovery = {
    kinesis: o.kinesis,
    stream: o.stream,
    startPosition: o.startPosition ?? {type: 'LATEST' as const},
    discoveryMs: o.discoveryMs ?? 10_000,
    signal,
    onEvent: emit,
    now,
    ...(o.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: o.requestTimeoutMs}),
  }
  let coordinator: ShardCoordinator
  if (o.leaseTable !== undefined && o.dynamo) {
    // no stop signal here: checkpoints and lease releases must still be written while stopping
    const leases = new LeaseManager({
      dynamo: o.dynamo,
      table: o.leaseTable,
      workerId: o.workerId,
      failoverMs,
      now,
      ...(o.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: o.requestTimeoutMs}),
    })
    coordinator = new LeaseCoordinator({
      ...discovery,
      leases,
      renewMs: o.renewMs ?? Math.max(100, Math.floor(failoverMs / 3)),
      takeIntervalMs: o.takeIntervalMs ?? Math.max(100, Math.floor(failoverMs / 2)),
    })
  } else {
    coordinator = new LocalCoordinator(discovery, new StoreCheckpoints(o.store, o.stream))
  }
  try {
    await coordinator.start()
  } catch (error) {
    if (ownRun) {
      const endedAtMs = now()
      await finishRunRecord(o.store, runId, {status: 'failed', detections: 0, startedAtMs, endedAtMs, cpu: process.cpuUsage(cpuAtStart), details: {error: (error as Error).message}}).catch(() => undefined)
    }
    throw error
  }

  const assembler = new WindowAssembler({
    windowSec,
    latenessSec,
    now,
    endedHoldMs: coordinator.endedHoldMs,
    maxFutureSec: o.maxFutureSec ?? 3600,
    ...(o.idleTimeoutMs === undefined ? {} : {idleTimeoutMs: o.idleTimeoutMs}),
    ...(o.stallMs === undefined ? {} : {stallMs: o.stallMs}),
  })
  const progress = new ShardProgress()
  const scale = new ScaleMonitor(o.scale)
  const readers = new Map<string, Reader>()
  const endedHere = new Set<string>()
  /** shards whose leases were lost while their records sat in windows */
  const lost = new Set<string>()
  const shardsRead = new Set<string>()
  const wake = new Wakeup()
  const maxBuffered = o.maxBufferedRecords ?? 2_000_000
  const summary: StreamRunSummary = {
    runId,
    workerId: o.workerId,
    stream: o.stream,
    windowSec,
    latenessSec,
    windows: 0,
    stragglerWindows: 0,
    records: 0,
    lateDropped: 0,
    replaySkipped: 0,
    badRecords: 0,
    kinesisRecords: 0,
    detections: 0,
    incidents: 0,
    undetermined: 0,
    checkpoints: 0,
    shardsRead: [],
    throttled: 0,
    iteratorsExpired: 0,
    processingMs: 0,
    maxRatio: 0,
    meanRatio: 0,
    utilisation: Number.NaN,
    scaleSignal: 'steady',
    thinning: [],
    startedAtMs,
    endedAtMs: 0,
  }
  const thinning = o.rateLimits === undefined ? undefined : {limits: o.rateLimits, tally: new ThinningTally(), ...(o.thinningSeed === undefined ? {} : {seed: o.thinningSeed})}
  let lateReported = 0

  const onReadEvent = (e: ReadEvent): void => {
    if (e.type === 'throttled') summary.throttled++
    if (e.type === 'iterator-expired') summary.iteratorsExpired++
    emit(e)
  }

  const startReader = (a: ShardAssignment): void => {
    lost.delete(a.shardId)
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    signal.addEventListener('abort', stop, {once: true})
    assembler.addShard(a.shardId, {
      ...(a.checkpoint?.maxEventUs === undefined ? {} : {maxEventUs: a.checkpoint.maxEventUs}),
      ...(a.checkpoint?.frontierUs === undefined ? {} : {resumeFrontierUs: a.checkpoint.frontierUs}),
    })
    shardsRead.add(a.shardId)
    emit({type: 'shard-started', shardId: a.shardId, start: a.start})
    const shardId = a.shardId
    const done = (async () => {
      const decoded = new FlowBatchBuilder(1024)
      try {
        const batches = readShard(o.kinesis, o.stream, shardId, {
          start: a.start,
          signal: controller.signal,
          onEvent: onReadEvent,
          ...(o.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: o.requestTimeoutMs}),
          ...o.read,
        })
        for await (const batch of batches) {
          // backpressure: a shard ahead of the watermark waits while the windows are full
          while (assembler.bufferedRecords >= maxBuffered && !assembler.isBehind(shardId) && !controller.signal.aborted) {
            await sleep(50, controller.signal)
          }
          if (controller.signal.aborted) break
          decoded.clear()
          let bad = 0
          for (const r of batch.records) bad += decodeFlowRecords(r.data, decoded).bad
          summary.kinesisRecords += batch.kinesisRecords
          if (batch.records.length === 0) assembler.noteEmptyRead(shardId)
          const added = assembler.add(shardId, decoded)
          bad += added.future
          summary.badRecords += bad
          summary.replaySkipped += added.skipped
          if (bad > 0) emit({type: 'bad-records', shardId, count: bad})
          progress.track(shardId, {
            lastSequenceNumber: batch.lastSequenceNumber,
            windows: added.windows,
            end: batch.ended,
            maxEventUs: assembler.shardMaxEventUs(shardId),
          })
          if (batch.ended) {
            endedHere.add(shardId)
            assembler.endShard(shardId)
            coordinator.shardEnded(shardId)
            emit({type: 'shard-ended', shardId})
          }
          wake.notify()
        }
      } catch (error) {
        if (!isStopped(error, controller.signal)) fail(error)
      } finally {
        signal.removeEventListener('abort', stop)
        if (readers.get(shardId)?.controller === controller) readers.delete(shardId)
      }
    })()
    readers.set(shardId, {controller, parents: a.parentShardIds, done})
  }

  /** The shard's lease was lost: stop reading it and forget its uncommitted records. */
  const stopReader = (shardId: string): void => {
    const r = readers.get(shardId)
    if (r) {
      r.controller.abort()
      readers.delete(shardId)
    }
    assembler.removeShard(shardId, true)
    progress.drop(shardId)
    lost.add(shardId)
    emit({type: 'shard-stopped', shardId})
  }

  const reconcile = (assigned: ShardAssignment[]): void => {
    const wanted = new Set(assigned.map((a) => a.shardId))
    for (const shardId of [...readers.keys()]) if (!wanted.has(shardId)) stopReader(shardId)
    for (const a of assigned) if (!readers.has(a.shardId) && !endedHere.has(a.shardId)) startReader(a)
    // an ended parent stops holding the watermark once a child is being read
    for (const r of readers.values()) for (const p of r.parents) if (endedHere.has(p)) assembler.removeShard(p)
  }

  const coordinatorLoop = async (): Promise<void> => {
    let failures = 0
    let succeeded = false
    while (!signal.aborted) {
      try {
        reconcile(await coordinator.assignments())
        failures = 0
        succeeded = true
      } catch (error) {
        if (isStopped(error, signal)) break
        // a stream that is not there fails the first round; later outages are retried for a while
        if (++failures >= MAX_COORDINATOR_FAILURES || !succeeded) {
          fail(error)
          break
        }
        emit({type: 'coordinator-error', error: (error as Error).message ?? String(error)})
      }
      await sleep(coordinator.tickMs, signal)
    }
  }

  let ratioSum = 0
  const processWindow = async (w: ClosedWindow): Promise<void> => {
    const started = performance.now()
    const results: NetworkDetections[] = []
    const networks: NetworkWindowReport[] = []
    // records of a shard whose lease was lost are read again by its new owner
    // over their budget (--rate-limit), a network's flows of the window are thinned: sampling_rate × k
    const flowsByNetwork = thinWindowFlows(windowFlows(w, (shardId) => !lost.has(shardId)), windowSec, thinning)
    let records = 0
    for (const f of flowsByNetwork.values()) records += f.length
    if (records === 0) {
      progress.windowDone(w.id)
      return
    }
    const shards = w.shards.filter((shardId) => !lost.has(shardId))
    for (const [network, flows] of flowsByNetwork) {
      const outcome = await o.scoreWindow(flows, w.startUs, w.endUs, {network, straggler: w.straggler, shards})
      results.push({network, model: outcome.model, detections: outcome.detections})
      networks.push({
        network,
        model: outcome.model,
        records: flows.length,
        detections: outcome.detections.length,
        undetermined: outcome.undetermined,
      })
    }
    const lateNow = assembler.stats.late
    const lateDropped = lateNow - lateReported
    lateReported = lateNow
    const detections = networks.reduce((n, x) => n + x.detections, 0)
    const undetermined = networks.reduce((n, x) => n + x.undetermined.length, 0)
    let scaleChanged = false
    const committed = await commitWindow(o.store, runId, results, (): WindowMetricsRow => {
      const processingMs = performance.now() - started
      const committedAtMs = now()
      const state = scale.record(committedAtMs, processingMs, windowMs)
      scaleChanged = state.changed
      return {
        runId,
        workerId: o.workerId,
        stream: o.stream,
        windowStartUs: w.startUs,
        windowEndUs: w.endUs,
        straggler: w.straggler,
        closedBy: w.closedBy,
        records,
        networks: networks.length,
        detections,
        undetermined,
        lateDropped,
        processingMs,
        ratio: processingMs / windowMs,
        utilisation: state.utilisationHigh,
        scaleSignal: state.signal,
        shards,
        committedAtMs,
      }
    }, o.raiseIncidents)
    const row = committed.metrics
    progress.windowDone(w.id)
    summary.windows++
    if (w.straggler !== undefined) summary.stragglerWindows++
    summary.records += records
    summary.detections += detections
    summary.undetermined += undetermined
    summary.processingMs += row.processingMs
    summary.maxRatio = Math.max(summary.maxRatio, row.ratio)
    ratioSum += row.ratio
    summary.meanRatio = ratioSum / summary.windows
    summary.utilisation = row.utilisation
    summary.scaleSignal = row.scaleSignal as ScaleSignal
    if (scaleChanged) emit({type: 'scale', signal: row.scaleSignal as ScaleSignal, utilisation: row.utilisation})
    o.onWindow?.({
      windowStartUs: w.startUs,
      windowEndUs: w.endUs,
      straggler: w.straggler,
      closedBy: w.closedBy,
      records,
      networks,
      detections,
      undetermined,
      lateDropped,
      processingMs: row.processingMs,
      ratio: row.ratio,
      utilisation: row.utilisation,
      scaleSignal: row.scaleSignal as ScaleSignal,
      shards,
      firstArrivalMs: w.firstArrivalMs,
      closedAtMs: w.closedAtMs,
      committedAtMs: row.committedAtMs,
      incidents: committed.incidents,
    })
  }

  const flushCheckpoints = async (): Promise<void> => {
    for (const r of progress.takeReady()) {
      const frontierUs = Math.min(assembler.shardFrontierUs(r.shardId), progress.pendingFrontierUs(r.shardId))
      const ok = await coordinator.checkpoint(r.shardId, {
        sequenceNumber: r.sequenceNumber,
        ...(Number.isFinite(frontierUs) ? {frontierUs} : {}),
        ...(Number.isFinite(r.maxEventUs) ? {maxEventUs: r.maxEventUs} : {}),
      })
      if (!ok) {
        stopReader(r.shardId)
        continue
      }
      summary.checkpoints++
      emit({type: 'checkpoint', shardId: r.shardId, sequenceNumber: r.sequenceNumber})
      if (r.sequenceNumber === SHARD_END) progress.drop(r.shardId)
    }
  }

  const windowLoop = async (): Promise<void> => {
    try {
      while (!signal.aborted) {
        for (const w of assembler.takeClosable()) {
          await processWindow(w)
          await flushCheckpoints()
          if (signal.aborted) return
        }
        await flushCheckpoints()
        await wake.wait(100, signal)
      }
    } catch (error) {
      if (!isStopped(error, signal)) fail(error)
    }
  }

  const loops = [coordinatorLoop(), windowLoop()]
  await Promise.all(loops)
  // stopping: readers end at their next await; then the optional drain
  for (const r of readers.values()) r.controller.abort()
  await Promise.all([...readers.values()].map((r) => r.done))
  try {
    if (o.drainOnStop && fatal === undefined) {
      for (const w of assembler.drain()) await processWindow(w)
      await flushCheckpoints()
    }
  } catch (error) {
    fatal ??= error
  } finally {
    try {
      await coordinator.stop(o.releaseLeasesOnStop ?? true)
    } catch (error) {
      fatal ??= error
    }
    o.signal.removeEventListener('abort', stopRun)
  }
  summary.lateDropped = assembler.stats.late
  if (thinning) summary.thinning = thinning.tally.networks()
  try {
    // the incidents this run's detections belong to, as they stand (windows merge and fold them as they come)
    const [row] = await o.store.all<{n: bigint}>('SELECT count(DISTINCT incident_id) AS n FROM detections WHERE run_id = $1 AND incident_id IS NOT NULL', [runId])
    summary.incidents = Number(row?.n ?? 0)
  } catch (error) {
    fatal ??= error
  }
  summary.shardsRead = [...shardsRead].sort()
  summary.endedAtMs = now()
  if (ownRun) {
    try {
      await finishRunRecord(o.store, runId, {
        status: fatal === undefined ? 'ok' : 'failed',
        detections: summary.detections,
        startedAtMs,
        endedAtMs: summary.endedAtMs,
        cpu: process.cpuUsage(cpuAtStart),
        details: fatal === undefined ? summary : {...summary, error: (fatal as Error).message ?? String(fatal)},
      })
    } catch (error) {
      fatal ??= error
    }
  }
  if (fatal !== undefined) throw fatal
  return summary
}
