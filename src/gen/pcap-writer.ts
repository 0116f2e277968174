/**
 * Streaming capture writer (pcap and pcapng) and pure Ethernet/IP frame builders.
 *
 * The writer copies each record into one of two large reusable buffers and hands a full buffer to the
 * file while the caller fills the other one, so there is no write call per packet. `write` returns a
 * promise only when the caller must wait (both buffers busy): `const p = w.write(...); if (p) await p`.
 *
 * The builders write a whole frame (Ethernet II + IPv4/IPv6 + TCP/UDP/ICMP/ICMPv6, zero payload) into a
 * caller-provided scratch buffer and return its length, so building a packet allocates nothing.
 */
import {open, type FileHandle} from 'node:fs/promises'

import {IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, UsageError} from '../core/index.js'
import {PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_IF_TSRESOL, PCAPNG_OPT_ENDOFOPT, PCAPNG_SHB} from '../io/index.js'
import type {CaptureFormat} from '../io/index.js'

export const LINKTYPE_ETHERNET = 1

export const ETHERNET_HEADER_LEN = 14
export const IPV4_HEADER_LEN = 20
export const IPV6_HEADER_LEN = 40
export const TCP_HEADER_LEN = 20
export const UDP_HEADER_LEN = 8
export const ICMP_HEADER_LEN = 8

const DEFAULT_SNAPLEN = 262_144
const DEFAULT_BUFFER_SIZE = 4 << 20
const TWO_32 = 4294967296

export interface CaptureWriterOptions {
  format: CaptureFormat
  /** LINKTYPE_* of the single interface (default 1, Ethernet) */
  linktype?: number
  /** nanosecond timestamps (pcap magic a1b23c4d; pcapng if_tsresol = 9) */
  nanosecond?: boolean
  /** longest captured part of a frame; longer frames are truncated and keep their original length */
  snaplen?: number
  /** size of each of the two write buffers in bytes (default 4 MiB) */
  bufferSize?: number
}

export class CaptureWriter {
  readonly path: string
  readonly format: CaptureFormat
  readonly snaplen: number
  readonly nanosecond: boolean
  private readonly fh: FileHandle
  private cur: Buffer
  private spare: Buffer
  private pos = 0
  private pending: Promise<void> | undefined
  private failure: unknown
  private waiting = false
  private closed = false
  private records = 0
  private fileBytes = 0

  private constructor(path: string, fh: FileHandle, options: Required<CaptureWriterOptions>) {
    this.path = path
    this.fh = fh
    this.format = options.format
    this.snaplen = options.snaplen
    this.nanosecond = options.nanosecond
    this.cur = Buffer.alloc(options.bufferSize)
    this.spare = Buffer.alloc(options.bufferSize)
    this.pos = writeFileHeader(this.cur, options)
  }

  /** Create (or truncate) `path` and write the file header (pcap global header, or pcapng SHB + IDB). */
  static async open(path: string, options: CaptureWriterOptions): Promise<CaptureWriter> {
    const full: Required<CaptureWriterOptions> = {
      format: options.format,
      linktype: options.linktype ?? LINKTYPE_ETHERNET,
      nanosecond: options.nanosecond ?? false,
      snaplen: options.snaplen ?? DEFAULT_SNAPLEN,
      bufferSize: Math.max(options.bufferSize ?? DEFAULT_BUFFER_SIZE, 4096),
    }
    if (full.format !== 'pcap' && full.format !== 'pcapng') {
      throw new UsageError(`unknown capture format '${String(full.format)}'`, {hint: "use 'pcap' or 'pcapng'"})
    }
    if (!Number.isInteger(full.snaplen) || full.snaplen < 1 || full.snaplen > 0x7fffffff) {
      throw new UsageError(`snaplen must be a positive integer, got ${full.snaplen}`)
    }
    if (!Number.isInteger(full.linktype) || full.linktype < 0 || full.linktype > 0xffff) {
      throw new UsageError(`linktype must be an integer in 0..65535, got ${full.linktype}`)
    }
    const fh = await open(path, 'w')
    return new CaptureWriter(path, fh, full)
  }

