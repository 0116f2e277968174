/**
 * What kind of flow file this is and what its columns are, read from the first bytes (text) or the
 * footer (Parquet, through DuckDB) before anything is ingested.
 */
import {createReadStream} from 'node:fs'
import {open} from 'node:fs/promises'
import {createInterface} from 'node:readline'
import {Writable, type Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip} from 'node:zlib'

import {InputDataError, UsageError} from '../../core/index.js'
import type {FlowStore} from '../store/index.js'
import {sqlString} from '../../core/index.js'

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

/** The widest flow file read: the widest real presets have under 100 columns. */
export const MAX_FLOW_FILE_COLUMNS = 1024
/** How much of a text file (after gunzip) the sniffer reads for its header lines. */
const HEAD_TEXT_BYTES = 1 << 20

/** A zlib failure as the error of the file: where in the compressed bytes, and what is wrong. */
function gzipError(file: string, error: unknown, offset: number): InputDataError {
  const e = error as NodeJS.ErrnoException
  if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message)) {
    return new InputDataError(`${file}: byte offset ${offset}: the gzip stream is truncated (the file ends inside its compressed data)`, {cause: error})
  }
  const what = /header|compression method/i.test(e.message) ? 'not a gzip stream' : 'corrupt gzip stream'
  return new InputDataError(`${file}: byte offset ${offset}: ${what} (${e.message})`, {cause: error})
}

/**
 * Inflates the whole gzip file and throws the error of the file if it is not a complete gzip stream.
 * DuckDB's reader stops at a truncation without an error (a truncated file would be ingested as its
 * first rows), so the check comes before it reads. One pass of zlib (~0.25 s per 100 MB of text), the
 * output thrown away as it comes.
 */
export async function verifyGzip(file: string): Promise<void> {
  const gunzip = createGunzip({chunkSize: 1 << 16})
  const sink = new Writable({write: (_chunk, _encoding, done) => done()})
  try {
    await pipeline(createReadStream(file, {highWaterMark: 1 << 16}), gunzip, sink)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code?.startsWith('Z_') || /unexpected end of file/i.test(e.message)) {
      // bytesWritten: the compressed bytes zlib had taken in when it failed (all of them when truncated)
      throw gzipError(file, error, gunzip.bytesWritten)
    }
    throw new InputDataError(`${file}: cannot read: ${e.message}`, {cause: error})
  }
}

/**
 * The first lines of a text file, from at most HEAD_TEXT_BYTES of its text: a line that does not end
 * within them (a header of megabytes) is returned cut, with `cut` set.
 */
async function firstLines(file: string, gzip: boolean, max: number): Promise<{lines: string[]; cut: boolean}> {
  const raw = createReadStream(file, {highWaterMark: 1 << 16})
  const stream: Readable = gzip ? raw.pipe(createGunzip()) : raw
  const chunks: Buffer[] = []
  let size = 0
  let ended = true
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      size += chunk.length
      if (size >= HEAD_TEXT_BYTES) {
        ended = false
        break
      }
    }
  } catch (error) {
    throw gzip ? gzipError(file, error, 0) : new InputDataError(`${file}: cannot read: ${(error as Error).message}`, {cause: error})
  } finally {
    raw.destroy()
    if (stream !== raw) stream.destroy()
  }
  const text = Buffer.concat(chunks).subarray(0, HEAD_TEXT_BYTES).toString('utf8')
  const lines = text.split(/\r?\n/)
  // the last piece is a whole line only at the end of the file
  const last = lines.pop() ?? ''
  let cut = false
  if (ended) {
    if (last !== '') lines.push(last)
  } else if (lines.length === 0) {
    lines.push(last)
    cut = true
  }
  return {lines: lines.slice(0, max), cut}
}

function decodeZeekSeparator(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

/** A header wider than MAX_FLOW_FILE_COLUMNS is refused before DuckDB reads the file. */
function checkWidth(file: string, where: string, columns: number, cut = false): void {
  if (columns > MAX_FLOW_FILE_COLUMNS) {
    throw new InputDataError(`${file}: ${where}: the header has ${cut ? 'at least ' : ''}${columns} columns, more than the ${MAX_FLOW_FILE_COLUMNS} a flow file may have`, {
      hint: 'flow-file presets have under 100 columns; drop the columns flowscope does not need before ingesting',
    })
  }
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
  checkWidth(file, `line ${headerLines}`, fields.length)
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
    checkWidth(file, 'Parquet schema', rows.length)
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
  if (gzip) await verifyGzip(file)
  const {lines, cut} = await firstLines(file, gzip, 64)
  if (lines.length > 0) lines[0] = lines[0]!.replace(/^\uFEFF/, '')
  if (!cut && (lines[0]?.startsWith('#separator') || lines[0]?.startsWith('#fields'))) {
    return {...sniffZeek(file, lines), gzip}
  }
  const headerIndex = lines.findIndex((l) => l.trim() !== '')
  if (headerIndex < 0) throw new InputDataError(`${file}: line 1: empty file, no header line`)
  const header = lines[headerIndex]!
  const where = `line ${headerIndex + 1}`
  let delimiter: string
  if (format === 'csv') delimiter = ','
  else if (format === 'tsv') delimiter = '\t'
  else delimiter = (header.match(/\t/g)?.length ?? 0) > (header.match(/,/g)?.length ?? 0) ? '\t' : ','
  const names = splitDelimited(header, delimiter).map((n) => n.trim())
  checkWidth(file, where, names.length, cut)
  if (cut) throw new InputDataError(`${file}: ${where}: the header line is longer than ${HEAD_TEXT_BYTES >> 20} MiB; is this a flow file?`)
  const nul = header.indexOf('\0')
  if (nul >= 0) {
    const column = splitDelimited(header.slice(0, nul), delimiter).length
    throw new InputDataError(`${file}: ${where}: the header holds a NUL byte (in column ${column}); a flow file is UTF-8 text — is this UTF-16 or binary?`)
  }
  if (names.length < 2) {
    throw new InputDataError(`${file}: ${where}: the header has one column; is this a ${delimiter === ',' ? 'CSV' : 'TSV'} flow file?`)
  }
  return {
    container: delimiter === '\t' ? 'tsv' : 'csv',
    gzip,
    delimiter,
    columns: names.map((name) => ({name})),
    headerLines: headerIndex + 1,
  }
}
