/**
 * Packet → flow assembly, the way a NetFlow/IPFIX exporter meters packets (RFC 7011 §2 "flow",
 * RFC 5470 §5.1 metering; nfpcapd/softflowd behave the same):
 *
 * - a flow is a unidirectional 5-tuple (src, dst, srcPort, dstPort, proto; the IP family is part of the
 *   key so an IPv4-mapped IPv6 address never merges with IPv4);
 * - it ends when no packet came for more than `idleTimeoutMicros` (default 15 s), when it has lasted
 *   `activeTimeoutMicros` (default 1800 s; the packet that crosses it starts the next record), or right
 *   after a TCP packet with FIN or RST (a later packet of the same 5-tuple starts a new flow);
 * - packets, bytes (IP total length), OR of TCP flags, first/last packet time are accumulated.
 *
 * Time is packet time. The expiry clock is the latest packet time seen, so packets slightly out of
 * order only widen a flow's first/last seen; they never move the clock back. Idle flows are swept out
 * whenever the clock has advanced `sweepIntervalMicros` (1 s) since the last sweep, so records reach
 * `takeReady` during a long capture, not only at `flush`.
 *
 * IP fragments are not reassembled: every fragment counts as a packet (with its own IP length) in the
 * flow of its first fragment, whose ports are remembered per (src, dst, proto, fragment id).
 *
 * The table is an open-addressing hash table (linear probing, backward-shift deletion) over typed
 * arrays: keys are ten u32 words per flow, flows live in parallel arrays indexed by a slot id that is
 * recycled when a flow ends, and an LRU list ordered by last touch makes idle expiry O(expired). Memory
 * follows the number of concurrently active flows, not the length of the capture.
 */
import {
  ADDR_WORDS,
  createFlowBatch,
  flowBatchCapacity,
  flowTimeouts,
  growF64,
  growI32,
  growU32,
  growU8,
  hashWords,
  IPPROTO_TCP,
  KeyTable,
  TCP_FIN,
  TCP_RST,
  type FlowBatch,
  type FlowTimeoutOptions,
} from '../../core/index.js'
import type {PacketBatch} from './packet-batch.js'
import {createDecodedPacket, DECODE_NOT_IP, DECODE_OK, decodePacket, type DecodedPacket} from './packet-decoder.js'

export interface FlowAssemblerOptions extends FlowTimeoutOptions {
  /** rows per emitted FlowBatch (default 65536) */
  batchSize?: number
  /** how much packet time passes between idle sweeps, µs (default 1 s) */
  sweepIntervalMicros?: number
  /** how long a first fragment's ports are remembered for later fragments, µs (default 30 s) */
  fragmentTimeoutMicros?: number
  /** most first-fragment entries remembered at once (default 65536; the oldest is dropped) */
  maxFragments?: number
  /** a spare batch to fill instead of allocating one (e.g. one handed back by its consumer); its rows are overwritten */
  reuse?: () => FlowBatch | undefined
}

export interface FlowAssemblerStats {
  /** packets pushed */
  packets: number
  /** packets whose link-layer payload is not IP (ARP, STP, …): not in any flow */
  nonIp: number
  /** IP packets with a truncated or malformed IP header: not in any flow */
  undecodable: number
  /** IP fragments (first and later), counted in flows */
  fragments: number
  /** flow records emitted so far */
  flowsEmitted: number
  /** flows currently open */
  activeFlows: number
}

export const DEFAULT_FLOW_BATCH_SIZE = 65536


/** src (4 words), dst (4), srcPort << 16 | dstPort, family << 8 | proto */
const KEY_WORDS = 10
const INITIAL_FLOWS = 1024

/**
 * Turns PacketBatches into FlowBatches. `push` each batch as the reader yields it (the batch may be
 * reused afterwards: nothing points into it), collect finished batches with `takeReady`, and call
 * `flush` at the end of the input to close every open flow.
 */
export class FlowAssembler {
  readonly stats: FlowAssemblerStats = {packets: 0, nonIp: 0, undecodable: 0, fragments: 0, flowsEmitted: 0, activeFlows: 0}