  /** records written so far */
  get packets(): number {
    return this.records
  }

  /** bytes of the file so far (header included), buffered or not */
  get bytes(): number {
    return this.fileBytes + this.pos
  }

  /**
   * Append one record. `frame[0 .. length)` is the packet (length defaults to `frame.length`, so a
   * large scratch buffer can be passed without slicing it); `origLen` is its length on the wire
   * (default `length`). Timestamps are µs since the Unix epoch and may carry a fraction (kept as ns
   * when the file has nanosecond resolution). Returns a promise only when the caller must wait for the
   * file (the previous buffer is still being written); then neither call `write` again nor change
   * `frame` before it settles.
   */
  write(tsMicros: number, frame: Uint8Array, origLen?: number, length?: number): void | Promise<void> {
    if (this.waiting) throw new Error('CaptureWriter.write: await the previous write before writing again')
    if (this.closed) throw new Error('CaptureWriter.write: the writer is closed')
    if (this.failure !== undefined) throw this.failure
    const len = length ?? frame.length
    if (!(tsMicros >= 0)) throw new RangeError(`CaptureWriter.write: bad timestamp ${tsMicros}`)
    if (len > frame.length || len < 0) throw new RangeError(`CaptureWriter.write: length ${len} exceeds the frame`)
    const capLen = len < this.snaplen ? len : this.snaplen
    const need = this.format === 'pcap' ? 16 + capLen : 32 + ((capLen + 3) & ~3)
    if (this.pos + need > this.cur.length) {
      if (this.pending !== undefined) return this.writeAfterFlush(tsMicros, frame, origLen ?? len, capLen, need)
      this.startFlush()
      if (need > this.cur.length) this.cur = Buffer.alloc(need)
    }
    this.append(tsMicros, frame, origLen ?? len, capLen)
    return undefined
  }

  /** Write what is buffered and close the file. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.settle()
      if (this.pos > 0) await this.writeAll(this.cur, this.pos)
      this.fileBytes += this.pos
      this.pos = 0
    } finally {
      await this.fh.close()
    }
  }

  private async writeAfterFlush(ts: number, frame: Uint8Array, origLen: number, capLen: number, need: number): Promise<void> {
    this.waiting = true
    try {
      await this.settle()
      this.startFlush()
      if (need > this.cur.length) this.cur = Buffer.alloc(need)
      this.append(ts, frame, origLen, capLen)
    } finally {
      this.waiting = false
    }
  }

  private async settle(): Promise<void> {
    if (this.pending !== undefined) await this.pending
    if (this.failure !== undefined) throw this.failure
  }

  /** Hand the current buffer to the file and continue in the spare one; errors surface at the next wait. */
  private startFlush(): void {
    const buf = this.cur
    const len = this.pos
    this.pending = this.writeAll(buf, len).then(
      () => {
        this.pending = undefined
      },
      (err: unknown) => {
        this.failure = err
        this.pending = undefined
      },
    )
    this.fileBytes += len
    this.cur = this.spare
    this.spare = buf
    this.pos = 0
  }

  private async writeAll(buf: Buffer, len: number): Promise<void> {
    let off = 0
    while (off < len) {
      const {bytesWritten} = await this.fh.write(buf, off, len - off, null)
      off += bytesWritten
    }
  }

