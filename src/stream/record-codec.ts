/**
 * Flow records on a Kinesis stream (format documented in RECORDS.md). A Kinesis record's data holds
 * one or more flow records of one network, either
 *
 * - JSON lines (default): one compact JSON object per flow, `\n` between them, or
 * - binary: the byte 0xF5, a version, a header (network, exporter table) and fixed-layout rows.
 *
 * The first byte tells them apart ('{' vs 0xF5; a KPL aggregate starts 0xF3 and is unpacked before
 * this codec sees it), so a consumer reads both, whatever the producer chose.
 */
import {ADDR_WORDS, type FlowBatch} from '../core/index.js'
import {addrToString, flowRecordProblem, networkLabelProblem, parseIp} from '../core/index.js'
import type {FlowBatchBuilder} from './flow-builder.js'

export const RECORD_FORMATS = ['json', 'binary'] as const
export type RecordFormat = (typeof RECORD_FORMATS)[number]

/** Version of the JSON objects (`v`) and of the binary layout. */
export const RECORD_VERSION = 1
export const BINARY_MAGIC = 0xf5
const JSON_OPEN = 0x7b // '{'
const NEWLINE = 0x0a

/** Kinesis limit on one record (data + partition key). */
export const KINESIS_MAX_RECORD_BYTES = 1_048_576
/**
 * Default payload per Kinesis record: 25 KB is one PUT payload unit, so a record this size costs the
 * same as a 200-byte one; the measurements in RECORDS.md show why flows are packed this way.
 */
export const DEFAULT_MAX_RECORD_BYTES = 25_000

/** One flow as a JSON object on the stream (µs since the Unix epoch for `ts`/`te`). */
export interface FlowRecordJson {
  v: 1
  /** network (tenant) */
  net: string
  /** exporter address, '' for captures */
  exp: string
  ts: number
  te: number
  /** source and destination address (dotted quad or RFC 5952 IPv6) */
  sa: string
  da: string
  sp: number
  dp: number
  pr: number
  /** OR of TCP flags */
  fl: number
  pk: number
  by: number
  /** 1-in-N sampling rate at the source */
  sr: number
}

export interface EncodeOptions {
  format?: RecordFormat
  /** largest payload per Kinesis record; flows are packed up to it (0: one flow per record) */
  maxRecordBytes?: number
}

/** One flow as a JSON line (no newline). */
export function encodeFlowJson(batch: FlowBatch, i: number, network: string): string {
  return flowJsonLine(batch, i, JSON.stringify(network))
}

function flowJsonLine(b: FlowBatch, i: number, netJson: string): string {
  const fam = b.family[i] ?? 4
  const exp = b.exporter[i] ?? ''
  return (
    `{"v":1,"net":${netJson},"exp":${exp === '' ? '""' : JSON.stringify(exp)},` +
    `"ts":${Math.floor(b.tsStart[i] ?? 0)},"te":${Math.floor(b.tsEnd[i] ?? 0)},` +
    `"sa":"${addrToString(b.srcAddr, i, fam)}","da":"${addrToString(b.dstAddr, i, fam)}",` +
    `"sp":${b.srcPort[i] ?? 0},"dp":${b.dstPort[i] ?? 0},"pr":${b.proto[i] ?? 0},"fl":${b.tcpFlags[i] ?? 0},` +
    `"pk":${b.packets[i] ?? 0},"by":${b.bytes[i] ?? 0},"sr":${b.samplingRate[i] || 1}}`
  )
}

/**
 * Encodes rows of `batch` (all of `network`) into Kinesis record payloads, packing flows into each
 * payload up to `maxRecordBytes`; a flow is never split, so a payload holds at least one flow.
 */
export function encodeFlows(batch: FlowBatch, rows: ArrayLike<number>, network: string, options: EncodeOptions = {}): Uint8Array[] {
  const max = Math.min(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES, KINESIS_MAX_RECORD_BYTES - 256)
  return (options.format ?? 'json') === 'binary' ? encodeBinary(batch, rows, network, max) : encodeJson(batch, rows, network, max)
}

