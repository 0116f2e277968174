/**
 * Streaming reader for classic pcap and pcapng captures.
 *
 * The file is read with `FileHandle.read` into one large chunk buffer (4 MiB by default); the records
 * found in a chunk are described by the parallel arrays of a `PacketBatch` that points into that
 * buffer. A record cut by the end of a chunk is carried to the front of the next one, and the buffer
 * grows when a single record is bigger than it. The file is never read whole.
 *
 * Formats: pcap per draft-ietf-opsawg-pcap (µs and ns magic, both byte orders), pcapng per
 * draft-ietf-opsawg-pcapng (SHB/IDB/EPB/SPB and the obsolete Packet Block; several sections, each with
 * its own byte order and interfaces; other blocks skipped by their length).
 */
import {readSync} from 'node:fs'
import {open, type FileHandle} from 'node:fs/promises'
import {CaptureFormatError, FLOW_TIME_MAX_US, FLOW_TIME_MIN_US, growF64, growU16, growU32} from '../../core/index.js'
import {
  PCAP_MAGIC_MICROS,
  PCAP_MAGIC_NANOS,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_EPB,
  PCAPNG_IDB,
  PCAPNG_IF_TSOFFSET,
  PCAPNG_IF_TSRESOL,
  PCAPNG_OPT_ENDOFOPT,
  PCAPNG_PB,
  PCAPNG_SHB,
  PCAPNG_SPB,
} from './capture-format.js'
import type {CaptureReadOptions, CaptureReadStats, PacketBatch} from './packet-batch.js'

const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
/** smallest chunk we accept: a pcapng SHB plus a few small records */
const MIN_CHUNK_SIZE = 4096
const SYNC_READ_BYTES = 256 * 1024

const PCAP_HEADER_LEN = 24
const PCAP_RECORD_HEADER_LEN = 16
/**
 * The most captured bytes a packet record may hold, whatever the file header says: tcpdump's
 * MAXIMUM_SNAPLEN (libpcap pcap-int.h). A fixed cap, so a hostile header (snaplen 0xffffffff) cannot
 * make the reader allocate a record of its choosing: a bigger record is a bad record, stepped over
 * without being read into memory.
 */
export const MAX_RECORD_CAPLEN = 262144
/**
 * The longest pcapng packet block (EPB, SPB, obsolete PB): header, MAX_RECORD_CAPLEN bytes of data and
 * up to 128 KiB of options (libpcap sf-pcapng.c MAX_BLOCKSIZE_FOR_SNAPLEN).
 */
const PCAPNG_MAX_PACKET_BLOCK_LEN = 32 + MAX_RECORD_CAPLEN + 131072
/** The longest pcapng block of any other type (libpcap sf-pcapng.c MAX_BLOCKSIZE, 16 MiB). */
const PCAPNG_MAX_BLOCK_LEN = 16 * 1024 * 1024

/** What `readCapture` adds to the stats when `skipBad` had to give up on the rest of a file. */
export interface CaptureReadStop {
  /** byte offset of the record where reading stopped */
  stoppedAt?: number
  /** why the rest of the file could not be read (no resynchronisation point after a bad length) */
  stopReason?: string
}

/**
 * Read the packets of a pcap or pcapng file (format detected by its magic number, not its name).
 *
 * Yields one batch per chunk read. **The batch object, its arrays and its `buf` are reused**: finish
 * with a batch (decode it, copy what you keep) before pulling the next one.
 *
 * Throws `CaptureFormatError(path, byteOffset, detail)` on bytes that are not a capture or a bad
 * record; with `opts.skipBad` a bad record is counted in `stats.badRecords` instead and reading goes on
 * where the format allows it (a bad length leaves no way to find the next record, so reading stops
 * there and `stats.stopReason` says why).
 */
