import {Args, Flags} from '@oclif/core'
import os from 'node:os'
import path from 'node:path'

import {BaseCommand, seedFlag} from '../base-command.js'
import {EXIT} from '../core/index.js'
import {FAIL_ON, minSeverityFlag, networkFlag, rateFlag} from '../flag-types.js'
import {runPipeline} from '../pipeline.js'
import type {PipelineResult} from '../pipeline.js'
import {humanBytes, renderReportText, shouldColor} from '../report/index.js'
import {PACKET_SAMPLER_NAMES} from '../sampling/index.js'

export default class Run extends BaseCommand<typeof Run> {
  static summary = 'The scheduled job: ingest → sample → analyze → report, in one locked run.'
  static description = `Ingests the files (captures or flow files), optionally stores a sampled copy of each capture at --sample (network <network>-sampled, with the extrapolation beside the full capture's truth), analyzes the network with the model (first pass and bucketed post-processing), and writes the report (--html FILE; a terminal summary on stdout).

For cron: a lock beside the store keeps two runs from overlapping (the second exits 1 naming the holder); stdout has only the summary when not a terminal; --fail-on incidents exits 4 when the report has incidents (with --min-severity N: of severity N or more), --fail-on detections when it has window detections. Re-ingesting files already stored is a no-op, so a job may pass the same folder every time.`

  static examples = [
    {description: 'The demo: the bundled capture, sampled at 1/100, analyzed with the bundled model, report.html', command: '<%= config.bin %> <%= command.id %> fixtures/demo.pcap --db demo.duckdb --sample 1/100 --html report.html'},
    {description: 'Hourly cron job on a capture folder, alerting through the exit code', command: '<%= config.bin %> <%= command.id %> /var/spool/pcap/*.pcap --db /var/lib/flowscope/site.duckdb --network site --html /var/www/flowscope/index.html --fail-on incidents --min-severity 3'},
  ]

  static strict = false
  static args = {files: Args.string({description: 'captures or flow files to ingest', required: true})}

  static flags = {
    network: networkFlag({summary: 'Network (tenant) label.', default: 'default'}),
    sample: rateFlag({summary: 'Also store a sampled copy of each capture at this rate (1/100, 0.01 or 100).'}),
    sampler: Flags.option({summary: 'Packet sampler for --sample.', options: PACKET_SAMPLER_NAMES, default: 'systematic' as const})(),
    seed: seedFlag,
    model: Flags.string({summary: 'ONNX model (default: the bundled fixtures/model.onnx).'}),
    'no-analyze': Flags.boolean({summary: 'Skip the analysis.'}),
    workers: Flags.integer({summary: 'Worker processes for the post-processing pass.', default: os.availableParallelism(), min: 1}),
    html: Flags.string({summary: 'Write the self-contained HTML report here.'}),
    'skip-bad': Flags.boolean({summary: 'Skip and count bad records instead of failing a file.'}),
    'min-severity': minSeverityFlag,
    'fail-on': Flags.option({summary: 'Exit 4 when the report has any of these (for alerting jobs).', options: FAIL_ON})(),
  }

  async run(): Promise<PipelineResult> {
    const f = this.flags
    const r = await runPipeline({
      db: f.db,
      files: this.positional,
      network: f.network,
      ...(f.sample === undefined ? {} : {sampleRate: f.sample}),
      sampler: f.sampler,
      seed: f.seed,
      analyze: !f['no-analyze'],
      ...(f.model === undefined ? {} : {model: f.model}),
      workers: f.workers,
      ...(f.html === undefined ? {} : {html: f.html}),
      skipBad: f['skip-bad'],
      ...(f['min-severity'] === undefined ? {} : {minSeverity: f['min-severity']}),
      onStep: (s) => {
        if (process.stdout.isTTY || f['log-level'] === 'debug') this.info(`… ${s}`)
      },
      onWarning: (w) => this.note(w),
    })
    for (const i of r.ingest) if (i.status === 'unchanged') this.note(`${i.file}: already in the store; not ingested again`)
    for (const w of r.analyze?.warnings ?? []) this.note(w)
    const lines: string[] = []
    for (const i of r.ingest) lines.push(`ingested ${i.file}: ${i.status}, ${i.flows} flows, ${humanBytes(i.bytes)}`)
    for (const s of r.samples) {
      const t = s.picture.truth
      lines.push(
        `sampled ${s.file} at 1/${s.rate} (${s.sampler}): ${s.picture.sampledPackets} packets kept; bytes estimated ${Math.round(s.picture.bytes.estimate)}` +
          (t ? ` vs ${t.bytes.truth} true (${(t.bytes.relError * 100).toFixed(1)}%, ${t.bytes.covered ? 'inside' : 'outside'} its 95% interval)` : ''),
      )
    }
    if (r.analyze) {
      const a = r.analyze
      lines.push(
        `analyzed ${a.addresses.total} addresses: ${a.detections.first} first-pass and ${a.detections.post} post-pass detections; ` +
          `${a.resources.wallS.toFixed(1)} s wall, ${a.resources.cpuS.toFixed(1)} s CPU, ${a.resources.addressesPerCpuS.toFixed(0)} addresses per CPU-second`,
      )
    }
    this.out(lines.join('\n'))
    if (!this.jsonEnabled()) this.out(`\n${renderReportText(r.report, {color: shouldColor(process.stdout, process.env)})}`)
    if (r.html) this.out(`\nreport: ${path.resolve(r.html)}`)
    const found = f['fail-on'] === undefined ? 0 : f['fail-on'] === 'incidents' ? r.report.incidents.total : r.report.detections.total
    if (found > 0) this.exitSucceededWith(EXIT.detections)
    return r
  }
}
