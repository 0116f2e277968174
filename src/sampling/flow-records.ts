/**
 * Flow records from the rows of a `PacketTable`, by the rules ingest's `FlowAssembler` meters packets
 * with (design §3): unidirectional 5-tuple; a record ends after the idle timeout (default 15 s) without
 * packets, when it has lasted the active timeout (default 1800 s; the crossing packet starts the next
 * record), or right after a TCP packet with FIN or RST. Packet time is the clock.
 *
 * The assembler also closes idle flows in periodic sweeps; for time-ordered rows that only changes
 * when a record is emitted, not what it holds, so the records here are the ones ingest stores.
 *
 * Used three ways: over all rows for the ground truth, over sampled rows to store a sampled source
 * (what a sampling exporter would emit), and as flow-record input for the flow samplers.
 */
import {ADDR_WORDS, createFlowBatch, flowTimeouts, growF64, growU32, IPPROTO_TCP, TCP_FIN, TCP_RST, type FlowBatch, type FlowTimeoutOptions} from '../core/index.js'
import type {PacketTable} from './packet-table.js'

/** Flow records over a table's flow keys (the 5-tuple is `table.flowKeys[flowKeyId]`). */
export interface TableFlows {
  length: number
  flowKeyId: Uint32Array
  tsStart: Float64Array
  tsEnd: Float64Array
  packets: Float64Array
  bytes: Float64Array
  tcpFlags: Uint8Array
  /** for each visited row (table row order when all rows were visited), the record it went to */
  recordOfRow?: Uint32Array
}

export interface AssembleOptions extends FlowTimeoutOptions {
  /** rows to meter, ascending (default: every row) */
  rows?: Uint32Array
  /** also return `recordOfRow` (aligned with `rows`, or with the table when rows are not given) */
  recordOfRow?: boolean
}

export function assembleTableFlows(table: PacketTable, options: AssembleOptions = {}): TableFlows {
  const {idleTimeoutMicros: idle, activeTimeoutMicros: active} = flowTimeouts(options)
  const rows = options.rows
  const n = rows ? rows.length : table.count
  const open = new Int32Array(table.flowKeys.count).fill(-1)
  const recordOfRow = options.recordOfRow ? new Uint32Array(n) : undefined
  let cap = Math.max(16, Math.min(n, 1024))
  let flowKeyId = new Uint32Array(cap)
  let tsStart = new Float64Array(cap)
  let tsEnd = new Float64Array(cap)
  let packets = new Float64Array(cap)
  let bytes = new Float64Array(cap)
  let tcpFlags = new Uint8Array(cap)
  let count = 0
  const {tsMicros, flowKeyId: fkOf, bytes: bytesOf, tcpFlags: flagsOf, proto: protoOf} = table
  for (let j = 0; j < n; j++) {
    const i = rows ? rows[j]! : j
    const f = fkOf[i]!
    const t = tsMicros[i]!
    let r = open[f]!
    if (r >= 0 && (t - tsEnd[r]! > idle || t - tsStart[r]! >= active)) r = -1
    if (r < 0) {
      if (count === cap) {
        cap *= 2
        flowKeyId = growU32(flowKeyId, cap)
        tsStart = growF64(tsStart, cap)
        tsEnd = growF64(tsEnd, cap)
        packets = growF64(packets, cap)
        bytes = growF64(bytes, cap)
        const g = new Uint8Array(cap)
        g.set(tcpFlags)
        tcpFlags = g
      }
      r = count++
      flowKeyId[r] = f
      tsStart[r] = t
      tsEnd[r] = t
      open[f] = r
    } else {
      if (t < tsStart[r]!) tsStart[r] = t
      if (t > tsEnd[r]!) tsEnd[r] = t
    }
    packets[r]!++
    bytes[r]! += bytesOf[i]!
    const flags = flagsOf[i]!
    tcpFlags[r]! |= flags
    if (recordOfRow) recordOfRow[j] = r
    if ((flags & (TCP_FIN | TCP_RST)) !== 0 && protoOf[i] === IPPROTO_TCP) open[f] = -1
  }
  const out: TableFlows = {
    length: count,
    flowKeyId: flowKeyId.slice(0, count),
    tsStart: tsStart.slice(0, count),
    tsEnd: tsEnd.slice(0, count),
    packets: packets.slice(0, count),
    bytes: bytes.slice(0, count),
    tcpFlags: tcpFlags.slice(0, count),
  }
  if (recordOfRow) out.recordOfRow = recordOfRow
  return out
}

/**
 * Table flow records as `FlowBatch`es for the store, `samplingRate` on every record (N of the 1-in-N
 * sampling that produced them; 1 for unsampled). Records are in order of their first packet.
 */
export function tableFlowsToBatches(
  table: PacketTable,
  flows: TableFlows,
  options: {samplingRate?: number; batchSize?: number} = {},
): FlowBatch[] {
  const rate = Math.max(1, Math.round(options.samplingRate ?? 1))
  const size = Math.max(1, options.batchSize ?? 65536)
  const {hosts, flowKeys} = table
  const out: FlowBatch[] = []
  for (let start = 0; start < flows.length; start += size) {
    const m = Math.min(size, flows.length - start)
    const b = createFlowBatch(m)
    for (let j = 0; j < m; j++) {
      const r = start + j
      const f = flows.flowKeyId[r]!
      const s = flowKeys.srcHostId[f]!
      const d = flowKeys.dstHostId[f]!
      b.tsStart[j] = flows.tsStart[r]!
      b.tsEnd[j] = flows.tsEnd[r]!
      b.family[j] = hosts.family[s]!
      b.srcAddr.set(hosts.addr.subarray(s * 4, s * 4 + 4), j * ADDR_WORDS)
      b.dstAddr.set(hosts.addr.subarray(d * 4, d * 4 + 4), j * ADDR_WORDS)
      b.srcPort[j] = flowKeys.srcPort[f]!
      b.dstPort[j] = flowKeys.dstPort[f]!
      b.proto[j] = flowKeys.proto[f]!
      b.tcpFlags[j] = flows.tcpFlags[r]!
      b.packets[j] = flows.packets[r]!
      b.bytes[j] = flows.bytes[r]!
      b.samplingRate[j] = rate
    }
    b.length = m
    out.push(b)
  }
  return out
}
