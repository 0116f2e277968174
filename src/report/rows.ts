/**
 * Row output for query commands: CSV (RFC 4180, through `csvRecord`: a text field a spreadsheet would
 * take for a formula gets a leading `'`) and NDJSON written as rows arrive, with backpressure;
 * a closed pipe (`flowscope flows --ndjson | head`) ends the output quietly instead of failing.
 */
import type {Writable} from 'node:stream'

import {csvRecord} from './escape.js'

export type Row = Record<string, unknown>

export const ROW_FORMATS = ['table', 'csv', 'ndjson'] as const
export type RowFormat = (typeof ROW_FORMATS)[number]


/** Writes text, waiting for `drain` when the stream is full; false once the reader has gone (EPIPE). */
export function makeWriter(out: Writable): {write(text: string): Promise<boolean>; closed(): boolean} {
  let gone = false
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') gone = true
    else throw e
  })
  return {
    closed: () => gone,
    async write(text: string): Promise<boolean> {
      if (gone) return false
      if (out.write(text)) return true
      await new Promise<void>((resolve) => {
        const done = (): void => {
          out.off('drain', done)
          out.off('error', done)
          out.off('close', done)
          resolve()
        }
        out.once('drain', done)
        out.once('error', done)
        out.once('close', done)
      })
      return !gone
    },
  }
}

/** Streams rows as CSV or NDJSON; returns how many rows were written before the reader went away. */
export async function writeRowStream(
  columns: string[],
  chunks: AsyncIterable<Row[]>,
  format: 'csv' | 'ndjson',
  out: Writable,
): Promise<number> {
  const w = makeWriter(out)
  let n = 0
  if (format === 'csv' && !(await w.write(csvRecord(columns)))) return 0
  for await (const chunk of chunks) {
    let text = ''
    for (const row of chunk) {
      text += format === 'csv' ? csvRecord(columns.map((c) => row[c])) : `${JSON.stringify(row)}\n`
      n++
    }
    if (!(await w.write(text))) break
  }
  return n
}
