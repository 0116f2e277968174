/**
 * Sessions: small state machines that each emit one packet per step, in their own time order. The
 * engine keeps the active ones in a binary heap keyed by the time of their next packet, so the capture
 * comes out in global time order while memory stays bounded by the number of open sessions.
 *
 * Direction 0 is client -> server, direction 1 server -> client. Each direction is one unidirectional
 * flow key; the engine accounts flows per direction as a NetFlow-style exporter would (see
 * `Engine.emit`). The rules every session keeps so the ground truth is exact:
 * - after a direction has sent FIN or RST it sends nothing more (the final pure ACK of a FIN close is
 *   omitted, since an exporter would start a new one-packet flow for it);
 * - gaps between packets of one direction are < 10 s, except deliberate pauses of 20–60 s that split
 *   a flow (the exporter's idle timeout is 15 s). A session's gaps alone do not ensure this (one side
 *   may stay silent while the other sends), so a direction quiet for FORCE_AFTER_MICROS sends next
 *   and no gap lets a direction that still talks stay quiet beyond QUIET_LIMIT_MICROS;
 * - a session ends within MAX_SESSION_MICROS (< the 1800 s active timeout).
 */
import {TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN} from '../core/index.js'
import type {Rng} from '../core/index.js'
import {exponential, uniform, uniformInt} from './model.js'

export const SECOND = 1_000_000
/** longest drawn gap between two packets of a session */
export const MAX_GAP_MICROS = 9_500_000
/** no direction that is still talking stays silent longer than this (so flows never split by accident) */
export const QUIET_LIMIT_MICROS = 9_000_000
/** a direction silent this long sends next (a pure ACK, or a keep-alive datagram, when it has no data left) */
export const FORCE_AFTER_MICROS = 4_500_000
/** sessions wind down after this long, well inside the 1800 s active timeout */
export const MAX_SESSION_MICROS = 1_500 * SECOND

export interface Engine {
  /** time of the step being run, µs */
  readonly now: number
  /** packets emitted so far */
  readonly packets: number
  /** the packet target is reached: start no new sessions */
  readonly stopped: boolean
  /** emit one packet of `s` at `s.t` in direction `dir` */
  emit(s: Session, dir: 0 | 1, tcpFlags: number, payloadLen: number): void
  /** schedule a new actor (its first step at `a.t`) */
  spawn(a: Actor): void
}

export abstract class Actor {
  /** time of the next step, µs */
  t = 0
  /** tie-break for equal times, assigned by the engine */
  id = 0
  /** run one step at `t`; return true with `t` advanced to keep going, false when done */
  abstract step(e: Engine): boolean
}

/** Per-direction flow accumulator: the flow an exporter would hold open for this direction's key. */
export class FlowAcc {
  open = false
  /** the direction sent FIN or RST: it must stay silent */
  ended = false
  start = 0
  last = 0
  packets = 0
  bytes = 0
  flags = 0
}

export abstract class Session extends Actor {
  kind: number
  family: 4 | 6 = 4
  proto: number
  c4 = 0
  s4 = 0
  c6: Uint32Array | undefined
  s6: Uint32Array | undefined
  cPort = 0
  sPort = 0
  ttlC = 64
  ttlS = 64
  seqC = 0
  seqS = 0
  icmpId = 0
  icmpSeq = 0
  /** key held in the tuple registry while the session runs (-1: none) */
  tupleKey = -1
  /** model host indices of the two ends (-1: an address outside the model) */
  cHost = -1
  sHost = -1
  lastT = -1
  started = -1
  /** time of the last packet in direction 0 / 1 (-1: none yet), kept by the engine */
  last0 = -1
  last1 = -1
  readonly acc0 = new FlowAcc()
  readonly acc1 = new FlowAcc()

  constructor(kind: number, proto: number) {
    super()
    this.kind = kind
    this.proto = proto
  }

  /** µs since direction `dir` last sent, at the session's current time (0 when it never sent) */
  protected quiet(dir: 0 | 1): number {
    const last = dir === 0 ? this.last0 : this.last1
    return last < 0 ? 0 : this.t - last
  }

  /** Shorten gap `g` so that, after it, no direction quiet now exceeds QUIET_LIMIT_MICROS (at least 1 µs). */
  protected capGap(g: number, talking0 = true, talking1 = true): number {
    let room = QUIET_LIMIT_MICROS
    if (talking0) room = Math.min(room, QUIET_LIMIT_MICROS - this.quiet(0))
    if (talking1) room = Math.min(room, QUIET_LIMIT_MICROS - this.quiet(1))
    return Math.max(1, Math.round(Math.min(g, room)))
  }

