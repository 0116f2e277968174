/**
 * The in-memory packet table that sampling simulation runs over: one decode pass of a capture turns
 * every IP packet into a row of a few typed arrays (≈ 28 bytes per packet, so 1M packets ≈ 30 MB), plus
 * dictionaries from dense ids to addresses and to unidirectional 5-tuples. Every sampler, trial and
 * estimator then works on row indices and ids: no re-decoding, no object per packet.
 *
 * The whole capture must fit in memory: `buildPacketTable` stops with a `UsageError` beyond
 * `maxPackets` (default 20M IP packets ≈ 600 MB).
 */
import {growF64, growU16, growU32, growU8, hashWords, IPPROTO_TCP, KeyTable, TCP_SYN, UsageError} from '../core/index.js'
import {readCapture} from '../io/index.js'
import type {CaptureReadStats} from '../io/index.js'
import {createDecodedPacket, DECODE_NOT_IP, DECODE_OK, decodePacket} from '../io/index.js'


export const DEFAULT_MAX_PACKETS = 20_000_000

/** Dense host id → address. */
export interface HostDictionary {
  count: number
  /** 4 or 6 */
  family: Uint8Array
  /** four big-endian words per host; IPv4 mapped as [0, 0, 0xffff, v4] */
  addr: Uint32Array
}

/** Dense flow-key id → unidirectional 5-tuple (family is the hosts'), with per-key aggregates. */
export interface FlowKeyDictionary {
  count: number
  srcHostId: Uint32Array
  dstHostId: Uint32Array
  srcPort: Uint16Array
  dstPort: Uint16Array
  proto: Uint8Array
  /**
   * Hash of the 5-tuple's own words (addresses, ports, family, protocol), not of the dense id: the
   * same flow hashes the same in every table, as PSAMP hash-based selection over invariant fields does.
   */
  hash: Uint32Array
  /** packets, IP bytes and SYN-flagged TCP packets of the key over the whole table */
  packets: Float64Array
  bytes: Float64Array
  synPackets: Uint32Array
}

export interface PacketTable {
  /** IP packets (rows), in capture order */
  count: number
  tsMicros: Float64Array
  flowKeyId: Uint32Array
  srcHostId: Uint32Array
  dstHostId: Uint32Array
  /** IP total length */
  bytes: Uint32Array
  tcpFlags: Uint8Array
  proto: Uint8Array
  dstPort: Uint16Array
  hosts: HostDictionary
  flowKeys: FlowKeyDictionary
  /** rows grouped by flow key, built on first use by `packetsByFlowKey` */
  byFlowKey?: FlowKeyPackets
}

/** CSR index: the rows of flow key f are rows[start[f] .. start[f + 1]), ascending. */
export interface FlowKeyPackets {
  start: Uint32Array
  rows: Uint32Array
}

/** The fields of one IP packet a table row is made from (`DecodedPacket` has them all). */
export interface PacketFields {
  /** 4 or 6 */
  family: number
  /** four words; IPv4 mapped as [0, 0, 0xffff, v4] */
  src: ArrayLike<number>
  dst: ArrayLike<number>
  proto: number
  srcPort: number
  dstPort: number
  tcpFlags: number
  ipLength: number
}

/** Grows a PacketTable row by row; `finish` trims it. Used by the capture reader and by tests. */
export class PacketTableBuilder {
  private n = 0
  private ts: Float64Array
  private fk: Uint32Array
  private sh: Uint32Array
  private dh: Uint32Array
  private by: Uint32Array
  private fl: Uint8Array
  private pr: Uint8Array
  private dp: Uint16Array

  private readonly hostIndex = new KeyTable(5, 4096)
  private readonly flowIndex = new KeyTable(4, 4096)
  private readonly hostKey = new Uint32Array(5)
  private readonly flowKey = new Uint32Array(4)
  private readonly tupleWords = new Uint32Array(10)
  private flowHash = new Uint32Array(4096)
  private flowPackets = new Float64Array(4096)
  private flowBytes = new Float64Array(4096)
  private flowSyn = new Uint32Array(4096)

  constructor(capacity = 65536) {
    const cap = Math.max(16, capacity)
    this.ts = new Float64Array(cap)
    this.fk = new Uint32Array(cap)
    this.sh = new Uint32Array(cap)
    this.dh = new Uint32Array(cap)
    this.by = new Uint32Array(cap)
    this.fl = new Uint8Array(cap)
    this.pr = new Uint8Array(cap)
    this.dp = new Uint16Array(cap)
  }

  get count(): number {
    return this.n
  }

