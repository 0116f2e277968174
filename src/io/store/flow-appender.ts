import type {DuckDBDataChunk} from '@duckdb/node-api'
import {duckdb} from '../../core/index.js'
import type {DuckDBAppender} from '@duckdb/node-api'
import ddb from '@duckdb/node-bindings'

import type {FlowBatch} from '../../core/index.js'
import {firstBadFlowRow, flowRecordProblem, InputDataError, ipv6ToString} from '../../core/index.js'

/**
 * Appends FlowBatches to `flows` (or a table of the same columns) a DuckDB data chunk (2,048 rows) at
 * a time, through the C API that `@duckdb/node-api` wraps: every numeric column is filled in a typed
 * array and copied into its vector with one call, the columns that are the same on every row of a
 * chunk (network, source, and usually exporter and the empty ASN columns) become constant vectors, and
 * the only per-row native calls left are the two address texts. This is the ingest hot path: at two
 * million flows it is about twice as fast as filling the chunk through node-api's vector objects.
 */
export class FlowAppender {
  private readonly chunk: DuckDBDataChunk
  private readonly native: ddb.Appender
  private readonly nullValue = ddb.create_null_value()
  private readonly cols = new ChunkColumns(CHUNK_ROWS)
  private readonly v6Text = new Ipv6TextCache()
  private constant: {network: string; sourceId: number; networkValue: ddb.Value; sourceValue: ddb.Value} | undefined
  private exporterValue: {text: string; value: ddb.Value} | undefined

  constructor(private readonly appender: DuckDBAppender) {
    const native = (appender as unknown as {appender?: ddb.Appender}).appender
    if (!native) throw new Error('@duckdb/node-api changed: DuckDBAppender no longer exposes its native appender')
    this.native = native
    this.chunk = duckdb().DuckDBDataChunk.create(FLOW_TYPES, CHUNK_ROWS)
  }

  /**
   * Appends a batch. The store's last check comes first: a row outside what a store may hold
   * (core/flow-bounds.ts) stops the append with an InputDataError before anything of the batch is
   * written — every decoder refuses such records earlier, naming where they are; this is the gate
   * that no new decoder can forget.
   */
  append(batch: FlowBatch, network: string, sourceId: number): void {
    const bad = firstBadFlowRow(batch)
    if (bad >= 0) {
      const problem = flowRecordProblem(batch.tsStart[bad]!, batch.tsEnd[bad]!, batch.packets[bad]!, batch.bytes[bad]!, batch.samplingRate[bad]! || 1)
      throw new InputDataError(`a flow record out of range reached the store: ${problem}`)
    }
    if (this.constant?.network !== network || this.constant.sourceId !== sourceId) {
      this.constant = {network, sourceId, networkValue: ddb.create_varchar(network), sourceValue: ddb.create_int32(sourceId)}
    }
    for (let start = 0; start < batch.length; start += CHUNK_ROWS) {
      this.appendRows(batch, start, Math.min(CHUNK_ROWS, batch.length - start))
    }
  }

  private appendRows(batch: FlowBatch, start: number, n: number): void {
    const chunk = this.chunk.chunk
    const c = this.cols
    ddb.data_chunk_reset(chunk)
    const vector = (k: number): ddb.Vector => ddb.data_chunk_get_vector(chunk, k)
    for (let j = 0; j < n; j++) {
      const i = start + j
      split64(c.tsStart, j, batch.tsStart[i] ?? 0)
      split64(c.tsEnd, j, batch.tsEnd[i] ?? 0)
      c.srcPort[j] = batch.srcPort[i] ?? 0
      c.dstPort[j] = batch.dstPort[i] ?? 0
      c.proto[j] = batch.proto[i] ?? 0
      c.tcpFlags[j] = batch.tcpFlags[i] ?? 0
      split64(c.packets, j, batch.packets[i] ?? 0)
      split64(c.bytes, j, batch.bytes[i] ?? 0)
      c.samplingRate[j] = batch.samplingRate[i] || 1
      c.family[j] = batch.family[i] ?? 4
      putUhugeint(c.srcAddr, j, batch.srcAddr, i)
      putUhugeint(c.dstAddr, j, batch.dstAddr, i)
    }
    for (const [col, a, width] of c.numeric) ddb.copy_data_to_vector(vector(col), 0, a.buffer as ArrayBuffer, a.byteOffset, n * width)
    const k = this.constant!
    ddb.vector_reference_value(vector(COL.network), k.networkValue)
    ddb.vector_reference_value(vector(COL.sourceId), k.sourceValue)
    // src_as, dst_as: filled by ASN enrichment
    ddb.vector_reference_value(vector(COL.srcAs), this.nullValue)
    ddb.vector_reference_value(vector(COL.dstAs), this.nullValue)
    this.exporters(batch, start, n, vector(COL.exporter))
    this.addressTexts(batch.srcAddr, batch.family, start, n, vector(COL.srcIp))
    this.addressTexts(batch.dstAddr, batch.family, start, n, vector(COL.dstIp))
    ddb.data_chunk_set_size(chunk, n)
    ddb.append_data_chunk(this.native, chunk)
  }

