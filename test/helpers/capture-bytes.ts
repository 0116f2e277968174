/**
 * Builders for capture bytes in tests: link-layer frames, IPv4/IPv6 (extension headers, fragments),
 * TCP/UDP/ICMP, and whole pcap / pcapng files. Generated fixtures instead of checked-in binaries.
 */
import type {PacketBatch} from '../../src/io/capture/packet-batch.js'

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

function u16be(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff]
}

function u32be(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
}

// ------------------------------------------------------------------------------------------ addresses

/** dotted quad → u32 */
export function v4(text: string): number {
  const p = text.split('.').map(Number)
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0
}

/** IPv6 text (with ::) → 16 bytes */
export function v6(text: string): Uint8Array {
  const [left = '', right] = text.split('::')
  const l = left === '' ? [] : left.split(':')
  const r = right === undefined || right === '' ? [] : right.split(':')
  const groups = right === undefined ? l : [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r]
  return Uint8Array.from(groups.flatMap((g) => u16be(parseInt(g, 16))))
}

/** 16 bytes → the four big-endian words the decoder produces */
export function v6Words(text: string): number[] {
  const b = v6(text)
  return [0, 4, 8, 12].map((o) => (((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0))
}

/** IPv4 as the decoder maps it: ::ffff:a.b.c.d */
export function v4Words(text: string): number[] {
  return [0, 0, 0xffff, v4(text)]
}

// ------------------------------------------------------------------------------------------ L4

export const FIN = 0x01
export const SYN = 0x02
export const RST = 0x04
export const PSH = 0x08
export const ACK = 0x10

export function tcp(sport: number, dport: number, flags = ACK, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  // data offset 5 (20 bytes), no options
  return concat(bytes(...u16be(sport), ...u16be(dport), ...u32be(1), ...u32be(0), 0x50, flags, ...u16be(65535), 0, 0, 0, 0), payload)
}

export function udp(sport: number, dport: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat(bytes(...u16be(sport), ...u16be(dport), ...u16be(8 + payload.length), 0, 0), payload)
}

export function sctp(sport: number, dport: number): Uint8Array {
  return bytes(...u16be(sport), ...u16be(dport), 0, 0, 0, 1, 0, 0, 0, 0)
}

export function icmp(type: number, code: number, payload: Uint8Array = new Uint8Array(4)): Uint8Array {
  return concat(bytes(type, code, 0, 0), payload)
}

// ------------------------------------------------------------------------------------------ IP

export interface Ipv4Options {
  src: string
  dst: string
  proto: number
  payload: Uint8Array
  id?: number
  /** more-fragments flag */
  mf?: boolean
  /** fragment offset in 8-byte units */
  fragOffset?: number
  /** extra option bytes (multiple of 4) to lengthen the header */
  options?: Uint8Array
  /** override the total length field */
  totalLength?: number
  /** override the IHL nibble */
  ihl?: number
  /** override the version nibble */
  version?: number
}

export function ipv4(o: Ipv4Options): Uint8Array {
  const opts = o.options ?? new Uint8Array(0)
  const ihl = o.ihl ?? 5 + opts.length / 4
  const total = o.totalLength ?? 20 + opts.length + o.payload.length
  const frag = ((o.mf === true ? 0x2000 : 0) | (o.fragOffset ?? 0)) & 0xffff
  const h = bytes(
    ((o.version ?? 4) << 4) | ihl,
    0,
    ...u16be(total),
    ...u16be(o.id ?? 0x1234),
    ...u16be(frag),
    64,
    o.proto,
    0,
    0,
    ...u32be(v4(o.src)),
    ...u32be(v4(o.dst)),
  )
  return concat(h, opts, o.payload)
}

export interface Ipv6Ext {
  /** header type as it appears in the previous next-header field: 0, 43, 44, 51, 60, 135 */
  type: number
  /** bytes after the next-header/length pair (padded to the type's unit); ignored for 44 */
  body?: Uint8Array
  /** for type 44 */
  fragOffset?: number
  mf?: boolean
  id?: number
}

export interface Ipv6Options {
  src: string
  dst: string
  /** upper-layer protocol after the extension headers */
  proto: number
  payload: Uint8Array
  ext?: Ipv6Ext[]
  /** override the payload length field */
  payloadLength?: number
}

export function ipv6(o: Ipv6Options): Uint8Array {
  const exts = o.ext ?? []
  const parts: Uint8Array[] = []
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i]!
    const next = i + 1 < exts.length ? exts[i + 1]!.type : o.proto
    if (e.type === 44) {
      const offFlags = ((e.fragOffset ?? 0) << 3) | (e.mf === true ? 1 : 0)
      parts.push(bytes(next, 0, ...u16be(offFlags), ...u32be(e.id ?? 0xabcdef01)))
    } else if (e.type === 51) {
      // AH: length in 4-byte units minus 2; body pads to a multiple of 4 after 12 fixed bytes
      const body = e.body ?? new Uint8Array(10)
      const total = 2 + body.length
      parts.push(concat(bytes(next, total / 4 - 2), body))
    } else {
      // hop-by-hop, routing, destination options, mobility: 8-byte units minus 1
      const body = e.body ?? new Uint8Array(6)
      const total = 2 + body.length
      parts.push(concat(bytes(next, total / 8 - 1), body))
    }
  }
  const payload = concat(...parts, o.payload)
  const first = exts.length > 0 ? exts[0]!.type : o.proto
  const h = concat(
    bytes(0x60, 0, 0, 0, ...u16be(o.payloadLength ?? payload.length), first, 64),
    v6(o.src),
    v6(o.dst),
  )
  return concat(h, payload)
}

