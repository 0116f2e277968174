import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {CaptureFormatError} from '../../../src/core/errors.js'
import {readCapture, type CaptureReadStop} from '../../../src/io/capture/capture-reader.js'
import type {CaptureReadOptions, CaptureReadStats} from '../../../src/io/capture/packet-batch.js'
import {
  BT_CUSTOM,
  BT_ISB,
  BT_NRB,
  concat,
  epb,
  ETHERTYPE_IPV4,
  ethernet,
  idb,
  ipv4,
  obsoletePb,
  pcapFile,
  pcapHeader,
  pcapngBlock,
  pcapRecord,
  shb,
  spb,
  tcp,
  udp,
  type PcapRecord,
} from '../../helpers/capture-bytes.js'

const dir = mkdtempSync(path.join(tmpdir(), 'flowscope-reader-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

let fileNo = 0
function file(content: Uint8Array | string): string {
  const p = path.join(dir, `f${fileNo++}.bin`)
  writeFileSync(p, content)
  return p
}

interface Packet {
  data: number[]
  caplen: number
  origLen: number
  ts: number
  linktype: number
  fileOffset: number
}

type Stats = CaptureReadStats & CaptureReadStop

function newStats(): Stats {
  return {format: undefined, records: 0, badRecords: 0, bytesRead: 0}
}

/** Read a file and copy every packet out of the (reused) batches. */
async function readAll(p: string, opts: CaptureReadOptions = {}, stats: Stats = newStats()): Promise<Packet[]> {
  const out: Packet[] = []
  for await (const b of readCapture(p, opts, stats)) {
    for (let i = 0; i < b.count; i++) {
      const o = b.offset[i]!
      out.push({
        data: Array.from(b.buf.subarray(o, o + b.caplen[i]!)),
        caplen: b.caplen[i]!,
        origLen: b.origLen[i]!,
        ts: b.tsMicros[i]!,
        linktype: b.linktype[i]!,
        fileOffset: b.fileOffset[i]!,
      })
    }
  }
  return out
}

async function readError(p: string, opts: CaptureReadOptions = {}): Promise<CaptureFormatError> {
  try {
    await readAll(p, opts)
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureFormatError)
    return e as CaptureFormatError
  }
  throw new Error('expected a CaptureFormatError')
}

const frame = (n: number, size = 60): Uint8Array => {
  const payload = new Uint8Array(Math.max(0, size - 14 - 20 - 8)).fill(n & 0xff)
  return ethernet(ipv4({src: '10.0.0.1', dst: '10.0.0.2', proto: 17, payload: udp(1000 + n, 53, payload)}), ETHERTYPE_IPV4)
}

describe('readCapture: classic pcap', () => {
  it.each([
    ['µs little-endian', false, false],
    ['µs big-endian', false, true],
    ['ns little-endian', true, false],
    ['ns big-endian', true, true],
  ])('reads %s', async (_name, nanos, bigEndian) => {
    const recs: PcapRecord[] = [
      {sec: 1_700_000_000, frac: nanos ? 123_456_789 : 123_456, data: frame(1)},
      {sec: 1_700_000_001, frac: nanos ? 999_999_999 : 999_999, data: frame(2, 100), origLen: 1514},
    ]
    const p = file(pcapFile({linktype: 1, nanos, bigEndian}, recs))
    const stats = newStats()
    const pk = await readAll(p, {}, stats)
    expect(pk).toHaveLength(2)
    // ns are truncated to µs
    expect(pk[0]!.ts).toBe(1_700_000_000_123_456)
    expect(pk[1]!.ts).toBe(1_700_000_001_999_999)
    expect(pk[0]!.data).toEqual(Array.from(frame(1)))
    expect(pk[1]!.origLen).toBe(1514)
    expect(pk[1]!.caplen).toBe(100)
    expect(pk.map((x) => x.linktype)).toEqual([1, 1])
    expect(pk.map((x) => x.fileOffset)).toEqual([24, 24 + 16 + 60])
    expect(stats).toMatchObject({format: 'pcap', records: 2, badRecords: 0, bytesRead: 24 + 16 + 60 + 16 + 100})
  })

  it('takes the link type from the low 16 bits (the top bits carry FCS information)', async () => {
    const p = file(pcapFile({linktype: 0x14000000 | 101}, [{sec: 1, frac: 0, data: ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcp(1, 2)})}]))
    const pk = await readAll(p)
    expect(pk[0]!.linktype).toBe(101)
  })

  it('reads timestamps past 2038 as unsigned seconds', async () => {
    const p = file(pcapFile({linktype: 1}, [{sec: 0xfffffff0, frac: 5, data: frame(0)}]))
    expect((await readAll(p))[0]!.ts).toBe(0xfffffff0 * 1e6 + 5)
  })

  it('carries records across chunk boundaries, grows for a record bigger than the chunk, reports progress per chunk', async () => {
    const recs: PcapRecord[] = []
    for (let i = 0; i < 500; i++) recs.push({sec: 1000 + i, frac: i, data: frame(i, 60 + (i % 37) * 13)})
    recs.splice(250, 0, {sec: 2000, frac: 0, data: frame(7, 20_000)})
    const bytes = pcapFile({linktype: 1, snaplen: 65535}, recs)
    const p = file(bytes)
    const whole = await readAll(p)
    const progress: number[] = []
    const batches = new Set<unknown>()
    let batchCount = 0
    const small: Packet[] = []
    for await (const b of readCapture(p, {chunkSize: 4096, onProgress: (n) => progress.push(n)})) {
      batches.add(b)
      batchCount++
      for (let i = 0; i < b.count; i++) {
        const o = b.offset[i]!
        small.push({
          data: Array.from(b.buf.subarray(o, o + b.caplen[i]!)),
          caplen: b.caplen[i]!,
          origLen: b.origLen[i]!,
          ts: b.tsMicros[i]!,
          linktype: b.linktype[i]!,
          fileOffset: b.fileOffset[i]!,
        })
      }
    }
    expect(small).toEqual(whole)
    expect(small).toHaveLength(501)
    expect(small[250]!.caplen).toBe(20_000)
    expect(batchCount).toBeGreaterThan(10)
    // one batch object, reused
    expect(batches.size).toBe(1)
    // called once per chunk read, increasing, ending at the file size
    expect(progress.length).toBeGreaterThanOrEqual(batchCount)
    expect(progress.every((v, i) => i === 0 || v > progress[i - 1]!)).toBe(true)
    expect(progress.at(-1)).toBe(bytes.length)
  })


  it('blocking reads in 256 KiB pieces give the same packets, and onData sees every byte once, in order', async () => {
    const recs: PcapRecord[] = []
    for (let i = 0; i < 3000; i++) recs.push({sec: 1000 + i, frac: i, data: frame(i, 60 + (i % 97) * 15)})
    recs.splice(1500, 0, {sec: 5000, frac: 0, data: frame(9, 200_000)})
    const bytes = pcapFile({linktype: 1, snaplen: 262144}, recs)
    expect(bytes.length).toBeGreaterThan(3 * 256 * 1024)
    const p = file(bytes)
    const whole = await readAll(p)
    for (const chunkSize of [64 * 1024, 1 << 20]) {
      const seen: Uint8Array[] = []
      const got = await readAll(p, {syncReads: true, chunkSize, onData: (b) => void seen.push(Uint8Array.from(b))})
      expect(got).toEqual(whole)
      expect(Buffer.concat(seen).equals(Buffer.from(bytes))).toBe(true)
      expect(Math.max(...seen.map((b) => b.length))).toBeLessThanOrEqual(256 * 1024)
    }
  })
  it('accepts caplen above the file snaplen up to 262144, as libpcap does', async () => {
    const p = file(pcapFile({linktype: 1, snaplen: 64}, [{sec: 1, frac: 0, data: frame(1, 1000)}]))
    expect((await readAll(p))[0]!.caplen).toBe(1000)
  })

  it('reads a header-only file as zero packets', async () => {
    const stats = newStats()
    expect(await readAll(file(pcapHeader({linktype: 1})), {}, stats)).toEqual([])
    expect(stats).toMatchObject({format: 'pcap', records: 0, bytesRead: 24})
  })
})