  /**
   * One address-text column. DuckDB keeps a string of up to 12 bytes inside its 16-byte `string_t`
   * ({uint32 length, 12 bytes, zero padded}: the C API's duckdb_string_t), so texts that short — most
   * IPv4 and some IPv6 addresses — are written straight into the chunk's bytes and copied with one
   * call; only the longer ones are assigned one by one, as bytes (no JS string to convert). IPv6 texts
   * come from a cache of recent addresses' bytes.
   */
  private addressTexts(addr: Uint32Array, family: Uint8Array, start: number, n: number, vector: ddb.Vector): void {
    const u = this.cols.text
    const w = this.cols.textWords
    const long = this.cols.longRows
    const v6 = this.v6Text
    let longs = 0
    for (let j = 0; j < n; j++) {
      const i = start + j
      const o = i * 4
      const e = j * 16
      w[j * 4 + 1] = 0
      w[j * 4 + 2] = 0
      w[j * 4 + 3] = 0
      let len: number
      if (family[i] === 6) {
        const t = v6.get(addr[o] ?? 0, addr[o + 1] ?? 0, addr[o + 2] ?? 0, addr[o + 3] ?? 0)
        len = t.length
        if (len <= 12) u.set(t, e + 4)
      } else {
        len = writeIpv4(u, e + 4, addr[o + 3] ?? 0)
      }
      // a text longer than 12 bytes spilled into the next entry's length field, rewritten next
      if (len <= 12) w[j * 4] = len
      else {
        w[j * 4] = 0
        long[longs++] = j
      }
    }
    ddb.copy_data_to_vector(vector, 0, u.buffer as ArrayBuffer, 0, n * 16)
    const scratch = this.cols.scratch
    for (let q = 0; q < longs; q++) {
      const j = long[q]!
      const i = start + j
      const o = i * 4
      const bytes =
        family[i] === 6
          ? v6.get(addr[o] ?? 0, addr[o + 1] ?? 0, addr[o + 2] ?? 0, addr[o + 3] ?? 0)
          : scratch.subarray(0, writeIpv4(scratch, 0, addr[o + 3] ?? 0))
      ddb.vector_assign_string_element_len(vector, j, bytes)
    }
  }

  /** The exporter column: one constant when every row of the chunk has the same exporter ('' = NULL). */
  private exporters(batch: FlowBatch, start: number, n: number, vector: ddb.Vector): void {
    const first = batch.exporter[start] ?? ''
    let same = true
    for (let j = 1; j < n && same; j++) same = (batch.exporter[start + j] ?? '') === first
    if (same) {
      if (first === '') return ddb.vector_reference_value(vector, this.nullValue)
      if (this.exporterValue?.text !== first) this.exporterValue = {text: first, value: ddb.create_varchar(first)}
      return ddb.vector_reference_value(vector, this.exporterValue.value)
    }
    const valid = this.cols.validity
    valid.fill(0)
    for (let j = 0; j < n; j++) {
      const e = batch.exporter[start + j] ?? ''
      if (e === '') continue
      valid[j >>> 5]! |= 1 << (j & 31)
      ddb.vector_assign_string_element(vector, j, e)
    }
    ddb.vector_ensure_validity_writable(vector)
    ddb.copy_data_to_vector_validity(vector, 0, valid.buffer as ArrayBuffer, 0, Math.ceil(n / 64) * 8)
  }

