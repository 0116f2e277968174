import {CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient} from '@aws-sdk/client-kinesis'
import {Flags} from '@oclif/core'
import {hostname} from 'node:os'

import {BaseCommand} from '../../base-command.js'
import {UsageError} from '../../core/index.js'
import {durationFlag, timeFlag} from '../../flag-types.js'
import {bundledModelPath, closeModel, loadModel, type LoadedModel} from '../../infer/index.js'
import {FlowStore, storedFeatures, withStoreLock} from '../../io/index.js'
import {makeWriter} from '../../report/index.js'
import {
  createDynamoClient,
  createKinesisClient,
  createModelScorer,
  DEFAULT_LATENESS_SEC,
  DEFAULT_STREAM_WINDOW_SEC,
  ensureStreamTables,
  LeaseManager,
  runStreamWorker,
  startLocalServers,
  StoreCheckpoints,
  type LocalServers,
  type ModelScorerStats,
  type StartPosition,
  type StreamEvent,
  type StreamRunSummary,
  type WindowDetection,
  type WindowReport,
} from '../../stream/index.js'

export const START_POSITIONS = ['latest', 'trim-horizon', 'at-timestamp', 'checkpoint'] as const

export type StreamCommandResult = StreamRunSummary & {
  model: string
  /** the model's window and hop, s (detections are per model window) */
  modelWindowSec: number
  modelHopSec: number
  scorer: ModelScorerStats
  /** with --local: the servers this run started */
  local: {kinesis: string; dynamo: string} | null
}

const iso = (us: number): string => new Date(us / 1000).toISOString()

export default class Stream extends BaseCommand<typeof Stream> {
  static summary = 'Tail a Kinesis stream of flow records, score it in windows of a few seconds with the batch model, and write detections.'
  static description = `Reads every shard of the stream (following resharding: children after their parents), cuts the records into tumbling event-time windows of --window seconds with --lateness allowed, and scores each window with the same features and ONNX model as \`analyze\`'s first pass. The model's own windows (5 minutes, sliding by 1, from the model file) are scored as soon as the stream has seen them complete; their detections go to the store's detections table with pass 'stream' (the same rows \`analyze --no-post\` writes with pass 'first'), and with --ndjson also to stdout as JSON lines. The flows go to the store too, one source per run and network, in the same transaction as the window's detections.

Checkpoints are written only after a window's results are committed, so a crash or a stop replays records rather than losing them, and a replay changes nothing. Without --lease-table one worker reads every shard and checkpoints into the store; with it, several workers share the stream through leases in a DynamoDB table.

Each window's processing time / window length is reported on stderr and in the stream_windows table; sustained above 0.95 over 10 minutes it is a scale-out signal (below 0.3 over 30 minutes, scale-in), shown as a warning. SIGINT or SIGTERM stops cleanly: the window being written is finished, checkpoints and leases are written back, and windows still open are read again by the next run (or committed first with --drain).

Records format: src/stream/RECORDS.md (JSON lines or binary, as \`stream put\` and \`collect --to kinesis://\` write them).`

  static examples = [
    {description: 'Try it without AWS: local kinesalite and dynalite (needs the development install: npm install)', command: '<%= config.bin %> <%= command.id %> --local --stream flows'},
    {description: 'A stream on AWS from its oldest record, detections as JSON lines', command: '<%= config.bin %> <%= command.id %> --stream flows --region eu-west-1 --start trim-horizon --ndjson'},
    {description: 'One of several workers sharing a stream', command: '<%= config.bin %> <%= command.id %> --stream flows --lease-table flowscope-leases --worker-id $(hostname)'},
    {description: 'Against a local endpoint for one minute, then a JSON summary', command: '<%= config.bin %> <%= command.id %> --stream flows --endpoint http://127.0.0.1:4567 --start trim-horizon --duration 60 --json'},
  ]

