import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {UsageError} from '../core/index.js'
// Light modules only: DuckDB and the rest of the ingest code are imported once the first capture is
// already decoding.
import {FLOW_FILE_PRESETS} from '../io/index.js'
import {CaptureLookahead, DECODE_MODES, DEFAULT_ACTIVE_TIMEOUT_SEC, DEFAULT_IDLE_TIMEOUT_SEC} from '../io/index.js'
import type {IngestResult} from '../io/index.js'
import {INGEST_FORMATS} from '../io/index.js'
import {humanBytes, humanCount, renderTable} from '../report/index.js'

export interface IngestCommandResult {
  db: string
  network: string
  files: IngestResult[]
  totals: {files: number; ingested: number; unchanged: number; packets: number; flows: number; bytes: number; seconds: number}
}

export default class Ingest extends BaseCommand<typeof Ingest> {
  static summary = 'Read captures and flow files into the flow store.'
  static description = `Captures: decodes pcap and pcapng captures (Ethernet with VLAN/QinQ, Linux cooked SLL/SLL2, raw IP, loopback; IPv4 and IPv6; TCP, UDP, ICMP and other protocols) and assembles unidirectional 5-tuple flows the way a flow exporter does: idle and active timeouts, TCP FIN/RST ends a flow, OR of TCP flags, packets and IP bytes, first and last seen.

Flow files: CSV, TSV, Zeek conn.log and Parquet with the columns of nProbe/NetFlow data sets (NF-*), CICFlowMeter, Argus binetflow, nfdump -o csv, Zeek or flowscope's own export, detected from the header (--preset to choose, --map to name columns yourself: --map src_ip=SrcAddr,ts_start=FIRST:ms). Bidirectional records become two unidirectional flows; extra columns such as labels are kept (view flows_with_extra).

Each file is one transaction: its flows are stored together with a row in the sources table, or, on any error, nothing is stored. The same content ingested again into the same network is a no-op.`

  static examples = [
    {description: 'Ingest the bundled demo capture', command: '<%= config.bin %> <%= command.id %> fixtures/demo.pcap'},
    {description: 'Ingest captures of one network into a chosen store', command: '<%= config.bin %> <%= command.id %> --db /var/lib/flowscope/lab.duckdb --network lab captures/*.pcapng'},
    {description: 'Skip damaged records instead of failing, and print a JSON summary', command: '<%= config.bin %> <%= command.id %> --skip-bad --json damaged.pcap'},
    {description: 'A capture of NetFlow/IPFIX/sFlow export traffic: stores the exported records', command: '<%= config.bin %> <%= command.id %> --network core exports.pcap'},
    {description: 'A labelled NetFlow data set (nProbe columns), sampled 1-in-100 at the source', command: '<%= config.bin %> <%= command.id %> NF-UNSW-NB15-v2.csv --preset nprobe --sampling-rate 100'},
    {description: 'Your own CSV, columns named by hand', command: "<%= config.bin %> <%= command.id %> flows.csv --map src_ip=sa,dst_ip=da,src_port=sp,dst_port=dp,proto=pr,packets=pkts,bytes=octets,ts_start=start:ms"},
  ]

  static args = {
    files: Args.string({description: 'capture files (pcap or pcapng; detected by content)', required: true}),
  }

  static strict = false

  static flags = {
    network: Flags.string({summary: 'Network (tenant) label stored with every flow.', default: 'default'}),
    'skip-bad': Flags.boolean({summary: 'Skip and count bad records instead of failing the file.', default: false}),
    'idle-timeout': Flags.integer({summary: 'Seconds of silence that end a flow.', default: DEFAULT_IDLE_TIMEOUT_SEC, min: 1}),
    'active-timeout': Flags.integer({summary: 'Seconds after which a long flow is cut into another record.', default: DEFAULT_ACTIVE_TIMEOUT_SEC, min: 1}),
    format: Flags.option({summary: 'What the files are (default: detected from their first bytes).', options: INGEST_FORMATS, default: 'auto' as const})(),
    preset: Flags.option({summary: 'Column preset of flow files (default: detected from the header).', options: FLOW_FILE_PRESETS})(),
    map: Flags.string({summary: 'Flow field=file column pairs, comma-separated (units after a colon: ts_start=FIRST:ms).'}),
    'sampling-rate': Flags.integer({summary: 'N of 1-in-N sampling of flow-file records (when the file has no column for it).', min: 1}),
    decode: Flags.option({
      summary: 'Make flows from packets, or decode the NetFlow/IPFIX/sFlow datagrams a capture of export traffic carries.',
      description: "auto (default) decodes exports when export datagrams are at least half of the UDP packets at the start of the file; detection is by content, not port.",
      options: DECODE_MODES,
      default: 'auto' as const,
    })(),
  }

