/**
 * Flows out of the store, for tools beyond one machine: Parquet, hive-partitioned as
 * `network=<n>/date=YYYY-MM-DD/hour=HH/` (UTC, by flow start), which Spark, Trino, Athena and DuckDB
 * read as a table; or one Arrow IPC file, `flows.arrow`.
 *
 * Column types are chosen for those readers, not copied from the store:
 * - addresses: `src_ip`/`dst_ip` as text, and `src_addr`/`dst_addr` as 16-byte big-endian binary
 *   (IPv4 mapped into ::ffff:0:0/96). The store's UHUGEINT has no Parquet or Arrow type, DECIMAL(38)
 *   is one digit short of 2^128, and decimal strings do not sort; big-endian bytes sort and compare
 *   like the numbers, so CIDR ranges stay `src_addr BETWEEN X'…' AND X'…'` in every engine.
 * - unsigned integers become the next wider signed type (ports, protocol, flags, family → INTEGER;
 *   packets, bytes, sampling rate → BIGINT): Parquet's UINT_* annotations are read as decimals or
 *   refused by several engines.
 * - times stay TIMESTAMP in microseconds, UTC, without a zone (isAdjustedToUTC = false), as in the
 *   store.
 *
 * Partition values are written by DuckDB's hive partitioning, which percent-encodes every byte of the
 * UTF-8 network name outside the RFC 3986 unreserved set (A–Z a–z 0–9 - . _ ~): `corp/eu 1` becomes
 * `network=corp%2Feu%201`. DuckDB, Spark, Hive and Trino decode `%XX` when they read the path; Hive
 * and Spark decode byte by byte, so keep network names ASCII for them. `partitionPath` gives the
 * folder name of a partition.
 */
import {randomUUID} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {mkdir, readdir, rename, rm, stat} from 'node:fs/promises'
import {once} from 'node:events'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'

// apache-arrow is loaded when an Arrow file is written: importing it costs ~0.2 s, which every command
// that loads src/io would otherwise pay at start-up
import type {Builder, Data, DataType, Field} from 'apache-arrow'

type Arrow = typeof import('apache-arrow')

import {UsageError} from '../../core/index.js'
import {flowRangeSql} from '../store/index.js'
import type {FlowStore} from '../store/index.js'
import {sqlIdent, sqlString} from '../../core/index.js'

export const FLOW_OUTPUT_FORMATS = ['parquet', 'arrow'] as const
export type FlowOutputFormat = (typeof FLOW_OUTPUT_FORMATS)[number]

/** Parquet codecs; zstd by default (smallest, read by all current engines). */
export const PARQUET_CODECS = ['zstd', 'snappy', 'gzip', 'uncompressed'] as const
export type ParquetCodec = (typeof PARQUET_CODECS)[number]

export const ARROW_FILE_NAME = 'flows.arrow'

export interface ExportOptions {
  format: FlowOutputFormat
  /** only this network */
  network?: string
  /** flows starting at or after this time; widened down to the start of its hour */
  since?: Date | string
  /** flows starting before this time; widened up to the end of its hour */
  until?: Date | string
  /** Parquet codec (default zstd) */
  compression?: ParquetCodec
  /** rows written so far and in all */
  onProgress?: (rows: number, total: number) => void
}

export interface ExportResult {
  format: FlowOutputFormat
  outDir: string
  /** files written, absolute paths, sorted */
  files: string[]
  rows: number
  /** Parquet partitions replaced, as relative folders (`network=…/date=…/hour=…`), sorted */
  partitions: string[]
  /** the hour-aligned window exported (ISO), null when open */
  since: string | null
  until: string | null
  seconds: number
}

/** The folder of one Parquet partition, escaped as DuckDB's hive partitioning writes it. */
export function partitionPath(network: string, date: string, hour: string): string {
  return `network=${escapePartitionValue(network)}/date=${date}/hour=${hour}`
}

/** RFC 3986 percent-encoding of the UTF-8 bytes outside the unreserved set. */
export function escapePartitionValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

const ROW_BATCH = 65_536
const HOUR_US = 3_600_000_000

