/** Worker-thread entry of `runSamplingBenchmarkParallel`: runs its share of the sweep's cells. */
import {parentPort, workerData} from 'node:worker_threads'

import {runClaimedCells} from './bench-sampling.js'
import type {SamplingWorkerJob, SamplingWorkerMessage} from './bench-sampling.js'

const job = workerData as SamplingWorkerJob
let pending = 0
const cells = runClaimedCells(job.table, job.truth, job.cells, job.next, job, () => {
  if (++pending === 25) {
    parentPort?.postMessage({type: 'trials', n: pending} satisfies SamplingWorkerMessage)
    pending = 0
  }
})
if (pending > 0) parentPort?.postMessage({type: 'trials', n: pending} satisfies SamplingWorkerMessage)
parentPort?.postMessage({type: 'cells', cells} satisfies SamplingWorkerMessage)
