/**
 * Worker-thread entry for capture ingest: runs the decode job and posts FlowBatches to the main
 * thread (their typed arrays transferred, not copied), at most `CREDITS` unacknowledged at a time so
 * a slow writer bounds the memory in flight.
 */
import {parentPort} from 'node:worker_threads'

import {FlowscopeError} from '../../core/index.js'
import {runDecodeJob} from './decode-job.js'
import type {DecodeJob} from './decode-job.js'
import {flowBatchBuffers} from '../../core/index.js'
import type {FlowBatch} from '../../core/index.js'

export const CREDITS = 3

export type FromIngestWorker =
  | {type: 'batch'; batch: FlowBatch}
  | {type: 'progress'; bytesRead: number}
  | {type: 'done'; outcome: Awaited<ReturnType<typeof runDecodeJob>>}
  | {type: 'error'; error: {name: string; message: string; code?: string; file?: string; offset?: number; hint?: string; exitCode?: number}}

/** `credit`: the main thread took a batch; it hands the batch's arrays back for reuse when it can */
export type ToIngestWorker = {type: 'job'; job: DecodeJob} | {type: 'credit'; batch?: FlowBatch}


/**
 * Captures have no exporter: an array of 65,536 empty strings would be serialised and rebuilt on every
 * post, so it travels as an empty array (the appender reads a missing exporter as none).
 */
function withoutEmptyExporters(b: FlowBatch): FlowBatch {
  for (let i = 0; i < b.length; i++) if (b.exporter[i]) return b
  return {...b, exporter: []}
}

const port = parentPort
if (port) {
  let credits = CREDITS
  let waiting: (() => void) | null = null
  // batches handed back: filled again instead of allocating fresh arrays (flat memory, fewer page faults)
  const spare: FlowBatch[] = []
  port.on('message', (m: ToIngestWorker) => {
    if (m.type === 'credit') {
      if (m.batch && spare.length < CREDITS) spare.push(m.batch)
      credits++
      const w = waiting
      waiting = null
      w?.()
      return
    }
    void runDecodeJob(m.job, {
      reuse: () => spare.pop(),
      onProgress: (bytesRead) => port.postMessage({type: 'progress', bytesRead} satisfies FromIngestWorker),
      onBatches: async (batches) => {
        for (const batch of batches) {
          while (credits === 0) await new Promise<void>((resolve) => (waiting = resolve))
          credits--
          port.postMessage({type: 'batch', batch: withoutEmptyExporters(batch)} satisfies FromIngestWorker, flowBatchBuffers(batch))
        }
      },
    }).then(
      (outcome) => port.postMessage({type: 'done', outcome} satisfies FromIngestWorker),
      (error: unknown) => {
        const e = error as Error & Partial<FlowscopeError> & {file?: string; offset?: number}
        port.postMessage({
          type: 'error',
          error: {
            name: e.name ?? 'Error',
            message: e.message ?? String(error),
            ...(e.code === undefined ? {} : {code: e.code}),
            ...(e.file === undefined ? {} : {file: e.file}),
            ...(e.offset === undefined ? {} : {offset: e.offset}),
            ...(e.hint === undefined ? {} : {hint: e.hint}),
            ...(e.exitCode === undefined ? {} : {exitCode: e.exitCode}),
          },
        } satisfies FromIngestWorker)
      },
    )
  })
}
