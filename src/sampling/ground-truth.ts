/**
 * What the full capture says, computed once from every row of a `PacketTable`: the truth each
 * sampled estimate is scored against.
 *
 * Definitions (the benchmark's metrics rest on them):
 * - packets and bytes: IP packets and the sum of their IP total lengths;
 * - a host's volume: what it sent, i.e. packets/bytes of rows with it as the source ("talkers");
 * - distinct hosts: addresses seen as source or destination;
 * - flow records: by ingest's rules (`assembleTableFlows`: 5-tuple, 15 s idle, 1800 s active, FIN/RST);
 * - TCP flows: TCP flow records whose flags include SYN — connections (each direction) opened inside
 *   the capture. The SYN estimator targets SYN-flagged packets, which equal this count when no SYN is
 *   retransmitted; `synPackets` is kept beside it so the difference is visible;
 * - flow-size distribution: packets per flow record.
 */
import {flowSizeDistribution, type FlowSizeDistribution} from './estimators.js'
import {flowTimeouts, IPPROTO_TCP, TCP_SYN, type FlowTimeoutOptions} from '../core/index.js'
import {assembleTableFlows} from './flow-records.js'
import type {PacketTable} from './packet-table.js'

export interface GroundTruth {
  packets: number
  bytes: number
  /** by host id: packets and bytes sent */
  hostPackets: Float64Array
  hostBytes: Float64Array
  /** source hosts by bytes sent, largest first (at most `topK` × 10 kept) */
  topTalkers: Uint32Array
  distinctHosts: number
  /** distinct unidirectional 5-tuples */
  flowKeys: number
  flowRecords: number
  tcpFlows: number
  synPackets: number
  /** flow record of every table row */
  recordOfRow: Uint32Array
  /** packets per flow record, by record */
  recordPackets: Float64Array
  /** flow key of each record */
  recordFlowKey: Uint32Array
  /** the flow-size distribution: packets per flow record */
  flowSizes: FlowSizeDistribution
  /** by IP protocol number */
  protoPackets: Float64Array
  protoBytes: Float64Array
  idleTimeoutMicros: number
  activeTimeoutMicros: number
}

export interface GroundTruthOptions extends FlowTimeoutOptions {
  /** how many top talkers the benchmark compares (default 10) */
  topK?: number
}

export function computeGroundTruth(table: PacketTable, options: GroundTruthOptions = {}): GroundTruth {
  const {idleTimeoutMicros, activeTimeoutMicros} = flowTimeouts(options)
  const n = table.count
  const hostPackets = new Float64Array(table.hosts.count)
  const hostBytes = new Float64Array(table.hosts.count)
  const protoPackets = new Float64Array(256)
  const protoBytes = new Float64Array(256)
  let bytes = 0
  let synPackets = 0
  const {srcHostId, bytes: len, proto, tcpFlags} = table
  for (let i = 0; i < n; i++) {
    const b = len[i]!
    const h = srcHostId[i]!
    const p = proto[i]!
    bytes += b
    hostPackets[h]!++
    hostBytes[h]! += b
    protoPackets[p]!++
    protoBytes[p]! += b
    if (p === IPPROTO_TCP && (tcpFlags[i]! & TCP_SYN) !== 0) synPackets++
  }
  const flows = assembleTableFlows(table, {idleTimeoutMicros, activeTimeoutMicros, recordOfRow: true})
  let tcpFlows = 0
  for (let r = 0; r < flows.length; r++) {
    if ((flows.tcpFlags[r]! & TCP_SYN) !== 0 && table.flowKeys.proto[flows.flowKeyId[r]!] === IPPROTO_TCP) tcpFlows++
  }
  return {
    packets: n,
    bytes,
    hostPackets,
    hostBytes,
    topTalkers: topIndices(hostBytes, Math.max(1, options.topK ?? 10) * 10),
    distinctHosts: table.hosts.count,
    flowKeys: table.flowKeys.count,
    flowRecords: flows.length,
    tcpFlows,
    synPackets,
    recordOfRow: flows.recordOfRow!,
    recordPackets: flows.packets,
    recordFlowKey: flows.flowKeyId,
    flowSizes: flowSizeDistribution(flows.packets),
    protoPackets,
    protoBytes,
    idleTimeoutMicros,
    activeTimeoutMicros,
  }
}

/** Indices of the `k` largest positive values, largest first (ties: lower index first). */
export function topIndices(values: ArrayLike<number>, k: number): Uint32Array {
  const idx: number[] = []
  for (let i = 0; i < values.length; i++) if (values[i]! > 0) idx.push(i)
  idx.sort((a, b) => values[b]! - values[a]! || a - b)
  return Uint32Array.from(idx.slice(0, k))
}
