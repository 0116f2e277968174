import {Args, Flags} from '@oclif/core'
import {writeFile} from 'node:fs/promises'

import {BaseCommand} from '../../base-command.js'
import {rateFlag} from '../../flag-types.js'
// DuckDB loads when the store is first opened: a run with --no-store never loads it
import {createProgress, csvRecord, renderTable} from '../../report/index.js'
import {DEFAULT_BENCH_RATES, DEFAULT_BENCH_TRIALS, recordSamplingBenchmark, renderSamplingChartSvg, runSamplingBenchmarkParallel} from '../../sampling/index.js'
import {computeGroundTruth} from '../../sampling/index.js'
import {buildPacketTable} from '../../sampling/index.js'
import {PACKET_SAMPLER_NAMES} from '../../sampling/index.js'
import type {PacketSamplerName, SamplingBenchmarkCell, SamplingBenchmarkResult} from '../../sampling/index.js'

export default class BenchSampling extends BaseCommand<typeof BenchSampling> {
  static summary = 'Benchmark sampling rates × samplers × trials against the full capture.'
  static description = `The capture is decoded once into memory; every (rate, sampler, trial) then samples it, extrapolates, and is compared with the ground truth of the full capture. Per rate and sampler: bias, RMSE and 95%-interval coverage of the packet and byte totals; per-host weighted error beside the 196·√(1/c) % rule of thumb; top-k recall and precision; TCP flow-count error (SYN estimator); KS distance of the flow-size tail; protocol-mix distance. Trial seeds derive from --seed and are listed in --json output.`

  static examples = [
    {description: 'The default sweep (7 rates × 4 samplers × 100 trials)', command: '<%= config.bin %> <%= command.id %> lab.pcap --chart sampling.svg'},
    {description: 'Two rates, one sampler, as CSV', command: '<%= config.bin %> <%= command.id %> lab.pcap --rates 1/100,1/1000 --samplers sflow --trials 400 --csv'},
  ]

  static args = {file: Args.string({description: 'capture (pcap or pcapng)', required: true})}

  static flags = {
    rates: rateFlag({
      summary: 'Comma-separated rates (1/100, 0.001 or 1000).',
      multiple: true,
      delimiter: ',',
      default: [...DEFAULT_BENCH_RATES],
      defaultHelp: async () => DEFAULT_BENCH_RATES.map((r) => `1/${r}`).join(','),
    }),
    samplers: Flags.option({
      summary: `Comma-separated packet samplers (${PACKET_SAMPLER_NAMES.join(', ')}).`,
      options: PACKET_SAMPLER_NAMES,
      multiple: true,
      delimiter: ',',
      default: [...PACKET_SAMPLER_NAMES],
    })(),
    trials: Flags.integer({summary: 'Trials per rate and sampler.', default: DEFAULT_BENCH_TRIALS, min: 1}),
    seed: Flags.integer({summary: 'Base seed; each trial seed derives from it.', default: 1, min: 0}),
    chart: Flags.string({summary: 'Write the error-vs-rate chart (SVG) to this file.'}),
    csv: Flags.boolean({summary: 'Print the table as CSV.', exclusive: ['json']}),
    'no-store': Flags.boolean({summary: 'Do not record the results in the store (for the report).'}),
    threads: Flags.integer({summary: 'Threads the trials are spread over (default: the machine\'s cores); results do not depend on it.', min: 1}),
    'max-packets': Flags.integer({summary: 'Refuse captures with more packets (the capture is held in memory, ~30 bytes a packet).', default: 20_000_000}),
  }

  async run(): Promise<SamplingBenchmarkResult & {file: string; chart: string | null}> {
    const f = this.flags
    const rates = f.rates
    const samplers: PacketSamplerName[] = f.samplers
    const file = this.args.file!
    const {table} = await buildPacketTable(file, {maxPackets: f['max-packets']})
    const truth = computeGroundTruth(table)
    const progress = createProgress(this.showProgress, 'bench sampling', rates.length * samplers.length * f.trials, 'trials', 1)
    let result: SamplingBenchmarkResult
    try {
      result = await runSamplingBenchmarkParallel(table, {rates, samplers, trials: f.trials, seed: f.seed, truth, ...(f.threads === undefined ? {} : {threads: f.threads}), onProgress: (done) => progress.update(done)})
    } finally {
      progress.stop()
    }
    if (f.chart) await writeFile(f.chart, renderSamplingChartSvg(result, {metric: 'bytes'}))
    if (!f['no-store']) await recordSamplingBenchmark(f.db, file, result)
    const rows = result.cells
    if (f.csv) {
      process.stdout.write(csvRecord(CSV_HEADER))
      for (const c of rows) process.stdout.write(csvRecord(csvRow(c)))
    } else {
      this.out(`${file}: ${result.truth.packets} packets, ${result.truth.flowRecords} flow records, ${result.truth.hosts} hosts; ${result.trials} trials per cell in ${result.seconds.toFixed(1)} s\n`)
      this.out(
        renderTable(
          [
            {header: 'rate', value: (c: SamplingBenchmarkCell) => `1/${c.rate}`},
            {header: 'sampler', value: (c) => c.sampler},
            {header: 'bytes bias', value: (c) => pct(c.bytes.bias), align: 'right'},
            {header: 'RMSE', value: (c) => pct(c.bytes.rmse), align: 'right'},
            {header: 'CI cov', value: (c) => pct(c.bytes.coverage, 0), align: 'right'},
            {header: '√(1/c)', value: (c) => pct(c.theoreticalRelStderr), align: 'right'},
            {header: 'host err', value: (c) => pct(c.hosts.weightedRelError), align: 'right'},
            {header: 'top10 R/P', value: (c) => `${c.topK.recall.toFixed(2)}/${c.topK.precision.toFixed(2)}`, align: 'right'},
            {header: 'TCP flows', value: (c) => (c.tcpFlows ? pct(c.tcpFlows.rmse) : '-'), align: 'right'},
            {header: 'KS', value: (c) => (c.flowSizeKs === null ? '-' : c.flowSizeKs.toFixed(3)), align: 'right'},
            {header: 'mix TV', value: (c) => c.protoMixTv.toFixed(3), align: 'right'},
          ],
          rows,
        ),
      )
      if (f.chart) this.out(`\nchart: ${f.chart}`)
    }
    return {...result, file, chart: f.chart ?? null}
  }
}

const CSV_HEADER = ['rate', 'sampler', 'trials', 'mean_sampled_packets', 'theoretical_rel_stderr', 'packets_bias', 'packets_rmse', 'packets_coverage', 'bytes_bias', 'bytes_rmse', 'bytes_coverage', 'tcp_flows_bias', 'tcp_flows_rmse', 'host_weighted_error', 'host_rule_bound', 'topk_recall', 'topk_precision', 'flow_size_ks', 'proto_mix_tv']

function csvRow(c: SamplingBenchmarkCell): unknown[] {
  return [c.rate, c.sampler, c.trials, c.meanSampledPackets, c.theoreticalRelStderr, c.packets.bias, c.packets.rmse, c.packets.coverage, c.bytes.bias, c.bytes.rmse, c.bytes.coverage,
    c.tcpFlows?.bias ?? null, c.tcpFlows?.rmse ?? null, c.hosts.weightedRelError, c.hosts.ruleOfThumbBound, c.topK.recall, c.topK.precision, c.flowSizeKs, c.protoMixTv]
}

function pct(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '-'
}