function encodeJson(batch: FlowBatch, rows: ArrayLike<number>, network: string, max: number): Uint8Array[] {
  const netJson = JSON.stringify(network)
  const out: Uint8Array[] = []
  let lines: string[] = []
  let size = 0
  for (let k = 0; k < rows.length; k++) {
    const line = flowJsonLine(batch, rows[k]!, netJson)
    const bytes = Buffer.byteLength(line)
    if (lines.length > 0 && size + 1 + bytes > max) {
      out.push(Buffer.from(lines.join('\n')))
      lines = []
      size = 0
    }
    size += lines.length > 0 ? bytes + 1 : bytes
    lines.push(line)
  }
  if (lines.length > 0) out.push(Buffer.from(lines.join('\n')))
  return out
}

/*
 * Binary layout, big-endian:
 *   header: u8 0xF5, u8 version, u16 rows, u8 len + network (UTF-8), u8 exporters, (u8 len + UTF-8)*
 *   row:    u8 family (4|6), u8 exporter index, f64 ts, f64 te, src (4|16), dst (4|16),
 *           u16 sp, u16 dp, u8 proto, u8 flags, f64 packets, f64 bytes, u32 sampling rate
 */
const ROW_FIXED = 1 + 1 + 8 + 8 + 2 + 2 + 1 + 1 + 8 + 8 + 4
const MAX_BINARY_ROWS = 0xffff
const MAX_EXPORTERS = 0xff

function rowBytes(family: number): number {
  return ROW_FIXED + (family === 6 ? 32 : 8)
}

function encodeBinary(batch: FlowBatch, rows: ArrayLike<number>, network: string, max: number): Uint8Array[] {
  const net = Buffer.from(network)
  if (net.length > 255) throw new RangeError(`network name longer than 255 bytes: ${network.slice(0, 40)}…`)
  const out: Uint8Array[] = []
  let start = 0
  while (start < rows.length) {
    // choose the rows of this payload: as many as fit (at least one)
    const exporters = new Map<string, number>()
    let size = 5 + net.length + 1
    let end = start
    while (end < rows.length && end - start < MAX_BINARY_ROWS) {
      const i = rows[end]!
      const exp = batch.exporter[i] ?? ''
      let extra = rowBytes(batch.family[i] ?? 4)
      const newExporter = exp !== '' && !exporters.has(exp)
      if (newExporter) {
        if (exporters.size >= MAX_EXPORTERS) break
        extra += 1 + Math.min(255, Buffer.byteLength(exp))
      }
      if (end > start && size + extra > max) break
      if (newExporter) exporters.set(exp, exporters.size + 1)
      size += extra
      end++
    }
    out.push(writeBinary(batch, rows, start, end, net, exporters, size))
    start = end
  }
  return out
}

function writeBinary(
  batch: FlowBatch,
  rows: ArrayLike<number>,
  start: number,
  end: number,
  net: Buffer,
  exporters: Map<string, number>,
  size: number,
): Uint8Array {
  const buf = Buffer.allocUnsafe(size)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let o = 0
  buf[o++] = BINARY_MAGIC
  buf[o++] = RECORD_VERSION
  view.setUint16(o, end - start)
  o += 2
  buf[o++] = net.length
  net.copy(buf, o)
  o += net.length
  buf[o++] = exporters.size
  for (const name of exporters.keys()) {
    const bytes = Buffer.from(name).subarray(0, 255)
    buf[o++] = bytes.length
    bytes.copy(buf, o)
    o += bytes.length
  }
  for (let k = start; k < end; k++) {
    const i = rows[k]!
    const fam = batch.family[i] === 6 ? 6 : 4
    buf[o++] = fam
    const exp = batch.exporter[i] ?? ''
    buf[o++] = exp === '' ? 0 : (exporters.get(exp) ?? 0)
    view.setFloat64(o, batch.tsStart[i] ?? 0)
    view.setFloat64(o + 8, batch.tsEnd[i] ?? 0)
    o += 16
    const a = i * ADDR_WORDS
    if (fam === 4) {
      view.setUint32(o, batch.srcAddr[a + 3] ?? 0)
      view.setUint32(o + 4, batch.dstAddr[a + 3] ?? 0)
      o += 8
    } else {
      for (let w = 0; w < 4; w++) view.setUint32(o + 4 * w, batch.srcAddr[a + w] ?? 0)
      for (let w = 0; w < 4; w++) view.setUint32(o + 16 + 4 * w, batch.dstAddr[a + w] ?? 0)
      o += 32
    }
    view.setUint16(o, batch.srcPort[i] ?? 0)
    view.setUint16(o + 2, batch.dstPort[i] ?? 0)
    buf[o + 4] = batch.proto[i] ?? 0
    buf[o + 5] = batch.tcpFlags[i] ?? 0
    view.setFloat64(o + 6, batch.packets[i] ?? 0)
    view.setFloat64(o + 14, batch.bytes[i] ?? 0)
    view.setUint32(o + 22, batch.samplingRate[i] || 1)
    o += 26
  }
  return buf
}

