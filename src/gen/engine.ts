/**
 * The event loop of the generator: a binary heap of actors (sessions and the spawners that start them)
 * ordered by the time of their next step, a frame builder writing into one scratch buffer, and the flow
 * accounting that produces the ground truth.
 *
 * Flow accounting mirrors the exporter rules of the flow assembler exactly, per direction of a session
 * (each direction is one unidirectional 5-tuple key, and the tuple registry guarantees that no other
 * session touches that key at the same time or within 20 s after): a packet more than 15 s after the
 * previous one of the same key, or 1800 s after the flow's first packet, starts a new flow; a TCP
 * packet with FIN or RST closes its flow; bytes are the IP total length (IPv6: payload length + 40).
 */
import {
  buildEthernetIpv4Frame,
  buildEthernetIpv6Frame,
  createL4Header,
  ETHERNET_HEADER_LEN,
  type CaptureWriter,
} from './pcap-writer.js'
import {TCP_FIN, TCP_RST, TCP_SYN} from '../core/index.js'
import type {Rng} from '../core/index.js'
import {ipv4Text, ipv6Text, type HostTable} from './model.js'
import {Session, type Actor, type Engine} from './sessions.js'
import {endpointV4, endpointV6, TupleRegistry, tupleKey} from './tuples.js'
import {TRAFFIC_KINDS, TruthTotals, type FlowCsvWriter} from './truth.js'

export const IDLE_TIMEOUT_MICROS = 15_000_000
export const ACTIVE_TIMEOUT_MICROS = 1_800_000_000

const EPHEMERAL_LO = 49152
const EPHEMERAL_SPAN = 65536 - EPHEMERAL_LO
const PORT_TRIES = 64
const PROGRESS_EVERY = 1 << 16

export interface EngineOptions {
  writer: CaptureWriter
  csv: FlowCsvWriter | undefined
  target: number
  hosts: HostTable
  maxPayload: number
  rng: Rng
}

export class TrafficEngine implements Engine {
  now = 0
  packets = 0
  bytes = 0
  stopped = false
  /** sessions started */
  sessions = 0
  /** most actors in the heap at once: the bound on memory */
  maxActive = 0
  readonly totals = new TruthTotals()
  readonly registry = new TupleRegistry()
  readonly hosts: HostTable
  private readonly writer: CaptureWriter
  private readonly csv: FlowCsvWriter | undefined
  private readonly target: number
  private readonly maxPayload: number
  private readonly heap: Actor[] = []
  private newborn: Actor[] = []
  private nextId = 0
  private pendingWrite: Promise<void> | undefined
  private readonly ephemeral: Uint16Array
  private readonly hostSeen: Uint8Array
  /** a Buffer, so the writer copies out of it without making a view per packet */
  private readonly scratch = Buffer.alloc(70_000)
  private readonly l4 = createL4Header()
  private ipId = 0
  private readonly rng: Rng

  constructor(o: EngineOptions) {
    this.writer = o.writer
    this.csv = o.csv
    this.target = o.target
    this.hosts = o.hosts
    this.maxPayload = o.maxPayload
    this.rng = o.rng
    const n = o.hosts.internal + o.hosts.external
    this.ephemeral = new Uint16Array(n)
    for (let h = 0; h < n; h++) this.ephemeral[h] = EPHEMERAL_LO + this.rng.int(EPHEMERAL_SPAN)
    this.hostSeen = new Uint8Array(n)
    this.ipId = this.rng.int(65536)
  }

  /** Hosts of the model that took part in the traffic. */
  hostCounts(): {internal: number; external: number} {
    let internal = 0
    let external = 0
    for (let h = 0; h < this.hostSeen.length; h++) {
      if (this.hostSeen[h] === 0) continue
      if (h < this.hosts.internal) internal++
      else external++
    }
    return {internal, external}
  }

  spawn(a: Actor): void {
    a.id = this.nextId++
    this.newborn.push(a)
  }

  /** Point a session at model hosts `client` and `server` (indices into the host table). */
  setHosts(s: Session, family: 4 | 6, client: number, server: number): void {
    const h = this.hosts
    s.family = family
    s.c4 = h.v4[client]!
    s.s4 = h.v4[server]!
    s.c6 = h.v6Views[client]
    s.s6 = h.v6Views[server]
    s.ttlC = client < h.internal ? 64 : 52
    s.ttlS = server < h.internal ? 64 : 49
    s.cHost = client
    s.sHost = server
  }