export async function* readCapture(
  path: string,
  opts: CaptureReadOptions = {},
  stats?: CaptureReadStats & CaptureReadStop,
): AsyncGenerator<PacketBatch> {
  const chunkSize = Math.max(MIN_CHUNK_SIZE, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE))
  const fh = await open(path, 'r')
  try {
    const fileSize = (await fh.stat()).size
    const src = new ChunkSource(fh, fileSize, chunkSize, opts.onProgress, stats, opts.onData, opts.syncReads === true)
    if (fileSize === 0) throw new CaptureFormatError(path, 0, 'empty file')
    await src.refill(Math.min(fileSize, PCAP_HEADER_LEN))
    const ctx: ReadContext = {path, src, skipBad: opts.skipBad === true, stats}
    const magic = src.view.getUint32(0, false)
    const pcapMagic = bswap32(magic) === PCAP_MAGIC_MICROS || bswap32(magic) === PCAP_MAGIC_NANOS
    if (src.end >= 4 && (magic === PCAP_MAGIC_MICROS || magic === PCAP_MAGIC_NANOS || pcapMagic)) {
      if (stats) stats.format = 'pcap'
      yield* readPcap(ctx)
    } else if (src.end >= 4 && magic === PCAPNG_SHB) {
      if (stats) stats.format = 'pcapng'
      yield* readPcapng(ctx)
    } else {
      throw new CaptureFormatError(path, 0, `not a pcap or pcapng file (${describeStart(src.buf.subarray(0, src.end))})`)
    }
  } finally {
    await fh.close()
  }
}

interface ReadContext {
  path: string
  src: ChunkSource
  skipBad: boolean
  stats: (CaptureReadStats & CaptureReadStop) | undefined
}

/** The chunk buffer: bytes [start, end) are read but not yet consumed; buf[0] is file offset `base`. */
class ChunkSource {
  buf: Uint8Array
  view: DataView
  base = 0
  start = 0
  end = 0
  bytesRead = 0
  eof = false

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    chunkSize: number,
    private readonly onProgress: ((bytesRead: number) => void) | undefined,
    private readonly stats: CaptureReadStats | undefined,
    private readonly onData: ((bytes: Uint8Array) => void | Promise<void>) | undefined = undefined,
    private readonly syncReads = false,
  ) {
    this.buf = new Uint8Array(chunkSize)
    this.view = new DataView(this.buf.buffer)
  }

  /** file offset of `start` */
  get position(): number {
    return this.base + this.start
  }

  /** bytes of the file after `start` (read or not) */
  get remaining(): number {
    return this.fileSize - this.base - this.start
  }

  /**
   * Move the unconsumed tail to the front, make room for at least `need` bytes from `start` (growing
   * the buffer for a record bigger than a chunk), and fill the rest of the buffer from the file.
   */
  async refill(need: number): Promise<void> {
    const tail = this.end - this.start
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.max(need, this.buf.length * 2))
      grown.set(this.buf.subarray(this.start, this.end))
      this.buf = grown
      this.view = new DataView(grown.buffer)
    } else if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end)
    }
    this.base += this.start
    this.start = 0
    this.end = tail
    while (this.end < this.buf.length) {
      const {bytesRead} = this.syncReads
        ? {bytesRead: readSync(this.fh.fd, this.buf, this.end, Math.min(SYNC_READ_BYTES, this.buf.length - this.end), this.base + this.end)}
        : await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.base + this.end)
      if (bytesRead === 0) {
        this.eof = true
        break
      }
      const fed = this.onData?.(this.buf.subarray(this.end, this.end + bytesRead))
      if (fed) await fed
      this.end += bytesRead
      this.bytesRead += bytesRead
    }
    if (this.base + this.end >= this.fileSize) this.eof = true
    if (this.stats) this.stats.bytesRead = this.bytesRead
    this.onProgress?.(this.bytesRead)
  }

  /**
   * Consume `n` bytes from `start` without holding them: a seek, or (when `onData` must see every
   * byte) reads through the chunk buffer as it is, never growing it. Stops at the end of the file.
   */
  async skip(n: number): Promise<void> {
    let left = n
    for (;;) {
      const avail = this.end - this.start
      if (left <= avail) {
        this.start += left
        return
      }
      left -= avail
      this.start = this.end
      if (this.eof) return
      if (this.onData === undefined) {
        this.base += this.end + left
        this.start = this.end = 0
        if (this.base >= this.fileSize) {
          this.base = this.fileSize
          this.eof = true
          return
        }
        left = 0
      }
      await this.refill(0)
    }
  }
}

