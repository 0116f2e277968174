import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {networkFlag, rateLimitFlags} from '../flag-types.js'
import {loadRateLimits, UsageError} from '../core/index.js'
import {renderThinning} from '../report/index.js'
import {feedCollector, type CollectorStats} from '../io/index.js'
import {FlowStore, parseListen, runCollector} from '../io/index.js'
import type {CollectorOptions, CollectorResult} from '../io/index.js'
import {createKinesisClient, PARTITION_KEYS, putFlows, RECORD_FORMATS, type PutResult} from '../stream/index.js'

/** `--to`: the store (default) or a Kinesis stream. */
export type CollectTarget = {kind: 'store'} | {kind: 'kinesis'; stream: string}

export const toFlag = Flags.custom<CollectTarget>({
  parse: async (input) => {
    if (input === 'store') return {kind: 'store'}
    const m = /^kinesis:\/\/([A-Za-z0-9_.-]{1,128})$/.exec(input.trim())
    if (!m) throw new UsageError(`cannot read --to '${input}'`, {hint: 'use store, or kinesis://STREAM_NAME'})
    return {kind: 'kinesis', stream: m[1]!}
  },
})

export type CollectToStreamResult = CollectorStats & {
  to: string
  /** what the stream accepted (records = flow records) */
  put: Omit<PutResult, 'elapsedMs'> & {seconds: number}
}

export type CollectCommandResult = CollectorResult | CollectToStreamResult

export default class Collect extends BaseCommand<typeof Collect> {
  static summary = 'Receive NetFlow v5/v9, IPFIX and sFlow v5 on a UDP socket and store the flows, or send them to a Kinesis stream.'
  static description = `A live collector. Datagrams are decoded as they arrive (templates kept per exporter and observation domain; data that comes before its template is held until it arrives) and written to the store in batches, each batch one transaction. SIGINT or SIGTERM stops it cleanly: the socket is closed and everything received is flushed before it exits.

Exporters are told apart by their source address. The protocol is recognised by content, so any port works.

With --to kinesis://NAME the decoded records go to that Kinesis stream instead of the store (the format of src/stream/RECORDS.md, read by \`flowscope stream\`), batched PutRecords with retries of failed entries; the store is not opened. Flows are sent when exporters report them, after they end: give \`stream\` a --lateness that covers the exporters' active timeout.

With --rate-limit N (records per second) or --rate-limit-file (the budget of --network, else the default), the records of a flush above the budget over the time since the previous flush are thinned: each kept with probability 1/k, k = ceil(records / (budget × seconds)), and its sampling rate multiplied by k, so totals extrapolated with the sampling rate stay unbiased.`

  static examples = [
    {description: 'Listen on the NetFlow port on every interface', command: '<%= config.bin %> <%= command.id %> --listen udp://0.0.0.0:2055 --network core'},
    {description: 'IPFIX on IPv6 loopback, flushing every second, stop after 10 minutes', command: '<%= config.bin %> <%= command.id %> --listen udp://[::1]:4739 --flush-interval 1 --duration 600'},
    {description: 'At most 2,000 flow records per second, thinned above it (sampling rate × k)', command: '<%= config.bin %> <%= command.id %> --listen udp://0.0.0.0:2055 --network core --rate-limit 2000'},
    {description: 'The budget of this network from a file of budgets per network', command: '<%= config.bin %> <%= command.id %> --listen udp://0.0.0.0:2055 --network core --rate-limit-file budgets.json'},
    {description: 'Into a Kinesis stream instead of the store', command: '<%= config.bin %> <%= command.id %> --listen udp://0.0.0.0:2055 --network core --to kinesis://flows --region eu-west-1'},
  ]

