/**
 * The sampling benchmark's record in the store (for the report): one `runs` row of kind
 * 'bench-sampling', and per rate and sampler its error figures as `estimates` of that run.
 */
import {FlowStore, recordRun} from '../io/index.js'
import type {SamplingBenchmarkResult} from './bench-sampling.js'
import type {Estimate} from './stats.js'
import {writeEstimates} from './store-sample.js'

/** Records a finished benchmark of `file` in the store at `storePath`; returns the run id. */
export async function recordSamplingBenchmark(storePath: string, file: string, result: SamplingBenchmarkResult): Promise<number> {
  const store = await FlowStore.open(storePath)
  try {
    const runId = await recordRun(store, {
      kind: 'bench-sampling',
      status: 'ok',
      startedAtUs: Math.floor((Date.now() - result.seconds * 1000) * 1000),
      finishedAtUs: Date.now() * 1000,
      wallS: result.seconds,
      details: {file, trials: result.trials, seed: result.seed, truth: result.truth},
    })
    // a figure of the benchmark, not an estimate with an error of its own
    const e = (v: number): Estimate => ({estimate: v, stderr: 0, ci95: [v, v]})
    for (const c of result.cells) {
      await writeEstimates(store, {runId, sourceId: null, sampler: c.sampler, rate: c.rate}, [
        {metric: 'bias_bytes', estimate: e(c.bytes.bias)},
        {metric: 'rmse_bytes', estimate: e(c.bytes.rmse)},
        {metric: 'coverage_bytes', estimate: e(c.bytes.coverage)},
        {metric: 'rmse_packets', estimate: e(c.packets.rmse)},
        {metric: 'theoretical_rel_stderr', estimate: e(c.theoreticalRelStderr)},
        {metric: 'host_weighted_error', estimate: e(c.hosts.weightedRelError)},
        {metric: 'topk_recall', estimate: e(c.topK.recall)},
      ])
    }
    return runId
  } finally {
    await store.close()
  }
}
