/**
 * The fields of one NetFlow v9/IPFIX data record as they are read, and the rules that turn them into a
 * flow record: which counter wins, how relative times become absolute, which sampling rate applies.
 * One accumulator per decoder, reset per record: no object per record on the hot path.
 */
import type {FlowRecordInput} from '../../core/index.js'

/** Per (exporter, version, source id / observation domain) state learned from templates and options. */
export interface DomainState {
  /** sampler id (FLOW_SAMPLER_ID 48 / selectorId 302) → 1-in-N rate, from options records */
  samplerRates: Map<number, number>
  /** rate announced without a sampler id (options record with 34/50/305…); 0 = unknown */
  defaultRate: number
  /** systemInitTimeMilliseconds (160) from an options record; NaN = unknown */
  systemInitMillis: number
}

export function createDomainState(): DomainState {
  return {samplerRates: new Map(), defaultRate: 0, systemInitMillis: Number.NaN}
}

/** Time reference of the message a record came from. */
export interface MessageTime {
  /** export time of the message (v9 unix_secs, IPFIX exportTime), µs; 0 when the header says 0 */
  exportMicros: number
  /** NetFlow v9 header sysUptime in ms; NaN for IPFIX (its header has none) */
  sysUptimeMillis: number
  /** when the collector received the datagram, µs */
  receivedAtMicros: number
}

/** NTP epoch (1900) to Unix epoch (1970), seconds. */
const NTP_UNIX_OFFSET = 2_208_988_800
const TWO_32 = 4_294_967_296

export class RecordAccumulator {
  hasSrc4 = false
  hasDst4 = false
  hasSrc6 = false
  hasDst6 = false
  src4 = 0
  dst4 = 0
  readonly src6 = new Uint32Array(4)
  readonly dst6 = new Uint32Array(4)
  srcPort = 0
  dstPort = 0
  proto = 0
  tcpFlags = 0
  /** packets/bytes with the priority of the field they came from (delta 3 > initiator 2 > total 1) */
  packets = 0
  packetsPriority = 0
  bytes = 0
  bytesPriority = 0
  icmpTypeCode = -1
  icmpType = -1
  icmpCode = -1
  firstUptime = Number.NaN
  lastUptime = Number.NaN
  startMicros = Number.NaN
  endMicros = Number.NaN
  startDeltaMicros = Number.NaN
  endDeltaMicros = Number.NaN
  systemInitMillis = Number.NaN
  durationMicros = Number.NaN
  samplingInterval = 0
  samplingAlgorithm = -1
  samplerId = -1
  samplerInterval = 0
  packetInterval = 0
  packetSpace = 0
  samplingSize = 0
  samplingPopulation = 0

  /** The record handed to the sink; reused. */
  readonly out: FlowRecordInput & {src: Uint32Array; dst: Uint32Array}

  constructor() {
    this.out = {
      tsStart: 0,
      tsEnd: 0,
      family: 4,
      src: new Uint32Array(4),
      dst: new Uint32Array(4),
      srcPort: 0,
      dstPort: 0,
      proto: 0,
      tcpFlags: 0,
      packets: 0,
      bytes: 0,
      samplingRate: 1,
      exporter: '',
    }
  }

  reset(): void {
    this.hasSrc4 = this.hasDst4 = this.hasSrc6 = this.hasDst6 = false
    this.src4 = this.dst4 = 0
    this.src6.fill(0)
    this.dst6.fill(0)
    this.srcPort = this.dstPort = this.proto = this.tcpFlags = 0
    this.packets = this.packetsPriority = this.bytes = this.bytesPriority = 0
    this.icmpTypeCode = this.icmpType = this.icmpCode = -1
    this.firstUptime = this.lastUptime = Number.NaN
    this.startMicros = this.endMicros = Number.NaN
    this.startDeltaMicros = this.endDeltaMicros = Number.NaN
    this.systemInitMillis = this.durationMicros = Number.NaN
    this.samplingInterval = this.samplerInterval = 0
    this.samplingAlgorithm = this.samplerId = -1
    this.packetInterval = this.packetSpace = this.samplingSize = this.samplingPopulation = 0
  }

  setPackets(value: number, priority: number): void {
    if (priority >= this.packetsPriority) {
      this.packets = value
      this.packetsPriority = priority
    }
  }

  setBytes(value: number, priority: number): void {
    if (priority >= this.bytesPriority) {
      this.bytes = value
      this.bytesPriority = priority
    }
  }

  get isFlow(): boolean {
    return this.hasSrc4 || this.hasDst4 || this.hasSrc6 || this.hasDst6
  }

  /**
   * The sampling rate this record announces itself (305/306, 309/310, 34, 50); 0 when it has none.
   * samplingPacketInterval/Space (RFC 5477 §8.2.2): `interval` packets taken, then `space` skipped,
   * so 1 in (interval + space) / interval.
   */
  ownSamplingRate(): number {
    if (this.packetInterval > 0) return (this.packetInterval + this.packetSpace) / this.packetInterval
    if (this.samplingPopulation > 0 && this.samplingSize > 0) return this.samplingPopulation / this.samplingSize
    if (this.samplingInterval > 0) return this.samplingInterval
    if (this.samplerInterval > 0) return this.samplerInterval
    return 0
  }