  static flags = {
    listen: Flags.string({summary: 'Address to listen on: udp://HOST:PORT.', default: 'udp://0.0.0.0:2055'}),
    network: networkFlag({summary: 'Network (tenant) label stored with every flow.', default: 'default'}),
    to: toFlag({summary: 'Where records go: store (default) or kinesis://STREAM.', default: {kind: 'store'} as CollectTarget, defaultHelp: async () => 'store'}),
    endpoint: Flags.string({summary: 'With --to kinesis://: the Kinesis endpoint URL (a local kinesalite: http://127.0.0.1:PORT).'}),
    region: Flags.string({summary: 'With --to kinesis://: the AWS region (default: the SDK chain).'}),
    'partition-key': Flags.option({summary: 'With --to kinesis://: what records are keyed (and so sharded) by.', options: PARTITION_KEYS, default: 'network' as const})(),
    format: Flags.option({summary: 'With --to kinesis://: record encoding.', options: RECORD_FORMATS, default: 'json' as const})(),
    'flush-interval': Flags.integer({summary: 'Seconds between writes (default 5 to the store, 1 to a stream).', min: 1}),
    'flush-records': Flags.integer({summary: 'Write as soon as this many records are waiting.', default: 50_000, min: 1}),
    duration: Flags.integer({summary: 'Stop by itself after this many seconds (default: run until SIGINT/SIGTERM).', min: 1}),
    ...rateLimitFlags,
  }

  async run(): Promise<CollectCommandResult> {
    const f = this.flags
    const listen = parseListen(f.listen)
    const toStream = f.to.kind === 'kinesis' ? f.to.stream : undefined
    if (toStream === undefined && (f.endpoint !== undefined || f.region !== undefined)) throw new UsageError('--endpoint and --region go with --to kinesis://STREAM')
    const rateLimits = await loadRateLimits({rateLimit: f['rate-limit'], file: f['rate-limit-file']})
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const timer = f.duration === undefined ? undefined : setTimeout(stop, f.duration * 1000)
    const options: CollectorOptions = {
      listen,
      network: f.network,
      flushIntervalMs: (f['flush-interval'] ?? (toStream === undefined ? 5 : 1)) * 1000,
      flushRecords: f['flush-records'],
      signal: controller.signal,
      ...(rateLimits === undefined ? {} : {rateLimits}),
      onListening: (a) => this.info(`listening on udp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (stop with Ctrl-C)`),
      onFlush: (x) => this.info(`${toStream === undefined ? 'stored' : 'sending'} ${x.records} records (${x.totalRecords} in all)`),
    }
    let result: CollectCommandResult
    try {
      result = toStream === undefined ? await this.collectToStore(options) : await this.collectToStream(options, toStream, controller)
    } finally {
      if (timer) clearTimeout(timer)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    if (result.undecodableSets > 0) this.note(`${result.undecodableSets} data set(s) could not be decoded (their template never arrived)`)
    if (result.malformed > 0) this.note(`${result.malformed} malformed export structure(s); first: ${JSON.stringify(result.problems[0])}`)
    if ('sourceId' in result) {
      this.out(`received ${result.datagrams} datagrams, stored ${result.records} flow records (${result.packets} packets, ${result.bytes} bytes) as source ${result.sourceId}`)
    } else {
      this.out(
        `received ${result.datagrams} datagrams, sent ${result.put.flows} flow records (${result.packets} packets, ${result.bytes} bytes) to ${result.to} ` +
          `as ${result.put.kinesisRecords} Kinesis records in ${result.put.requests} requests`,
      )
    }
    const thinning = renderThinning(result.thinning, 'flushes')
    if (thinning !== '') this.out(thinning)
    return result
  }

  private async collectToStore(options: CollectorOptions): Promise<CollectorResult> {
    const store = await FlowStore.open(this.flags.db)
    try {
      return await runCollector(store, options)
    } finally {
      await store.close()
    }
  }

  private async collectToStream(options: CollectorOptions, stream: string, controller: AbortController): Promise<CollectToStreamResult> {
    const f = this.flags
    const kinesis = createKinesisClient({...(f.endpoint === undefined ? {} : {endpoint: f.endpoint}), ...(f.region === undefined ? {} : {region: f.region})})
    const feed = feedCollector(options)
    try {
      // no stop signal for the put: what the collector flushes while stopping must still be sent
      const {elapsedMs, ...put} = await putFlows(kinesis, stream, feed.batches, {network: f.network, partitionKey: f['partition-key'], format: f.format})
      const stats = await feed.done
      return {...stats, to: `kinesis://${stream}`, put: {...put, seconds: elapsedMs / 1000}}
    } catch (error) {
      // the stream refused the records: stop listening, then report the put's failure
      controller.abort()
      await feed.done.catch(() => undefined)
      throw error
    } finally {
      kinesis.destroy()
    }
  }
}