  /** Which direction must send now because it has been quiet too long, or -1. */
  protected overdue(talking0 = true, talking1 = true): -1 | 0 | 1 {
    const q0 = talking0 ? this.quiet(0) : 0
    const q1 = talking1 ? this.quiet(1) : 0
    if (q0 < FORCE_AFTER_MICROS && q1 < FORCE_AFTER_MICROS) return -1
    return q0 >= q1 ? 0 : 1
  }
}

// ----- TCP ------------------------------------------------------------------------------------------

export const CLOSE_FIN_CLIENT = 0
export const CLOSE_FIN_SERVER = 1
export const CLOSE_RST_CLIENT = 2
export const CLOSE_RST_SERVER = 3

export interface DirectionPayload {
  /** payload of a full segment */
  mss: number
  /** share of data packets that are full segments */
  full: number
  /** share that are small (1..smallMax bytes); the rest are pure ACKs */
  small: number
  smallMax: number
  /** payload range of this direction's first data packet (request / response head) */
  firstLo: number
  firstHi: number
}

export interface TcpPlan {
  /** packets each side sends between the handshake and the close */
  cData: number
  sData: number
  c: DirectionPayload
  s: DirectionPayload
  rttMicros: number
  /** mean gap between data packets */
  paceMicros: number
  /** probability that a data gap is a 1–8 s think time */
  thinkProb: number
  /** data packet index before which the session pauses 20–60 s (-1: never) */
  pauseAt: number
  close: number
  /** the SYN is answered by RST (closed port) */
  refused: boolean
}

const PH_SYN = 0
const PH_SYNACK = 1
const PH_ACK = 2
const PH_DATA = 3
const PH_CLOSE1 = 4
const PH_CLOSE2 = 5
const PH_REFUSE = 6

/**
 * A session that sends a drawn number of data packets each way (`remC` client, `remS` server still to
 * go) and picks the direction of the next one with `nextDirection`.
 */
abstract class TwoWaySession<P> extends Session {
  protected remC: number
  protected remS: number
  protected readonly rng: Rng
  protected readonly plan: P

  constructor(kind: number, proto: number, rng: Rng, plan: P, cCount: number, sCount: number) {
    super(kind, proto)
    this.rng = rng
    this.plan = plan
    this.remC = cCount
    this.remS = sCount
  }

  /** The overdue direction `due` if any, else one drawn in proportion to what each side has left. */
  protected nextDirection(due: -1 | 0 | 1): 0 | 1 {
    return due !== -1 ? due : this.remS === 0 || (this.remC > 0 && this.rng.next() * (this.remC + this.remS) < this.remC) ? 0 : 1
  }
}

export class TcpSession extends TwoWaySession<TcpPlan> {
  private phase = PH_SYN
  private sentC = 0
  private sentS = 0
  private dataIndex = 0

  constructor(kind: number, rng: Rng, plan: TcpPlan) {
    super(kind, 6, rng, plan, plan.cData, plan.sData)
    this.seqC = rng.u32()
    this.seqS = rng.u32()
  }

