/**
 * sFlow version 5 (sflow.org "sFlow Version 5", July 2004): XDR datagrams of flow and counter samples.
 * Each flow sample (format 1, or expanded format 3) is one sampled packet and becomes one flow record
 * with packets = 1, bytes = the packet's IP length and the sample's 1-in-N sampling rate, so that
 * later extrapolation scales it. Counter samples (formats 2 and 4) are counted and ignored.
 */
import {ipv4ToString, ipv6ToString} from '../../core/index.js'
import {createDecodedPacket, decodePacket, DECODE_OK, DECODE_TRUNCATED, type DecodedPacket} from '../capture/index.js'
import type {DecodeEnv} from './env.js'
import type {SflowSourceStats} from './types.js'

const SAMPLE_FLOW = 1
const SAMPLE_COUNTERS = 2
const SAMPLE_FLOW_EXPANDED = 3
const SAMPLE_COUNTERS_EXPANDED = 4

const RECORD_RAW_HEADER = 1
const RECORD_IPV4 = 3
const RECORD_IPV6 = 4

/** raw packet header `header_protocol` → pcap LINKTYPE_* understood by decodePacket */
const HEADER_PROTOCOL_LINKTYPE: Record<number, number> = {
  1: 1, // ETHERNET-ISO88023 → LINKTYPE_ETHERNET
  11: 228, // IPv4 → LINKTYPE_IPV4
  12: 229, // IPv6 → LINKTYPE_IPV6
}

/** Where the packet of one flow sample came from, best first. */
const SOURCE_NONE = 0
const SOURCE_SAMPLED_IP = 1
const SOURCE_RAW_HEADER = 2

export class SflowDecoder {
  private readonly pkt: DecodedPacket = createDecodedPacket()
  /** which record of the current sample filled `out`, so a raw header wins over a sampled-IP record */
  private source = SOURCE_NONE

  constructor(private readonly env: DecodeEnv) {}

  decode(payload: Uint8Array, dv: DataView, exporter: string, receivedAtMicros: number): void {
    const env = this.env
    const end = payload.length
    if (end < 8) {
      env.problem(exporter, 0, `sFlow header truncated: ${end} bytes`)
      return
    }
    const addrType = dv.getUint32(4)
    const addrLen = addrType === 1 ? 4 : addrType === 2 ? 16 : addrType === 0 ? 0 : -1
    if (addrLen < 0) {
      env.problem(exporter, 4, `sFlow agent address type ${addrType} is neither IPv4 nor IPv6`)
      return
    }
    const headerLen = 8 + addrLen + 16
    if (end < headerLen) {
      env.problem(exporter, 0, `sFlow header truncated: ${end} of ${headerLen} bytes`)
      return
    }
    let agent = ''
    if (addrType === 1) agent = ipv4ToString(dv.getUint32(8))
    else if (addrType === 2) agent = ipv6ToString(dv.getUint32(8), dv.getUint32(12), dv.getUint32(16), dv.getUint32(20))
    const subAgentId = dv.getUint32(8 + addrLen)
    const numSamples = dv.getUint32(8 + addrLen + 12)
    let pos = headerLen
    let seen = 0
    for (; seen < numSamples && pos < end; seen++) {
      if (end - pos < 8) {
        env.problem(exporter, pos, `sFlow sample header truncated: ${end - pos} bytes left`)
        return
      }
      const format = dv.getUint32(pos)
      const len = dv.getUint32(pos + 4)
      const body = pos + 8
      if (len > end - body) {
        env.problem(exporter, pos, `sFlow sample length ${len} runs past the end of the datagram (${end - body} bytes left)`)
        return
      }
      const enterprise = format >>> 12
      const kind = format & 0xfff
      if (enterprise === 0) {
        if (kind === SAMPLE_FLOW || kind === SAMPLE_FLOW_EXPANDED) {
          this.flowSample(payload, dv, body, body + len, kind === SAMPLE_FLOW_EXPANDED, exporter, agent, subAgentId, receivedAtMicros)
        } else if (kind === SAMPLE_COUNTERS || kind === SAMPLE_COUNTERS_EXPANDED) {
          env.stats.counterSamples++
        }
      }
      pos = body + len
    }
    if (seen < numSamples) {
      env.problem(exporter, 8 + addrLen + 12, `sFlow datagram announces ${numSamples} samples, holds ${seen}`)
    }
  }