/** Parallel arrays reused across chunks; grown (doubling) when a chunk holds more records. */
class BatchBuilder {
  readonly batch: PacketBatch

  constructor(capacity: number, buf: Uint8Array) {
    this.batch = {
      count: 0,
      buf,
      offset: new Uint32Array(capacity),
      caplen: new Uint32Array(capacity),
      origLen: new Uint32Array(capacity),
      tsMicros: new Float64Array(capacity),
      linktype: new Uint16Array(capacity),
      fileOffset: new Float64Array(capacity),
    }
  }

  grow(): void {
    const b = this.batch
    const cap = b.offset.length * 2
    b.offset = growU32(b.offset, cap)
    b.caplen = growU32(b.caplen, cap)
    b.origLen = growU32(b.origLen, cap)
    b.tsMicros = growF64(b.tsMicros, cap)
    b.linktype = growU16(b.linktype, cap)
    b.fileOffset = growF64(b.fileOffset, cap)
  }
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0
}

/** Name what the first bytes of a non-capture look like, to make the error actionable. */
function describeStart(head: Uint8Array): string {
  if (head.length < 4) return `only ${head.length} byte${head.length === 1 ? '' : 's'} long`
  const hex = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('')
  const b0 = head[0]!
  const b1 = head[1]!
  let looks = ''
  if (b0 === 0x1f && b1 === 0x8b) looks = ': gzip data, decompress it first'
  else if (b0 === 0x28 && b1 === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) looks = ': zstd data, decompress it first'
  else if (b0 === 0x42 && b1 === 0x5a && head[2] === 0x68) looks = ': bzip2 data, decompress it first'
  else if (b0 === 0xfd && b1 === 0x37 && head[2] === 0x7a && head[3] === 0x58) looks = ': xz data, decompress it first'
  else if (b0 === 0x50 && b1 === 0x4b) looks = ': a zip archive'
  else if (hex === 'a1b2cd34' || hex === '34cdb2a1') looks = ': the modified (Kuznetzov) pcap format, which is not supported'
  else if (b0 === 0x0c && b1 === 0xa5) looks = ': an nfdump nfcapd file, not a packet capture'
  else if (hex === '50415231') looks = ': a Parquet file, not a packet capture'
  else if (Array.from(head.subarray(0, 64)).every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f))) {
    looks = ': text, not a binary capture'
  }
  return `starts with 0x${hex}${looks}`
}

/** What every format's parser leaves for the read loop after describing the records of a chunk. */
interface ParseState {
  /** PARSE_* outcome of the last parse call */
  status: number
  /** bytes needed at `start` for the next record (PARSE_NEED_MORE) */
  need: number
}

const PARSE_NEED_MORE = 0
const PARSE_BAD = 1

/**
 * The read loop of both formats: describe the records of the chunk (`parse`), yield them, then deal
 * with what stopped the parse: a bad record (`onBad` throws, or steps over it and returns true, or
 * returns false when the rest cannot be read), the end of the file, a record cut by the end of the
 * file (`truncated` names it), or the end of the chunk (refill). One call per chunk, none per record.
 */
async function* readRecords<S extends ParseState>(
  ctx: ReadContext,
  st: S,
  parse: (src: ChunkSource, builder: BatchBuilder, st: S) => void,
  onBad: (ctx: ReadContext, st: S) => Promise<boolean>,
  truncated: (remaining: number, need: number) => string,
): AsyncGenerator<PacketBatch> {
  const {path, src, stats} = ctx
  const builder = new BatchBuilder(Math.ceil(src.buf.length / 64), src.buf)
  for (;;) {
    builder.batch.buf = src.buf
    parse(src, builder, st)
    const batch = builder.batch
    if (batch.count > 0) {
      if (stats) stats.records += batch.count
      yield batch
      batch.count = 0
    }
    if (st.status === PARSE_BAD) {
      if (await onBad(ctx, st)) continue
      return
    }
    // PARSE_NEED_MORE: the record at `start` is incomplete in the buffer
    if (src.start === src.end && src.eof) return
    const remaining = src.remaining
    if (st.need > remaining) {
      const detail = truncated(remaining, st.need)
      if (!ctx.skipBad) throw new CaptureFormatError(path, src.position, detail)
      if (stats) stats.badRecords++
      return
    }
    await src.refill(st.need)
    if (src.end - src.start < st.need) {
      // the file shrank while we read it
      throw new CaptureFormatError(path, src.position, `file ended early: ${st.need} bytes needed, ${src.end - src.start} read`)
    }
  }
}

