/**
 * Packet sampling simulated on flow records (stored flows, NetFlow records): what a 1-in-N packet
 * sampler in front of the exporter would have left of each flow, without the packets.
 *
 * - kept packets k ~ Binomial(packets, 1/N), drawn exactly (`binomial`);
 * - bytes scaled by the kept fraction with the flow's mean packet size: round(bytes · k / packets)
 *   (the sizes of the individual packets are not in a flow record);
 * - flows with k = 0 are dropped, as the exporter would never have seen them;
 * - SYN, FIN and RST usually sit on one packet of a flow, so each survives with probability k/packets
 *   (the chance that packet was among the k kept); the other flags (ACK, PSH, …) are on most packets
 *   and are kept;
 * - the kept records carry `samplingRate` = their old rate × N.
 * The result is flagged `simulated: 'binomial-thinning'`: outputs must say the sampling was simulated
 * per flow rather than applied to packets.
 */
import {copyFlowRow, createFlowBatch, type FlowBatch} from '../core/index.js'
import type {Rng} from '../core/index.js'
import {TCP_FIN, TCP_RST, TCP_SYN, UsageError} from '../core/index.js'
import {binomial} from './binomial.js'

export interface ThinnedFlows {
  flows: FlowBatch
  simulated: 'binomial-thinning'
  /** N of the simulated 1-in-N packet sampling */
  rate: number
  inputFlows: number
  droppedFlows: number
}

const EDGE_FLAGS = TCP_SYN | TCP_FIN | TCP_RST

export function thinFlows(batch: FlowBatch, rate: number, rng: Rng): ThinnedFlows {
  if (!Number.isFinite(rate) || rate < 1) throw new UsageError(`binomial thinning needs a rate N ≥ 1 (1-in-N), got ${rate}`)
  const p = 1 / rate
  const kept = new Uint32Array(batch.length)
  const rows: number[] = []
  for (let i = 0; i < batch.length; i++) {
    const n = Math.round(batch.packets[i]!)
    const k = binomial(n, p, rng)
    if (k > 0) {
      kept[rows.length] = k
      rows.push(i)
    }
  }
  const out = createFlowBatch(rows.length)
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j]!
    const n = batch.packets[i]!
    const k = kept[j]!
    const frac = k / n
    copyFlowRow(batch, i, out, j)
    let flags = batch.tcpFlags[i]! & ~EDGE_FLAGS
    for (const flag of [TCP_SYN, TCP_FIN, TCP_RST]) {
      if ((batch.tcpFlags[i]! & flag) !== 0 && (k >= n || rng.next() < frac)) flags |= flag
    }
    out.tcpFlags[j] = flags
    out.packets[j] = k
    out.bytes[j] = Math.round(batch.bytes[i]! * frac)
    out.samplingRate[j] = Math.round(Math.max(1, batch.samplingRate[i]!) * rate)
  }
  out.length = rows.length
  return {flows: out, simulated: 'binomial-thinning', rate, inputFlows: batch.length, droppedFlows: batch.length - rows.length}
}