  close(): void {
    this.appender.closeSync()
  }
}

/** What `appendFlowBatches` stored: flow records, their IP bytes, first start and last end (µs). */
export interface AppendedTotals {
  flows: number
  bytes: number
  first: number
  last: number
}

/** Append every batch with one appender and total what went in (first/last ±Infinity when empty). */
export async function appendFlowBatches(
  store: {createFlowAppender(): Promise<FlowAppender>},
  batches: Iterable<FlowBatch>,
  network: string,
  sourceId: number,
): Promise<AppendedTotals> {
  const appender = await store.createFlowAppender()
  const t: AppendedTotals = {flows: 0, bytes: 0, first: Infinity, last: -Infinity}
  try {
    for (const b of batches) {
      appender.append(b, network, sourceId)
      t.flows += b.length
      for (let i = 0; i < b.length; i++) {
        t.bytes += b.bytes[i] ?? 0
        t.first = Math.min(t.first, b.tsStart[i] ?? Infinity)
        t.last = Math.max(t.last, b.tsEnd[i] ?? -Infinity)
      }
    }
  } finally {
    appender.close()
  }
  return t
}

const CHUNK_ROWS = 2048
const TWO32 = 4294967296

/** Column positions in `flows` (schema.ts); FLOW_TYPES below follows the same order. */
const COL = {
  network: 0, exporter: 1, tsStart: 2, tsEnd: 3, srcIp: 4, dstIp: 5, srcPort: 6, dstPort: 7, proto: 8, tcpFlags: 9,
  packets: 10, bytes: 11, samplingRate: 12, sourceId: 13, family: 14, srcAddr: 15, dstAddr: 16, srcAs: 17, dstAs: 18,
} as const
/** The columns filled in a typed array of ChunkColumns and copied into their vectors whole. */
const NUMERIC_COLUMNS = ['tsStart', 'tsEnd', 'srcPort', 'dstPort', 'proto', 'tcpFlags', 'packets', 'bytes', 'samplingRate', 'family', 'srcAddr', 'dstAddr'] as const
const FLOW_TYPES = [
  duckdb().VARCHAR, duckdb().VARCHAR, duckdb().TIMESTAMP, duckdb().TIMESTAMP, duckdb().VARCHAR, duckdb().VARCHAR, duckdb().USMALLINT, duckdb().USMALLINT, duckdb().UTINYINT, duckdb().UTINYINT,
  duckdb().UBIGINT, duckdb().UBIGINT, duckdb().UINTEGER, duckdb().INTEGER, duckdb().UTINYINT, duckdb().UHUGEINT, duckdb().UHUGEINT, duckdb().UINTEGER, duckdb().UINTEGER,
]

/** duckdb().UHUGEINT is {lower, upper} 64-bit halves, little-endian: the batch's four big-endian words reversed. */
function putUhugeint(out: Uint32Array, j: number, words: Uint32Array, i: number): void {
  const o = i * 4
  const q = j * 4
  out[q] = words[o + 3] ?? 0
  out[q + 1] = words[o + 2] ?? 0
  out[q + 2] = words[o + 1] ?? 0
  out[q + 3] = words[o] ?? 0
}

/** A 64-bit integer (exact up to 2^53, negative allowed) as two little-endian 32-bit words. */
function split64(out: Uint32Array, j: number, value: number): void {
  const v = Math.floor(value)
  const hi = Math.floor(v / TWO32)
  out[2 * j] = v - hi * TWO32
  out[2 * j + 1] = hi
}