  private flowSample(
    payload: Uint8Array,
    dv: DataView,
    start: number,
    end: number,
    expanded: boolean,
    exporter: string,
    agent: string,
    subAgentId: number,
    receivedAtMicros: number,
  ): void {
    const env = this.env
    const fixed = expanded ? 44 : 32
    if (end - start < fixed) {
      env.problem(exporter, start - 8, `sFlow ${expanded ? 'expanded ' : ''}flow sample truncated: ${end - start} of ${fixed} bytes`)
      return
    }
    env.stats.flowSamples++
    const sequence = dv.getUint32(start)
    let sourceType: number
    let sourceIndex: number
    let p = start + 4
    if (expanded) {
      sourceType = dv.getUint32(p)
      sourceIndex = dv.getUint32(p + 4)
      p += 8
    } else {
      const id = dv.getUint32(p)
      sourceType = id >>> 24
      sourceIndex = id & 0xffffff
      p += 4
    }
    const samplingRate = dv.getUint32(p)
    const samplePool = dv.getUint32(p + 4)
    const drops = dv.getUint32(p + 8)
    // input/output interfaces: 2 words, or 4 (format + value each) when expanded
    p += 12 + (expanded ? 16 : 8)
    const numRecords = dv.getUint32(p)
    p += 4
    this.noteSource(agent, subAgentId, sourceType, sourceIndex, sequence, samplingRate, samplePool, drops)

    this.source = SOURCE_NONE
    let seen = 0
    for (; seen < numRecords && p < end; seen++) {
      if (end - p < 8) {
        env.problem(exporter, p, `sFlow flow record header truncated: ${end - p} bytes left`)
        break
      }
      const format = dv.getUint32(p)
      const len = dv.getUint32(p + 4)
      const body = p + 8
      if (len > end - body) {
        env.problem(exporter, p, `sFlow flow record length ${len} runs past the end of its sample (${end - body} bytes left)`)
        break
      }
      if (format >>> 12 === 0) {
        const kind = format & 0xfff
        if (kind === RECORD_RAW_HEADER && this.source < SOURCE_RAW_HEADER) this.rawHeader(payload, dv, body, len, exporter)
        else if (kind === RECORD_IPV4 && this.source === SOURCE_NONE) this.sampledIp(dv, body, len, 4, exporter)
        else if (kind === RECORD_IPV6 && this.source === SOURCE_NONE) this.sampledIp(dv, body, len, 6, exporter)
      }
      p = body + len
    }
    if (seen < numRecords && p >= end) {
      env.problem(exporter, start - 8, `sFlow flow sample announces ${numRecords} records, holds ${seen}`)
    }
    if (this.source === SOURCE_NONE) {
      env.stats.flowSamplesWithoutIp++
      return
    }
    const out = env.acc.out
    out.packets = 1
    out.tsStart = out.tsEnd = receivedAtMicros
    out.samplingRate = samplingRate > 0 ? samplingRate : 1
    out.exporter = exporter
    env.emit(out)
  }

  /**
   * Raw packet header record (flow format 1): header_protocol, frame_length, stripped, header length,
   * header bytes. The IP length comes from the sampled IP header itself, which is complete in the
   * header even when the payload is cut off; frame_length − stripped is handed to the packet decoder
   * as the wire length, which it uses only when the IP header says 0 (TSO, IPv6 jumbograms). When
   * the decoder finds no IP length at all, the frame length less stripped bytes and the 14-byte
   * Ethernet header stands in.
   */
  private rawHeader(payload: Uint8Array, dv: DataView, start: number, len: number, exporter: string): void {
    if (len < 16) {
      this.env.problem(exporter, start - 8, `sFlow raw packet header record truncated: ${len} of 16 bytes`)
      return
    }
    const protocol = dv.getUint32(start)
    const frameLength = dv.getUint32(start + 4)
    const stripped = dv.getUint32(start + 8)
    const headerLength = dv.getUint32(start + 12)
    if (headerLength > len - 16) {
      this.env.problem(exporter, start + 12, `sFlow raw packet header length ${headerLength} runs past its record (${len - 16} bytes)`)
      return
    }
    const linktype = HEADER_PROTOCOL_LINKTYPE[protocol]
    if (linktype === undefined) return
    const wireLen = frameLength > stripped ? frameLength - stripped : headerLength
    const pkt = this.pkt
    const rc = decodePacket(payload, start + 16, headerLength, wireLen, linktype, pkt)
    // DECODE_TRUNCATED with a family: an IPv6 extension header chain cut by the header length; the
    // addresses and length are known, the upper-layer protocol is not
    if (!(rc === DECODE_OK || (rc === DECODE_TRUNCATED && pkt.family !== 0))) return
    const out = this.env.acc.out
    if (pkt.family === 4) {
      out.family = 4
      out.src[0] = pkt.src[3]!
      out.dst[0] = pkt.dst[3]!
    } else {
      out.family = 6
      out.src.set(pkt.src)
      out.dst.set(pkt.dst)
    }
    out.proto = pkt.proto
    out.srcPort = pkt.srcPort
    out.dstPort = pkt.dstPort
    out.tcpFlags = pkt.tcpFlags
    let bytes = pkt.ipLength
    if (bytes <= 0) bytes = Math.max(0, wireLen - (linktype === 1 ? 14 : 0))
    out.bytes = bytes
    this.source = SOURCE_RAW_HEADER
  }