interface ColumnInfo {
  name: string
  /** SQL for the exported value */
  sql: string
  kind: 'utf8' | 'int32' | 'int64' | 'timestamp' | 'binary'
}

/** Map the store's `flows` columns to portable export columns (see the module comment). */
async function exportColumns(store: FlowStore): Promise<ColumnInfo[]> {
  const cols = await store.all<{column_name: string; data_type: string}>(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'flows' AND table_schema = 'main' ORDER BY ordinal_position`,
  )
  return cols.map(({column_name: name, data_type: type}) => {
    const id = sqlIdent(name)
    switch (type) {
      case 'UHUGEINT':
        return {name, sql: `unhex(lpad(to_hex(${id}), 32, '0'))`, kind: 'binary'}
      case 'UTINYINT':
      case 'USMALLINT':
      case 'TINYINT':
      case 'SMALLINT':
      case 'INTEGER':
        return {name, sql: `CAST(${id} AS INTEGER)`, kind: 'int32'}
      case 'UINTEGER':
      case 'UBIGINT':
      case 'BIGINT':
        return {name, sql: `CAST(${id} AS BIGINT)`, kind: 'int64'}
      case 'TIMESTAMP':
        return {name, sql: id, kind: 'timestamp'}
      default:
        return {name, sql: `CAST(${id} AS VARCHAR)`, kind: 'utf8'}
    }
  })
}

function toMicros(value: Date | string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined
  const ms = value instanceof Date ? value.getTime() : Date.parse(value)
  if (!Number.isFinite(ms)) throw new UsageError(`--${what} ${String(value)}: not a date and time`)
  return Math.round(ms * 1000)
}

interface Window {
  where: string
  params: Record<string, unknown>
  since: number | undefined
  until: number | undefined
}

/**
 * The selection, widened to whole hours: a partition is always written whole, so re-exporting with
 * a window that cuts an hour cannot replace that hour's folder with part of its flows.
 */
function exportWindow(options: ExportOptions): Window {
  const sinceUs = toMicros(options.since, 'since')
  const untilUs = toMicros(options.until, 'until')
  const since = sinceUs === undefined ? undefined : Math.floor(sinceUs / HOUR_US) * HOUR_US
  const until = untilUs === undefined ? undefined : Math.ceil(untilUs / HOUR_US) * HOUR_US
  if (since !== undefined && until !== undefined && until <= since) throw new UsageError('--until must be after --since')
  // flows starting in the window (flow range `starting`): partitions go by the hour of ts_start, so
  // each flow is written once, in its start hour
  const range = flowRangeSql({mode: 'starting', network: options.network, since, until}, {prefix: ''})
  return {where: range.conditions.length > 0 ? range.where : 'true', params: range.params, since, until}
}

function iso(us: number | undefined): string | null {
  return us === undefined ? null : new Date(us / 1000).toISOString()
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...(await listFiles(p)))
    else out.push(p)
  }
  return out
}

/** The `network=…/date=…/hour=…` folders under a freshly written export. */
async function listPartitions(root: string): Promise<string[]> {
  const out: string[] = []
  for (const n of await readdir(root, {withFileTypes: true})) {
    if (!n.isDirectory() || !n.name.startsWith('network=')) continue
    for (const d of await readdir(path.join(root, n.name), {withFileTypes: true})) {
      if (!d.isDirectory() || !d.name.startsWith('date=')) continue
      for (const h of await readdir(path.join(root, n.name, d.name), {withFileTypes: true})) {
        if (h.isDirectory() && h.name.startsWith('hour=')) out.push(`${n.name}/${d.name}/${h.name}`)
      }
    }
  }
  return out.sort()
}

/**
 * Export flows. Parquet: `COPY … TO … (FORMAT PARQUET, PARTITION_BY (network, date, hour))` into a
 * hidden staging folder inside `outDir`, then each written partition replaces its folder in `outDir`
 * by rename (old folder moved aside, new one moved in, old one deleted): a re-export replaces exactly
 * the partitions it touches and leaves the others. DuckDB's own modes do not do that (checked on
 * 1.5): OVERWRITE empties every partition of the target, OVERWRITE_OR_IGNORE rewrites same-named files
 * in place and leaves a partition's surplus files from a larger earlier export, APPEND adds files.
 * Between the two renames a reader may miss that one partition. The COPY runs on one DuckDB thread with every row
 * in a total order, so exporting the same flows again gives byte-identical files. Arrow: the rows
 * streamed from DuckDB in chunks into `outDir/flows.arrow` batch by batch.
 */
export async function exportFlows(store: FlowStore, outDir: string, options: ExportOptions): Promise<ExportResult> {
  if (!(FLOW_OUTPUT_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(`export format "${options.format}" is not one of ${FLOW_OUTPUT_FORMATS.join(', ')}`)
  }
  const codec = options.compression ?? 'zstd'
  if (!(PARQUET_CODECS as readonly string[]).includes(codec)) {
    throw new UsageError(`compression "${codec}" is not one of ${PARQUET_CODECS.join(', ')}`)
  }
  const started = performance.now()
  const window = exportWindow(options)
  const columns = await exportColumns(store)
  await mkdir(outDir, {recursive: true})
  const [{n: total}] = (await store.all<{n: bigint}>(`SELECT count(*) AS n FROM flows WHERE ${window.where}`, window.params)) as [{n: bigint}]
  options.onProgress?.(0, Number(total))
  const common = {format: options.format, outDir: path.resolve(outDir), since: iso(window.since), until: iso(window.until)}
  if (options.format === 'arrow') {
    const file = path.join(path.resolve(outDir), ARROW_FILE_NAME)
    const rows = await writeArrow(store, file, columns, window, (n) => options.onProgress?.(n, Number(total)))
    return {...common, files: [file], rows, partitions: [], seconds: (performance.now() - started) / 1000}
  }
  const {rows, partitions} = await writeParquet(store, path.resolve(outDir), columns, window, codec)
  options.onProgress?.(rows, Number(total))
  const files: string[] = []
  for (const p of partitions) files.push(...(await listFiles(path.join(path.resolve(outDir), p))))
  return {...common, files: files.sort(), rows, partitions, seconds: (performance.now() - started) / 1000}
}

async function writeParquet(
  store: FlowStore,
  outDir: string,
  columns: ColumnInfo[],
  window: Window,
  codec: ParquetCodec,
): Promise<{rows: number; partitions: string[]}> {
  const id = `${process.pid}-${randomUUID().slice(0, 8)}`
  // hidden names: Spark, Hive and Trino skip folders starting with '.'; same filesystem, so rename works
  const staging = path.join(outDir, `.flowscope-export-${id}`)
  const trash = path.join(outDir, `.flowscope-replaced-${id}`)
  const fileCols = columns.filter((c) => c.name !== 'network')
  const select = [
    ...fileCols.map((c) => `${c.sql} AS ${sqlIdent(c.name)}`),
    'network',
    `strftime(ts_start, '%Y-%m-%d') AS date`,
    `strftime(ts_start, '%H') AS hour`,
  ].join(', ')
  const sql = `COPY (SELECT ${select} FROM flows WHERE ${window.where} ORDER BY ALL)
    TO ${sqlString(staging)} (FORMAT PARQUET, PARTITION_BY (network, date, hour), COMPRESSION ${codec},
      FILENAME_PATTERN 'flows_{i}')`
  const [{threads}] = (await store.all<{threads: bigint}>("SELECT current_setting('threads') AS threads")) as [{threads: bigint}]
  let rows: number
  try {
    // a parallel partitioned write interleaves rows from the threads differently on every run
    await store.run('SET threads = 1')
    try {
      const result = await store.all<{Count: bigint}>(sql, window.params)
      rows = Number(result[0]?.Count ?? 0)
    } finally {
      await store.run(`SET threads = ${Number(threads)}`)
    }
    if (rows === 0 || !(await exists(staging))) return {rows, partitions: []}
    const partitions = await listPartitions(staging)
    for (const p of partitions) {
      const target = path.join(outDir, p)
      await mkdir(path.dirname(target), {recursive: true})
      if (await exists(target)) {
        const aside = path.join(trash, p)
        await mkdir(path.dirname(aside), {recursive: true})
        await rename(target, aside)
      }
      await rename(path.join(staging, p), target)
    }
    return {rows, partitions}
  } finally {
    await rm(staging, {recursive: true, force: true})
    await rm(trash, {recursive: true, force: true})
  }
}

function arrowType(arrow: Arrow, kind: ColumnInfo['kind']): DataType {
  switch (kind) {
    case 'utf8':
      return new arrow.Utf8()
    case 'int32':
      return new arrow.Int32()
    case 'int64':
      return new arrow.Int64()
    case 'timestamp':
      return new arrow.TimestampMicrosecond()
    case 'binary':
      return new arrow.Binary()
  }
}

async function writeArrow(
  store: FlowStore,
  file: string,
  columns: ColumnInfo[],
  window: Window,
  onRows: (n: number) => void,
): Promise<number> {
  const arrow = await import('apache-arrow')
  const {makeData, RecordBatch, Struct, TimestampMicrosecond} = arrow
  const fields = columns.map((c) => new arrow.Field(c.name, arrowType(arrow, c.kind), c.kind !== 'timestamp'))
  const schema = new arrow.Schema(fields)
  // timestamps leave DuckDB as epoch microseconds: arrow-js builders take milliseconds (and lose µs)
  const select = columns.map((c) => (c.kind === 'timestamp' ? `epoch_us(${c.sql})` : c.sql) + ` AS ${sqlIdent(c.name)}`).join(', ')
  const result = await store.connection.stream(
    `SELECT ${select} FROM flows WHERE ${window.where} ORDER BY ts_start, src_addr, dst_addr, src_port, dst_port, proto`,
    window.params as never,
  )
  const writer = new arrow.RecordBatchFileWriter()
  const out = createWriteStream(file)
  const done = pipeline(writer.toNodeStream(), out)
  let rows = 0
  let builders = newBuilders(arrow, columns, fields)
  let times = columns.map(() => [] as bigint[])
  let pending = 0
  const flush = async (): Promise<void> => {
    const children: Data[] = columns.map((c, i) =>
      c.kind === 'timestamp'
        ? makeData({type: new TimestampMicrosecond(), length: pending, nullCount: 0, data: BigInt64Array.from(times[i]!)})
        : builders[i]!.finish().flush(),
    )
    writer.write(new RecordBatch(schema, makeData({type: new Struct(fields), length: pending, nullCount: 0, children})))
    rows += pending
    pending = 0
    builders = newBuilders(arrow, columns, fields)
    times = columns.map(() => [] as bigint[])
    onRows(rows)
    if (out.writableNeedDrain) await once(out, 'drain')
  }
  try {
    for (;;) {
      const chunk = await result.fetchChunk()
      if (!chunk || chunk.rowCount === 0) break
      for (let c = 0; c < columns.length; c++) {
        const vector = chunk.getColumnVector(c)
        const kind = columns[c]!.kind
        const b = builders[c]!
        const t = times[c]!
        for (let r = 0; r < chunk.rowCount; r++) {
          const v = vector.getItem(r)
          if (kind === 'timestamp') t.push(v as bigint)
          else if (kind === 'binary') b.append(v === null ? null : (v as {bytes: Uint8Array}).bytes)
          else b.append(v)
        }
      }
      pending += chunk.rowCount
      if (pending >= ROW_BATCH) await flush()
    }
    if (pending > 0 || rows === 0) await flush()
    writer.finish()
    await done
  } catch (error) {
    writer.abort(error)
    out.destroy()
    await done.catch(() => undefined)
    await rm(file, {force: true})
    throw error
  }
  return rows
}

function newBuilders(arrow: Arrow, columns: ColumnInfo[], fields: Field[]): Builder[] {
  return columns.map((c, i) => arrow.makeBuilder({type: fields[i]!.type, nullValues: [null, undefined]}))
}
