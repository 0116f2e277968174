/**
 * NetFlow v9 (RFC 3954) and IPFIX (RFC 7011): template and options-template management per
 * (exporter, version, source id / observation domain), data sets decoded through compiled templates,
 * data that arrives before its template held in a bounded per-exporter queue.
 */
import {allZero, readUint, type DecodeEnv} from './env.js'
import {FieldKind, fieldKind, isUnsignedKind} from './fields.js'
import {createDomainState, ntpToMicros, type DomainState, type MessageTime, type RecordAccumulator} from './record.js'

/** Field length that announces an IPFIX variable-length field (RFC 7011 §7). */
const VARIABLE_LENGTH = 0xffff

export interface Template {
  id: number
  /** options template: its data records describe the exporter (sampling, boot time), not flows */
  options: boolean
  kinds: Uint8Array
  /** field lengths; 0xffff = variable */
  lengths: Uint16Array
  /** bytes of the fixed-length fields plus one per variable-length field: a record is at least this long */
  minLength: number
}

interface Domain extends DomainState {
  templates: Map<number, Template>
}

interface HeldSet {
  domainKey: string
  templateId: number
  body: Uint8Array
  time: MessageTime
  /** offset of the set header in its datagram */
  offset: number
}

export class TemplateFlowDecoder {
  private readonly domains = new Map<string, Domain>()
  private readonly held = new Map<string, HeldSet[]>()

  constructor(
    private readonly env: DecodeEnv,
    private readonly maxHeldPerExporter: number,
  ) {}

  /** NetFlow v9 datagram: 20-byte header (RFC 3954 §5.1), then flowsets. Returns sets held. */
  decodeV9(payload: Uint8Array, dv: DataView, exporter: string, receivedAtMicros: number): number {
    if (payload.length < 20) {
      this.env.problem(exporter, 0, `NetFlow v9 header truncated: ${payload.length} of 20 bytes`)
      return 0
    }
    const time: MessageTime = {
      exportMicros: dv.getUint32(8) * 1e6,
      sysUptimeMillis: dv.getUint32(4),
      receivedAtMicros,
    }
    const domainKey = `${exporter}\u0000v9\u0000${dv.getUint32(16)}`
    return this.walkSets(payload, dv, 20, payload.length, 9, exporter, domainKey, time)
  }

  /** IPFIX message: 16-byte header (RFC 7011 §3.1), then sets. Returns sets held. */
  decodeIpfix(payload: Uint8Array, dv: DataView, exporter: string, receivedAtMicros: number): number {
    if (payload.length < 16) {
      this.env.problem(exporter, 0, `IPFIX header truncated: ${payload.length} of 16 bytes`)
      return 0
    }
    const msgLen = dv.getUint16(2)
    if (msgLen < 16) {
      this.env.problem(exporter, 2, `IPFIX message length ${msgLen} is shorter than its header`)
      return 0
    }
    let end = msgLen
    if (msgLen > payload.length) {
      this.env.problem(exporter, 2, `IPFIX message length ${msgLen} runs past the end of the datagram (${payload.length} bytes)`)
      end = payload.length
    }
    const time: MessageTime = {
      exportMicros: dv.getUint32(4) * 1e6,
      sysUptimeMillis: Number.NaN,
      receivedAtMicros,
    }
    const domainKey = `${exporter}\u0000ipfix\u0000${dv.getUint32(12)}`
    return this.walkSets(payload, dv, 16, end, 10, exporter, domainKey, time)
  }

  /** Held data sets whose template never came are undecodable; empties the queues. */
  finish(): void {
    for (const queue of this.held.values()) for (const h of queue) this.dropHeld(h)
    this.held.clear()
  }

  private domain(key: string): Domain {
    let d = this.domains.get(key)
    if (!d) {
      d = {...createDomainState(), templates: new Map()}
      this.domains.set(key, d)
    }
    return d
  }