  /** Sampled IPv4 (flow format 3) / IPv6 (format 4) record: the exporter already parsed the packet. */
  private sampledIp(dv: DataView, start: number, len: number, family: 4 | 6, exporter: string): void {
    const need = family === 4 ? 32 : 56
    if (len < need) {
      this.env.problem(exporter, start - 8, `sFlow sampled IPv${family} record truncated: ${len} of ${need} bytes`)
      return
    }
    const out = this.env.acc.out
    out.family = family
    out.bytes = dv.getUint32(start)
    out.proto = dv.getUint32(start + 4) & 0xff
    let p = start + 8
    if (family === 4) {
      out.src[0] = dv.getUint32(p)
      out.dst[0] = dv.getUint32(p + 4)
      p += 8
    } else {
      for (let w = 0; w < 4; w++) {
        out.src[w] = dv.getUint32(p + w * 4)
        out.dst[w] = dv.getUint32(p + 16 + w * 4)
      }
      p += 32
    }
    const sport = dv.getUint32(p) & 0xffff
    const dport = dv.getUint32(p + 4) & 0xffff
    if (out.proto === 1 || out.proto === 58) {
      // agents put the ICMP type in src_port and the code in dst_port (host-sflow); NetFlow convention
      out.srcPort = 0
      out.dstPort = ((sport & 0xff) << 8) | (dport & 0xff)
    } else {
      out.srcPort = sport
      out.dstPort = dport
    }
    out.tcpFlags = dv.getUint32(p + 8) & 0xff
    this.source = SOURCE_SAMPLED_IP
  }

  private noteSource(
    agent: string,
    subAgentId: number,
    sourceIdType: number,
    sourceIdIndex: number,
    sequence: number,
    samplingRate: number,
    samplePool: number,
    drops: number,
  ): void {
    const sources = this.env.stats.sflowSources
    const key = `${agent}/${subAgentId}/${sourceIdType}:${sourceIdIndex}`
    let s = sources.get(key)
    if (!s) {
      s = {
        agent,
        subAgentId,
        sourceIdType,
        sourceIdIndex,
        samples: 0,
        samplingRate,
        samplingRates: [],
        firstSamplePool: samplePool,
        lastSamplePool: samplePool,
        firstSequence: sequence,
        lastSequence: sequence,
        sumSamplingRate: 0,
        drops,
      }
      sources.set(key, s)
    }
    s.samples++
    s.samplingRate = samplingRate
    if (!s.samplingRates.includes(samplingRate)) s.samplingRates.push(samplingRate)
    s.lastSamplePool = samplePool
    s.lastSequence = sequence
    s.sumSamplingRate += samplingRate
    s.drops = drops
  }
}

/**
 * Effective 1-in-N rate of an sFlow source: packets that could have been sampled (growth of the
 * sample_pool counter) per sample taken (growth of the sequence number), both modulo 2^32. Agents
 * that change their rate, drop samples or lose datagrams in transit still give the right N. With a
 * single sample there is no interval to measure, and the announced rate stands.
 */
export function sflowEffectiveRate(s: SflowSourceStats): number {
  const samples = (s.lastSequence - s.firstSequence) >>> 0
  const pool = (s.lastSamplePool - s.firstSamplePool) >>> 0
  if (samples === 0 || pool === 0) return s.samplingRate > 0 ? s.samplingRate : 1
  return pool / samples
}
