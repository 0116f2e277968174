/**
 * What kind of flow file this is and what its columns are, read from the first bytes (text) or the
 * footer (Parquet, through DuckDB) before anything is ingested.
 */
import {createReadStream} from 'node:fs'
import {open} from 'node:fs/promises'
import {createInterface} from 'node:readline'
import type {Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'

import {InputDataError, UsageError} from '../../core/index.js'
import type {FlowStore} from '../store/index.js'
import {sqlString} from './sql.js'

export const FLOW_FILE_FORMATS = ['auto', 'csv', 'tsv', 'parquet'] as const
export type FlowFileFormat = (typeof FLOW_FILE_FORMATS)[number]

/** How the file is laid out: delimited text with one header line, Zeek's `#`-headed TSV, or Parquet. */
export type FlowFileContainer = 'csv' | 'tsv' | 'zeek' | 'parquet'

export interface SniffedColumn {
  /** the name as the file writes it, surrounding spaces removed */
  name: string
  /** DuckDB type (Parquet only) */
  type?: string
}

export interface SniffedFile {
  container: FlowFileContainer
  gzip: boolean
  delimiter: string
  columns: SniffedColumn[]
  /** text files: lines before the first data line that are not data (1 for a CSV header) */
  headerLines: number
  /** Zeek: lines starting with this are comments (the `#` header and `#close` trailer) */
  comment?: string
  /** Zeek's `#unset_field` (`-`) and `#empty_field` (`(empty)`) */
  zeek?: {unset: string; empty: string}
}

const PARQUET_MAGIC = 'PAR1'

/** Split one delimited line, honouring double quotes (RFC 4180: `""` is a quote inside quotes). */
export function splitDelimited(line: string, delimiter: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"'
        i++
      } else if (ch === '"') quoted = false
      else cur += ch
    } else if (ch === '"') quoted = true
    else if (ch === delimiter) {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  out.push(cur)
  return out
}

async function headBytes(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.alloc(n)
    const {bytesRead} = await fh.read(buf, 0, n, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

/** Opens the file as text lines (gunzipping when it is gzip). The caller stops early by `close()`. */
export function textLines(file: string, gzip: boolean): {lines: AsyncIterable<string>; close: () => void} {
  const raw = createReadStream(file, {highWaterMark: 1 << 20})
  const stream: Readable = gzip ? raw.pipe(createGunzip()) : raw
  const rl = createInterface({input: stream, crlfDelay: Infinity})
  return {
    lines: rl,
    close: () => {
      rl.close()
      raw.destroy()
      if (stream !== raw) stream.destroy()
    },
  }
}

async function firstLines(file: string, gzip: boolean, max: number): Promise<string[]> {
  const {lines, close} = textLines(file, gzip)
  const out: string[] = []
  try {
    for await (const line of lines) {
      out.push(line)
      if (out.length >= max) break
    }
  } finally {
    close()
  }
  return out
}

function decodeZeekSeparator(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

function sniffZeek(file: string, lines: string[]): SniffedFile {
  let separator = '\t'
  let fields: string[] | undefined
  let unset = '-'
  let empty = '(empty)'
  let headerLines = 0
  for (const line of lines) {
    if (!line.startsWith('#')) break
    headerLines++
    const sepMatch = /^#separator\s+(.+)$/.exec(line)
    if (sepMatch) {
      separator = decodeZeekSeparator(sepMatch[1]!)
      continue
    }
    const parts = line.split(separator)
    const key = parts[0]
    if (key === '#fields') fields = parts.slice(1)
    else if (key === '#unset_field' && parts[1] !== undefined) unset = parts[1]
    else if (key === '#empty_field' && parts[1] !== undefined) empty = parts[1]
  }
  if (!fields) throw new InputDataError(`${file}: line 1: a Zeek log without a #fields header line`)
  return {
    container: 'zeek',
    gzip: false,
    delimiter: separator,
    columns: fields.map((name) => ({name: name.trim()})),
    headerLines,
    comment: '#',
    zeek: {unset, empty},
  }
}

/** Reads the layout and column names of a flow file. */
export async function sniffFlowFile(store: FlowStore, file: string, format: FlowFileFormat): Promise<SniffedFile> {
  const head = await headBytes(file, 4)
  const isParquet = head.toString('latin1') === PARQUET_MAGIC
  if (format === 'parquet' || (format === 'auto' && isParquet)) {
    if (!isParquet) throw new InputDataError(`${file}: byte offset 0: not a Parquet file (no PAR1 magic)`)
    let rows: {column_name: string; column_type: string}[]
    try {
      rows = await store.all(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`)
    } catch (error) {
      throw new InputDataError(`${file}: cannot read the Parquet footer: ${(error as Error).message}`, {cause: error})
    }
    return {
      container: 'parquet',
      gzip: false,
      delimiter: '',
      columns: rows.map((r) => ({name: r.column_name.trim(), type: r.column_type})),
      headerLines: 0,
    }
  }
  if (isParquet) throw new UsageError(`${file}: this is a Parquet file, not ${format.toUpperCase()}`)
  const gzip = head[0] === 0x1f && head[1] === 0x8b
  const lines = await firstLines(file, gzip, 64)
  if (lines.length > 0) lines[0] = lines[0]!.replace(/^\uFEFF/, '')
  if (lines[0]?.startsWith('#separator') || lines[0]?.startsWith('#fields')) {
    return {...sniffZeek(file, lines), gzip}
  }
  const headerIndex = lines.findIndex((l) => l.trim() !== '')
  if (headerIndex < 0) throw new InputDataError(`${file}: line 1: empty file, no header line`)
  const header = lines[headerIndex]!
  let delimiter: string
  if (format === 'csv') delimiter = ','
  else if (format === 'tsv') delimiter = '\t'
  else delimiter = (header.match(/\t/g)?.length ?? 0) > (header.match(/,/g)?.length ?? 0) ? '\t' : ','
  const names = splitDelimited(header, delimiter).map((n) => n.trim())
  if (names.length < 2) {
    throw new InputDataError(`${file}: line ${headerIndex + 1}: the header has one column; is this a ${delimiter === ',' ? 'CSV' : 'TSV'} flow file?`)
  }
  return {
    container: delimiter === '\t' ? 'tsv' : 'csv',
    gzip,
    delimiter,
    columns: names.map((name) => ({name})),
    headerLines: headerIndex + 1,
  }
}