  private append(tsMicros: number, frame: Uint8Array, origLen: number, capLen: number): void {
    const b = this.cur
    let p = this.pos
    const sec = Math.floor(tsMicros / 1e6)
    const subMicros = tsMicros - sec * 1e6
    if (this.format === 'pcap') {
      b.writeUInt32LE(sec >>> 0, p)
      b.writeUInt32LE(this.nanosecond ? Math.min(999_999_999, Math.round(subMicros * 1000)) : Math.floor(subMicros), p + 4)
      b.writeUInt32LE(capLen, p + 8)
      b.writeUInt32LE(origLen >>> 0, p + 12)
      p += 16
    } else {
      const padded = (capLen + 3) & ~3
      const total = 32 + padded
      b.writeUInt32LE(PCAPNG_EPB, p)
      b.writeUInt32LE(total, p + 4)
      b.writeUInt32LE(0, p + 8)
      if (this.nanosecond) {
        writeUnits64(b, p + 12, sec, 1e9, Math.min(999_999_999, Math.round(subMicros * 1000)))
      } else {
        const units = Math.floor(tsMicros)
        b.writeUInt32LE(Math.floor(units / TWO_32), p + 12)
        b.writeUInt32LE(units % TWO_32, p + 16)
      }
      b.writeUInt32LE(capLen, p + 20)
      b.writeUInt32LE(origLen >>> 0, p + 24)
      p += 28
      if (padded !== capLen) b.fill(0, p + capLen, p + padded)
      b.writeUInt32LE(total, p + padded)
    }
    if (Buffer.isBuffer(frame)) frame.copy(b, p, 0, capLen)
    else if (capLen === frame.length) b.set(frame, p)
    else b.set(frame.subarray(0, capLen), p)
    this.pos = this.format === 'pcap' ? p + capLen : p + ((capLen + 3) & ~3) + 4
    this.records++
  }
}

/**
 * Write `sec * perSec + frac` as a pcapng 64-bit timestamp (high word first). The product exceeds 2^53
 * for nanoseconds, so it is assembled from 16-bit halves of `sec` to stay exact in doubles.
 */
function writeUnits64(b: Buffer, at: number, sec: number, perSec: number, frac: number): void {
  const secHi = Math.floor(sec / 65536)
  const secLo = sec % 65536
  const high = secHi * perSec // < 2^46
  const low = secLo * perSec + frac // < 2^47
  const highLo16 = high % 65536
  const t = highLo16 * 65536 + low
  const lo32 = t % TWO_32
  const hi32 = Math.floor(high / 65536) + Math.floor(t / TWO_32)
  b.writeUInt32LE(hi32 >>> 0, at)
  b.writeUInt32LE(lo32 >>> 0, at + 4)
}

function writeFileHeader(b: Buffer, o: Required<CaptureWriterOptions>): number {
  if (o.format === 'pcap') {
    b.writeUInt32LE(o.nanosecond ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS, 0)
    b.writeUInt16LE(2, 4)
    b.writeUInt16LE(4, 6)
    b.writeInt32LE(0, 8) // thiszone
    b.writeUInt32LE(0, 12) // sigfigs
    b.writeUInt32LE(o.snaplen, 16)
    b.writeUInt32LE(o.linktype, 20)
    return 24
  }
  // Section Header Block, no options; section length -1 = unknown (pcapng draft §4.1)
  b.writeUInt32LE(PCAPNG_SHB, 0)
  b.writeUInt32LE(28, 4)
  b.writeUInt32LE(PCAPNG_BYTE_ORDER_MAGIC, 8)
  b.writeUInt16LE(1, 12)
  b.writeUInt16LE(0, 14)
  b.writeUInt32LE(0xffffffff, 16)
  b.writeUInt32LE(0xffffffff, 20)
  b.writeUInt32LE(28, 24)
  // Interface Description Block; if_tsresol (code 9) = 9 means 10^-9 s units, absent means µs (§4.2)
  const idbLen = o.nanosecond ? 20 + 8 + 4 : 20
  let p = 28
  b.writeUInt32LE(PCAPNG_IDB, p)
  b.writeUInt32LE(idbLen, p + 4)
  b.writeUInt16LE(o.linktype, p + 8)
  b.writeUInt16LE(0, p + 10)
  b.writeUInt32LE(o.snaplen, p + 12)
  p += 16
  if (o.nanosecond) {
    b.writeUInt16LE(PCAPNG_IF_TSRESOL, p)
    b.writeUInt16LE(1, p + 2)
    b.writeUInt32LE(9, p + 4) // value byte 9 (10^-9 s), then 3 bytes of padding
    b.writeUInt32LE(PCAPNG_OPT_ENDOFOPT, p + 8)
    p += 12
  }
  b.writeUInt32LE(idbLen, p)
  return p + 4
}