  private walkSets(
    bytes: Uint8Array,
    dv: DataView,
    start: number,
    end: number,
    version: 9 | 10,
    exporter: string,
    domainKey: string,
    time: MessageTime,
  ): number {
    const domain = this.domain(domainKey)
    const templateSet = version === 9 ? 0 : 2
    const optionsSet = version === 9 ? 1 : 3
    let heldSets = 0
    let pos = start
    while (pos < end) {
      if (end - pos < 4) {
        if (!allZero(bytes, pos, end)) this.env.problem(exporter, pos, `${end - pos} bytes left, too few for a set header`)
        break
      }
      const setId = dv.getUint16(pos)
      const setLen = dv.getUint16(pos + 2)
      if (setLen < 4) {
        // some exporters zero-fill the datagram after their last set
        if (setId === 0 && setLen === 0 && allZero(bytes, pos, end)) break
        this.env.problem(exporter, pos, `set ${setId} has length ${setLen} (< 4)`)
        break
      }
      if (pos + setLen > end) {
        this.env.problem(exporter, pos, `set ${setId} length ${setLen} runs past the end of the message (${end - pos} bytes left)`)
        break
      }
      const bodyEnd = pos + setLen
      if (setId === templateSet) {
        this.readTemplates(dv, pos + 4, bodyEnd, version, false, exporter, domainKey, domain)
      } else if (setId === optionsSet) {
        if (version === 9) this.readV9OptionsTemplates(dv, pos + 4, bodyEnd, exporter, domainKey, domain)
        else this.readTemplates(dv, pos + 4, bodyEnd, version, true, exporter, domainKey, domain)
      } else if (setId >= 256) {
        const t = domain.templates.get(setId)
        if (t) {
          this.decodeData(dv, pos + 4, bodyEnd, t, domain, time, exporter, pos)
        } else {
          this.hold(exporter, {
            domainKey,
            templateId: setId,
            body: bytes.slice(pos + 4, bodyEnd),
            time,
            offset: pos,
          })
          heldSets++
        }
      }
      // set ids 2..255 (v9) and 4..255 (IPFIX) are reserved: skipped
      pos = bodyEnd
    }
    return heldSets
  }

  /** Template records (v9 set 0, IPFIX set 2) and IPFIX options template records (set 3). */
  private readTemplates(
    dv: DataView,
    start: number,
    end: number,
    version: 9 | 10,
    options: boolean,
    exporter: string,
    domainKey: string,
    domain: Domain,
  ): void {
    let p = start
    while (end - p >= 4) {
      const id = dv.getUint16(p)
      const count = dv.getUint16(p + 2)
      if (count === 0) {
        if (id === 0) break // padding
        if (version === 10) {
          this.withdraw(domain, id, options)
          p += 4
          continue
        }
        this.env.problem(exporter, p, `template ${id} has no fields`)
        return
      }
      if (id < 256) {
        this.env.problem(exporter, p, `template id ${id} is reserved (< 256)`)
        return
      }
      let q = p + 4
      let scopeCount = 0
      if (options) {
        if (end - q < 2) {
          this.env.problem(exporter, p, `options template ${id} header truncated`)
          return
        }
        scopeCount = dv.getUint16(q)
        q += 2
        if (scopeCount === 0 || scopeCount > count) {
          this.env.problem(exporter, p, `options template ${id}: scope field count ${scopeCount} of ${count} fields`)
          return
        }
      }
      const kinds = new Uint8Array(count)
      const lengths = new Uint16Array(count)
      for (let i = 0; i < count; i++) {
        if (end - q < 4) {
          this.env.problem(exporter, p, `template ${id}: ${count} fields overflow the set`)
          return
        }
        const rawId = dv.getUint16(q)
        const len = dv.getUint16(q + 2)
        q += 4
        let enterprise = 0
        if (version === 10 && rawId & 0x8000) {
          if (end - q < 4) {
            this.env.problem(exporter, p, `template ${id}: ${count} fields overflow the set`)
            return
          }
          enterprise = dv.getUint32(q)
          q += 4
        }
        lengths[i] = len
        kinds[i] = enterprise === 0 ? compileKind(rawId & (version === 10 ? 0x7fff : 0xffff), len) : FieldKind.Skip
      }
      this.addTemplate(exporter, domainKey, domain, id, options, kinds, lengths, p)
      p = q
    }
  }

  /** NetFlow v9 options template records (set 1, RFC 3954 §6.1): lengths in bytes, scope types apart. */
  private readV9OptionsTemplates(dv: DataView, start: number, end: number, exporter: string, domainKey: string, domain: Domain): void {
    let p = start
    while (end - p >= 6) {
      const id = dv.getUint16(p)
      const scopeLen = dv.getUint16(p + 2)
      const optLen = dv.getUint16(p + 4)
      if (id === 0 && scopeLen === 0 && optLen === 0) break // padding
      if (scopeLen % 4 !== 0 || optLen % 4 !== 0) {
        this.env.problem(exporter, p, `options template ${id}: scope length ${scopeLen} / option length ${optLen} not multiples of 4`)
        return
      }
      if (p + 6 + scopeLen + optLen > end) {
        this.env.problem(exporter, p, `options template ${id}: ${scopeLen + optLen} bytes of fields overflow the set`)
        return
      }
      if (id < 256) {
        this.env.problem(exporter, p, `template id ${id} is reserved (< 256)`)
        return
      }
      const nScope = scopeLen / 4
      const count = nScope + optLen / 4
      const kinds = new Uint8Array(count)
      const lengths = new Uint16Array(count)
      let q = p + 6
      for (let i = 0; i < count; i++) {
        const type = dv.getUint16(q)
        const len = dv.getUint16(q + 2)
        q += 4
        lengths[i] = len
        // scope field types (1 system, 2 interface, 3 line card, 4 cache, 5 template) are not field types
        kinds[i] = i < nScope ? FieldKind.Skip : compileKind(type, len)
      }
      this.addTemplate(exporter, domainKey, domain, id, true, kinds, lengths, p)
      p = q
    }
  }