  static flags = {
    stream: Flags.string({summary: 'Kinesis stream name.', required: true}),
    endpoint: Flags.string({summary: 'Kinesis endpoint URL (a local kinesalite: http://127.0.0.1:PORT).'}),
    region: Flags.string({summary: 'AWS region (default: the SDK chain: AWS_REGION, profile).'}),
    window: durationFlag({summary: 'Stream window length (5s, 10s…).', default: DEFAULT_STREAM_WINDOW_SEC}),
    lateness: durationFlag({summary: 'How far behind the newest record a record may arrive and still count.', default: DEFAULT_LATENESS_SEC}),
    start: Flags.option({
      summary: 'Where shards without a checkpoint start; checkpoint: only resume (fail when there is none). Shards with a checkpoint always resume from it.',
      options: START_POSITIONS,
      default: 'latest' as const,
    })(),
    at: timeFlag({summary: 'With --start at-timestamp: the time (ISO 8601, or 2h for two hours ago).'}),
    'lease-table': Flags.string({summary: 'Share the stream with other workers through leases in this DynamoDB table.'}),
    'dynamo-endpoint': Flags.string({summary: 'DynamoDB endpoint URL for the lease table (a local dynalite).'}),
    'worker-id': Flags.string({summary: 'This worker’s name in the lease table and the runs table (default: host-pid).'}),
    model: Flags.string({summary: 'ONNX model (default: the bundled fixtures/model.onnx).'}),
    network: Flags.string({summary: 'Only store and score this network (repeatable); other records are read and skipped.', multiple: true}),
    ndjson: Flags.boolean({summary: 'Print each detection as a JSON line on stdout once it is written.', exclusive: ['json']}),
    duration: durationFlag({summary: 'Stop by itself after this long (90, 30s, 10m; default: until SIGINT/SIGTERM).'}),
    drain: Flags.boolean({summary: 'On stop, commit the windows still open instead of leaving them to the next run.'}),
    local: Flags.boolean({summary: 'Start kinesalite and dynalite on 127.0.0.1 (development install only), create the stream, and read it.', exclusive: ['endpoint', 'dynamo-endpoint']}),
    shards: Flags.integer({summary: 'With --local: shards of the stream created.', default: 2, min: 1, max: 50}),
  }

