/**
 * What a file given to `flowscope ingest` is, from its first bytes: a light module (no decoders), so
 * the CLI can tell a capture and start decoding it before the rest of the ingest code is loaded.
 */
import {open} from 'node:fs/promises'

import {InputDataError} from '../../core/index.js'

export const INGEST_FORMATS = ['auto', 'capture', 'csv', 'tsv', 'parquet'] as const
export type IngestFormat = (typeof INGEST_FORMATS)[number]

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
  // capture so the error says what a capture should have looked like. A UTF-8 BOM is skipped; a header
  // of UTF-8 names is text; a NUL in it (UTF-16, or a damaged header) makes it a flow file whose
  // sniffer says what is wrong, not a capture.
  const start = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0
  const text = Buffer.from(head.subarray(start)).toString('latin1')
  const firstLine = text.split(/\r?\n/, 1)[0] ?? ''
  if (/^#separator/.test(text) || (/[,\t]/.test(firstLine) && /^[\x20-\x7e\x80-\xff\t\0]+$/.test(firstLine) && /[\x20-\x7e]/.test(firstLine))) return 'flow-file'
  return 'capture'
}