  /** Add one IP packet seen at `tsMicros`; returns its row. */
  add(tsMicros: number, p: PacketFields): number {
    const row = this.n
    if (row === this.ts.length) this.grow()
    const src = this.host(p.family, p.src)
    const dst = this.host(p.family, p.dst)
    const ports = ((p.srcPort << 16) | p.dstPort) >>> 0
    const key = this.flowKey
    key[0] = src
    key[1] = dst
    key[2] = ports
    key[3] = p.proto
    const before = this.flowIndex.size
    const f = this.flowIndex.intern(key, hashWords(key, 4))
    if (f === before) this.newFlowKey(f, p, ports)
    const syn = p.proto === IPPROTO_TCP && (p.tcpFlags & TCP_SYN) !== 0 ? 1 : 0
    this.flowPackets[f]!++
    this.flowBytes[f]! += p.ipLength
    this.flowSyn[f]! += syn
    this.ts[row] = tsMicros
    this.fk[row] = f
    this.sh[row] = src
    this.dh[row] = dst
    this.by[row] = p.ipLength
    this.fl[row] = p.tcpFlags
    this.pr[row] = p.proto
    this.dp[row] = p.dstPort
    this.n = row + 1
    return row
  }

  /** Dense id of an address (family is part of the key: an IPv4-mapped IPv6 address is not IPv4). */
  hostId(family: number, words: ArrayLike<number>): number {
    return this.host(family, words)
  }

  finish(): PacketTable {
    const n = this.n
    const hosts = this.hostIndex
    const flows = this.flowIndex
    const hc = hosts.size
    const fc = flows.size
    const hostFamily = new Uint8Array(hc)
    const hostAddr = new Uint32Array(hc * 4)
    for (let h = 0; h < hc; h++) {
      const o = h * 5
      hostFamily[h] = hosts.keys[o]!
      hostAddr.set(hosts.keys.subarray(o + 1, o + 5), h * 4)
    }
    const srcHostId = new Uint32Array(fc)
    const dstHostId = new Uint32Array(fc)
    const srcPort = new Uint16Array(fc)
    const dstPort = new Uint16Array(fc)
    const proto = new Uint8Array(fc)
    for (let f = 0; f < fc; f++) {
      const o = f * 4
      srcHostId[f] = flows.keys[o]!
      dstHostId[f] = flows.keys[o + 1]!
      const ports = flows.keys[o + 2]!
      srcPort[f] = ports >>> 16
      dstPort[f] = ports & 0xffff
      proto[f] = flows.keys[o + 3]!
    }
    return {
      count: n,
      tsMicros: this.ts.slice(0, n),
      flowKeyId: this.fk.slice(0, n),
      srcHostId: this.sh.slice(0, n),
      dstHostId: this.dh.slice(0, n),
      bytes: this.by.slice(0, n),
      tcpFlags: this.fl.slice(0, n),
      proto: this.pr.slice(0, n),
      dstPort: this.dp.slice(0, n),
      hosts: {count: hc, family: hostFamily, addr: hostAddr},
      flowKeys: {
        count: fc,
        srcHostId,
        dstHostId,
        srcPort,
        dstPort,
        proto,
        hash: this.flowHash.slice(0, fc),
        packets: this.flowPackets.slice(0, fc),
        bytes: this.flowBytes.slice(0, fc),
        synPackets: this.flowSyn.slice(0, fc),
      },
    }
  }

  private host(family: number, words: ArrayLike<number>): number {
    const k = this.hostKey
    k[0] = family
    k[1] = words[0]!
    k[2] = words[1]!
    k[3] = words[2]!
    k[4] = words[3]!
    return this.hostIndex.intern(k, hashWords(k, 5))
  }

  private newFlowKey(f: number, p: PacketFields, ports: number): void {
    if (f === this.flowHash.length) {
      const cap = f * 2
      this.flowHash = growU32(this.flowHash, cap)
      this.flowSyn = growU32(this.flowSyn, cap)
      this.flowPackets = growF64(this.flowPackets, cap)
      this.flowBytes = growF64(this.flowBytes, cap)
    }
    const w = this.tupleWords
    for (let i = 0; i < 4; i++) {
      w[i] = p.src[i]!
      w[4 + i] = p.dst[i]!
    }
    w[8] = ports
    w[9] = (p.family << 8) | p.proto
    this.flowHash[f] = hashWords(w, 10, 0x2545f491)
  }

  private grow(): void {
    const cap = this.ts.length * 2
    this.ts = growF64(this.ts, cap)
    this.fk = growU32(this.fk, cap)
    this.sh = growU32(this.sh, cap)
    this.dh = growU32(this.dh, cap)
    this.by = growU32(this.by, cap)
    this.fl = growU8(this.fl, cap)
    this.pr = growU8(this.pr, cap)
    this.dp = growU16(this.dp, cap)
  }
}