  /**
   * Give `s` a fresh ephemeral client port whose tuple is free (per-host counters walk the dynamic
   * range like an OS does; `clientHost` -1 draws ports at random). False when none was found.
   */
  claimClientPort(s: Session, clientHost: number): boolean {
    for (let i = 0; i < PORT_TRIES; i++) {
      let port: number
      if (clientHost >= 0) {
        port = this.ephemeral[clientHost]!
        this.ephemeral[clientHost] = port === 65535 ? EPHEMERAL_LO : port + 1
      } else {
        port = 1024 + this.rng.int(64512)
      }
      s.cPort = port
      if (this.claim(s)) return true
    }
    return false
  }

  /** Claim the session's tuple as it stands (fixed ports, or ICMP). */
  claim(s: Session): boolean {
    const icmp = s.proto !== 6 && s.proto !== 17
    const cp = icmp ? 0 : s.cPort
    const sp = icmp ? 0 : s.sPort
    const a = s.family === 4 ? endpointV4(s.c4, cp) : endpointV6(s.c6!, cp)
    const b = s.family === 4 ? endpointV4(s.s4, sp) : endpointV6(s.s6!, sp)
    const key = tupleKey(a, b, s.proto)
    if (!this.registry.claim(key, this.now)) return false
    s.tupleKey = key
    return true
  }

  /** Schedule a claimed session whose first packet is at `s.t`. */
  start(s: Session): void {
    this.sessions++
    if (s.cHost >= 0) this.hostSeen[s.cHost] = 1
    if (s.sHost >= 0) this.hostSeen[s.sHost] = 1
    this.spawn(s)
  }

  emit(s: Session, dir: 0 | 1, tcpFlags: number, payloadLen: number): void {
    const acc = dir === 0 ? s.acc0 : s.acc1
    if (acc.ended) throw new Error(`generator: packet after FIN/RST in direction ${dir} (kind ${TRAFFIC_KINDS[s.kind]})`)
    const t = s.t
    const l4 = this.l4
    const proto = s.proto
    l4.proto = proto
    l4.payloadLen = payloadLen < this.maxPayload ? payloadLen : this.maxPayload
    this.ipId = (this.ipId + 1) & 0xffff
    l4.ipId = this.ipId
    l4.tcpFlags = tcpFlags
    l4.ttl = dir === 0 ? s.ttlC : s.ttlS
    if (proto === 6 || proto === 17) {
      l4.srcPort = dir === 0 ? s.cPort : s.sPort
      l4.dstPort = dir === 0 ? s.sPort : s.cPort
      if (proto === 6) {
        const consumed = l4.payloadLen + ((tcpFlags & (TCP_SYN | TCP_FIN)) !== 0 ? 1 : 0)
        if (dir === 0) {
          l4.seq = s.seqC
          l4.ack = s.seqS
          s.seqC = (s.seqC + consumed) >>> 0
        } else {
          l4.seq = s.seqS
          l4.ack = s.seqC
          s.seqS = (s.seqS + consumed) >>> 0
        }
      }
    } else {
      const v6 = proto === 58
      l4.icmpType = dir === 0 ? (v6 ? 128 : 8) : v6 ? 129 : 0
      l4.icmpCode = 0
      l4.icmpId = s.icmpId
      l4.icmpSeq = s.icmpSeq
    }
    const len =
      s.family === 4
        ? buildEthernetIpv4Frame(this.scratch, dir === 0 ? s.c4 : s.s4, dir === 0 ? s.s4 : s.c4, l4)
        : buildEthernetIpv6Frame(this.scratch, dir === 0 ? s.c6! : s.s6!, dir === 0 ? s.s6! : s.c6!, l4)
    const pending = this.writer.write(t, this.scratch, len, len)
    if (pending !== undefined) this.pendingWrite = pending
    const ipBytes = len - ETHERNET_HEADER_LEN
    this.packets++
    this.bytes += ipBytes

    if (acc.open && (t - acc.last > IDLE_TIMEOUT_MICROS || t - acc.start >= ACTIVE_TIMEOUT_MICROS)) this.closeFlow(s, dir)
    if (!acc.open) {
      acc.open = true
      acc.start = t
      acc.packets = 0
      acc.bytes = 0
      acc.flags = 0
    }
    acc.packets++
    acc.bytes += ipBytes
    acc.flags |= tcpFlags
    acc.last = t
    if (proto === 6 && (tcpFlags & (TCP_FIN | TCP_RST)) !== 0) {
      this.closeFlow(s, dir)
      acc.ended = true
    }
    if (s.started < 0) s.started = t
    s.lastT = t
    if (dir === 0) s.last0 = t
    else s.last1 = t
  }