/** A bad record whose extent is known (`skipLen` bytes from `start`): throw, or count it and step over it. */
async function skipBadRecord(ctx: ReadContext, detail: string, skipLen: number): Promise<boolean> {
  if (!ctx.skipBad) throw new CaptureFormatError(ctx.path, ctx.src.position, detail)
  if (ctx.stats) ctx.stats.badRecords++
  await ctx.src.skip(skipLen)
  return true
}

function stopReading(ctx: ReadContext, at: number, reason: string): void {
  if (!ctx.stats) return
  ctx.stats.badRecords++
  ctx.stats.stoppedAt = at
  ctx.stats.stopReason = reason
}

// ---------------------------------------------------------------------------------------------- pcap

async function* readPcap(ctx: ReadContext): AsyncGenerator<PacketBatch> {
  const {path, src} = ctx
  if (src.end < PCAP_HEADER_LEN) {
    throw new CaptureFormatError(path, 0, `truncated pcap file header: ${PCAP_HEADER_LEN} bytes needed, ${src.end} present`)
  }
  const magicBE = src.view.getUint32(0, false)
  const le = magicBE !== PCAP_MAGIC_MICROS && magicBE !== PCAP_MAGIC_NANOS
  const magic = le ? bswap32(magicBE) : magicBE
  const snaplen = src.view.getUint32(16, le)
  // draft-ietf-opsawg-pcap §4: the low 16 bits are the link type, the top bits FCS information
  const linktype = src.view.getUint32(20, le) & 0xffff
  const st: PcapState = {le, nanos: magic === PCAP_MAGIC_NANOS, linktype, snaplen, status: 0, need: 0, badCaplen: 0}
  src.start = PCAP_HEADER_LEN
  yield* readRecords(ctx, st, parsePcapRecords, pcapBadRecord, pcapTruncated)
}

interface PcapState extends ParseState {
  le: boolean
  nanos: boolean
  linktype: number
  snaplen: number
  badCaplen: number
}

/**
 * A record longer than MAX_RECORD_CAPLEN. When the file's snaplen allows it, the length is taken as
 * true (a hostile or odd header, not a corrupt length) and the record is stepped over unread; beyond
 * the snaplen too, the length itself is corrupt (libpcap's rule) and the next record cannot be found.
 */
async function pcapBadRecord(ctx: ReadContext, st: PcapState): Promise<boolean> {
  const caplen = st.badCaplen
  if (caplen <= st.snaplen) {
    return skipBadRecord(ctx, `record caplen ${caplen} exceeds the maximum of ${MAX_RECORD_CAPLEN} bytes a record may hold`, PCAP_RECORD_HEADER_LEN + caplen)
  }
  const at = ctx.src.position
  const detail = `record caplen ${caplen} exceeds the maximum of ${MAX_RECORD_CAPLEN} (file snaplen ${st.snaplen})`
  if (!ctx.skipBad) throw new CaptureFormatError(ctx.path, at, detail)
  stopReading(ctx, at, `${detail}; the next record cannot be located`)
  return false
}

function pcapTruncated(remaining: number, need: number): string {
  return remaining < PCAP_RECORD_HEADER_LEN
    ? `truncated record header: ${PCAP_RECORD_HEADER_LEN} bytes needed, ${remaining} remain`
    : `truncated record: header says ${need - PCAP_RECORD_HEADER_LEN} bytes, ${remaining - PCAP_RECORD_HEADER_LEN} remain`
}

/**
 * Describe every complete record in the buffer; stops at an incomplete or bad one. Timestamps need no
 * range check here: 32-bit seconds plus a 32-bit fraction end in 2106, inside FLOW_TIME_MAX_US.
 */