/** Rows of each flow key (CSR), computed once per table and kept on it. */
export function packetsByFlowKey(table: PacketTable): FlowKeyPackets {
  if (table.byFlowKey) return table.byFlowKey
  const fc = table.flowKeys.count
  const start = new Uint32Array(fc + 1)
  const fk = table.flowKeyId
  const n = table.count
  for (let i = 0; i < n; i++) start[fk[i]! + 1]!++
  for (let f = 0; f < fc; f++) start[f + 1]! += start[f]!
  const fill = start.slice(0, fc)
  const rows = new Uint32Array(n)
  for (let i = 0; i < n; i++) rows[fill[fk[i]!]!++] = i
  table.byFlowKey = {start, rows}
  return table.byFlowKey
}

export interface PacketTableOptions {
  /** refuse captures with more IP packets than this (the table is held in memory); default 20M */
  maxPackets?: number
  skipBad?: boolean
  /** file bytes consumed so far */
  onProgress?: (bytesRead: number) => void
  /** how long a first fragment's ports are remembered for later fragments, µs (default 30 s, as in ingest) */
  fragmentTimeoutMicros?: number
}

export interface PacketTableStats {
  /** capture records read */
  records: number
  /** records skipped as bad (`skipBad`) */
  badRecords: number
  /** link-layer payload not IP: not in the table */
  nonIp: number
  /** truncated or malformed IP header: not in the table */
  undecodable: number
  /** IP fragments (in the table; later fragments carry their first fragment's ports, as in ingest) */
  fragments: number
  format: string
}

const MAX_FRAGMENT_ENTRIES = 65536

/**
 * One decode pass over a pcap/pcapng capture into a `PacketTable`. Packets are decoded and keyed
 * exactly as ingest does (`FlowAssembler`): same decoder, 5-tuple with family, later fragments metered
 * with the ports of their first fragment.
 */
export async function buildPacketTable(
  path: string,
  options: PacketTableOptions = {},
): Promise<{table: PacketTable; stats: PacketTableStats}> {
  const maxPackets = options.maxPackets ?? DEFAULT_MAX_PACKETS
  const fragmentTimeout = options.fragmentTimeoutMicros ?? 30e6
  const readStats: CaptureReadStats = {format: undefined, records: 0, badRecords: 0, bytesRead: 0}
  const stats: PacketTableStats = {records: 0, badRecords: 0, nonIp: 0, undecodable: 0, fragments: 0, format: 'unknown'}
  const builder = new PacketTableBuilder(1 << 16)
  const d = createDecodedPacket()
  // (src host, dst host, proto, fragment id) → first fragment's ports and when it was seen; Map
  // iteration order is insertion order, so the oldest entry is the first key
  const fragments = new Map<string, {ports: number; born: number}>()
  let clock = -Infinity
  const readOptions = {skipBad: options.skipBad ?? false, ...(options.onProgress ? {onProgress: options.onProgress} : {})}
  for await (const batch of readCapture(path, readOptions, readStats)) {
    const {buf, offset, caplen, origLen, linktype, tsMicros} = batch
    for (let i = 0; i < batch.count; i++) {
      const code = decodePacket(buf, offset[i]!, caplen[i]!, origLen[i]!, linktype[i]!, d)
      if (code !== DECODE_OK) {
        if (code === DECODE_NOT_IP) stats.nonIp++
        else stats.undecodable++
        continue
      }
      if (builder.count >= maxPackets) {
        throw new UsageError(`${path}: more than ${maxPackets} IP packets; sampling simulation holds the whole capture in memory (about 30 bytes per packet)`, {
          hint: 'raise --max-packets if the machine has the memory, or split the capture (editcap -c)',
        })
      }
      const t = tsMicros[i]!
      if (t > clock) clock = t
      if (d.fragment !== 0) {
        stats.fragments++
        const key = `${builder.hostId(d.family, d.src)}/${builder.hostId(d.family, d.dst)}/${d.proto}/${d.fragmentId}`
        if (d.fragment === 1) {
          fragments.delete(key)
          if (fragments.size >= MAX_FRAGMENT_ENTRIES) {
            const oldest = fragments.keys().next()
            if (!oldest.done) fragments.delete(oldest.value)
          }
          fragments.set(key, {ports: ((d.srcPort << 16) | d.dstPort) >>> 0, born: clock})
        } else {
          const first = fragments.get(key)
          const ports = first && first.born >= clock - fragmentTimeout ? first.ports : 0
          d.srcPort = ports >>> 16
          d.dstPort = ports & 0xffff
        }
      }
      builder.add(t, d)
    }
  }
  stats.records = readStats.records
  stats.badRecords = readStats.badRecords
  stats.format = readStats.format ?? 'unknown'
  return {table: builder.finish(), stats}
}