  async run(): Promise<StreamCommandResult> {
    const f = this.flags
    if (f.start === 'at-timestamp' && f.at === undefined) throw new UsageError('--start at-timestamp needs --at TIME')
    if (f.at !== undefined && f.start !== 'at-timestamp') throw new UsageError('--at goes with --start at-timestamp')
    if (f['dynamo-endpoint'] !== undefined && f['lease-table'] === undefined) throw new UsageError('--dynamo-endpoint goes with --lease-table')
    const startPosition: StartPosition =
      f.start === 'trim-horizon' ? {type: 'TRIM_HORIZON'} : f.start === 'at-timestamp' ? {type: 'AT_TIMESTAMP', timestamp: f.at!} : {type: 'LATEST'}

    const controller = new AbortController()
    const stop = (): void => controller.abort()
    const ndjson = f.ndjson ? makeWriter(process.stdout) : undefined
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const timer = f.duration === undefined ? undefined : setTimeout(stop, f.duration * 1000)
    let local: LocalServers | undefined
    let model: LoadedModel | undefined
    let kinesis: KinesisClient | undefined
    let dynamo: ReturnType<typeof createDynamoClient> | undefined
    try {
      if (f.local) {
        local = await startLocalServers()
        this.info(`kinesalite on ${local.kinesis.endpoint}, dynalite on ${local.dynamo.endpoint} (feed it: flowscope stream put --endpoint ${local.kinesis.endpoint} --stream ${f.stream} FILE)`)
      }
      const endpoint = local?.kinesis.endpoint ?? f.endpoint
      const dynamoEndpoint = local?.dynamo.endpoint ?? f['dynamo-endpoint']
      const client = createKinesisClient({...(endpoint === undefined ? {} : {endpoint}), ...(f.region === undefined ? {} : {region: f.region})})
      kinesis = client
      if (f['lease-table'] !== undefined) {
        dynamo = createDynamoClient({...(dynamoEndpoint === undefined ? {} : {endpoint: dynamoEndpoint}), ...(f.region === undefined ? {} : {region: f.region})})
      }
      if (local) await createLocalStream(client, f.stream, f.shards)
      model = await loadModel(f.model ?? bundledModelPath())
      for (const w of model.warnings) this.note(w)
      const loaded = model
      const workerId = f['worker-id'] ?? `${hostname()}-${process.pid}`
      return await withStoreLock(f.db, 'stream', async () => {
        const store = await FlowStore.open(f.db)
        try {
          if (f.start === 'checkpoint') await this.assertCheckpoints(store, workerId, dynamo)
          const scorer = await createModelScorer(store, loaded, {
            stream: f.stream,
            workerId,
            ...(f.network === undefined ? {} : {networks: f.network}),
            onDetections: ndjson ? (network, modelId, detections) => this.printDetections(network, modelId, detections, ndjson, stop) : undefined,
          })
          this.info(`reading ${f.stream}${endpoint === undefined ? '' : ` at ${endpoint}`} in ${f.window} s windows (lateness ${f.lateness} s); model ${scorer.modelId}, windows of ${scorer.windowUs / 60e6} min every ${scorer.hopUs / 60e6} min (stop with Ctrl-C)`)
          const summary = await runStreamWorker({
            kinesis: client,
            ...(dynamo === undefined ? {} : {dynamo}),
            stream: f.stream,
            ...(f['lease-table'] === undefined ? {} : {leaseTable: f['lease-table']}),
            workerId,
            store: scorer.store,
            scoreWindow: scorer.scoreWindow,
            windowSec: f.window,
            latenessSec: f.lateness,
            startPosition,
            signal: controller.signal,
            drainOnStop: f.drain,
            onWindow: (w) => this.reportWindow(w),
            onEvent: (e) => this.reportEvent(e),
          })
          const line =
            `${summary.windows} windows, ${summary.records} records (${summary.lateDropped} late, ${summary.badRecords} bad), ` +
            `${summary.detections} detections, ${summary.undetermined} undetermined; processing/window mean ${summary.meanRatio.toFixed(3)}, max ${summary.maxRatio.toFixed(3)} (${summary.scaleSignal}); run ${summary.runId}`
          // with --ndjson stdout holds only the detections
          if (f.ndjson) this.info(line)
          else this.out(line)
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
      })
    } finally {
      if (timer) clearTimeout(timer)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      kinesis?.destroy()
      dynamo?.destroy()
      if (model) await closeModel(model)
      await local?.close()
    }
  }

  /** `--start checkpoint` only resumes: there must be a checkpoint (in the store, or in the lease table). */
  private async assertCheckpoints(store: FlowStore, workerId: string, dynamo: ReturnType<typeof createDynamoClient> | undefined): Promise<void> {
    const f = this.flags
    const where = f['lease-table'] === undefined ? f.db : `lease table ${f['lease-table']}`
    let found: boolean
    if (dynamo === undefined || f['lease-table'] === undefined) {
      await ensureStreamTables(store)
      found = (await new StoreCheckpoints(store, f.stream).load()).size > 0
    } else {
      const leases = await new LeaseManager({dynamo, table: f['lease-table'], workerId}).listLeases()
      found = leases.some((l) => !['TRIM_HORIZON', 'LATEST'].includes(l.checkpoint) && !l.checkpoint.startsWith('AT_TIMESTAMP:'))
    }
    if (!found) throw new UsageError(`${where}: no checkpoint of stream ${f.stream} to resume from`, {hint: 'start it with --start latest, trim-horizon or at-timestamp'})
  }

  /** JSON lines on stdout, with backpressure; a reader that went away (`| head`) stops the stream. */
  private async printDetections(network: string, model: string, detections: readonly WindowDetection[], out: ReturnType<typeof makeWriter>, stop: () => void): Promise<void> {
    for (const d of detections) {
      const line = {
        network,
        address: d.address,
        windowStart: iso(d.windowStart),
        windowEnd: iso(d.windowEnd),
        model,
        pass: 'stream',
        score: d.score,
        threshold: d.threshold,
        attackType: d.attackType,
        topFeatures: storedFeatures(d.topFeatures ?? []),
      }
      if (!(await out.write(`${JSON.stringify(line)}\n`))) {
        stop()
        return
      }
    }
  }

  private reportWindow(w: WindowReport): void {
    const span = `${iso(w.windowStartUs).slice(11, 19)}–${iso(w.windowEndUs).slice(11, 19)}`
    this.info(
      `window ${iso(w.windowStartUs).slice(0, 10)} ${span}${w.straggler === undefined ? '' : ` (straggler ${w.straggler})`}: ${w.records} records, ` +
        `${w.networks.length} network(s), ${w.detections} detections, ${w.undetermined} undetermined, ${w.lateDropped} late; ` +
        `${w.processingMs.toFixed(0)} ms = ${w.ratio.toFixed(3)} of the window` +
        (Number.isFinite(w.utilisation) ? `, utilisation ${w.utilisation.toFixed(3)}` : ''),
    )
  }

  private reportEvent(e: StreamEvent): void {
    if (e.type === 'scale') {
      if (e.signal === 'scale-out') this.note(`scale out: processing took ${e.utilisation.toFixed(2)} of the window length over the last 10 minutes`)
      else if (e.signal === 'scale-in') this.note(`scale in: processing took only ${e.utilisation.toFixed(2)} of the window length over the last 30 minutes`)
      else this.info(`load back to steady (utilisation ${e.utilisation.toFixed(2)})`)
      return
    }
    if (e.type === 'coordinator-error') {
      this.note(`shard discovery failed, retrying: ${e.error}`)
      return
    }
    if (e.type === 'bad-records') {
      this.info(`${e.shardId}: ${e.count} record(s) could not be decoded and were skipped`)
      return
    }
    if (this.flags['log-level'] === 'debug') process.stderr.write(`${JSON.stringify(e)}\n`)
  }
}

/** With --local: the stream, created on the fresh kinesalite. */
async function createLocalStream(kinesis: KinesisClient, name: string, shards: number): Promise<void> {
  await kinesis.send(new CreateStreamCommand({StreamName: name, ShardCount: shards}))
  for (let i = 0; i < 200; i++) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({StreamName: name}))
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new UsageError(`the local stream ${name} did not become active`)
}
