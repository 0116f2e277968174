/**
 * `flowscope stream` and `flowscope stream put` as layer functions: the clients, the local servers of
 * `--local`, the model and the store lock are set up and torn down here, around `runStreamWorker`
 * and `putFlows`, so that a command only turns flags into options and renders what comes back.
 */
import type {KinesisClient} from '@aws-sdk/client-kinesis'
import {hostname} from 'node:os'
import path from 'node:path'

import {UsageError} from '../core/index.js'
import type {FlowBatch, RateLimits} from '../core/index.js'
import {bundledModelPath, closeModel, loadModel, type LoadedModel} from '../infer/index.js'
import {FlowStore, staleLockMessage, withStoreLock} from '../io/index.js'
import {createDynamoClient, createKinesisClient} from './aws.js'
import {StoreCheckpoints} from './checkpoints.js'
import type {StartPosition} from './consumer.js'
import {LeaseManager} from './leases.js'
import {createLocalStream, startLocalServers, type LocalServers} from './local.js'
import {createModelScorer, type ModelScorerStats} from './model-scorer.js'
import {putFlows, type PartitionKeyMode, type PutProgress, type PutResult} from './producer.js'
import type {RecordFormat} from './record-codec.js'
import {replayCapture} from './replay.js'
import {ensureStreamTables, type WindowDetection} from './results.js'
import {runStreamWorker, type StreamEvent, type StreamRunSummary, type WindowReport} from './worker.js'

/** Where shards without a checkpoint start; `checkpoint`: only resume (fail when there is none). */
export const START_POSITIONS = ['latest', 'trim-horizon', 'at-timestamp', 'checkpoint'] as const
export type StartPositionName = (typeof START_POSITIONS)[number]

export interface RunStreamOptions {
  /** the store file (detections, flows, checkpoints without a lease table) */
  db: string
  stream: string
  /** Kinesis endpoint URL (ignored with `local`) */
  endpoint?: string
  region?: string
  windowSec: number
  latenessSec: number
  start: StartPositionName
  /** with start 'at-timestamp' */
  at?: Date
  leaseTable?: string
  /** DynamoDB endpoint of the lease table (ignored with `local`) */
  dynamoEndpoint?: string
  /** default: host-pid */
  workerId?: string
  /** ONNX model file (default: the bundled one) */
  model?: string
  networks?: readonly string[]
  drain?: boolean
  /** budgets of flow records per second by network: windows above them are thinned (core/thinning.ts) */
  rateLimits?: RateLimits
  /** start kinesalite and dynalite on 127.0.0.1 and create the stream with this many shards */
  local?: {shards: number}
  signal: AbortSignal
  onWarning?: (message: string) => void
  /** the local servers are up (with `local`) */
  onLocal?: (local: {kinesis: string; dynamo: string}) => void
  /** the model is loaded and the store open: reading starts */
  onReading?: (r: {endpoint: string | undefined; modelId: string; windowUs: number; hopUs: number}) => void
  onDetections?: (network: string, model: string, detections: readonly WindowDetection[]) => void | Promise<void>
  onWindow?: (w: WindowReport) => void
  onEvent?: (e: StreamEvent) => void
}

export type RunStreamResult = StreamRunSummary & {
  model: string
  /** the model's window and hop, s (detections are per model window) */
  modelWindowSec: number
  modelHopSec: number
  scorer: ModelScorerStats
  /** with `local`: the servers this run started */
  local: {kinesis: string; dynamo: string} | null
}

/** Read a stream until `signal` (or its end), scoring its windows with the model into the store. */
export async function runStream(o: RunStreamOptions): Promise<RunStreamResult> {
  if (o.start === 'at-timestamp' && o.at === undefined) throw new UsageError('--start at-timestamp needs --at TIME')
  if (o.at !== undefined && o.start !== 'at-timestamp') throw new UsageError('--at goes with --start at-timestamp')
  const startPosition: StartPosition =
    o.start === 'trim-horizon' ? {type: 'TRIM_HORIZON'} : o.start === 'at-timestamp' ? {type: 'AT_TIMESTAMP', timestamp: o.at!} : {type: 'LATEST'}
  let local: LocalServers | undefined
  let model: LoadedModel | undefined
  let kinesis: KinesisClient | undefined
  let dynamo: ReturnType<typeof createDynamoClient> | undefined
  try {
    if (o.local) {
      local = await startLocalServers()
      o.onLocal?.({kinesis: local.kinesis.endpoint, dynamo: local.dynamo.endpoint})
    }
    const endpoint = local?.kinesis.endpoint ?? o.endpoint
    const dynamoEndpoint = local?.dynamo.endpoint ?? o.dynamoEndpoint
    const client = createKinesisClient({...(endpoint === undefined ? {} : {endpoint}), ...(o.region === undefined ? {} : {region: o.region})})
    kinesis = client
    if (o.leaseTable !== undefined) {
      dynamo = createDynamoClient({...(dynamoEndpoint === undefined ? {} : {endpoint: dynamoEndpoint}), ...(o.region === undefined ? {} : {region: o.region})})
    }
    if (local && o.local) await createLocalStream(client, o.stream, o.local.shards)
    model = await loadModel(o.model ?? bundledModelPath())
    for (const w of model.warnings) o.onWarning?.(w)
    const loaded = model
    const workerId = o.workerId ?? `${hostname()}-${process.pid}`
    return await withStoreLock(o.db, 'stream', async () => {
      const store = await FlowStore.open(o.db)
      try {
        if (o.start === 'checkpoint') await assertCheckpoints(store, o, workerId, dynamo)
        const scorer = await createModelScorer(store, loaded, {
          stream: o.stream,
          workerId,
          ...(o.networks === undefined ? {} : {networks: o.networks}),
          onDetections: o.onDetections,
        })
        o.onReading?.({endpoint, modelId: scorer.modelId, windowUs: scorer.windowUs, hopUs: scorer.hopUs})
        const summary = await runStreamWorker({
          kinesis: client,
          ...(dynamo === undefined ? {} : {dynamo}),
          stream: o.stream,
          ...(o.leaseTable === undefined ? {} : {leaseTable: o.leaseTable}),
          workerId,
          store: scorer.store,
          scoreWindow: scorer.scoreWindow,
          raiseIncidents: scorer.raiseIncidents,
          windowSec: o.windowSec,
          latenessSec: o.latenessSec,
          startPosition,
          signal: o.signal,
          drainOnStop: o.drain ?? false,
          ...(o.rateLimits === undefined ? {} : {rateLimits: o.rateLimits}),
          ...(o.onWindow ? {onWindow: o.onWindow} : {}),
          ...(o.onEvent ? {onEvent: o.onEvent} : {}),
        })
        return {
          ...summary,
          model: scorer.modelId,
          modelWindowSec: scorer.windowUs / 1e6,
          modelHopSec: scorer.hopUs / 1e6,
          scorer: {...scorer.stats},
          local: local ? {kinesis: local.kinesis.endpoint, dynamo: local.dynamo.endpoint} : null,
        }
      } finally {
        await store.close()
      }
    }, {onStale: (h, file) => o.onWarning?.(staleLockMessage(file, h))})
  } finally {
    kinesis?.destroy()
    dynamo?.destroy()
    if (model) await closeModel(model)
    await local?.close()
  }
}