describe('readCapture: errors', () => {
  it('rejects an empty file', async () => {
    const e = await readError(file(new Uint8Array(0)))
    expect(e.offset).toBe(0)
    expect(e.message).toContain('empty file')
    expect(e.exitCode).toBe(3)
  })

  it('detects by magic, not by name, and says what the file looks like', async () => {
    const text = await readError(file('ts,src,dst\n1,10.0.0.1,10.0.0.2\n'))
    expect(text.offset).toBe(0)
    expect(text.message).toMatch(/not a pcap or pcapng file \(starts with 0x74732c73: text/)
    const gz = await readError(file(concat(Uint8Array.from([0x1f, 0x8b, 8, 0]), new Uint8Array(40))))
    expect(gz.message).toContain('starts with 0x1f8b0800: gzip data, decompress it first')
    const tiny = await readError(file(Uint8Array.from([0xd4, 0xc3])))
    expect(tiny.message).toContain('only 2 bytes long')
  })

  it('rejects a truncated global header', async () => {
    const e = await readError(file(pcapHeader({linktype: 1}).subarray(0, 20)))
    expect(e.offset).toBe(0)
    expect(e.message).toContain('truncated pcap file header: 24 bytes needed, 20 present')
  })

  it('rejects a truncated last record at its offset; skipBad counts it', async () => {
    const good = pcapRecord({sec: 1, frac: 0, data: frame(1)})
    const cut = pcapRecord({sec: 2, frac: 0, data: frame(2, 100)}).subarray(0, 16 + 30)
    const p = file(concat(pcapHeader({linktype: 1}), good, cut))
    const e = await readError(p)
    expect(e.offset).toBe(24 + good.length)
    expect(e.message).toContain('truncated record: header says 100 bytes, 30 remain')
    const stats = newStats()
    const pk = await readAll(p, {skipBad: true}, stats)
    expect(pk).toHaveLength(1)
    expect(stats).toMatchObject({records: 1, badRecords: 1})
    expect(stats.stopReason).toBeUndefined()
  })

  it('rejects a truncated record header', async () => {
    const good = pcapRecord({sec: 1, frac: 0, data: frame(1)})
    const p = file(concat(pcapHeader({linktype: 1}), good, new Uint8Array(10)))
    const e = await readError(p)
    expect(e.offset).toBe(24 + good.length)
    expect(e.message).toContain('truncated record header: 16 bytes needed, 10 remain')
  })

  it('detects truncation from the file size without reading (or allocating) the record', async () => {
    const p = file(concat(pcapHeader({linktype: 1, snaplen: 0x7fffffff}), pcapRecord({sec: 1, frac: 0, data: frame(1), caplen: 200_000})))
    const e = await readError(p, {chunkSize: 4096})
    expect(e.offset).toBe(24)
    expect(e.message).toContain('header says 200000 bytes, 60 remain')
  })

  it('rejects an impossible caplen; skipBad stops the file there and says why', async () => {
    const good = pcapRecord({sec: 1, frac: 0, data: frame(1)})
    const bad = pcapRecord({sec: 2, frac: 0, data: frame(2), caplen: 262145})
    const p = file(concat(pcapHeader({linktype: 1, snaplen: 65535}), good, bad, good))
    const e = await readError(p)
    expect(e.offset).toBe(24 + good.length)
    expect(e.message).toContain('record caplen 262145 exceeds the maximum of 262144 (file snaplen 65535)')
    const stats = newStats()
    const pk = await readAll(p, {skipBad: true}, stats)
    expect(pk).toHaveLength(1)
    expect(stats).toMatchObject({records: 1, badRecords: 1, stoppedAt: 24 + good.length})
    expect(stats.stopReason).toContain('cannot be located')
  })

  it('the caplen limit does not follow a snaplen larger than 262144 (see record-limits.test.ts)', async () => {
    const p = file(concat(pcapHeader({linktype: 1, snaplen: 300_000}), pcapRecord({sec: 1, frac: 0, data: frame(1), caplen: 262_145})))
    expect((await readError(p)).message).toContain('caplen 262145 exceeds the maximum of 262144 bytes a record may hold')
  })
})

describe('readCapture: pcapng', () => {
  const raw = (n: number): Uint8Array => ipv4({src: '192.0.2.1', dst: '192.0.2.2', proto: 6, payload: tcp(n, 80)})

  it('reads several interfaces with different link types and resolutions, SPB, obsolete PB, skipped blocks', async () => {
    const blocks = concat(
      shb(),
      idb({linktype: 1, snaplen: 65535}), // if 0: Ethernet, default µs
      idb({linktype: 101, snaplen: 0, tsresol: 9}), // if 1: raw IP, ns
      pcapngBlock(BT_NRB, new Uint8Array(8)),
      epb(0, 1_700_000_000_000_001n, frame(1)),
      epb(1, 1_700_000_000_123_456_789n, raw(2)),
      pcapngBlock(BT_CUSTOM, new Uint8Array(13)),
      spb(frame(3)), // no timestamp: the previous packet's; interface 0
      pcapngBlock(BT_ISB, new Uint8Array(16)),
      obsoletePb(1, 1_700_000_001_000_000_000n, raw(4)),
    )
    const stats = newStats()
    const pk = await readAll(file(blocks), {}, stats)
    expect(stats).toMatchObject({format: 'pcapng', records: 4, badRecords: 0, bytesRead: blocks.length})
    expect(pk.map((x) => x.linktype)).toEqual([1, 101, 1, 101])
    expect(pk.map((x) => x.ts)).toEqual([1_700_000_000_000_001, 1_700_000_000_123_456, 1_700_000_000_123_456, 1_700_000_001_000_000])
    expect(pk[1]!.data).toEqual(Array.from(raw(2)))
    expect(pk[2]!.data).toEqual(Array.from(frame(3)))
    expect(pk[3]!.data).toEqual(Array.from(raw(4)))
    const shbLen = shb().length
    expect(pk[0]!.fileOffset).toBe(shbLen + idb({linktype: 1, snaplen: 65535}).length * 1 + idb({linktype: 101, snaplen: 0, tsresol: 9}).length + 20)
  })

  it('starts a new section: new byte order, interfaces reset, power-of-2 resolution and tsoffset', async () => {
    const be = true
    const blocks = concat(
      shb(),
      idb({linktype: 1}),
      epb(0, 5_000_000n, frame(1)),
      shb(be),
      idb({linktype: 228, tsresol: 0x80 | 10}, be), // 2^-10 s units
      idb({linktype: 1, tsoffset: 1_600_000_000}, be),
      epb(0, 3n * 1024n + 512n, raw(2), be),
      epb(1, 250_000n, frame(3), be),
      spb(frame(4), be),
    )
    const pk = await readAll(file(blocks))
    expect(pk.map((x) => x.linktype)).toEqual([1, 228, 1, 228])
    expect(pk.map((x) => x.ts)).toEqual([5_000_000, 3_500_000, 1_600_000_000_250_000, 1_600_000_000_250_000])
  })

  it('reads a big-endian file with nanosecond timestamps past 2^53 ns', async () => {
    const blocks = concat(shb(true), idb({linktype: 1, tsresol: 9}, true), epb(0, 1_700_000_000_999_999_999n, frame(1), true))
    const pk = await readAll(file(blocks))
    expect(pk.map((x) => [x.linktype, x.ts, x.caplen])).toEqual([[1, 1_700_000_000_999_999, 60]])
  })

  it('truncates an SPB to the interface snaplen', async () => {
    const blocks = concat(shb(), idb({linktype: 1, snaplen: 40}), spb(frame(1, 60)))
    const pk = await readAll(file(blocks))
    expect(pk[0]!.caplen).toBe(40)
    expect(pk[0]!.origLen).toBe(60)
  })

  it('reads blocks across chunk boundaries and a block bigger than the chunk', async () => {
    const parts = [shb(), idb({linktype: 1})]
    for (let i = 0; i < 300; i++) parts.push(epb(0, BigInt(i), frame(i, 60 + (i % 11) * 17)))
    parts.push(epb(0, 999n, frame(1, 9000)))
    const p = file(concat(...parts))
    const whole = await readAll(p)
    const chunked = await readAll(p, {chunkSize: 4096})
    expect(chunked).toEqual(whole)
    expect(chunked).toHaveLength(301)
    expect(chunked[300]!.caplen).toBe(9000)
  })

  const prefix = concat(shb(), idb({linktype: 1}), epb(0, 1n, frame(1)))

  it.each([
    ['not a multiple of 4', 30, 'bad block length 30 (must be a multiple of 4 and at least 12)'],
    ['shorter than 12', 8, 'bad block length 8 (must be a multiple of 4 and at least 12)'],
  ])('rejects a block length %s at the block offset', async (_name, len, msg) => {
    const bad = new Uint8Array(32)
    const dv = new DataView(bad.buffer)
    dv.setUint32(0, 6, true)
    dv.setUint32(4, len, true)
    const p = file(concat(prefix, bad))
    const e = await readError(p)
    expect(e.offset).toBe(prefix.length)
    expect(e.message).toContain(msg)
    const stats = newStats()
    expect(await readAll(p, {skipBad: true}, stats)).toHaveLength(1)
    expect(stats).toMatchObject({badRecords: 1, stoppedAt: prefix.length})
  })

  it('rejects a trailing length mismatch', async () => {
    const block = epb(0, 2n, frame(2))
    new DataView(block.buffer).setUint32(block.length - 4, block.length + 4, true)
    const e = await readError(file(concat(prefix, block)))
    expect(e.offset).toBe(prefix.length)
    expect(e.message).toContain(`block length ${block.length} does not match its trailing length ${block.length + 4}`)
  })

  it('rejects a block running past the end of the file; skipBad counts it', async () => {
    const block = epb(0, 2n, frame(2))
    const p = file(concat(prefix, block.subarray(0, 40)))
    const e = await readError(p)
    expect(e.offset).toBe(prefix.length)
    expect(e.message).toContain(`truncated block: its length says ${block.length} bytes, 40 remain`)
    const stats = newStats()
    expect(await readAll(p, {skipBad: true}, stats)).toHaveLength(1)
    expect(stats).toMatchObject({records: 1, badRecords: 1})
  })

  it('rejects a packet for an undefined interface; skipBad skips just that block', async () => {
    const p = file(concat(prefix, epb(3, 2n, frame(2)), epb(0, 3n, frame(3))))
    const e = await readError(p)
    expect(e.offset).toBe(prefix.length)
    expect(e.message).toContain('packet block references interface 3, but the section defines 1')
    const stats = newStats()
    const pk = await readAll(p, {skipBad: true}, stats)
    expect(pk.map((x) => x.ts)).toEqual([1, 3])
    expect(stats).toMatchObject({records: 2, badRecords: 1})
    expect(stats.stopReason).toBeUndefined()
  })

  it('rejects a captured length larger than its block', async () => {
    const e = await readError(file(concat(prefix, epb(0, 2n, frame(2), false, 60, 200))))
    expect(e.offset).toBe(prefix.length)
    expect(e.message).toContain('packet block captured length 200 exceeds its block (60 bytes of data)')
  })

  it('rejects a section header with a bad byte-order magic', async () => {
    const bad = shb()
    new DataView(bad.buffer).setUint32(8, 0x12345678, true)
    const e = await readError(file(concat(prefix, bad)))
    expect(e.offset).toBe(prefix.length)
    expect(e.message).toContain('bad section header byte-order magic 0x78563412')
  })
})