// ------------------------------------------------------------------------------------------ link layer

export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_IPV6 = 0x86dd
export const ETHERTYPE_ARP = 0x0806

/** Ethernet II with optional stacked tags, each given by its TPID (0x8100, 0x88a8, 0x9100). */
export function ethernet(payload: Uint8Array, ethertype: number, tags: number[] = []): Uint8Array {
  const head = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
  for (const tpid of tags) head.push(...u16be(tpid), 0x00, 0x64)
  head.push(...u16be(ethertype))
  return concat(Uint8Array.from(head), payload)
}

export function sll(payload: Uint8Array, protocol: number): Uint8Array {
  return concat(bytes(0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, ...u16be(protocol)), payload)
}

export function sll2(payload: Uint8Array, protocol: number): Uint8Array {
  return concat(bytes(...u16be(protocol), 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0), payload)
}

/** BSD loopback (LINKTYPE_NULL): AF in the capturing host's byte order */
export function nullLoop(payload: Uint8Array, af: number, littleEndian: boolean): Uint8Array {
  const h = littleEndian ? [af & 0xff, (af >>> 8) & 0xff, 0, 0] : u32be(af)
  return concat(Uint8Array.from(h), payload)
}

/** OpenBSD loopback (LINKTYPE_LOOP): AF in network byte order */
export function openbsdLoop(payload: Uint8Array, af: number): Uint8Array {
  return concat(Uint8Array.from(u32be(af)), payload)
}

// ------------------------------------------------------------------------------------------ pcap

export interface PcapRecord {
  /** whole seconds */
  sec: number
  /** µs or ns, per the file's magic */
  frac: number
  data: Uint8Array
  /** defaults to data.length */
  origLen?: number
  /** override the caplen field (data is written as given) */
  caplen?: number
}

export interface PcapOptions {
  linktype: number
  snaplen?: number
  nanos?: boolean
  bigEndian?: boolean
}

class Writer {
  private readonly chunks: Uint8Array[] = []
  constructor(private readonly le: boolean) {}
  u8(v: number): this {
    this.chunks.push(bytes(v & 0xff))
    return this
  }
  u16(v: number): this {
    const b = new Uint8Array(2)
    new DataView(b.buffer).setUint16(0, v, this.le)
    this.chunks.push(b)
    return this
  }
  u32(v: number): this {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, v >>> 0, this.le)
    this.chunks.push(b)
    return this
  }
  raw(b: Uint8Array): this {
    this.chunks.push(b)
    return this
  }
  pad4(n: number): this {
    const pad = (4 - (n % 4)) % 4
    if (pad > 0) this.chunks.push(new Uint8Array(pad))
    return this
  }
  bytes(): Uint8Array {
    return concat(...this.chunks)
  }
}

