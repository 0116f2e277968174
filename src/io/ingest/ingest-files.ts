/**
 * Several files into the store, one after another, each its own transaction (`flowscope ingest`,
 * and the ingest step of `flowscope run`). A capture is decoded ahead of its ingest: the first one
 * while the store opens, each next one once the previous is decoded, while its flows are committed.
 */
import type {FlowStore} from '../store/index.js'
import type {FlowFileIngestResult} from './ingest-flow-file.js'
import {ingestFile} from './ingest-file.js'
import type {IngestFileOptions} from './ingest-file.js'
import {CaptureLookahead} from './ingest.js'
import type {IngestResult} from './ingest.js'

/** How one file's ingest is followed: what it read so far, and its end (ingested, unchanged or failed). */
export interface FileProgress {
  update(bytesRead: number, size: number): void
  stop(): void
}

export interface IngestFilesOptions extends Omit<IngestFileOptions, 'prefetched' | 'onDecoded' | 'onProgress' | 'kind'> {
  /** a file's ingest starts; what it returns follows that file's progress and is stopped when it ends */
  onFileStart?: (file: string, index: number) => FileProgress | undefined | void
  /** a file is in the store (or was already): called before the next file starts */
  onFileDone?: (result: IngestResult | FlowFileIngestResult, index: number) => void
}

/**
 * Ingest `files` in order. `store` may still be opening: the first capture starts decoding before it
 * is awaited. A failing file stops the loop and its error is thrown; the files before it stay
 * committed, it leaves nothing. The store is not closed here (the caller opened it).
 */
export async function ingestFiles(
  store: FlowStore | Promise<FlowStore>,
  files: readonly string[],
  options: IngestFilesOptions,
): Promise<(IngestResult | FlowFileIngestResult)[]> {
  const {onFileStart, onFileDone, ...fileOptions} = options
  const lookahead = new CaptureLookahead(decodeOptionsOf(fileOptions), fileOptions.format ?? 'auto')
  if (files[0] !== undefined) lookahead.ahead(files[0])
  const results: (IngestResult | FlowFileIngestResult)[] = []
  try {
    const opened = await store
    for (const [i, file] of files.entries()) {
      const {kind, prefetched} = await lookahead.takeSniffed(file)
      const next = files[i + 1]
      const progress = onFileStart?.(file, i) ?? undefined
      let result: IngestResult | FlowFileIngestResult
      try {
        result = await ingestFile(opened, file, {
          ...fileOptions,
          ...(kind === undefined ? {} : {kind}),
          ...(prefetched ? {prefetched} : {}),
          ...(progress ? {onProgress: (done: number, size: number) => progress.update(done, size)} : {}),
          ...(next === undefined ? {} : {onDecoded: () => lookahead.ahead(next)}),
        })
      } finally {
        progress?.stop()
        await prefetched?.run.cancel()
      }
      results.push(result)
      onFileDone?.(result, i)
    }
  } finally {
    await lookahead.cancel()
  }
  return results
}

/** The options that shape a capture's decoding (what the lookahead needs to start one early). */
function decodeOptionsOf(o: Omit<IngestFileOptions, 'prefetched' | 'onDecoded' | 'onProgress' | 'kind'>): ConstructorParameters<typeof CaptureLookahead>[0] {
  return {
    network: o.network,
    ...(o.skipBad === undefined ? {} : {skipBad: o.skipBad}),
    ...(o.idleTimeoutSec === undefined ? {} : {idleTimeoutSec: o.idleTimeoutSec}),
    ...(o.activeTimeoutSec === undefined ? {} : {activeTimeoutSec: o.activeTimeoutSec}),
    ...(o.decode === undefined ? {} : {decode: o.decode}),
    ...(o.hashThreadMinBytes === undefined ? {} : {hashThreadMinBytes: o.hashThreadMinBytes}),
  }
}

/** What a list of ingests added up to (`flowscope ingest --json` `totals`). */
export interface IngestTotals {
  files: number
  ingested: number
  unchanged: number
  packets: number
  flows: number
  bytes: number
  seconds: number
}

export function ingestTotals(results: readonly (IngestResult | FlowFileIngestResult)[]): IngestTotals {
  const sum = (f: (r: IngestResult | FlowFileIngestResult) => number): number => results.reduce((a, r) => a + f(r), 0)
  return {
    files: results.length,
    ingested: results.filter((r) => r.status === 'ingested').length,
    unchanged: results.filter((r) => r.status === 'unchanged').length,
    packets: sum((r) => (r.status === 'ingested' ? r.packets : 0)),
    flows: sum((r) => (r.status === 'ingested' ? r.flows : 0)),
    bytes: sum((r) => (r.status === 'ingested' ? r.bytes : 0)),
    seconds: sum((r) => r.seconds),
  }
}