  async run(): Promise<IngestCommandResult> {
    const files = this.positional
    const map = this.flags.map === undefined ? undefined : parseMap(this.flags.map)
    const decodeOptions = {
      network: this.flags.network,
      skipBad: this.flags['skip-bad'],
      idleTimeoutSec: this.flags['idle-timeout'],
      activeTimeoutSec: this.flags['active-timeout'],
      decode: this.flags.decode,
    }
    // Decode a capture ahead of its ingest: the first one while DuckDB loads and the store opens, each
    // next one once the previous is decoded, while its flows are committed.
    const lookahead = new CaptureLookahead(decodeOptions, this.flags.format)
    if (files[0] !== undefined) lookahead.ahead(files[0])
    const results: IngestResult[] = []
    let store: Awaited<ReturnType<typeof openStore>>
    let ingestFile: typeof import('../io/index.js').ingestFile
    let createProgress: typeof import('../report/index.js').createProgress
    try {
      ;[store, {ingestFile}, {createProgress}] = await Promise.all([openStore(this.flags.db), import('../io/index.js'), import('../report/index.js')])
    } catch (error) {
      await lookahead.cancel()
      throw error
    }
    try {
      for (const [i, file] of files.entries()) {
        const prefetched = await lookahead.take(file)
        const next = files[i + 1]
        const progress = createProgress(this.showProgress, `ingest ${file}`, 1)
        try {
          const r = await ingestFile(store, file, {
            format: this.flags.format,
            ...(this.flags.preset === undefined ? {} : {preset: this.flags.preset}),
            ...(map === undefined ? {} : {map}),
            ...(this.flags['sampling-rate'] === undefined ? {} : {samplingRate: this.flags['sampling-rate']}),
            ...decodeOptions,
            ...(prefetched ? {prefetched} : {}),
            onProgress: (done, size) => progress.update(done, size),
            ...(next === undefined ? {} : {onDecoded: () => lookahead.ahead(next)}),
          })
          results.push(r)
        } finally {
          progress.stop()
          await prefetched?.run.cancel()
        }
        const r = results.at(-1)!
        if (r.status === 'unchanged') this.note(`${file}: already in the store (source ${r.sourceId}, same content); nothing to do`)
        if (r.badRecords > 0) this.note(`${file}: skipped ${r.badRecords} bad record(s)`)
        const x = r.flowExport
        if (x && x.undecodableSets > 0) this.note(`${file}: ${x.undecodableSets} data set(s) could not be decoded (their template never arrived)`)
        if (x && x.malformed > 0) this.note(`${file}: ${x.malformed} malformed export structure(s), first: ${x.problems[0]?.exporter} offset ${x.problems[0]?.offset}: ${x.problems[0]?.detail}`)
      }
    } finally {
      await lookahead.cancel()
      await store.close()
    }
    const result: IngestCommandResult = {
      db: this.flags.db,
      network: this.flags.network,
      files: results,
      totals: {
        files: results.length,
        ingested: results.filter((r) => r.status === 'ingested').length,
        unchanged: results.filter((r) => r.status === 'unchanged').length,
        packets: sum(results, (r) => (r.status === 'ingested' ? r.packets : 0)),
        flows: sum(results, (r) => (r.status === 'ingested' ? r.flows : 0)),
        bytes: sum(results, (r) => (r.status === 'ingested' ? r.bytes : 0)),
        seconds: sum(results, (r) => r.seconds),
      },
    }
    this.out(
      renderTable(
        [
          {header: 'file', value: (r: IngestResult) => r.file},
          {header: 'status', value: (r) => r.status},
          {header: 'format', value: (r) => (r.content === 'flow-export' && (r.format === 'pcap' || r.format === 'pcapng') ? `${r.format}/export` : r.format)},
          {header: 'packets', value: (r) => r.packets, align: 'right'},
          {header: 'flows', value: (r) => r.flows, align: 'right'},
          {header: 'bytes', value: (r) => humanBytes(r.bytes), align: 'right'},
          {header: 'pkts/s', value: (r) => (r.status === 'ingested' ? humanCount(r.packetsPerSec) : '-'), align: 'right'},
          {header: 'first', value: (r) => r.tsFirst},
          {header: 'last', value: (r) => r.tsLast},
        ],
        results,
      ),
    )
    return result
  }
}

async function openStore(db: string) {
  const {FlowStore} = await import('../io/index.js')
  return FlowStore.open(db)
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  return xs.reduce((a, x) => a + f(x), 0)
}

function parseMap(spec: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) throw new UsageError(`cannot read --map entry '${part}'`, {hint: 'use field=column pairs: --map src_ip=SrcAddr,dst_ip=DstAddr'})
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}