/** Start 'checkpoint' only resumes: there must be a checkpoint (in the store, or in the lease table). */
async function assertCheckpoints(store: FlowStore, o: RunStreamOptions, workerId: string, dynamo: ReturnType<typeof createDynamoClient> | undefined): Promise<void> {
  const where = o.leaseTable === undefined ? o.db : `lease table ${o.leaseTable}`
  let found: boolean
  if (dynamo === undefined || o.leaseTable === undefined) {
    await ensureStreamTables(store)
    found = (await new StoreCheckpoints(store, o.stream).load()).size > 0
  } else {
    const leases = await new LeaseManager({dynamo, table: o.leaseTable, workerId}).listLeases()
    found = leases.some((l) => !['TRIM_HORIZON', 'LATEST'].includes(l.checkpoint) && !l.checkpoint.startsWith('AT_TIMESTAMP:'))
  }
  if (!found) throw new UsageError(`${where}: no checkpoint of stream ${o.stream} to resume from`, {hint: 'start it with --start latest, trim-horizon or at-timestamp'})
}

export interface PutCapturesOptions {
  stream: string
  endpoint?: string
  region?: string
  network: string
  partitionKey: PartitionKeyMode
  format: RecordFormat
  /** capture timing sped up this much (undefined: not paced by the captures) */
  speed?: number
  /** flow records per second (undefined: no limit) */
  rate?: number
  signal: AbortSignal
  /** a file is replayed completely (count of files done) */
  onFileDone?: (filesDone: number) => void
  onProgress?: (p: PutProgress, filesDone: number) => void
}

export type PutCapturesResult = Omit<PutResult, 'elapsedMs'> & {
  stream: string
  files: string[]
  network: string
  partitionKey: PartitionKeyMode
  format: RecordFormat
  /** capture timing sped up this much (null: not paced by the capture) */
  speed: number | null
  /** flow records per second asked for (null: no limit) */
  rate: number | null
  seconds: number
  /** flow records accepted per second */
  recordsPerSec: number
}

/** Replay the captures' flows, one file after another, into a Kinesis stream (`flowscope stream put`). */
export async function putCaptures(files: readonly string[], o: PutCapturesOptions): Promise<PutCapturesResult> {
  const kinesis = createKinesisClient({...(o.endpoint === undefined ? {} : {endpoint: o.endpoint}), ...(o.region === undefined ? {} : {region: o.region})})
  let filesDone = 0
  // without a speed the captures' timing is not followed: the rate, or as fast as the stream takes them
  const speed = o.speed ?? Infinity
  async function* flows(): AsyncGenerator<FlowBatch> {
    for (const file of files) {
      yield* replayCapture(file, {speed, signal: o.signal})
      o.onFileDone?.(++filesDone)
    }
  }
  let result: PutResult
  try {
    result = await putFlows(kinesis, o.stream, flows(), {
      network: o.network,
      partitionKey: o.partitionKey,
      format: o.format,
      ...(o.rate === undefined ? {} : {rate: o.rate}),
      signal: o.signal,
      onProgress: (p: PutProgress) => o.onProgress?.(p, filesDone),
    })
  } finally {
    kinesis.destroy()
  }
  const {elapsedMs, ...put} = result
  const seconds = elapsedMs / 1000
  return {
    stream: o.stream,
    files: files.map((x) => path.resolve(x)),
    network: o.network,
    partitionKey: o.partitionKey,
    format: o.format,
    speed: o.speed ?? null,
    rate: o.rate ?? null,
    ...put,
    seconds,
    recordsPerSec: seconds > 0 ? put.flows / seconds : 0,
  }
}
