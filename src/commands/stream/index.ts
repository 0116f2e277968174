import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {loadRateLimits} from '../../core/index.js'
import {durationFlag, networkFlag, rateLimitFlags, timeFlag} from '../../flag-types.js'
import {makeWriter, renderStreamSummary, renderStreamWindow, streamDetectionLines} from '../../report/index.js'
import {DEFAULT_LATENESS_SEC, DEFAULT_STREAM_WINDOW_SEC, runStream, START_POSITIONS, type WindowDetection, type RunStreamResult, type StreamEvent} from '../../stream/index.js'

export {START_POSITIONS} from '../../stream/index.js'

export type StreamCommandResult = RunStreamResult

export default class Stream extends BaseCommand<typeof Stream> {
  static summary = 'Tail a Kinesis stream of flow records, score it in windows of a few seconds with the batch model, and write detections and incidents within seconds.'
  static description = `Reads every shard of the stream (following resharding: children after their parents), cuts the records into tumbling event-time windows of --window seconds with --lateness allowed, and scores each window with the same features and ONNX model as \`analyze\`'s first pass. The model's own windows (5 minutes, sliding by 1, from the model file) are scored as soon as the stream has seen them complete (the same rows \`analyze --no-post\` writes with pass 'first'), and at the end of every stream window the 5 minutes ending there are scored too, for the addresses active in it: an attack is flagged by the commit of the first stream window that holds enough of it, a few seconds after it starts. Detections go to the store's detections table with pass 'stream', and with --ndjson also to stdout as JSON lines; the incidents they make (the rules of \`analyze\`: type, victim or attacker, confidence) are built and extended window by window, shown on stderr, and listed by \`flowscope incidents\`. The flows go to the store too, one source per run and network, in the same transaction as the window's detections and incidents.

Checkpoints are written only after a window's results are committed, so a crash or a stop replays records rather than losing them, and a replay changes nothing. Without --lease-table one worker reads every shard and checkpoints into the store; with it, several workers share the stream through leases in a DynamoDB table.

Each window's processing time / window length is reported on stderr and in the stream_windows table; sustained above 0.95 over 10 minutes it is a scale-out signal (below 0.3 over 30 minutes, scale-in), shown as a warning. SIGINT or SIGTERM stops cleanly: the window being written is finished, checkpoints and leases are written back, and windows still open are read again by the next run (or committed first with --drain).

With --rate-limit N (records per second, every network) or --rate-limit-file (per network), a network's flows of a window above its budget are thinned before they are scored and stored: each record kept with probability 1/k, k = ceil(records / (budget × window)), and its sampling rate multiplied by k, so totals and features extrapolated with the sampling rate stay unbiased. The choice is a hash of the record, so a window read again keeps the same records. What was thinned is in the summary (thinning) and in \`flowscope report\`'s runs.

Records format: src/stream/RECORDS.md (JSON lines or binary, as \`stream put\` and \`collect --to kinesis://\` write them).`