export interface DecodeCounts {
  /** flows appended */
  flows: number
  /** flows (JSON lines, binary rows) that could not be read and were skipped */
  bad: number
}

/** Appends the flows of one Kinesis record payload to `out` (tagged with their network). */
export function decodeFlowRecords(data: Uint8Array, out: FlowBatchBuilder): DecodeCounts {
  if (data.length === 0) return {flows: 0, bad: 1}
  const first = data[0]!
  if (first === BINARY_MAGIC) return decodeBinary(data, out)
  if (first === JSON_OPEN) return decodeJsonLines(data, out)
  return {flows: 0, bad: 1}
}

const textDecoder = new TextDecoder()

function decodeJsonLines(data: Uint8Array, out: FlowBatchBuilder): DecodeCounts {
  const counts = {flows: 0, bad: 0}
  let start = 0
  while (start < data.length) {
    let end = data.indexOf(NEWLINE, start)
    if (end < 0) end = data.length
    if (end > start) {
      if (appendJson(textDecoder.decode(data.subarray(start, end)), out)) counts.flows++
      else counts.bad++
    }
    start = end + 1
  }
  return counts
}

const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x)
/** a port: absent (0) or a whole number 0..65535; a protocol or flag byte: 0..255 */
const port = (x: unknown): boolean => x === undefined || (Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 65535)
const byte = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 255

function appendJson(line: string, out: FlowBatchBuilder): boolean {
  let r: Partial<FlowRecordJson>
  try {
    r = JSON.parse(line) as Partial<FlowRecordJson>
  } catch {
    return false
  }
  if (r === null || typeof r !== 'object' || r.v !== 1 || typeof r.net !== 'string' || networkLabelProblem(r.net) !== null) return false
  if (!num(r.ts) || !num(r.te) || typeof r.sa !== 'string' || typeof r.da !== 'string') return false
  const pk = num(r.pk) ? r.pk : 0
  const by = num(r.by) ? r.by : 0
  const sr = num(r.sr) && r.sr >= 1 ? r.sr : 1
  // what no store may hold (core/flow-bounds.ts) is a bad record like any unreadable one
  if (flowRecordProblem(r.ts, r.te, pk, by, sr) !== null) return false
  if (!port(r.sp) || !port(r.dp) || !(r.pr === undefined || byte(r.pr)) || !(r.fl === undefined || byte(r.fl))) return false
  const src = parseAddr(r.sa)
  const dst = parseAddr(r.da)
  if (!src || !dst || src.family !== dst.family) return false
  out.reserve(1)
  const b = out.batch
  const j = b.length
  b.tsStart[j] = r.ts
  b.tsEnd[j] = r.te
  b.family[j] = src.family
  const o = j * ADDR_WORDS
  for (let k = 0; k < ADDR_WORDS; k++) {
    b.srcAddr[o + k] = src.words[k]!
    b.dstAddr[o + k] = dst.words[k]!
  }
  b.srcPort[j] = r.sp ?? 0
  b.dstPort[j] = r.dp ?? 0
  b.proto[j] = r.pr ?? 0
  b.tcpFlags[j] = r.fl ?? 0
  b.packets[j] = pk
  b.bytes[j] = by
  b.samplingRate[j] = sr
  b.exporter[j] = typeof r.exp === 'string' ? r.exp : ''
  out.network[j] = r.net
  b.length = j + 1
  return true
}

