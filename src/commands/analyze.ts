import {Flags} from '@oclif/core'
import os from 'node:os'

import {BaseCommand} from '../base-command.js'
import {runAnalyze} from '../buckets/index.js'
import type {AnalyzeResult} from '../buckets/index.js'
import {timeFlag, networkFlag} from '../flag-types.js'
import {bundledModelPath} from '../infer/index.js'
import {staleLockMessage, withStoreLock} from '../io/index.js'
import {createProgress, renderTable} from '../report/index.js'

export type AnalyzeCommandResult = Omit<AnalyzeResult, 'firstDetections' | 'postDetections' | 'postScores'> & {
  topDetections: {address: string; network: string; window: string; pass: string; score: number; threshold: number; type: string}[]
}

export default class Analyze extends BaseCommand<typeof Analyze> {
  static summary = 'Detect threats: per-window scoring, then the bucketed post-processing pass, with the resources it took.'
  static description = `First pass: every (address, 5-minute window) of the chosen flows is scored by the autoencoder (one batched ONNX call); windows above the model's threshold become detections.

Post-processing pass: the addresses the first pass did not flag are grouped into buckets by prefix (/24, /48) and AS; a pool of worker processes loads each bucket's flows once, computes the bucket's shared work once (its profile, each member's deviation from it, longer 1-hour and whole-range windows) and scores all members in one batched call, reusing shared work across windows through an in-memory inference map. It finds the low-and-slow attacks a single window misses, at the same false-positive budget. --no-buckets runs the naive path (one query and one model call per address) for comparison.

Every run is recorded in the runs table: wall and CPU time, peak memory, addresses per second and per CPU-second, buckets, inference-map reuse, failures.`

  static examples = [
    {description: 'Everything in the store, with the bundled model', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'One network over the last day, two workers, as JSON', command: '<%= config.bin %> <%= command.id %> --network lab --since 24h --workers 2 --json'},
    {description: 'The naive per-address path, for comparison', command: '<%= config.bin %> <%= command.id %> --no-buckets'},
  ]

  static flags = {
    network: networkFlag({summary: 'Only this network (tenant).'}),
    since: timeFlag({summary: 'From this time (24h, 7d or ISO 8601).'}),
    until: timeFlag({summary: 'Until this time.'}),
    model: Flags.string({summary: 'ONNX model (default: the bundled fixtures/model.onnx).'}),
    workers: Flags.integer({summary: 'Worker processes for the post-processing pass.', default: os.availableParallelism(), min: 1}),
    'no-buckets': Flags.boolean({summary: 'Naive post pass: one query and one model call per address.'}),
    'no-post': Flags.boolean({summary: 'First pass only.'}),
    'prefix-v4': Flags.integer({summary: 'IPv4 bucket prefix length.', default: 24, min: 8, max: 32}),
    'prefix-v6': Flags.integer({summary: 'IPv6 bucket prefix length.', default: 48, min: 16, max: 128}),
    'bucket-cap': Flags.integer({summary: 'Largest bucket (addresses); bigger groups split along prefix lines.', default: 1000, min: 1}),
    'no-asn': Flags.boolean({summary: 'Bucket public addresses by prefix only, not by AS.'}),
  }

  async run(): Promise<AnalyzeCommandResult> {
    const f = this.flags
    const us = (d: Date | undefined): number | undefined => (d === undefined ? undefined : d.getTime() * 1000)
    const progress = createProgress(this.showProgress, 'analyze', 1, 'buckets', 1)
    let r: AnalyzeResult
    try {
      r = await withStoreLock(f.db, 'analyze', () =>
        runAnalyze(f.db, {
          model: f.model ?? bundledModelPath(),
          ...(f.network === undefined ? {} : {network: f.network}),
          ...(us(f.since) === undefined ? {} : {since: us(f.since)!}),
          ...(us(f.until) === undefined ? {} : {until: us(f.until)!}),
          workers: f.workers,
          buckets: !f['no-buckets'],
          post: !f['no-post'],
          prefixV4: f['prefix-v4'],
          prefixV6: f['prefix-v6'],
          bucketCap: f['bucket-cap'],
          byAsn: !f['no-asn'],
          onProgress: (done, total) => progress.update(done, total),
        }),
        {onStale: (h, file) => this.note(staleLockMessage(file, h))},
      )
    } finally {
      progress.stop()
    }
    for (const w of r.warnings) this.note(w)
    for (const b of r.buckets.failed) this.note(`bucket ${b.bucket} (${b.addresses.length} addresses) failed after ${b.attempts} attempts: ${b.error}`)
    const all = [...r.firstDetections, ...r.postDetections].sort((a, b) => b.score / b.threshold - a.score / a.threshold)
    const top = all.slice(0, 20).map((d) => ({
      address: d.address,
      network: d.network,
      window: `${new Date(d.windowStart / 1000).toISOString().slice(0, 16).replace('T', ' ')}+${Math.round((d.windowEnd - d.windowStart) / 60e6)}m`,
      pass: d.pass,
      score: d.score,
      threshold: d.threshold,
      type: d.attackType,
    }))
    const x = r.resources
    this.out(
      `run ${r.runId} (${r.status}): ${r.addresses.total} addresses; first pass flagged ${r.addresses.flaggedFirst}, ` +
        `post pass analysed ${r.addresses.analysed} (${r.mode}, ${r.workers} workers) and flagged ${r.detections.postAddresses}; ` +
        `${r.detections.first + r.detections.post} detections` +
        (r.detections.related > 0 ? ` (${r.detections.related} beside beacon detections: same client, service and /24 or /48)` : ''),
    )
    this.out(
      `resources: wall ${x.wallS.toFixed(2)} s, CPU ${x.cpuS.toFixed(2)} s (user ${x.cpuUserS.toFixed(2)}, system ${x.cpuSystemS.toFixed(2)}), ` +
        `peak RSS ${x.peakRssMb.toFixed(0)} MB (all processes ${x.peakRssTotalMb.toFixed(0)} MB), ${x.addressesPerS.toFixed(0)} addresses/s, ` +
        `${x.addressesPerCpuS.toFixed(0)} per CPU-second; buckets ${r.buckets.analysed}/${r.buckets.planned}, retried ${r.buckets.retried}, failed ${r.buckets.failed.length}; ` +
        `inference map ${r.map.hits} hits / ${r.map.misses} misses\n`,
    )
    if (top.length > 0) {
      this.out(
        renderTable(
          [
            {header: 'address', value: (d: (typeof top)[number]) => d.address},
            {header: 'network', value: (d) => d.network},
            {header: 'window (UTC)', value: (d) => d.window},
            {header: 'pass', value: (d) => d.pass},
            {header: 'score', value: (d) => `${d.score.toFixed(1)}/${d.threshold.toFixed(1)}`, align: 'right'},
            {header: 'type', value: (d) => d.type},
          ],
          top,
        ),
      )
    }
    const {firstDetections: _f, postDetections: _p, postScores: _s, ...rest} = r
    return {...rest, topDetections: top}
  }
}