  static examples = [
    {description: 'Try it without AWS: local kinesalite and dynalite (needs the development install: npm install)', command: '<%= config.bin %> <%= command.id %> --local --stream flows'},
    {description: 'A stream on AWS from its oldest record, detections as JSON lines', command: '<%= config.bin %> <%= command.id %> --stream flows --region eu-west-1 --start trim-horizon --ndjson'},
    {description: 'One of several workers sharing a stream', command: '<%= config.bin %> <%= command.id %> --stream flows --lease-table flowscope-leases --worker-id $(hostname)'},
    {description: 'At most 5,000 flow records per second from any network (above it records are thinned, sampling rate × k)', command: '<%= config.bin %> <%= command.id %> --stream flows --rate-limit 5000'},
    {description: 'Budgets per network from a file: {"default": 2000, "networks": {"core": 20000}}', command: '<%= config.bin %> <%= command.id %> --stream flows --rate-limit-file budgets.json'},
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
      relationships: [{type: 'all', flags: [{name: 'at', when: async (flags) => flags.start === 'at-timestamp'}]}],
    })(),
    at: timeFlag({summary: 'With --start at-timestamp: the time (ISO 8601, or 2h for two hours ago).'}),
    'lease-table': Flags.string({summary: 'Share the stream with other workers through leases in this DynamoDB table.'}),
    'dynamo-endpoint': Flags.string({summary: 'DynamoDB endpoint URL for the lease table (a local dynalite).', dependsOn: ['lease-table']}),
    'worker-id': Flags.string({summary: 'This worker’s name in the lease table and the runs table (default: host-pid).'}),
    model: Flags.string({summary: 'ONNX model (default: the bundled fixtures/model.onnx).'}),
    network: networkFlag({summary: 'Only store and score this network (repeatable, or comma-separated); other records are read and skipped.', multiple: true, delimiter: ','}),
    ndjson: Flags.boolean({summary: 'Print each detection as a JSON line on stdout once it is written.', exclusive: ['json']}),
    duration: durationFlag({summary: 'Stop by itself after this long (90, 30s, 10m; default: until SIGINT/SIGTERM).'}),
    drain: Flags.boolean({summary: 'On stop, commit the windows still open instead of leaving them to the next run.'}),
    local: Flags.boolean({summary: 'Start kinesalite and dynalite on 127.0.0.1 (development install only), create the stream, and read it.', exclusive: ['endpoint', 'dynamo-endpoint']}),
    shards: Flags.integer({summary: 'With --local: shards of the stream created.', default: 2, min: 1, max: 50}),
    ...rateLimitFlags,
  }

  async run(): Promise<StreamCommandResult> {
    const f = this.flags
    const rateLimits = await loadRateLimits({rateLimit: f['rate-limit'], file: f['rate-limit-file']})
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    const ndjson = f.ndjson ? makeWriter(process.stdout) : undefined
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const timer = f.duration === undefined ? undefined : setTimeout(stop, f.duration * 1000)
    let result: StreamCommandResult
    try {
      result = await runStream({
        db: f.db,
        stream: f.stream,
        ...(f.endpoint === undefined ? {} : {endpoint: f.endpoint}),
        ...(f.region === undefined ? {} : {region: f.region}),
        windowSec: f.window,
        latenessSec: f.lateness,
        start: f.start,
        ...(f.at === undefined ? {} : {at: f.at}),
        ...(f['lease-table'] === undefined ? {} : {leaseTable: f['lease-table']}),
        ...(f['dynamo-endpoint'] === undefined ? {} : {dynamoEndpoint: f['dynamo-endpoint']}),
        ...(f['worker-id'] === undefined ? {} : {workerId: f['worker-id']}),
        ...(f.model === undefined ? {} : {model: f.model}),
        ...(f.network === undefined ? {} : {networks: f.network}),
        drain: f.drain,
        ...(rateLimits === undefined ? {} : {rateLimits}),
        ...(f.local ? {local: {shards: f.shards}} : {}),
        signal: controller.signal,
        onWarning: (w) => this.note(w),
        onLocal: (l) => this.info(`kinesalite on ${l.kinesis}, dynalite on ${l.dynamo} (feed it: flowscope stream put --endpoint ${l.kinesis} --stream ${f.stream} FILE)`),
        onReading: (r) =>
          this.info(
            `reading ${f.stream}${r.endpoint === undefined ? '' : ` at ${r.endpoint}`} in ${f.window} s windows (lateness ${f.lateness} s); model ${r.modelId}, windows of ${r.windowUs / 60e6} min every ${r.hopUs / 60e6} min (stop with Ctrl-C)`,
          ),
        ...(ndjson ? {onDetections: (network: string, modelId: string, detections: readonly WindowDetection[]) => this.printDetections(network, modelId, detections, ndjson, stop)} : {}),
        onWindow: (w) => this.info(renderStreamWindow(w)),
        onEvent: (e) => this.reportEvent(e),
      })
    } finally {
      if (timer) clearTimeout(timer)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    // with --ndjson stdout holds only the detections
    if (f.ndjson) this.info(renderStreamSummary(result))
    else this.out(renderStreamSummary(result))
    return result
  }

  /** JSON lines on stdout, with backpressure; a reader that went away (`| head`) stops the stream. */
  private async printDetections(network: string, model: string, detections: readonly WindowDetection[], out: ReturnType<typeof makeWriter>, stop: () => void): Promise<void> {
    for (const line of streamDetectionLines(network, model, detections)) {
      if (!(await out.write(line))) {
        stop()
        return
      }
    }
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
