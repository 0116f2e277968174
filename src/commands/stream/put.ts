import {Args, Flags} from '@oclif/core'
import cliProgress from 'cli-progress'

import {BaseCommand} from '../../base-command.js'
import {positiveNumberFlag, networkFlag} from '../../flag-types.js'
import {PARTITION_KEYS, putCaptures, RECORD_FORMATS, type PutCapturesResult} from '../../stream/index.js'

export type StreamPutResult = PutCapturesResult

export default class StreamPut extends BaseCommand<typeof StreamPut> {
  static summary = 'Replay captures’ flow records into a Kinesis stream, at the capture’s pace sped up or at a fixed rate.'
  static description = `Flows are assembled from each capture's packets as ingest does (or decoded from the NetFlow/IPFIX/sFlow datagrams it carries) and released in order of their start time: with --speed, at the capture's own timing sped up (10: ten times faster); with --rate, at that many records per second; with neither, as fast as the stream takes them. Files are replayed one after another.

Records are packed several flows to a Kinesis record per partition key and sent with batched PutRecords; entries that fail (throttling) are sent again after a jittered backoff. --partition-key network puts all of a network's flows on one shard (best packing; what \`stream\` needs to see a host's whole traffic in one worker), src spreads sources over the shards. Format: src/stream/RECORDS.md.`

  static examples = [
    {description: 'Ten times faster than captured, into a local kinesalite', command: '<%= config.bin %> <%= command.id %> --stream flows --endpoint http://127.0.0.1:4567 --speed 10 lab.pcap'},
    {description: '20,000 records a second, binary records keyed by source, on AWS', command: '<%= config.bin %> <%= command.id %> --stream flows --region eu-west-1 --rate 20000 --format binary --partition-key src day1.pcap day2.pcap'},
  ]

  static strict = false
  static args = {file: Args.string({description: 'capture files (pcap, pcapng; flow-export captures too)', required: true})}

  static flags = {
    stream: Flags.string({summary: 'Kinesis stream name.', required: true}),
    endpoint: Flags.string({summary: 'Kinesis endpoint URL (a local kinesalite: http://127.0.0.1:PORT).'}),
    region: Flags.string({summary: 'AWS region (default: the SDK chain: AWS_REGION, profile).'}),
    network: networkFlag({summary: 'Network (tenant) label of the records.', default: 'default'}),
    speed: positiveNumberFlag({summary: 'Replay at the captures’ own timing, this many times faster (1 = real time).', exclusive: ['rate']}),
    rate: Flags.integer({summary: 'Records per second instead of the captures’ timing.', min: 1}),
    'partition-key': Flags.option({summary: 'What records are keyed (and so sharded) by.', options: PARTITION_KEYS, default: 'network' as const})(),
    format: Flags.option({summary: 'Record encoding: JSON lines, or compact binary (3.4× smaller).', options: RECORD_FORMATS, default: 'json' as const})(),
  }

  async run(): Promise<StreamPutResult> {
    const f = this.flags
    const files = this.positional
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const bar = this.showProgress
      ? new cliProgress.SingleBar(
          {stream: process.stderr, format: 'put [{bar}] {value}/{total} files | {flows} records, {rate} records/s', hideCursor: true, clearOnComplete: true, fps: 5},
          cliProgress.Presets.shades_classic,
        )
      : undefined
    bar?.start(files.length, 0, {flows: 0, rate: 0})
    let r: StreamPutResult
    try {
      r = await putCaptures(files, {
        stream: f.stream,
        ...(f.endpoint === undefined ? {} : {endpoint: f.endpoint}),
        ...(f.region === undefined ? {} : {region: f.region}),
        network: f.network,
        partitionKey: f['partition-key'],
        format: f.format,
        ...(f.speed === undefined ? {} : {speed: f.speed}),
        ...(f.rate === undefined ? {} : {rate: f.rate}),
        signal: controller.signal,
        onFileDone: (done) => bar?.update(done),
        onProgress: (p, done) => bar?.update(done, {flows: p.flows, rate: Math.round(p.flows / Math.max(1e-3, p.elapsedMs / 1000))}),
      })
    } finally {
      bar?.stop()
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    if (r.stopped) this.note('stopped before every record was sent; the counts say what the stream accepted')
    this.out(
      `put ${r.flows} flow records from ${files.length} file(s) into ${f.stream} as ${r.kinesisRecords} Kinesis records in ${r.requests} requests ` +
        `(${r.retriedEntries} entries and ${r.retriedRequests} requests retried), ${r.seconds.toFixed(1)} s, ${Math.round(r.recordsPerSec)} records/s`,
    )
    return r
  }
}
