/**
 * One entry point for `flowscope ingest`: a file is a capture (pcap/pcapng, possibly carrying flow
 * exports) or a flow file (CSV/TSV/Zeek/Parquet), told apart by its first bytes, or as the user says.
 */
import {open} from 'node:fs/promises'

import {InputDataError} from '../errors.js'
import {ingestFlowFile} from './flowfile/index.js'
import type {FlowFileIngestResult, PresetName} from './flowfile/index.js'
import {ingestCapture} from './ingest.js'
import type {IngestOptions, IngestResult} from './ingest.js'

export const INGEST_FORMATS = ['auto', 'capture', 'csv', 'tsv', 'parquet'] as const
export type IngestFormat = (typeof INGEST_FORMATS)[number]

export interface IngestFileOptions extends IngestOptions {
  format?: IngestFormat
  preset?: PresetName
  map?: Record<string, string>
  /** 1-in-N sampling rate of flow-file records (default 1, or the file's own column) */
  samplingRate?: number
}

const CAPTURE_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a])
const GZIP = [0x1f, 0x8b]

/** 'capture' or 'flow-file' from the first bytes: capture magics, Parquet's PAR1, or delimited text. */
export async function sniffIngestKind(file: string): Promise<'capture' | 'flow-file'> {
  let head: Uint8Array
  try {
    const fh = await open(file, 'r')
    try {
      head = new Uint8Array(4096)
      const {bytesRead} = await fh.read(head, 0, head.length, 0)
      head = head.subarray(0, bytesRead)
    } finally {
      await fh.close()
    }
  } catch (error) {
    throw new InputDataError(`${file}: cannot read: ${(error as Error).message}`, {cause: error})
  }
  if (head.length >= 4) {
    const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0
    if (CAPTURE_MAGICS.has(be)) return 'capture'
    if (head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31) return 'flow-file'
  }
  if (head[0] === GZIP[0] && head[1] === GZIP[1]) return 'flow-file'
  // delimited text with a header line (or Zeek's #separator): a flow file; anything else is read as a
  // capture so the error says what a capture should have looked like
  const text = Buffer.from(head).toString('latin1')
  const firstLine = text.split(/\r?\n/, 1)[0] ?? ''
  if (/^#separator/.test(text) || (/[,\t]/.test(firstLine) && /^[\x20-\x7e\t]+$/.test(firstLine))) return 'flow-file'
  return 'capture'
}

export async function ingestFile(store: Parameters<typeof ingestCapture>[0], file: string, o: IngestFileOptions): Promise<IngestResult | FlowFileIngestResult> {
  const format = o.format ?? 'auto'
  const kind = format === 'capture' ? 'capture' : format === 'auto' ? await sniffIngestKind(file) : 'flow-file'
  if (kind === 'capture') return ingestCapture(store, file, o)
  return ingestFlowFile(store, file, {
    network: o.network,
    format: format === 'auto' || format === 'capture' ? 'auto' : format,
    ...(o.preset === undefined ? {} : {preset: o.preset}),
    ...(o.map === undefined ? {} : {map: o.map}),
    ...(o.skipBad === undefined ? {} : {skipBad: o.skipBad}),
    ...(o.samplingRate === undefined ? {} : {samplingRate: o.samplingRate}),
    ...(o.now === undefined ? {} : {now: o.now}),
  })
}
