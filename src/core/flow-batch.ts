/**
 * Columnar flow records: the one shape every reader (pcap flow assembly, NetFlow/IPFIX, sFlow, flow
 * files) hands to the store. Addresses are four big-endian 32-bit words per row; an IPv4 address is
 * stored IPv4-mapped (::ffff:a.b.c.d) with `family` 4, so one numeric order covers both families.
 */

export const ADDR_WORDS = 4

export interface FlowBatch {
  length: number
  /** first packet, µs since the Unix epoch */
  tsStart: Float64Array
  /** last packet, µs since the Unix epoch */
  tsEnd: Float64Array
  family: Uint8Array
  srcAddr: Uint32Array
  dstAddr: Uint32Array
  srcPort: Uint16Array
  dstPort: Uint16Array
  proto: Uint8Array
  /** OR of the TCP flags of every packet (low 8 bits: FIN SYN RST PSH ACK URG ECE CWR) */
  tcpFlags: Uint8Array
  packets: Float64Array
  /** IP bytes: the IP total length of every packet, as NetFlow/IPFIX count them */
  bytes: Float64Array
  /** N of 1-in-N sampling at the source; 1 = unsampled */
  samplingRate: Uint32Array
  /** exporter address for flow-export sources, '' for captures */
  exporter: string[]
}

export function createFlowBatch(capacity: number): FlowBatch {
  return {
    length: 0,
    tsStart: new Float64Array(capacity),
    tsEnd: new Float64Array(capacity),
    family: new Uint8Array(capacity),
    srcAddr: new Uint32Array(capacity * ADDR_WORDS),
    dstAddr: new Uint32Array(capacity * ADDR_WORDS),
    srcPort: new Uint16Array(capacity),
    dstPort: new Uint16Array(capacity),
    proto: new Uint8Array(capacity),
    tcpFlags: new Uint8Array(capacity),
    packets: new Float64Array(capacity),
    bytes: new Float64Array(capacity),
    samplingRate: new Uint32Array(capacity),
    exporter: new Array<string>(capacity).fill(''),
  }
}

/** The buffers of a batch's typed arrays: what to transfer when posting it to another thread. */
export function flowBatchBuffers(b: FlowBatch): ArrayBuffer[] {
  return [b.tsStart, b.tsEnd, b.family, b.srcAddr, b.dstAddr, b.srcPort, b.dstPort, b.proto, b.tcpFlags, b.packets, b.bytes, b.samplingRate].map(
    (a) => a.buffer as ArrayBuffer,
  )
}

export function flowBatchCapacity(batch: FlowBatch): number {
  return batch.tsStart.length
}

/** One flow record as plain values: for decoders that produce records one at a time (NetFlow, CSV). */
export interface FlowRecordInput {
  tsStart: number
  tsEnd: number
  /** 4 or 6 */
  family: 4 | 6
  /** IPv4: one word in [0]; IPv6: four big-endian words */
  src: ArrayLike<number>
  dst: ArrayLike<number>
  srcPort: number
  dstPort: number
  proto: number
  tcpFlags: number
  packets: number
  bytes: number
  samplingRate?: number
  exporter?: string
}

/** Append one record; the caller checks capacity (`batch.length < flowBatchCapacity(batch)`). */
export function appendFlowRecord(batch: FlowBatch, r: FlowRecordInput): void {
  const i = batch.length
  batch.tsStart[i] = r.tsStart
  batch.tsEnd[i] = r.tsEnd
  batch.family[i] = r.family
  writeAddr(batch.srcAddr, i, r.family, r.src)
  writeAddr(batch.dstAddr, i, r.family, r.dst)
  batch.srcPort[i] = r.srcPort
  batch.dstPort[i] = r.dstPort
  batch.proto[i] = r.proto
  batch.tcpFlags[i] = r.tcpFlags
  batch.packets[i] = r.packets
  batch.bytes[i] = r.bytes
  batch.samplingRate[i] = r.samplingRate ?? 1
  batch.exporter[i] = r.exporter ?? ''
  batch.length = i + 1
}

/** Copy row `i` of `src` to row `j` of `dst` (every column; the caller checks capacity and sets `length`). */
export function copyFlowRow(src: FlowBatch, i: number, dst: FlowBatch, j: number): void {
  dst.tsStart[j] = src.tsStart[i]!
  dst.tsEnd[j] = src.tsEnd[i]!
  dst.family[j] = src.family[i]!
  copyAddr(src.srcAddr, i, dst.srcAddr, j)
  copyAddr(src.dstAddr, i, dst.dstAddr, j)
  dst.srcPort[j] = src.srcPort[i]!
  dst.dstPort[j] = src.dstPort[i]!
  dst.proto[j] = src.proto[i]!
  dst.tcpFlags[j] = src.tcpFlags[i]!
  dst.packets[j] = src.packets[i]!
  dst.bytes[j] = src.bytes[i]!
  dst.samplingRate[j] = src.samplingRate[i]!
  dst.exporter[j] = src.exporter[i] ?? ''
}

function copyAddr(from: Uint32Array, i: number, to: Uint32Array, j: number): void {
  const so = i * ADDR_WORDS
  const o = j * ADDR_WORDS
  for (let k = 0; k < ADDR_WORDS; k++) to[o + k] = from[so + k]!
}

function writeAddr(out: Uint32Array, row: number, family: 4 | 6, words: ArrayLike<number>): void {
  const o = row * ADDR_WORDS
  if (family === 4) {
    out[o] = 0
    out[o + 1] = 0
    out[o + 2] = 0xffff
    out[o + 3] = (words[0] ?? 0) >>> 0
  } else {
    out[o] = (words[0] ?? 0) >>> 0
    out[o + 1] = (words[1] ?? 0) >>> 0
    out[o + 2] = (words[2] ?? 0) >>> 0
    out[o + 3] = (words[3] ?? 0) >>> 0
  }
}