  step(e: Engine): boolean {
    const p = this.plan
    const rng = this.rng
    switch (this.phase) {
      case PH_SYN:
        e.emit(this, 0, TCP_SYN, 0)
        this.t += Math.max(1, Math.round(p.rttMicros))
        this.phase = p.refused ? PH_REFUSE : PH_SYNACK
        return true
      case PH_REFUSE:
        e.emit(this, 1, TCP_RST | TCP_ACK, 0)
        return false
      case PH_SYNACK:
        e.emit(this, 1, TCP_SYN | TCP_ACK, 0)
        this.t += 20 + Math.round(p.rttMicros * 0.05)
        this.phase = PH_ACK
        return true
      case PH_ACK:
        e.emit(this, 0, TCP_ACK, 0)
        this.t += 30 + rng.int(400)
        this.phase = this.remC + this.remS > 0 ? PH_DATA : PH_CLOSE1
        return true
      case PH_DATA: {
        const dir = this.nextDirection(this.overdue())
        // an overdue side with nothing left to send acknowledges instead
        let payload = 0
        if (dir === 0 && this.remC > 0) {
          payload = this.payload(p.c, this.sentC++)
          this.remC--
        } else if (dir === 1 && this.remS > 0) {
          payload = this.payload(p.s, this.sentS++)
          this.remS--
        }
        e.emit(this, dir, payload > 0 ? TCP_ACK | TCP_PSH : TCP_ACK, payload)
        this.dataIndex++
        if (this.remC + this.remS === 0 || this.t - this.started > MAX_SESSION_MICROS) {
          this.phase = PH_CLOSE1
          // QUIET_LIMIT leaves room for the answering FIN half a round trip after the first
          this.t += this.capGap(1 + exponential(rng, Math.min(p.paceMicros, SECOND)))
          return true
        }
        if (this.dataIndex === p.pauseAt) this.t += Math.round(uniform(rng, 20, 60) * SECOND)
        else this.t += this.capGap(this.gap())
        return true
      }
      case PH_CLOSE1:
        switch (p.close) {
          case CLOSE_RST_CLIENT:
            e.emit(this, 0, TCP_RST | TCP_ACK, 0)
            return false
          case CLOSE_RST_SERVER:
            e.emit(this, 1, TCP_RST | TCP_ACK, 0)
            return false
          default:
            e.emit(this, p.close === CLOSE_FIN_CLIENT ? 0 : 1, TCP_FIN | TCP_ACK, 0)
            this.t += Math.max(1, Math.round(p.rttMicros * 0.5)) + rng.int(200)
            this.phase = PH_CLOSE2
            return true
        }
      default:
        // the answering FIN; the last ACK of the close is omitted (see the module comment)
        e.emit(this, p.close === CLOSE_FIN_CLIENT ? 1 : 0, TCP_FIN | TCP_ACK, 0)
        return false
    }
  }

  private payload(d: DirectionPayload, index: number): number {
    if (index === 0 && d.firstHi > 0) return uniformInt(this.rng, d.firstLo, d.firstHi)
    const u = this.rng.next()
    if (u < d.full) return d.mss
    if (u < d.full + d.small) return uniformInt(this.rng, 1, d.smallMax)
    return 0
  }

  private gap(): number {
    const p = this.plan
    let g = 1 + exponential(this.rng, p.paceMicros)
    if (p.thinkProb > 0 && this.rng.next() < p.thinkProb) g += uniform(this.rng, 1, 8) * SECOND
    return Math.min(g, MAX_GAP_MICROS)
  }
}

// ----- request / response exchanges (DNS, NTP, SNMP, ICMP echo) -------------------------------------

export interface ExchangePlan {
  /** requests to send (a lost response is followed by the next request after `retryMicros`) */
  requests: number
  reqLo: number
  reqHi: number
  respLo: number
  /** negative: the response repeats the request's size (echo) */
  respHi: number
  rttMicros: number
  /** probability that a request gets no response */
  loss: number
  /** gap from a response to the next request */
  pairGapMicros: number
  /** gap from an unanswered request to the next one */
  retryMicros: number
}

export class ExchangeSession extends Session {
  private sent = 0
  private answering = false
  private lastRequest = 0
  private readonly rng: Rng
  private readonly plan: ExchangePlan

  /** `proto` 17 (UDP), 1 (ICMP echo) or 58 (ICMPv6 echo) */
  constructor(kind: number, proto: number, rng: Rng, plan: ExchangePlan) {
    super(kind, proto)
    this.rng = rng
    this.plan = plan
    this.icmpId = rng.int(65536)
  }

  step(e: Engine): boolean {
    const p = this.plan
    if (this.answering) {
      e.emit(this, 1, 0, p.respHi < 0 ? this.lastRequest : uniformInt(this.rng, p.respLo, p.respHi))
      this.answering = false
      if (this.sent >= p.requests) return false
      return this.next(Math.min(MAX_GAP_MICROS, 1 + p.pairGapMicros * (0.9 + 0.2 * this.rng.next())))
    }
    this.icmpSeq = (this.icmpSeq + 1) & 0xffff
    this.lastRequest = uniformInt(this.rng, p.reqLo, p.reqHi)
    e.emit(this, 0, 0, this.lastRequest)
    this.sent++
    if (this.rng.next() >= p.loss) {
      this.answering = true
      this.t += Math.max(1, Math.round(p.rttMicros * (0.8 + 0.4 * this.rng.next())))
      return true
    }
    if (this.sent >= p.requests) return false
    return this.next(Math.min(MAX_GAP_MICROS, Math.max(1, p.retryMicros)))
  }