  private readonly idle: number
  private readonly active: number
  private readonly batchSize: number
  private readonly reuse: (() => FlowBatch | undefined) | undefined
  private readonly sweepInterval: number
  private readonly decoded: DecodedPacket = createDecodedPacket()
  private readonly key = new Uint32Array(KEY_WORDS)

  private readonly table: KeyTable
  // per flow id
  private tsStart: Float64Array
  private tsEnd: Float64Array
  /** expiry clock at the last packet: the LRU order key */
  private touch: Float64Array
  private packets: Float64Array
  private bytes: Float64Array
  private flags: Uint8Array
  /** flow ids by last touch, least recent first */
  private readonly lru: LruList

  private readonly fragments: FragmentPorts
  private clock = -Infinity
  private lastSweep = -Infinity

  private current: FlowBatch
  private ready: FlowBatch[] = []

  constructor(options: FlowAssemblerOptions = {}) {
    const timeouts = flowTimeouts(options)
    this.idle = timeouts.idleTimeoutMicros
    this.active = timeouts.activeTimeoutMicros
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_FLOW_BATCH_SIZE))
    this.reuse = options.reuse
    this.sweepInterval = options.sweepIntervalMicros ?? 1e6
    this.fragments = new FragmentPorts(options.fragmentTimeoutMicros ?? 30e6, options.maxFragments ?? 65536)
    this.table = new KeyTable(KEY_WORDS, INITIAL_FLOWS)
    this.tsStart = new Float64Array(INITIAL_FLOWS)
    this.tsEnd = new Float64Array(INITIAL_FLOWS)
    this.touch = new Float64Array(INITIAL_FLOWS)
    this.packets = new Float64Array(INITIAL_FLOWS)
    this.bytes = new Float64Array(INITIAL_FLOWS)
    this.flags = new Uint8Array(INITIAL_FLOWS)
    this.lru = new LruList(INITIAL_FLOWS)
    this.current = this.newBatch()
  }

  /** Meter every packet of the batch. */
  push(batch: PacketBatch): void {
    const d = this.decoded
    const stats = this.stats
    const {buf, offset, caplen, origLen, linktype, tsMicros} = batch
    const n = batch.count
    stats.packets += n
    for (let i = 0; i < n; i++) {
      const code = decodePacket(buf, offset[i]!, caplen[i]!, origLen[i]!, linktype[i]!, d)
      if (code !== DECODE_OK) {
        if (code === DECODE_NOT_IP) stats.nonIp++
        else stats.undecodable++
        continue
      }
      const t = tsMicros[i]!
      if (t > this.clock) {
        this.clock = t
        if (t - this.lastSweep >= this.sweepInterval) this.sweep()
      }
      let ports = ((d.srcPort << 16) | d.dstPort) >>> 0
      if (d.fragment !== 0) {
        stats.fragments++
        const fk = this.key
        copyAddresses(d, fk)
        fk[8] = (d.family << 8) | d.proto
        fk[9] = d.fragmentId
        // A first fragment carries the L4 header; later ones are metered with its ports, as
        // exporters that track fragments do (otherwise they would form a port-0 flow).
        if (d.fragment === 1) this.fragments.remember(fk, ports, this.clock)
        else ports = this.fragments.recall(fk, this.clock)
      }
      this.meter(d, t, ports)
    }
  }

  /** Finished FlowBatches (full ones; with `includePartial`, also the batch being filled). The caller owns them. */
  takeReady(includePartial = false): FlowBatch[] {
    if (includePartial && this.current.length > 0) {
      this.ready.push(this.current)
      this.current = this.newBatch()
    }
    const out = this.ready
    this.ready = []
    return out
  }

  /** End of input: close every open flow and return all batches not yet taken. The assembler is then empty. */
  flush(): FlowBatch[] {
    while (this.lru.head >= 0) this.close(this.lru.head)
    this.fragments.clear()
    this.clock = -Infinity
    this.lastSweep = -Infinity
    return this.takeReady(true)
  }

  private meter(d: DecodedPacket, t: number, ports: number): void {
    const key = this.key
    copyAddresses(d, key)
    key[8] = ports
    key[9] = (d.family << 8) | d.proto
    const h = hashWords(key, KEY_WORDS)
    const table = this.table
    let id = table.find(key, h)
    if (id >= 0 && (t - this.tsEnd[id]! > this.idle || t - this.tsStart[id]! >= this.active)) {
      this.close(id)
      id = -1
    }
    if (id < 0) {
      if (table.size === table.idCapacity) this.grow()
      id = table.insert(key, h)
      this.tsStart[id] = t
      this.tsEnd[id] = t
      this.packets[id] = 0
      this.bytes[id] = 0
      this.flags[id] = 0
      this.lru.linkTail(id)
      this.stats.activeFlows++
    } else {
      // packets out of order widen the flow at either end, so ts_end >= ts_start always holds
      if (t < this.tsStart[id]!) this.tsStart[id] = t
      if (t > this.tsEnd[id]!) this.tsEnd[id] = t
      this.lru.moveToTail(id)
    }
    this.touch[id] = this.clock
    this.packets[id]!++
    this.bytes[id]! += d.ipLength
    const f = d.tcpFlags
    this.flags[id]! |= f
    if ((f & (TCP_FIN | TCP_RST)) !== 0 && d.proto === IPPROTO_TCP) this.close(id)
  }

  /** Close every flow idle for longer than the timeout (the LRU head is the least recently touched). */
  private sweep(): void {
    this.lastSweep = this.clock
    const limit = this.clock - this.idle
    const touch = this.touch
    const lru = this.lru
    while (lru.head >= 0 && touch[lru.head]! < limit) this.close(lru.head)
    this.fragments.expire(this.clock)
  }

  /** Emit flow `id` as a record and free its slot. */
  private close(id: number): void {
    let b = this.current
    const row = b.length
    const keys = this.table.keys
    const k = id * KEY_WORDS
    const a = row * ADDR_WORDS
    b.srcAddr[a] = keys[k]!
    b.srcAddr[a + 1] = keys[k + 1]!
    b.srcAddr[a + 2] = keys[k + 2]!
    b.srcAddr[a + 3] = keys[k + 3]!
    b.dstAddr[a] = keys[k + 4]!
    b.dstAddr[a + 1] = keys[k + 5]!
    b.dstAddr[a + 2] = keys[k + 6]!
    b.dstAddr[a + 3] = keys[k + 7]!
    const ports = keys[k + 8]!
    const fp = keys[k + 9]!
    b.srcPort[row] = ports >>> 16
    b.dstPort[row] = ports & 0xffff
    b.family[row] = fp >>> 8
    b.proto[row] = fp & 0xff
    b.tsStart[row] = this.tsStart[id]!
    b.tsEnd[row] = this.tsEnd[id]!
    b.tcpFlags[row] = this.flags[id]!
    b.packets[row] = this.packets[id]!
    b.bytes[row] = this.bytes[id]!
    b.length = row + 1
    if (b.length === this.batchSize) {
      this.ready.push(b)
      b = this.newBatch()
      this.current = b
    }
    this.lru.unlink(id)
    this.table.remove(id)
    this.stats.activeFlows--
    this.stats.flowsEmitted++
  }

  private grow(): void {
    const cap = this.table.idCapacity * 2
    this.table.grow(cap)
    this.tsStart = growF64(this.tsStart, cap)
    this.tsEnd = growF64(this.tsEnd, cap)
    this.touch = growF64(this.touch, cap)
    this.packets = growF64(this.packets, cap)
    this.bytes = growF64(this.bytes, cap)
    this.flags = growU8(this.flags, cap)
    this.lru.grow(cap)
  }

  private newBatch(): FlowBatch {
    const spare = this.reuse?.()
    const b = spare && flowBatchCapacity(spare) === this.batchSize ? spare : createFlowBatch(this.batchSize)
    b.length = 0
    b.samplingRate.fill(1)
    return b
  }
}

