/**
 * The decode half of a capture ingest — read, hash, detect, decode, assemble (CaptureFlows) — as one
 * function that hands finished FlowBatches to a sink. It runs in a worker thread (ingest-worker.ts) so decoding and
 * the DuckDB appends of the main thread overlap on two cores, or in-line when no worker is available.
 */
import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'

import {CaptureFlows} from './capture-flows.js'
import {createContentHasher} from './content-hash.js'
import type {FlowAssemblerStats} from '../capture/index.js'
import type {FlowBatch} from '../../core/index.js'
import type {FlowExportProblem} from '../flowexport/index.js'
import type {CaptureReadStats} from '../capture/index.js'

export interface DecodeJob {
  file: string
  skipBad: boolean
  idleTimeoutMicros: number
  activeTimeoutMicros: number
  decode: 'auto' | 'packets' | 'exports'
  /** hash the bytes in this pass (false: a hash thread of its own reads the file, file-hash.ts) */
  hashInline: boolean
}

export interface DecodeOutcome {
  readStats: CaptureReadStats
  assembler: FlowAssemblerStats
  /**
   * BLAKE3 of the whole file (the part the reader did not consume, when it stopped early, is hashed
   * too); '' when a hash thread does it
   */
  contentHash: string
  collector: {
    exportDatagrams: number
    otherPackets: number
    records: number
    templates: number
    undecodableSets: number
    malformed: number
    problems: FlowExportProblem[]
    samplingRates: number[]
  } | null
}

export interface DecodeCallbacks {
  onBatches: (batches: FlowBatch[]) => Promise<void> | void
  onProgress?: (bytesRead: number) => void
  /** a batch the consumer is done with, for the assembler to fill again */
  reuse?: () => FlowBatch | undefined
}

export async function runDecodeJob(job: DecodeJob, cb: DecodeCallbacks): Promise<DecodeOutcome> {
  const hash = job.hashInline ? await createContentHasher() : undefined
  const capture = new CaptureFlows(job.file, {
    decode: job.decode,
    idleTimeoutMicros: job.idleTimeoutMicros,
    activeTimeoutMicros: job.activeTimeoutMicros,
    ...(cb.reuse ? {reuse: cb.reuse} : {}),
    read: {
      skipBad: job.skipBad,
      syncReads: true,
      ...(hash ? {onData: (bytes: Uint8Array) => hash.update(bytes)} : {}),
      ...(cb.onProgress ? {onProgress: cb.onProgress} : {}),
    },
  })
  for await (const ready of capture.batches()) {
    if (ready.length) await cb.onBatches(ready)
  }
  const {readStats, assembler, collector} = capture
  if (hash) {
    const size = (await stat(job.file)).size
    if (readStats.bytesRead < size) {
      for await (const chunk of createReadStream(job.file, {start: readStats.bytesRead, highWaterMark: 4 << 20})) hash.update(chunk as Buffer)
    }
  }
  const x = collector?.exportStats
  return {
    readStats,
    assembler: {...assembler.stats},
    contentHash: hash ? hash.digest() : '',
    collector:
      collector && x
        ? {
            exportDatagrams: collector.stats.exportDatagrams,
            otherPackets: collector.stats.otherPackets,
            records: x.records,
            templates: x.templates,
            undecodableSets: x.undecodableSets,
            malformed: x.malformed,
            problems: x.problems.slice(0, 10),
            samplingRates: [...new Set([...x.sflowSources.values()].flatMap((s) => s.samplingRates))].sort((a, b) => a - b),
          }
        : null,
  }
}