function parsePcapRecords(src: ChunkSource, builder: BatchBuilder, st: PcapState): void {
  const view = src.view
  const end = src.end
  const base = src.base
  const le = st.le
  const nanos = st.nanos
  const linktype = st.linktype
  let b = builder.batch
  let n = b.count
  let cap = b.offset.length
  let pos = src.start
  st.status = PARSE_NEED_MORE
  for (;;) {
    if (end - pos < PCAP_RECORD_HEADER_LEN) {
      st.need = PCAP_RECORD_HEADER_LEN
      break
    }
    const caplen = view.getUint32(pos + 8, le)
    if (caplen > MAX_RECORD_CAPLEN) {
      st.status = PARSE_BAD
      st.badCaplen = caplen
      break
    }
    const recLen = PCAP_RECORD_HEADER_LEN + caplen
    if (end - pos < recLen) {
      st.need = recLen
      break
    }
    if (n === cap) {
      b.count = n
      builder.grow()
      b = builder.batch
      cap = b.offset.length
    }
    const sec = view.getUint32(pos, le)
    const frac = view.getUint32(pos + 4, le)
    b.tsMicros[n] = sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac)
    b.offset[n] = pos + PCAP_RECORD_HEADER_LEN
    b.caplen[n] = caplen
    b.origLen[n] = view.getUint32(pos + 12, le)
    b.linktype[n] = linktype
    b.fileOffset[n] = base + pos
    n++
    pos += recLen
  }
  b.count = n
  src.start = pos
}

// -------------------------------------------------------------------------------------------- pcapng

/** Per-interface timestamp conversion, precomputed from if_tsresol / if_tsoffset. */
interface PcapngInterface {
  linktype: number
  snaplen: number
  /** TS_* conversion kind */
  tsKind: number
  /** TS_DIVIDE: units per µs; TS_SCALE: µs per unit */
  tsFactor: number
  /** if_tsoffset, in µs */
  tsOffsetMicros: number
}

const TS_MICROS = 0 // units are µs
const TS_DIVIDE = 1 // 10^-n with n > 6: exact integer division
const TS_SCALE = 2 // any other resolution: float scaling

interface PcapngState extends ParseState {
  le: boolean
  interfaces: PcapngInterface[]
  /** timestamp of the previous packet, for Simple Packet Blocks which carry none */
  lastTs: number
  /** set when status is PARSE_BAD */
  badDetail: string
  /** a bad block whose length is still trustworthy: step over these many bytes and go on (0: stop) */
  badSkipLen: number
}

async function* readPcapng(ctx: ReadContext): AsyncGenerator<PacketBatch> {
  const st: PcapngState = {le: true, interfaces: [], lastTs: 0, status: 0, need: 0, badDetail: '', badSkipLen: 0}
  yield* readRecords(ctx, st, parsePcapngBlocks, pcapngBadBlock, pcapngTruncated)
}

async function pcapngBadBlock(ctx: ReadContext, st: PcapngState): Promise<boolean> {
  if (st.badSkipLen > 0) return skipBadRecord(ctx, st.badDetail, st.badSkipLen)
  const at = ctx.src.position
  if (!ctx.skipBad) throw new CaptureFormatError(ctx.path, at, st.badDetail)
  stopReading(ctx, at, `${st.badDetail}; the next block cannot be located`)
  return false
}

function pcapngTruncated(remaining: number, need: number): string {
  return remaining < 12 ? `truncated block header: 12 bytes needed, ${remaining} remain` : `truncated block: its length says ${need} bytes, ${remaining} remain`
}

/** "1970-01-01 .. 2200-01-01": the range of FLOW_TIME_MIN_US .. FLOW_TIME_MAX_US, for messages */
const TIME_RANGE = `${new Date(FLOW_TIME_MIN_US / 1000).toISOString().slice(0, 10)} .. ${new Date(FLOW_TIME_MAX_US / 1000).toISOString().slice(0, 10)}`