export function pcapHeader(o: PcapOptions): Uint8Array {
  const w = new Writer(o.bigEndian !== true)
  return w
    .u32(o.nanos === true ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(o.snaplen ?? 65535)
    .u32(o.linktype)
    .bytes()
}

export function pcapRecord(r: PcapRecord, bigEndian = false): Uint8Array {
  return new Writer(!bigEndian)
    .u32(r.sec)
    .u32(r.frac)
    .u32(r.caplen ?? r.data.length)
    .u32(r.origLen ?? r.data.length)
    .raw(r.data)
    .bytes()
}

export function pcapFile(o: PcapOptions, records: PcapRecord[]): Uint8Array {
  return concat(pcapHeader(o), ...records.map((r) => pcapRecord(r, o.bigEndian === true)))
}

// ------------------------------------------------------------------------------------------ pcapng

export const BT_SHB = 0x0a0d0d0a
export const BT_IDB = 1
export const BT_PB = 2
export const BT_SPB = 3
export const BT_NRB = 4
export const BT_ISB = 5
export const BT_EPB = 6
export const BT_CUSTOM = 0x00000bad

/** A block with a well-formed length, type and trailer. `body` is padded to 32 bits. */
export function pcapngBlock(type: number, body: Uint8Array, bigEndian = false): Uint8Array {
  const padded = (body.length + 3) & ~3
  const len = 12 + padded
  return new Writer(!bigEndian).u32(type).u32(len).raw(body).pad4(body.length).u32(len).bytes()
}

export function shb(bigEndian = false): Uint8Array {
  const body = new Writer(!bigEndian).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).bytes()
  return pcapngBlock(BT_SHB, body, bigEndian)
}

export interface IdbOptions {
  linktype: number
  snaplen?: number
  /** raw if_tsresol byte (default: option absent = 10^-6) */
  tsresol?: number
  /** if_tsoffset in seconds */
  tsoffset?: number
}

export function idb(o: IdbOptions, bigEndian = false): Uint8Array {
  const w = new Writer(!bigEndian).u16(o.linktype).u16(0).u32(o.snaplen ?? 0)
  // an unrelated option first (if_name), to check options are walked
  const name = new TextEncoder().encode('eth0')
  w.u16(2).u16(name.length).raw(name).pad4(name.length)
  if (o.tsresol !== undefined) w.u16(9).u16(1).u8(o.tsresol).pad4(1)
  if (o.tsoffset !== undefined) {
    const hi = Math.floor(o.tsoffset / 4294967296)
    const lo = o.tsoffset - hi * 4294967296
    w.u16(14).u16(8)
    if (bigEndian) w.u32(hi).u32(lo)
    else w.u32(lo).u32(hi)
  }
  w.u16(0).u16(0)
  return pcapngBlock(BT_IDB, w.bytes(), bigEndian)
}

/** Enhanced Packet Block; `ts` in the interface's units. */
export function epb(ifId: number, ts: bigint, data: Uint8Array, bigEndian = false, origLen = data.length, caplen = data.length): Uint8Array {
  const body = new Writer(!bigEndian)
    .u32(ifId)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(caplen)
    .u32(origLen)
    .raw(data)
    .pad4(data.length)
    .bytes()
  return pcapngBlock(BT_EPB, body, bigEndian)
}

export function spb(data: Uint8Array, bigEndian = false, origLen = data.length): Uint8Array {
  const body = new Writer(!bigEndian).u32(origLen).raw(data).pad4(data.length).bytes()
  return pcapngBlock(BT_SPB, body, bigEndian)
}

/** obsolete Packet Block (type 2) */
export function obsoletePb(ifId: number, ts: bigint, data: Uint8Array, bigEndian = false): Uint8Array {
  const body = new Writer(!bigEndian)
    .u16(ifId)
    .u16(0)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(data.length)
    .raw(data)
    .pad4(data.length)
    .bytes()
  return pcapngBlock(BT_PB, body, bigEndian)
}

// ------------------------------------------------------------------------------------------ batches

export interface TestPacket {
  /** µs since the epoch */
  ts: number
  frame: Uint8Array
  linktype?: number
  origLen?: number
}

/** A PacketBatch over one buffer, as a capture reader would yield it (packets at offset 0 + gaps). */
export function packetBatch(packets: TestPacket[]): PacketBatch {
  const n = packets.length
  const total = packets.reduce((s, p) => s + p.frame.length + 3, 0)
  const buf = new Uint8Array(total)
  const batch: PacketBatch = {
    count: n,
    buf,
    offset: new Uint32Array(n),
    caplen: new Uint32Array(n),
    origLen: new Uint32Array(n),
    tsMicros: new Float64Array(n),
    linktype: new Uint16Array(n),
    fileOffset: new Float64Array(n),
  }
  let o = 0
  packets.forEach((p, i) => {
    o += 3 // records are never back to back in a real chunk: leave a gap
    buf.set(p.frame, o)
    batch.offset[i] = o
    batch.caplen[i] = p.frame.length
    batch.origLen[i] = p.origLen ?? p.frame.length
    batch.tsMicros[i] = p.ts
    batch.linktype[i] = p.linktype ?? 1
    batch.fileOffset[i] = o
    o += p.frame.length
  })
  return batch
}
