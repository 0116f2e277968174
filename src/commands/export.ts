import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {timeFlag, networkFlag} from '../flag-types.js'
import {FLOW_OUTPUT_FORMATS, exportFlows, openStoreForReading, PARQUET_CODECS} from '../io/index.js'
import type {ExportResult} from '../io/index.js'
import {createProgress} from '../report/index.js'

export default class Export extends BaseCommand<typeof Export> {
  static summary = 'Export flows as hive-partitioned Parquet (or one Arrow IPC file) for Spark, Trino, Athena or DuckDB.'
  static description = `Parquet is written as OUTDIR/network=…/date=YYYY-MM-DD/hour=HH/*.parquet (zstd by default). Re-exporting replaces exactly the partitions it touches and leaves the others, so a cron job can export the last hours again safely. Addresses are exported as text (src_ip, dst_ip) and as 16-byte big-endian binary (src_addr, dst_addr; IPv4 mapped into ::ffff:0:0/96), which sorts like the numbers, so CIDR ranges work in any engine.`

  static examples = [
    {description: 'Everything, as Parquet', command: '<%= config.bin %> <%= command.id %> /data/flows-parquet'},
    {description: "The last day of one network, re-exported hourly from cron", command: '<%= config.bin %> <%= command.id %> s3-staging/ --network lab --since 24h'},
    {description: 'One Arrow IPC file', command: '<%= config.bin %> <%= command.id %> out/ --format arrow'},
  ]

  static args = {outdir: Args.string({description: 'output folder', required: true})}

  static flags = {
    format: Flags.option({summary: 'Output format.', options: FLOW_OUTPUT_FORMATS, default: 'parquet' as const})(),
    network: networkFlag({summary: 'Only this network (tenant).'}),
    since: timeFlag({summary: 'From this time (24h, 7d or ISO 8601); widened to the whole hour.'}),
    until: timeFlag({summary: 'Until this time; widened to the whole hour.'}),
    compression: Flags.option({summary: 'Parquet codec.', options: PARQUET_CODECS, default: 'zstd' as const})(),
  }

  async run(): Promise<ExportResult> {
    const f = this.flags
    const store = await openStoreForReading(f.db)
    const progress = createProgress(this.showProgress, 'export', 1, 'k rows', 1000)
    let r: ExportResult
    try {
      r = await exportFlows(store, this.args.outdir!, {
        format: f.format,
        compression: f.compression,
        ...(f.network === undefined ? {} : {network: f.network}),
        ...(f.since === undefined ? {} : {since: f.since}),
        ...(f.until === undefined ? {} : {until: f.until}),
        onProgress: (rows, total) => progress.update(rows, total),
      })
    } finally {
      progress.stop()
      await store.close()
    }
    this.out(`${r.rows} flows written to ${r.outDir} (${r.files.length} file(s), ${r.partitions.length} partition(s)) in ${r.seconds.toFixed(2)} s`)
    return r
  }
}