  /** Learn sampling and boot time from an options data record. */
  applyOptions(domain: DomainState): void {
    const rate = this.ownSamplingRate()
    if (rate > 0) {
      if (this.samplerId >= 0) domain.samplerRates.set(this.samplerId, rate)
      else domain.defaultRate = rate
    }
    if (!Number.isNaN(this.systemInitMillis)) domain.systemInitMillis = this.systemInitMillis
  }

  /** Fill `out` from the accumulated fields; the caller checks `isFlow` first. */
  finish(domain: DomainState, time: MessageTime, exporter: string): FlowRecordInput {
    const o = this.out
    if (this.hasSrc4 || this.hasDst4) {
      const v4Zero = this.src4 === 0 && this.dst4 === 0
      const v6Any = (this.hasSrc6 || this.hasDst6) && !(isZero(this.src6) && isZero(this.dst6))
      o.family = v4Zero && v6Any ? 6 : 4
    } else {
      o.family = 6
    }
    if (o.family === 4) {
      o.src[0] = this.src4
      o.dst[0] = this.dst4
    } else {
      o.src.set(this.src6)
      o.dst.set(this.dst6)
    }
    o.proto = this.proto & 0xff
    o.srcPort = this.srcPort & 0xffff
    o.dstPort = this.dstPort & 0xffff
    if (o.proto === 1 || o.proto === 58) {
      // ICMP type and code travel in the destination port, type * 256 + code (the NetFlow convention,
      // which L4_DST_PORT already follows when the template has no ICMP element); the source port
      // means nothing (some firewalls put the echo identifier there)
      o.srcPort = 0
      if (this.icmpTypeCode >= 0) o.dstPort = this.icmpTypeCode & 0xffff
      else if (this.icmpType >= 0) o.dstPort = ((this.icmpType & 0xff) << 8) | (this.icmpCode & 0xff)
    }
    o.tcpFlags = this.tcpFlags & 0xff
    o.packets = this.packets
    o.bytes = this.bytes
    o.exporter = exporter
    this.resolveTimes(domain, time)
    let rate = this.ownSamplingRate()
    if (rate === 0 && this.samplerId >= 0) rate = domain.samplerRates.get(this.samplerId) ?? 0
    if (rate === 0) rate = domain.defaultRate
    o.samplingRate = rate >= 1 ? Math.min(Math.round(rate), 0xffffffff) : 1
    return o
  }

  private resolveTimes(domain: DomainState, time: MessageTime): void {
    let start = this.startMicros
    let end = this.endMicros
    if (Number.isNaN(start) && !Number.isNaN(this.startDeltaMicros)) start = time.exportMicros - this.startDeltaMicros
    if (Number.isNaN(end) && !Number.isNaN(this.endDeltaMicros)) end = time.exportMicros - this.endDeltaMicros
    const first = this.firstUptime
    const last = this.lastUptime
    if ((Number.isNaN(start) || Number.isNaN(end)) && !(Number.isNaN(first) && Number.isNaN(last))) {
      const boot = Number.isNaN(this.systemInitMillis) ? domain.systemInitMillis : this.systemInitMillis
      if (!Number.isNaN(boot)) {
        if (Number.isNaN(start) && !Number.isNaN(first)) start = (boot + first) * 1000
        if (Number.isNaN(end) && !Number.isNaN(last)) end = (boot + last) * 1000
      } else if (!Number.isNaN(time.sysUptimeMillis)) {
        // v9: uptime of the exporter at export time; the signed 32-bit difference survives the
        // uptime counter wrapping (~49.7 days) and a first/last a little after the header's uptime
        const up = time.sysUptimeMillis
        if (Number.isNaN(start) && !Number.isNaN(first)) start = time.exportMicros - ((up - first) | 0) * 1000
        if (Number.isNaN(end) && !Number.isNaN(last)) end = time.exportMicros - ((up - last) | 0) * 1000
      } else if (!Number.isNaN(first) && !Number.isNaN(last)) {
        // IPFIX with uptime-relative times and no systemInitTimeMilliseconds: the boot time is
        // unknown; keep the duration and pin the end to the export time
        if (Number.isNaN(end)) end = time.exportMicros
        if (Number.isNaN(start)) start = end - (((last - first) | 0) * 1000)
      }
    }
    const dur = this.durationMicros
    if (Number.isNaN(start) && !Number.isNaN(end) && !Number.isNaN(dur)) start = end - dur
    if (Number.isNaN(end) && !Number.isNaN(start) && !Number.isNaN(dur)) end = start + dur
    if (Number.isNaN(start)) start = end
    if (Number.isNaN(end)) end = start
    if (Number.isNaN(start)) {
      start = end = time.exportMicros > 0 ? time.exportMicros : time.receivedAtMicros
    }
    this.out.tsStart = start
    this.out.tsEnd = end
  }
}

/** dateTimeMicroseconds / dateTimeNanoseconds (NTP seconds + fraction) → µs since the Unix epoch. */
export function ntpToMicros(seconds: number, fraction: number): number {
  return (seconds - NTP_UNIX_OFFSET) * 1e6 + Math.floor((fraction / TWO_32) * 1e6)
}

function isZero(words: Uint32Array): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0
}