  /** Run every actor to its end; resolves when the last packet is handed to the writer. */
  async run(onProgress?: (packetsWritten: number) => void): Promise<void> {
    this.adopt()
    const heap = this.heap
    let nextProgress = PROGRESS_EVERY
    while (heap.length > 0) {
      const a = heap[0]!
      this.now = a.t
      if (a.step(this)) {
        siftDown(heap, 0)
      } else {
        const last = heap.pop()!
        if (heap.length > 0) {
          heap[0] = last
          siftDown(heap, 0)
        }
        if (a instanceof Session) this.finish(a)
      }
      if (this.newborn.length > 0) this.adopt()
      if (!this.stopped && this.packets >= this.target) this.stopped = true
      if (this.pendingWrite !== undefined) {
        const p = this.pendingWrite
        this.pendingWrite = undefined
        await p
      }
      if (this.csv?.wantsFlush) await this.csv.flush()
      if (this.packets >= nextProgress) {
        onProgress?.(this.packets)
        nextProgress += PROGRESS_EVERY
      }
    }
    onProgress?.(this.packets)
  }

  private adopt(): void {
    const heap = this.heap
    for (const a of this.newborn) {
      if (!(a.t >= this.now)) throw new Error('generator: an actor was scheduled in the past')
      heap.push(a)
      siftUp(heap, heap.length - 1)
    }
    this.newborn = []
    if (heap.length > this.maxActive) this.maxActive = heap.length
  }

  private finish(s: Session): void {
    if (s.acc0.open) this.closeFlow(s, 0)
    if (s.acc1.open) this.closeFlow(s, 1)
    if (s.tupleKey >= 0) this.registry.release(s.tupleKey, s.lastT >= 0 ? s.lastT : this.now)
  }

  private closeFlow(s: Session, dir: 0 | 1): void {
    const acc = dir === 0 ? s.acc0 : s.acc1
    acc.open = false
    this.totals.addFlow(s.kind, s.family, acc.start, acc.last, acc.packets, acc.bytes)
    if (this.csv === undefined) return
    let srcPort: number
    let dstPort: number
    if (s.proto === 6 || s.proto === 17) {
      srcPort = dir === 0 ? s.cPort : s.sPort
      dstPort = dir === 0 ? s.sPort : s.cPort
    } else {
      const v6 = s.proto === 58
      srcPort = 0
      dstPort = (dir === 0 ? (v6 ? 128 : 8) : v6 ? 129 : 0) * 256
    }
    const c = s.family === 4 ? ipv4Text(s.c4) : ipv6Text(s.c6!)
    const v = s.family === 4 ? ipv4Text(s.s4) : ipv6Text(s.s6!)
    this.csv.add(
      `${acc.start},${acc.last},${dir === 0 ? c : v},${dir === 0 ? v : c},${srcPort},${dstPort},${s.proto},${acc.flags},${acc.packets},${acc.bytes},${TRAFFIC_KINDS[s.kind]}`,
    )
  }
}

function before(a: Actor, b: Actor): boolean {
  return a.t < b.t || (a.t === b.t && a.id < b.id)
}

function siftUp(h: Actor[], i: number): void {
  const x = h[i]!
  while (i > 0) {
    const p = (i - 1) >> 1
    const parent = h[p]!
    if (!before(x, parent)) break
    h[i] = parent
    i = p
  }
  h[i] = x
}

function siftDown(h: Actor[], i: number): void {
  const n = h.length
  const x = h[i]!
  for (;;) {
    const l = 2 * i + 1
    if (l >= n) break
    const r = l + 1
    const c = r < n && before(h[r]!, h[l]!) ? r : l
    const child = h[c]!
    if (!before(child, x)) break
    h[i] = child
    i = c
  }
  h[i] = x
}
