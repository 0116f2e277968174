/**
 * One entry point for `flowscope ingest`: a file is a capture (pcap/pcapng, possibly carrying flow
 * exports) or a flow file (CSV/TSV/Zeek/Parquet), told apart by its first bytes, or as the user says.
 */
import {ingestFlowFile} from './ingest-flow-file.js'
import type {FlowFileIngestResult} from './ingest-flow-file.js'
import {withFlowFileMemory} from '../flowfile/index.js'
import type {PresetName} from '../flowfile/index.js'
import {ingestCapture} from './ingest.js'
import type {IngestOptions, IngestResult} from './ingest.js'
import {sniffIngestKind} from './ingest-kind.js'
import type {IngestFormat} from './ingest-kind.js'

export {INGEST_FORMATS, sniffIngestKind} from './ingest-kind.js'
export type {IngestFormat} from './ingest-kind.js'

export interface IngestFileOptions extends IngestOptions {
  format?: IngestFormat
  preset?: PresetName
  map?: Record<string, string>
  /** 1-in-N sampling rate of flow-file records (default 1, or the file's own column) */
  samplingRate?: number
  /** what the file is, when the caller has sniffed it already (with format 'auto': not read again) */
  kind?: 'capture' | 'flow-file'
}

export async function ingestFile(store: Parameters<typeof ingestCapture>[0], file: string, o: IngestFileOptions): Promise<IngestResult | FlowFileIngestResult> {
  const format = o.format ?? 'auto'
  const kind = format === 'capture' ? 'capture' : format === 'auto' ? (o.kind ?? (o.prefetched?.file === file ? 'capture' : await sniffIngestKind(file))) : 'flow-file'
  if (kind === 'capture') return ingestCapture(store, file, o)
  // DuckDB's memory is bounded for the staging of the file, and put back after (see flowfile/memory.ts)
  return withFlowFileMemory(store, () =>
    ingestFlowFile(store, file, {
      network: o.network,
      format: format === 'auto' || format === 'capture' ? 'auto' : format,
      ...(o.preset === undefined ? {} : {preset: o.preset}),
      ...(o.map === undefined ? {} : {map: o.map}),
      ...(o.skipBad === undefined ? {} : {skipBad: o.skipBad}),
      ...(o.samplingRate === undefined ? {} : {samplingRate: o.samplingRate}),
      ...(o.now === undefined ? {} : {now: o.now}),
    }),
  )
}
