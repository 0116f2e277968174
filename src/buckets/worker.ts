/**
 * Worker process entry (forked by the pool from the compiled `dist/buckets/worker.js`). It opens its
 * own in-memory DuckDB (one thread: the pool parallelises across processes) that reads the run's
 * export read-only, loads the model once with a single-threaded onnxruntime session, then runs jobs
 * one at a time as the controller sends them.
 */
import type {LoadedModel} from '../infer/index.js'
import {closeModel, loadModel} from '../infer/index.js'
import {FlowStore} from '../io/index.js'
import type {BucketJob, WorkSetup} from './bucket-work.js'
import {runBucketJob} from './bucket-work.js'
import type {FromWorker, ToWorker} from './worker-messages.js'
import {WORKER_EXIT_HOOK, WORKER_GENERATION, selfUsage} from './worker-messages.js'

/** Exit status of a worker killed by the test hook. */
const HOOK_EXIT_CODE = 86

interface WorkerState {
  store: FlowStore
  model: LoadedModel
  setup: WorkSetup
}

let state: WorkerState | undefined
let jobs = 0
let queue: Promise<void> = Promise.resolve()

function send(message: FromWorker): void {
  process.send?.(message)
}

async function init(setup: WorkSetup): Promise<void> {
  const store = await FlowStore.open(':memory:')
  await store.run('SET threads = 1')
  await store.run("SET preserve_insertion_order = false")
  if (setup.handoff.format === 'duckdb') await store.run(`ATTACH '${setup.handoff.path.replaceAll("'", "''")}' AS run_export (READ_ONLY)`)
  const model = await loadModel(setup.modelPath, {sessionOptions: {intraOpNumThreads: 1, interOpNumThreads: 1}})
  state = {store, model, setup}
}

function hookFires(job: BucketJob): boolean {
  const spec = process.env[WORKER_EXIT_HOOK]
  if (!spec) return false
  const always = spec.endsWith(':always')
  const body = always ? spec.slice(0, -':always'.length) : spec
  if (!always && Number(process.env[WORKER_GENERATION] ?? 0) > 0) return false
  if (body.startsWith('key:')) return job.key === body.slice(4)
  return Number(body) === jobs + 1
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init':
      try {
        await init(message.setup)
        send({type: 'ready', usage: selfUsage('worker', jobs)})
      } catch (error) {
        send({type: 'error', taskId: null, message: errorText(error), usage: selfUsage('worker', jobs)})
      }
      return
    case 'job': {
      if (state === undefined) {
        send({type: 'error', taskId: message.taskId, message: 'worker not initialised', usage: selfUsage('worker', jobs)})
        return
      }
      try {
        if (hookFires(message.job)) {
          // die in the middle of the job, as a crash would: the controller must retry the bucket
          process.exit(HOOK_EXIT_CODE)
        }
        const output = await runBucketJob(state.store, state.model, state.setup, message.job)
        jobs++
        send({type: 'result', taskId: message.taskId, output, usage: selfUsage('worker', jobs)})
      } catch (error) {
        send({type: 'error', taskId: message.taskId, message: errorText(error), usage: selfUsage('worker', jobs)})
      }
      return
    }
    case 'stats':
      send({type: 'stats', usage: selfUsage('worker', jobs)})
      return
    case 'close':
      if (state !== undefined) {
        await closeModel(state.model)
        await state.store.close()
        state = undefined
      }
      process.disconnect?.()
      return
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

process.on('message', (message: ToWorker) => {
  // one message at a time, in order
  queue = queue.then(() => handle(message))
})
// the controller went away: nothing left to work for
process.on('disconnect', () => process.exit(0))