// ---------------------------------------------------------------------------------------------------
// Frame builders

/**
 * Transport header fields of one frame. Callers keep one object and overwrite it per packet (see
 * `createL4Header`). `srcPort`/`dstPort`/`tcpFlags`/`seq`/`ack`/`window` apply to TCP and UDP;
 * `icmpType`/`icmpCode`/`icmpId`/`icmpSeq` to ICMP (proto 1) and ICMPv6 (proto 58).
 */
export interface L4Header {
  proto: number
  srcPort: number
  dstPort: number
  tcpFlags: number
  seq: number
  ack: number
  window: number
  icmpType: number
  icmpCode: number
  icmpId: number
  icmpSeq: number
  /** bytes after the transport header (written as zeros) */
  payloadLen: number
  /** IPv4 TTL / IPv6 hop limit */
  ttl: number
  /** IPv4 identification */
  ipId: number
}

export function createL4Header(): L4Header {
  return {
    proto: IPPROTO_TCP,
    srcPort: 0,
    dstPort: 0,
    tcpFlags: 0,
    seq: 0,
    ack: 0,
    window: 65535,
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    icmpSeq: 0,
    payloadLen: 0,
    ttl: 64,
    ipId: 0,
  }
}

/** Length of the transport header for `proto` (0 for protocols carried as bare payload). */
export function l4HeaderLength(proto: number): number {
  if (proto === IPPROTO_TCP) return TCP_HEADER_LEN
  if (proto === IPPROTO_UDP) return UDP_HEADER_LEN
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return ICMP_HEADER_LEN
  return 0
}

const MAC_DST = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01] as const
const MAC_SRC = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02] as const

function writeEthernet(out: Uint8Array, ethertype: number): void {
  for (let i = 0; i < 6; i++) {
    out[i] = MAC_DST[i]!
    out[6 + i] = MAC_SRC[i]!
  }
  out[12] = ethertype >>> 8
  out[13] = ethertype & 0xff
}

/**
 * Ethernet + IPv4 frame. `src`/`dst` are IPv4 addresses as unsigned 32-bit numbers. Writes a correct
 * IPv4 header checksum and transport checksum (the payload is zeros, so only headers contribute).
 * Returns the frame length; IP total length = frame length - 14.
 */
export function buildEthernetIpv4Frame(out: Uint8Array, src: number, dst: number, l4: L4Header): number {
  const l4Len = l4HeaderLength(l4.proto) + l4.payloadLen
  const ipLen = IPV4_HEADER_LEN + l4Len
  const total = ETHERNET_HEADER_LEN + ipLen
  if (ipLen > 0xffff) throw new RangeError(`IPv4 total length ${ipLen} exceeds 65535`)
  if (total > out.length) throw new RangeError(`frame of ${total} bytes does not fit the ${out.length}-byte scratch buffer`)
  writeEthernet(out, 0x0800)
  const ip = ETHERNET_HEADER_LEN
  out[ip] = 0x45
  out[ip + 1] = 0
  put16(out, ip + 2, ipLen)
  put16(out, ip + 4, l4.ipId & 0xffff)
  put16(out, ip + 6, l4.proto === IPPROTO_TCP ? 0x4000 : 0) // DF for TCP
  out[ip + 8] = l4.ttl & 0xff
  out[ip + 9] = l4.proto
  put16(out, ip + 10, 0)
  put32(out, ip + 12, src)
  put32(out, ip + 16, dst)
  put16(out, ip + 10, finish(sum16(out, ip, ip + IPV4_HEADER_LEN)))
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + l4.proto + l4Len
  writeL4(out, ip + IPV4_HEADER_LEN, l4, l4Len, l4.proto === IPPROTO_ICMP ? 0 : pseudo, total)
  return total
}