/**
 * Remembers the ports of first fragments, keyed by (src, dst, family/proto, fragment id), for later
 * fragments. Bounded: entries leave in insertion order after `timeout` of packet time, or when `max`
 * are held (RFC 791 §3.2 suggests a 15 s reassembly timer; 30 s covers slow paths).
 */
class FragmentPorts {
  private readonly table: KeyTable
  private ports: Uint32Array
  private born: Float64Array
  /** entry ids in insertion order, oldest first */
  private readonly order: LruList

  constructor(
    private readonly timeout: number,
    private readonly max: number,
  ) {
    const cap = Math.min(256, max)
    this.table = new KeyTable(KEY_WORDS, cap)
    this.ports = new Uint32Array(cap)
    this.born = new Float64Array(cap)
    this.order = new LruList(cap)
  }

  remember(key: Uint32Array, ports: number, now: number): void {
    this.expire(now)
    const h = hashWords(key, KEY_WORDS)
    let id = this.table.find(key, h)
    if (id >= 0) {
      this.order.moveToTail(id)
    } else {
      if (this.table.size >= this.max) this.drop(this.order.head)
      if (this.table.size === this.table.idCapacity) this.grow()
      id = this.table.insert(key, h)
      this.order.linkTail(id)
    }
    this.ports[id] = ports
    this.born[id] = now
  }