  private addTemplate(
    exporter: string,
    domainKey: string,
    domain: Domain,
    id: number,
    options: boolean,
    kinds: Uint8Array,
    lengths: Uint16Array,
    offset: number,
  ): void {
    let minLength = 0
    for (const len of lengths) minLength += len === VARIABLE_LENGTH ? 1 : len
    if (minLength === 0) {
      this.env.problem(exporter, offset, `template ${id} describes an empty record`)
      return
    }
    domain.templates.set(id, {id, options, kinds, lengths, minLength})
    this.env.stats.templates++
    this.releaseHeld(exporter, domainKey, domain, id)
  }

  /** RFC 7011 §8.1: field count 0 withdraws a template; id 2 (3 in an options set) withdraws all. */
  private withdraw(domain: Domain, id: number, options: boolean): void {
    this.env.stats.templateWithdrawals++
    if (id === (options ? 3 : 2)) {
      for (const [tid, t] of domain.templates) if (t.options === options) domain.templates.delete(tid)
    } else {
      domain.templates.delete(id)
    }
  }

  private hold(exporter: string, set: HeldSet): void {
    this.env.stats.heldSets++
    if (this.maxHeldPerExporter === 0) {
      this.dropHeld(set)
      return
    }
    let queue = this.held.get(exporter)
    if (!queue) {
      queue = []
      this.held.set(exporter, queue)
    }
    if (queue.length >= this.maxHeldPerExporter) {
      const evicted = queue.shift()
      if (evicted) this.dropHeld(evicted)
    }
    queue.push(set)
  }

  private dropHeld(h: HeldSet): void {
    this.env.stats.heldSets--
    this.env.stats.undecodableSets++
    this.env.stats.undecodableBytes += h.body.length
  }

  private releaseHeld(exporter: string, domainKey: string, domain: Domain, templateId: number): void {
    const queue = this.held.get(exporter)
    if (!queue || queue.length === 0) return
    const t = domain.templates.get(templateId)
    if (!t) return
    const ready: HeldSet[] = []
    let kept = 0
    for (const h of queue) {
      if (h.domainKey === domainKey && h.templateId === templateId) ready.push(h)
      else queue[kept++] = h
    }
    queue.length = kept
    this.env.stats.heldSets -= ready.length
    for (const h of ready) {
      const dv = new DataView(h.body.buffer, h.body.byteOffset, h.body.byteLength)
      this.decodeData(dv, 0, h.body.length, t, domain, h.time, exporter, h.offset, h.offset + 4)
    }
  }

  /**
   * Data records of one set. Trailing bytes shorter than the template's minimum record are padding
   * (RFC 3954 §5.3, RFC 7011 §3.3.1). `setOffset` is where the set header sits in its datagram;
   * `base` maps offsets in `dv` to datagram offsets when `dv` is a held copy.
   */
  private decodeData(
    dv: DataView,
    start: number,
    end: number,
    t: Template,
    domain: Domain,
    time: MessageTime,
    exporter: string,
    setOffset: number,
    base = 0,
  ): void {
    const env = this.env
    const acc = env.acc
    const {kinds, lengths} = t
    const n = kinds.length
    let pos = start
    while (end - pos >= t.minLength) {
      acc.reset()
      let p = pos
      for (let i = 0; i < n; i++) {
        let len = lengths[i]!
        if (len === VARIABLE_LENGTH) {
          if (p >= end) {
            env.problem(exporter, base + p, `template ${t.id}: variable-length field runs past the end of set at ${setOffset}`)
            return
          }
          len = dv.getUint8(p++)
          if (len === 255) {
            if (end - p < 2) {
              env.problem(exporter, base + p, `template ${t.id}: variable-length field runs past the end of set at ${setOffset}`)
              return
            }
            len = dv.getUint16(p)
            p += 2
          }
        }
        if (end - p < len) {
          env.problem(exporter, base + p, `template ${t.id}: field of ${len} bytes runs past the end of set at ${setOffset}`)
          return
        }
        const kind = kinds[i]!
        if (kind !== FieldKind.Skip) applyField(acc, kind, dv, p, len)
        p += len
      }
      pos = p
      if (t.options) {
        acc.applyOptions(domain)
        env.stats.optionsRecords++
      } else if (acc.isFlow) {
        env.emit(acc.finish(domain, time, exporter))
      } else {
        env.stats.nonFlowRecords++
      }
    }
  }
}