  /**
   * Schedule the next request `g` µs on, leaving a round trip for its answer inside the quiet limit of
   * the answering side; when lost answers leave no room, the client gives up.
   */
  private next(g: number): boolean {
    const slack = QUIET_LIMIT_MICROS - 2 * this.plan.rttMicros
    const room = Math.min(slack - this.quiet(0), slack - this.quiet(1))
    if (room < 1000) return false
    this.t += Math.max(1, Math.round(Math.min(g, room)))
    return true
  }
}

// ----- free-running datagram streams (QUIC, syslog, amplification) ----------------------------------

export interface StreamPlan {
  cCount: number
  sCount: number
  cLo: number
  cHi: number
  sLo: number
  sHi: number
  paceMicros: number
  /** datagram index before which the stream pauses 20–60 s (-1: never) */
  pauseAt: number
}

export class StreamSession extends TwoWaySession<StreamPlan> {
  private index = 0

  constructor(kind: number, rng: Rng, plan: StreamPlan) {
    super(kind, 17, rng, plan, plan.cCount, plan.sCount)
  }

  step(e: Engine): boolean {
    const p = this.plan
    const talk0 = p.cCount > 0
    const talk1 = p.sCount > 0
    const dir = this.nextDirection(this.overdue(talk0, talk1))
    // an overdue side with nothing left sends a small keep-alive (QUIC acknowledges this way too)
    if (dir === 0) {
      const size = this.remC > 0 ? uniformInt(this.rng, p.cLo, p.cHi) : p.cLo
      if (this.remC > 0) this.remC--
      e.emit(this, 0, 0, size)
    } else {
      const size = this.remS > 0 ? uniformInt(this.rng, p.sLo, p.sHi) : p.sLo
      if (this.remS > 0) this.remS--
      e.emit(this, 1, 0, size)
    }
    this.index++
    if (this.remC + this.remS <= 0 || this.t - this.started > MAX_SESSION_MICROS) return false
    if (this.index === p.pauseAt) this.t += Math.round(uniform(this.rng, 20, 60) * SECOND)
    else this.t += this.capGap(Math.min(MAX_GAP_MICROS, 1 + exponential(this.rng, p.paceMicros)), talk0, talk1)
    return true
  }
}

// ----- single probes (port scans, SYN flood) --------------------------------------------------------

/** the probe gets no answer */
export const PROBE_SILENT = 0
/** closed port: RST+ACK */
export const PROBE_CLOSED = 1
/** open port: SYN+ACK, then the scanner resets */
export const PROBE_OPEN = 2
/** flood: SYN+ACK to a spoofed source that never answers, retransmitted `retransmits` times */
export const PROBE_FLOOD = 3

export class ProbeSession extends Session {
  private phase = 0
  private readonly mode: number
  private readonly rttMicros: number
  private retransmits: number

  constructor(kind: number, mode: number, rttMicros: number, retransmits = 0) {
    super(kind, 6)
    this.mode = mode
    this.rttMicros = Math.max(1, Math.round(rttMicros))
    this.retransmits = retransmits
  }

  step(e: Engine): boolean {
    if (this.phase === 0) {
      e.emit(this, 0, TCP_SYN, 0)
      if (this.mode === PROBE_SILENT) return false
      this.phase = 1
      this.t += this.rttMicros
      return true
    }
    if (this.mode === PROBE_CLOSED) {
      e.emit(this, 1, TCP_RST | TCP_ACK, 0)
      return false
    }
    if (this.phase === 1) {
      e.emit(this, 1, TCP_SYN | TCP_ACK, 0)
      if (this.mode === PROBE_OPEN) {
        this.phase = 2
        this.t += 50
        return true
      }
      if (this.retransmits <= 0) return false
      // SYN+ACK retransmission timer starts at 1 s and doubles (RFC 6298 §2)
      this.phase = 3
      this.t += SECOND
      return true
    }
    if (this.phase === 2) {
      e.emit(this, 0, TCP_RST, 0)
      return false
    }
    e.emit(this, 1, TCP_SYN | TCP_ACK, 0)
    this.retransmits--
    if (this.retransmits <= 0) return false
    this.t += 2 * SECOND
    return true
  }
}