  /** ports of the first fragment, or 0 when it was not seen (or has expired) */
  recall(key: Uint32Array, now: number): number {
    this.expire(now)
    const id = this.table.find(key, hashWords(key, KEY_WORDS))
    return id >= 0 ? this.ports[id]! : 0
  }

  expire(now: number): void {
    const limit = now - this.timeout
    const order = this.order
    while (order.head >= 0 && this.born[order.head]! < limit) this.drop(order.head)
  }

  clear(): void {
    while (this.order.head >= 0) this.drop(this.order.head)
  }

  private drop(id: number): void {
    this.order.unlink(id)
    this.table.remove(id)
  }

  private grow(): void {
    const cap = Math.min(this.table.idCapacity * 2, Math.max(this.max, this.table.idCapacity + 1))
    this.table.grow(cap)
    this.ports = growU32(this.ports, cap)
    this.born = growF64(this.born, cap)
    this.order.grow(cap)
  }
}

/**
 * A doubly linked list of dense ids over two typed arrays: the LRU order of the flow table and the
 * insertion order of the fragment table. The oldest id is `head`; ids are appended at `tail`.
 */
class LruList {
  head = -1
  tail = -1
  private prev: Int32Array
  private next: Int32Array

  constructor(capacity: number) {
    this.prev = new Int32Array(capacity)
    this.next = new Int32Array(capacity)
  }

  linkTail(id: number): void {
    this.prev[id] = this.tail
    this.next[id] = -1
    if (this.tail >= 0) this.next[this.tail] = id
    else this.head = id
    this.tail = id
  }

  unlink(id: number): void {
    const p = this.prev[id]!
    const n = this.next[id]!
    if (p >= 0) this.next[p] = n
    else this.head = n
    if (n >= 0) this.prev[n] = p
    else this.tail = p
  }

  /** make a linked id the most recent */
  moveToTail(id: number): void {
    if (id === this.tail) return
    this.unlink(id)
    this.linkTail(id)
  }

  grow(capacity: number): void {
    this.prev = growI32(this.prev, capacity)
    this.next = growI32(this.next, capacity)
  }
}

/** key words 0-7 = src, dst (word by word: TypedArray.set costs more than the copy at this size) */
function copyAddresses(d: DecodedPacket, key: Uint32Array): void {
  const src = d.src
  const dst = d.dst
  key[0] = src[0]!
  key[1] = src[1]!
  key[2] = src[2]!
  key[3] = src[3]!
  key[4] = dst[0]!
  key[5] = dst[1]!
  key[6] = dst[2]!
  key[7] = dst[3]!
}