/** Kind of a field given its length: unsigned kinds need 1–8 bytes (or variable), else Skip. */
function compileKind(id: number, len: number): FieldKind {
  const kind = fieldKind(id, len)
  if (isUnsignedKind(kind) && len !== VARIABLE_LENGTH && (len === 0 || len > 8)) return FieldKind.Skip
  return kind
}

function applyField(acc: RecordAccumulator, kind: FieldKind, dv: DataView, p: number, len: number): void {
  switch (kind) {
    case FieldKind.Src4:
      if (len !== 4) return
      acc.hasSrc4 = true
      acc.src4 = dv.getUint32(p)
      return
    case FieldKind.Dst4:
      if (len !== 4) return
      acc.hasDst4 = true
      acc.dst4 = dv.getUint32(p)
      return
    case FieldKind.Src6:
      if (len !== 16) return
      acc.hasSrc6 = true
      for (let w = 0; w < 4; w++) acc.src6[w] = dv.getUint32(p + w * 4)
      return
    case FieldKind.Dst6:
      if (len !== 16) return
      acc.hasDst6 = true
      for (let w = 0; w < 4; w++) acc.dst6[w] = dv.getUint32(p + w * 4)
      return
    case FieldKind.StartMicrosNtp:
    case FieldKind.EndMicrosNtp:
    case FieldKind.StartNanosNtp:
    case FieldKind.EndNanosNtp: {
      if (len !== 8) return
      const us = ntpToMicros(dv.getUint32(p), dv.getUint32(p + 4))
      if (kind === FieldKind.StartMicrosNtp || kind === FieldKind.StartNanosNtp) acc.startMicros = us
      else acc.endMicros = us
      return
    }
    default:
      break
  }
  // unsigned integers, any length 1–8 (a variable-length field may carry something else: skip it)
  if (len === 0 || len > 8) return
  const v = readUint(dv, p, len)
  switch (kind) {
    case FieldKind.SrcPort:
      acc.srcPort = v
      return
    case FieldKind.DstPort:
      acc.dstPort = v
      return
    case FieldKind.Proto:
      acc.proto = v
      return
    case FieldKind.TcpFlags:
      acc.tcpFlags = v
      return
    case FieldKind.PacketsDelta:
      acc.setPackets(v, 3)
      return
    case FieldKind.PacketsInitiator:
      acc.setPackets(v, 2)
      return
    case FieldKind.PacketsTotal:
      acc.setPackets(v, 1)
      return
    case FieldKind.BytesDelta:
      acc.setBytes(v, 3)
      return
    case FieldKind.BytesInitiator:
      acc.setBytes(v, 2)
      return
    case FieldKind.BytesTotal:
      acc.setBytes(v, 1)
      return
    case FieldKind.IcmpTypeCode:
      acc.icmpTypeCode = v
      return
    case FieldKind.IcmpType:
      acc.icmpType = v
      return
    case FieldKind.IcmpCode:
      acc.icmpCode = v
      return
    case FieldKind.FirstUptime:
      acc.firstUptime = v
      return
    case FieldKind.LastUptime:
      acc.lastUptime = v
      return
    case FieldKind.StartSeconds:
      acc.startMicros = v * 1e6
      return
    case FieldKind.EndSeconds:
      acc.endMicros = v * 1e6
      return
    case FieldKind.StartMillis:
      acc.startMicros = v * 1000
      return
    case FieldKind.EndMillis:
      acc.endMicros = v * 1000
      return
    case FieldKind.StartDeltaMicros:
      acc.startDeltaMicros = v
      return
    case FieldKind.EndDeltaMicros:
      acc.endDeltaMicros = v
      return
    case FieldKind.SystemInitMillis:
      acc.systemInitMillis = v
      return
    case FieldKind.DurationMillis:
      acc.durationMicros = v * 1000
      return
    case FieldKind.DurationMicros:
      acc.durationMicros = v
      return
    case FieldKind.SamplingInterval:
      acc.samplingInterval = v
      return
    case FieldKind.SamplingAlgorithm:
      acc.samplingAlgorithm = v
      return
    case FieldKind.SamplerId:
      acc.samplerId = v
      return
    case FieldKind.SamplerMode:
      return
    case FieldKind.SamplerInterval:
      acc.samplerInterval = v
      return
    case FieldKind.SamplingPacketInterval:
      acc.packetInterval = v
      return
    case FieldKind.SamplingPacketSpace:
      acc.packetSpace = v
      return
    case FieldKind.SamplingSize:
      acc.samplingSize = v
      return
    case FieldKind.SamplingPopulation:
      acc.samplingPopulation = v
      return
    default:
      return
  }
}
