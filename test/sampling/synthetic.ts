/**
 * Seeded synthetic traffic built straight into a PacketTable (no capture file): heavy-tailed flow sizes
 * (Pareto), Zipf-popular sources and destinations, TCP flows opened by exactly one SYN and closed by a
 * FIN, UDP and ICMP flows, packets of many flows interleaved in time order as on a busy link.
 */
import {createRng, type Rng} from '../../src/core/rng.js'
import {PacketTableBuilder, type PacketFields, type PacketTable} from '../../src/sampling/packet-table.js'

export interface SyntheticOptions {
  flows: number
  hosts?: number
  seed?: number
  /** Pareto shape of packets per flow (default 1.3) */
  alpha?: number
  /** largest flow, packets (default 20000) */
  maxFlowPackets?: number
  /** share of TCP flows (default 0.8; the rest UDP, with 5% ICMP) */
  tcpShare?: number
  /** flows start uniformly in [0, this) seconds (default 600) */
  spanSec?: number
}

export interface SyntheticTraffic {
  table: PacketTable
  /** what the generator made */
  flows: number
  tcpFlows: number
  packets: number
  bytes: number
}

const SERVICE_PORTS = [443, 80, 53, 22, 25, 123, 8080, 3389, 993, 5060]

export function syntheticTable(options: SyntheticOptions): SyntheticTraffic {
  const rng = createRng(options.seed ?? 1)
  const nFlows = options.flows
  const hosts = options.hosts ?? Math.max(50, Math.round(Math.sqrt(nFlows) * 8))
  const alpha = options.alpha ?? 1.3
  const maxPackets = options.maxFlowPackets ?? 20000
  const tcpShare = options.tcpShare ?? 0.8
  const span = (options.spanSec ?? 600) * 1e6
  const zipfSrc = zipfCdf(hosts, 1.05)
  const zipfDst = zipfCdf(hosts, 1.2)

  const flowSize = new Uint32Array(nFlows)
  const flowProto = new Uint8Array(nFlows)
  const flowSrc = new Uint32Array(nFlows)
  const flowDst = new Uint32Array(nFlows)
  const flowSport = new Uint16Array(nFlows)
  const flowDport = new Uint16Array(nFlows)
  const flowMeanSize = new Float64Array(nFlows)
  let packets = 0
  let tcpFlows = 0
  for (let f = 0; f < nFlows; f++) {
    const x = Math.min(maxPackets, Math.floor(1 / Math.pow(1 - rng.next(), 1 / alpha)))
    flowSize[f] = x
    packets += x
    const u = rng.next()
    const proto = u < tcpShare ? 6 : u < tcpShare + (1 - tcpShare) * 0.95 ? 17 : 1
    flowProto[f] = proto
    if (proto === 6) tcpFlows++
    flowSrc[f] = pick(zipfSrc, rng)
    let d = pick(zipfDst, rng)
    if (d === flowSrc[f]) d = (d + 1) % hosts
    flowDst[f] = d
    // distinct source ports per (source, flow) keep 5-tuples apart, as a client's ephemeral ports do
    flowSport[f] = 1024 + (f % 64000)
    flowDport[f] = proto === 1 ? 0x0800 : SERVICE_PORTS[rng.int(SERVICE_PORTS.length)]!
    flowMeanSize[f] = 80 + rng.next() * 1100
  }
  if (packets >= 1 << 22) throw new Error('synthetic traffic: at most 4M packets')

  // packet times: flow start uniform, gaps exponential (mean 30 ms, capped at 5 s: no idle splits)
  const keyed = new Float64Array(packets)
  const pktFlow = new Uint32Array(packets)
  const pktSeq = new Uint32Array(packets)
  const pktTs = new Float64Array(packets)
  let p = 0
  for (let f = 0; f < nFlows; f++) {
    let t = Math.floor(rng.next() * span)
    for (let s = 0; s < flowSize[f]!; s++) {
      if (s > 0) t += Math.min(5e6, Math.floor(-30000 * Math.log(1 - rng.next())) + 1)
      pktFlow[p] = f
      pktSeq[p] = s
      pktTs[p] = t
      keyed[p] = t * 4194304 + p
      p++
    }
  }
  keyed.sort()

  const builder = new PacketTableBuilder(packets)
  const src = new Uint32Array([0, 0, 0xffff, 0])
  const dst = new Uint32Array([0, 0, 0xffff, 0])
  const fields: PacketFields = {family: 4, src, dst, proto: 0, srcPort: 0, dstPort: 0, tcpFlags: 0, ipLength: 0}
  let bytes = 0
  for (let j = 0; j < packets; j++) {
    const i = keyed[j]! % 4194304
    const f = pktFlow[i]!
    const s = pktSeq[i]!
    const proto = flowProto[f]!
    src[3] = (0x0a000000 + flowSrc[f]!) >>> 0
    dst[3] = (0xc0000000 + flowDst[f]!) >>> 0
    fields.proto = proto
    fields.srcPort = proto === 1 ? 0 : flowSport[f]!
    fields.dstPort = flowDport[f]!
    let len: number
    let flags = 0
    if (proto === 6) {
      if (s === 0) {
        flags = 0x02
        len = 60
      } else {
        flags = s === flowSize[f]! - 1 ? 0x11 : 0x10
        const v = rng.next()
        len = v < 0.45 ? 1500 : v < 0.8 ? 40 + rng.int(60) : 100 + rng.int(1400)
      }
    } else if (proto === 17) {
      len = Math.max(28, Math.round(flowMeanSize[f]! * (0.8 + 0.4 * rng.next())))
    } else {
      len = 84
    }
    fields.tcpFlags = flags
    fields.ipLength = len
    bytes += len
    builder.add(pktTs[i]!, fields)
  }
  return {table: builder.finish(), flows: nFlows, tcpFlows, packets, bytes}
}

function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n)
  let acc = 0
  for (let i = 0; i < n; i++) {
    acc += 1 / Math.pow(i + 1, s)
    cdf[i] = acc
  }
  for (let i = 0; i < n; i++) cdf[i]! /= acc
  return cdf
}

function pick(cdf: Float64Array, rng: Rng): number {
  const u = rng.next()
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return lo
}