function describeMicros(us: number): string {
  const ms = us / 1000
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${us} µs since the epoch`
}

function parsePcapngBlocks(src: ChunkSource, builder: BatchBuilder, st: PcapngState): void {
  const view = src.view
  const buf = src.buf
  const end = src.end
  const base = src.base
  let le = st.le
  let b = builder.batch
  let n = b.count
  let cap = b.offset.length
  let pos = src.start
  st.status = PARSE_NEED_MORE
  const bad = (detail: string, skipLen: number): void => {
    st.status = PARSE_BAD
    st.badDetail = detail
    st.badSkipLen = skipLen
  }
  for (;;) {
    if (end - pos < 12) {
      st.need = 12
      break
    }
    const type = view.getUint32(pos, le)
    if (type === PCAPNG_SHB) {
      // A new section may change the byte order: read it before trusting the length (pcapng §4.1).
      const bom = view.getUint32(pos + 8, false)
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) le = false
      else if (bom === bswap32(PCAPNG_BYTE_ORDER_MAGIC)) le = true
      else {
        bad(`bad section header byte-order magic 0x${bom.toString(16).padStart(8, '0')}`, 0)
        break
      }
    }
    const len = view.getUint32(pos + 4, le)
    // pcapng §3.1: a block is at least type + length + trailing length, padded to 32 bits
    if (len < 12 || (len & 3) !== 0) {
      bad(`bad block length ${len} (must be a multiple of 4 and at least 12)`, 0)
      break
    }
    const packetBlock = type === PCAPNG_EPB || type === PCAPNG_SPB || type === PCAPNG_PB
    const maxLen = packetBlock ? PCAPNG_MAX_PACKET_BLOCK_LEN : PCAPNG_MAX_BLOCK_LEN
    if (len > maxLen) {
      // never read into memory: stepped over by its length (a section header that big is corrupt)
      bad(`block length ${len} exceeds the maximum of ${maxLen} for a ${packetBlock ? 'packet block' : 'block'}`, type === PCAPNG_SHB ? 0 : len)
      break
    }
    if (end - pos < len) {
      st.need = len
      break
    }
    const trailing = view.getUint32(pos + len - 4, le)
    if (trailing !== len) {
      bad(`block length ${len} does not match its trailing length ${trailing}`, 0)
      break
    }
    if (packetBlock) {
      let ifId: number
      let dataOff: number
      let caplen: number
      let origLen: number
      let tsHigh = 0
      let tsLow = 0
      if (type === PCAPNG_SPB) {
        // §4.4: no interface id (always 0), no timestamp, no captured length — derive it
        if (len < 16) {
          bad(`simple packet block too short (${len} bytes)`, len)
          break
        }
        ifId = 0
        dataOff = 12
        origLen = view.getUint32(pos + 8, le)
        caplen = Math.min(origLen, len - 16)
        const ifc = st.interfaces[0]
        if (ifc !== undefined && ifc.snaplen > 0 && caplen > ifc.snaplen) caplen = ifc.snaplen
      } else {
        if (len < 32) {
          bad(`${type === PCAPNG_EPB ? 'enhanced' : 'obsolete'} packet block too short (${len} bytes)`, len)
          break
        }
        ifId = type === PCAPNG_EPB ? view.getUint32(pos + 8, le) : view.getUint16(pos + 8, le)
        tsHigh = view.getUint32(pos + 12, le)
        tsLow = view.getUint32(pos + 16, le)
        caplen = view.getUint32(pos + 20, le)
        origLen = view.getUint32(pos + 24, le)
        dataOff = 28
        if (caplen > len - 32) {
          bad(`packet block captured length ${caplen} exceeds its block (${len - 32} bytes of data)`, len)
          break
        }
      }
      if (caplen > MAX_RECORD_CAPLEN) {
        bad(`packet block captured length ${caplen} exceeds the maximum of ${MAX_RECORD_CAPLEN} bytes a record may hold`, len)
        break
      }
      const ifc = st.interfaces[ifId]
      if (ifc === undefined) {
        bad(`packet block references interface ${ifId}, but the section defines ${st.interfaces.length}`, len)
        break
      }
      const ts = type === PCAPNG_SPB ? st.lastTs : pcapngTsMicros(tsHigh, tsLow, ifc)
      if (!(ts >= FLOW_TIME_MIN_US && ts < FLOW_TIME_MAX_US)) {
        bad(`packet timestamp ${describeMicros(ts)} is outside ${TIME_RANGE}`, len)
        break
      }
      st.lastTs = ts
      if (n === cap) {
        b.count = n
        builder.grow()
        b = builder.batch
        cap = b.offset.length
      }
      b.tsMicros[n] = ts
      b.offset[n] = pos + dataOff
      b.caplen[n] = caplen
      b.origLen[n] = origLen
      b.linktype[n] = ifc.linktype
      b.fileOffset[n] = base + pos
      n++
    } else if (type === PCAPNG_SHB) {
      if (len < 28) {
        bad(`section header block too short (${len} bytes)`, 0)
        break
      }
      st.interfaces = []
    } else if (type === PCAPNG_IDB) {
      if (len < 20) {
        bad(`interface description block too short (${len} bytes)`, len)
        break
      }
      st.interfaces.push(parseIdb(buf, view, pos, len, le))
    }
    // every other block type (NRB, ISB, DSB, custom, …) is skipped by its length
    pos += len
  }
  st.le = le
  b.count = n
  src.start = pos
}

function parseIdb(buf: Uint8Array, view: DataView, pos: number, len: number, le: boolean): PcapngInterface {
  const ifc: PcapngInterface = {
    linktype: view.getUint16(pos + 8, le),
    snaplen: view.getUint32(pos + 12, le),
    tsKind: TS_MICROS,
    tsFactor: 1,
    tsOffsetMicros: 0,
  }
  // options (§3.5): code u16, length u16, value padded to 32 bits; end before the trailing length
  let o = pos + 16
  const optEnd = pos + len - 4
  while (o + 4 <= optEnd) {
    const code = view.getUint16(o, le)
    const olen = view.getUint16(o + 2, le)
    if (code === PCAPNG_OPT_ENDOFOPT || o + 4 + olen > optEnd) break
    if (code === PCAPNG_IF_TSRESOL && olen >= 1) {
      // §4.2 if_tsresol: MSB clear = 10^-v seconds, MSB set = 2^-v seconds (default 10^-6)
      const v = buf[o + 4]!
      const exp = v & 0x7f
      if ((v & 0x80) !== 0) {
        ifc.tsKind = TS_SCALE
        ifc.tsFactor = 1e6 / 2 ** exp
      } else if (exp === 6) {
        ifc.tsKind = TS_MICROS
        ifc.tsFactor = 1
      } else if (exp > 6 && exp <= 12) {
        ifc.tsKind = TS_DIVIDE
        ifc.tsFactor = 10 ** (exp - 6)
      } else {
        ifc.tsKind = TS_SCALE
        ifc.tsFactor = 10 ** (6 - exp)
      }
    } else if (code === PCAPNG_IF_TSOFFSET && olen >= 8) {
      // §4.2 if_tsoffset: seconds added to every timestamp (signed 64-bit)
      const hi = view.getInt32(o + 4 + (le ? 4 : 0), le)
      const lo = view.getUint32(o + 4 + (le ? 0 : 4), le)
      ifc.tsOffsetMicros = (hi * 4294967296 + lo) * 1e6
    }
    o += 4 + ((olen + 3) & ~3)
  }
  return ifc
}

/** A 64-bit timestamp (two 32-bit halves) in interface units → µs since the epoch, truncated. */
function pcapngTsMicros(high: number, low: number, ifc: PcapngInterface): number {
  let us: number
  if (ifc.tsKind === TS_MICROS) {
    us = high * 4294967296 + low
  } else if (ifc.tsKind === TS_DIVIDE) {
    // high*2^32 + low can exceed 2^53 (ns since 1970 do): divide in two exact steps
    const d = ifc.tsFactor
    const hq = Math.floor(high / d)
    const hr = high - hq * d
    us = hq * 4294967296 + Math.floor((hr * 4294967296 + low) / d)
  } else {
    us = Math.floor((high * 4294967296 + low) * ifc.tsFactor)
  }
  return us + ifc.tsOffsetMicros
}