/** The typed arrays one chunk's numeric columns are built in. */
class ChunkColumns {
  readonly tsStart: Uint32Array
  readonly tsEnd: Uint32Array
  readonly srcPort: Uint16Array
  readonly dstPort: Uint16Array
  readonly proto: Uint8Array
  readonly tcpFlags: Uint8Array
  readonly packets: Uint32Array
  readonly bytes: Uint32Array
  readonly samplingRate: Uint32Array
  readonly family: Uint8Array
  readonly srcAddr: Uint32Array
  readonly dstAddr: Uint32Array
  /** `string_t` entries of one text column (16 bytes a row, 3 bytes of slack for a long IPv4 text) */
  readonly text: Uint8Array
  readonly textWords: Uint32Array
  /** rows whose text is too long to inline */
  readonly longRows: Uint32Array
  /** one long IPv4 text */
  readonly scratch = new Uint8Array(16)
  /** a validity mask: bit j of 32-bit word j/32 (the same bytes as DuckDB's 64-bit words, little-endian) */
  readonly validity: Uint32Array
  /** [column position, typed array, bytes a row] of every column copied into its vector whole */
  readonly numeric: ReadonlyArray<readonly [number, ArrayBufferView, number]>
  constructor(rows: number) {
    this.tsStart = new Uint32Array(rows * 2)
    this.tsEnd = new Uint32Array(rows * 2)
    this.srcPort = new Uint16Array(rows)
    this.dstPort = new Uint16Array(rows)
    this.proto = new Uint8Array(rows)
    this.tcpFlags = new Uint8Array(rows)
    this.packets = new Uint32Array(rows * 2)
    this.bytes = new Uint32Array(rows * 2)
    this.samplingRate = new Uint32Array(rows)
    this.family = new Uint8Array(rows)
    this.srcAddr = new Uint32Array(rows * 4)
    this.dstAddr = new Uint32Array(rows * 4)
    this.validity = new Uint32Array(Math.ceil(rows / 64) * 2)
    this.text = new Uint8Array(rows * 16 + 16)
    this.textWords = new Uint32Array(this.text.buffer)
    this.longRows = new Uint32Array(rows)
    this.numeric = NUMERIC_COLUMNS.map((name) => [COL[name], this[name], this[name].byteLength / rows] as const)
  }
}

/** Decimal digits of 0–255: [length, d0, d1, d2] per value. */
const DIGITS = (() => {
  const t = new Uint8Array(256 * 4)
  for (let v = 0; v < 256; v++) {
    const s = String(v)
    t[v * 4] = s.length
    for (let k = 0; k < s.length; k++) t[v * 4 + 1 + k] = s.charCodeAt(k)
  }
  return t
})()

/** Writes the dotted quad of `v` as ASCII at `at` (7–15 bytes) and returns its length. */
function writeIpv4(u: Uint8Array, at: number, v: number): number {
  let p = at
  for (let shift = 24; shift >= 0; shift -= 8) {
    const d = ((v >>> shift) & 255) * 4
    const len = DIGITS[d]!
    u[p] = DIGITS[d + 1]!
    if (len > 1) u[p + 1] = DIGITS[d + 2]!
    if (len > 2) u[p + 2] = DIGITS[d + 3]!
    p += len
    if (shift > 0) u[p++] = 0x2e
  }
  return p - at
}

/** RFC 5952 text (ASCII bytes) of recently seen IPv6 addresses: a direct-mapped cache (hosts recur in flows). */
class Ipv6TextCache {
  private readonly keys = new Uint32Array(CACHE_SLOTS * 4)
  private readonly texts: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(CACHE_SLOTS)
  get(w0: number, w1: number, w2: number, w3: number): Uint8Array {
    const slot = Math.imul(Math.imul(w0 ^ w1, 0x85ebca6b) ^ w2 ^ Math.imul(w3, 0xc2b2ae35), 0x9e3779b1) >>> (32 - CACHE_BITS)
    const t = this.texts[slot]
    const k = slot * 4
    const keys = this.keys
    if (t !== undefined && keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3) return t
    const s = ipv6ToString(w0, w1, w2, w3)
    const bytes = new Uint8Array(s.length)
    for (let c = 0; c < s.length; c++) bytes[c] = s.charCodeAt(c)
    keys[k] = w0
    keys[k + 1] = w1
    keys[k + 2] = w2
    keys[k + 3] = w3
    this.texts[slot] = bytes
    return bytes
  }
}
const CACHE_BITS = 16
const CACHE_SLOTS = 1 << CACHE_BITS
