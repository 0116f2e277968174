import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {networkFlag} from '../flag-types.js'
import {DEFAULT_ACTIVE_TIMEOUT_SEC, DEFAULT_IDLE_TIMEOUT_SEC, UsageError} from '../core/index.js'
import {DECODE_MODES, FLOW_FILE_PRESETS, FlowStore, INGEST_FORMATS, ingestFiles, ingestTotals} from '../io/index.js'
import type {IngestResult, IngestTotals} from '../io/index.js'
import {createProgress, ingestWarnings, renderIngestTable} from '../report/index.js'

export interface IngestCommandResult {
  db: string
  network: string
  files: IngestResult[]
  totals: IngestTotals
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
    network: networkFlag({summary: 'Network (tenant) label stored with every flow.', default: 'default'}),
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
    const f = this.flags
    const map = f.map === undefined ? undefined : parseMap(f.map)
    // the store opens while the first capture decodes (ingestFiles starts it before awaiting the store)
    const opening = FlowStore.open(f.db)
    let files: IngestResult[]
    try {
      files = await ingestFiles(opening, this.positional, {
        network: f.network,
        skipBad: f['skip-bad'],
        idleTimeoutSec: f['idle-timeout'],
        activeTimeoutSec: f['active-timeout'],
        decode: f.decode,
        format: f.format,
        ...(f.preset === undefined ? {} : {preset: f.preset}),
        ...(map === undefined ? {} : {map}),
        ...(f['sampling-rate'] === undefined ? {} : {samplingRate: f['sampling-rate']}),
        onFileStart: (file) => createProgress(this.showProgress, `ingest ${file}`, 1),
        onFileDone: (r) => {
          for (const w of ingestWarnings(r)) this.note(w)
        },
      })
    } finally {
      await (await opening.catch(() => undefined))?.close()
    }
    this.out(renderIngestTable(files))
    return {db: f.db, network: f.network, files, totals: ingestTotals(files)}
  }
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