interface ParsedAddr {
  family: 4 | 6
  words: [number, number, number, number]
}

function parseAddr(text: string): ParsedAddr | undefined {
  const v4 = parseV4(text)
  if (v4 >= 0) return {family: 4, words: [0, 0, 0xffff, v4]}
  const p = parseIp(text)
  if (!p || p.family !== 6) return undefined
  const v = p.value
  return {
    family: 6,
    words: [Number((v >> 96n) & 0xffffffffn), Number((v >> 64n) & 0xffffffffn), Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn)],
  }
}

/** Dotted quad to its 32-bit value, or -1. */
function parseV4(s: string): number {
  let value = 0
  let part = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1
      value = value * 256 + part
      part = 0
      digits = 0
      dots++
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48)
      if (++digits > 3 || part > 255) return -1
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + part
}

function decodeBinary(data: Uint8Array, out: FlowBatchBuilder): DecodeCounts {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (data.length < 6 || data[1] !== RECORD_VERSION) return {flows: 0, bad: 1}
  const rows = view.getUint16(2)
  let o = 4
  const netLen = data[o++]!
  if (o + netLen + 1 > data.length) return {flows: 0, bad: Math.max(1, rows)}
  const network = textDecoder.decode(data.subarray(o, o + netLen))
  if (networkLabelProblem(network) !== null) return {flows: 0, bad: Math.max(1, rows)}
  o += netLen
  const exporterCount = data[o++]!
  const exporters = ['']
  for (let e = 0; e < exporterCount; e++) {
    const len = data[o++]
    if (len === undefined || o + len > data.length) return {flows: 0, bad: Math.max(1, rows)}
    exporters.push(textDecoder.decode(data.subarray(o, o + len)))
    o += len
  }
  out.reserve(rows)
  const b = out.batch
  let flows = 0
  for (let r = 0; r < rows; r++) {
    const fam = data[o]
    if (fam !== 4 && fam !== 6) break
    const size = rowBytes(fam)
    if (o + size > data.length) break
    const j = b.length
    b.family[j] = fam
    b.exporter[j] = exporters[data[o + 1]!] ?? ''
    b.tsStart[j] = view.getFloat64(o + 2)
    b.tsEnd[j] = view.getFloat64(o + 10)
    o += 18
    const a = j * ADDR_WORDS
    if (fam === 4) {
      b.srcAddr[a] = 0
      b.srcAddr[a + 1] = 0
      b.srcAddr[a + 2] = 0xffff
      b.srcAddr[a + 3] = view.getUint32(o)
      b.dstAddr[a] = 0
      b.dstAddr[a + 1] = 0
      b.dstAddr[a + 2] = 0xffff
      b.dstAddr[a + 3] = view.getUint32(o + 4)
      o += 8
    } else {
      for (let w = 0; w < 4; w++) b.srcAddr[a + w] = view.getUint32(o + 4 * w)
      for (let w = 0; w < 4; w++) b.dstAddr[a + w] = view.getUint32(o + 16 + 4 * w)
      o += 32
    }
    b.srcPort[j] = view.getUint16(o)
    b.dstPort[j] = view.getUint16(o + 2)
    b.proto[j] = data[o + 4]!
    b.tcpFlags[j] = data[o + 5]!
    b.packets[j] = view.getFloat64(o + 6)
    b.bytes[j] = view.getFloat64(o + 14)
    b.samplingRate[j] = view.getUint32(o + 22) || 1
    o += 26
    // what no store may hold (core/flow-bounds.ts) is a bad row like any unreadable one
    if (flowRecordProblem(b.tsStart[j]!, b.tsEnd[j]!, b.packets[j]!, b.bytes[j]!, b.samplingRate[j]!) !== null) continue
    out.network[j] = network
    b.length = j + 1
    flows++
  }
  return {flows, bad: rows - flows}
}