/**
 * Ethernet + IPv6 frame (no extension headers). `src`/`dst` are four big-endian 32-bit words each.
 * Returns the frame length; IPv6 payload length = frame length - 54.
 */
export function buildEthernetIpv6Frame(out: Uint8Array, src: ArrayLike<number>, dst: ArrayLike<number>, l4: L4Header): number {
  const l4Len = l4HeaderLength(l4.proto) + l4.payloadLen
  const total = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + l4Len
  if (l4Len > 0xffff) throw new RangeError(`IPv6 payload length ${l4Len} exceeds 65535`)
  if (total > out.length) throw new RangeError(`frame of ${total} bytes does not fit the ${out.length}-byte scratch buffer`)
  writeEthernet(out, 0x86dd)
  const ip = ETHERNET_HEADER_LEN
  put32(out, ip, 0x60000000)
  put16(out, ip + 4, l4Len)
  out[ip + 6] = l4.proto
  out[ip + 7] = l4.ttl & 0xff
  let pseudo = l4.proto + l4Len
  for (let i = 0; i < 4; i++) {
    const s = (src[i] ?? 0) >>> 0
    const d = (dst[i] ?? 0) >>> 0
    put32(out, ip + 8 + 4 * i, s)
    put32(out, ip + 24 + 4 * i, d)
    pseudo += (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff)
  }
  writeL4(out, ip + IPV6_HEADER_LEN, l4, l4Len, pseudo, total)
  return total
}

function writeL4(out: Uint8Array, p: number, l4: L4Header, l4Len: number, pseudo: number, total: number): void {
  const hdr = l4HeaderLength(l4.proto)
  if (l4.proto === IPPROTO_TCP) {
    put16(out, p, l4.srcPort)
    put16(out, p + 2, l4.dstPort)
    put32(out, p + 4, l4.seq >>> 0)
    put32(out, p + 8, (l4.tcpFlags & TCP_ACK) !== 0 ? l4.ack >>> 0 : 0)
    out[p + 12] = (TCP_HEADER_LEN / 4) << 4
    out[p + 13] = l4.tcpFlags & 0xff
    put16(out, p + 14, l4.window & 0xffff)
    put16(out, p + 16, 0)
    put16(out, p + 18, 0)
    put16(out, p + 16, finish(pseudo + sum16(out, p, p + hdr)))
  } else if (l4.proto === IPPROTO_UDP) {
    put16(out, p, l4.srcPort)
    put16(out, p + 2, l4.dstPort)
    put16(out, p + 4, l4Len)
    put16(out, p + 6, 0)
    const c = finish(pseudo + sum16(out, p, p + hdr))
    put16(out, p + 6, c === 0 ? 0xffff : c) // 0 means "no checksum" (RFC 768)
  } else if (l4.proto === IPPROTO_ICMP || l4.proto === IPPROTO_ICMPV6) {
    out[p] = l4.icmpType & 0xff
    out[p + 1] = l4.icmpCode & 0xff
    put16(out, p + 2, 0)
    put16(out, p + 4, l4.icmpId & 0xffff)
    put16(out, p + 6, l4.icmpSeq & 0xffff)
    // ICMPv4 has no pseudo header (RFC 792); ICMPv6 does (RFC 4443 §2.3)
    put16(out, p + 2, finish(pseudo + sum16(out, p, p + hdr)))
  }
  out.fill(0, p + hdr, total)
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff
  b[at + 1] = v & 0xff
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24
  b[at + 1] = (v >>> 16) & 0xff
  b[at + 2] = (v >>> 8) & 0xff
  b[at + 3] = v & 0xff
}

/** Sum of big-endian 16-bit words of b[start .. end) (end - start even), not yet folded. */
function sum16(b: Uint8Array, start: number, end: number): number {
  let s = 0
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!
  return s
}

/** Fold a sum to 16 bits and take the one's complement (RFC 1071). */
function finish(sum: number): number {
  let s = sum
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536)
  return ~s & 0xffff
}
