/**
 * Issue #20: what a capture record may hold. A fixed per-record cap that no file header lifts (a
 * bigger record is a bad record, stepped over without being read into memory), and packet timestamps
 * outside core/flow-bounds are bad records at their offset: exit 3 naming the file and the offset,
 * nothing stored; with skipBad skipped and counted.
 */
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {CaptureFormatError, FLOW_TIME_MAX_US} from '../../../src/core/index.js'
import {MAX_RECORD_CAPLEN, readCapture, type CaptureReadStop} from '../../../src/io/capture/capture-reader.js'
import type {CaptureReadOptions, CaptureReadStats} from '../../../src/io/capture/packet-batch.js'
import {ingestCapture} from '../../../src/io/ingest/ingest.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {SHARED_DATA} from '../../helpers/cli.js'
import {BT_CUSTOM, concat, epb, ETHERTYPE_IPV4, ethernet, idb, ipv4, pcapHeader, pcapngBlock, pcapRecord, shb, udp} from '../../helpers/capture-bytes.js'

const dir = mkdtempSync(path.join(tmpdir(), 'flowscope-limits-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

let fileNo = 0
function file(content: Uint8Array, ext = 'pcap'): string {
  const p = path.join(dir, `f${fileNo++}.${ext}`)
  writeFileSync(p, content)
  return p
}

type Stats = CaptureReadStats & CaptureReadStop
const newStats = (): Stats => ({format: undefined, records: 0, badRecords: 0, bytesRead: 0})

interface Read {
  ts: number[]
  fileOffsets: number[]
  /** the largest backing buffer any batch had */
  maxBuf: number
  seen: number
}

async function read(p: string, opts: CaptureReadOptions = {}, stats: Stats = newStats()): Promise<Read> {
  const out: Read = {ts: [], fileOffsets: [], maxBuf: 0, seen: 0}
  const o = {...opts, onData: opts.onData ?? ((b: Uint8Array) => void (out.seen += b.length))}
  for await (const b of readCapture(p, o, stats)) {
    out.maxBuf = Math.max(out.maxBuf, b.buf.length)
    for (let i = 0; i < b.count; i++) {
      out.ts.push(b.tsMicros[i]!)
      out.fileOffsets.push(b.fileOffset[i]!)
    }
  }
  return out
}

async function readError(p: string, opts: CaptureReadOptions = {}): Promise<CaptureFormatError> {
  try {
    await read(p, opts)
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureFormatError)
    return e as CaptureFormatError
  }
  throw new Error('expected a CaptureFormatError')
}

const frame = (n: number): Uint8Array =>
  ethernet(ipv4({src: '10.0.0.1', dst: '10.0.0.2', proto: 17, payload: udp(1000 + n, 53, new Uint8Array(18))}), ETHERTYPE_IPV4)

const CHUNK = 64 * 1024

describe('pcap: the per-record cap does not follow the header', () => {
  const good = pcapRecord({sec: 1_700_000_000, frac: 0, data: frame(1)})
  const hugeData = new Uint8Array(MAX_RECORD_CAPLEN + 1000).fill(0xaa)
  const huge = pcapRecord({sec: 1_700_000_001, frac: 0, data: hugeData})
  const bytes = concat(pcapHeader({linktype: 1, snaplen: 0xffffffff}), good, huge, good)

  it('a record beyond MAX_RECORD_CAPLEN under snaplen 0xffffffff is a bad record at its offset', async () => {
    const p = file(bytes)
    const e = await readError(p, {chunkSize: CHUNK})
    expect(e.file).toBe(p)
    expect(e.offset).toBe(24 + good.length)
    expect(e.message).toContain(`${p}: byte offset ${24 + good.length}: record caplen ${hugeData.length} exceeds the maximum of ${MAX_RECORD_CAPLEN}`)
  })

  it('with skipBad it is stepped over unread (the buffer never grows) and counted; the next record is read', async () => {
    const p = file(bytes)
    for (const hashed of [false, true]) {
      const stats = newStats()
      const opts: CaptureReadOptions = {chunkSize: CHUNK, skipBad: true}
      let seen = 0
      if (hashed) opts.onData = (b) => void (seen += b.length)
      const r = await read(p, opts, stats)
      expect(r.ts).toEqual([1_700_000_000e6, 1_700_000_000e6])
      expect(r.fileOffsets).toEqual([24, 24 + good.length + huge.length])
      expect(stats).toMatchObject({records: 2, badRecords: 1})
      expect(stats.stopReason).toBeUndefined()
      expect(r.maxBuf).toBe(CHUNK)
      // onData (the content hash) still sees every byte once, in order
      if (hashed) expect(seen).toBe(bytes.length)
    }
  })

  it('a nanosecond pcap of a real capture keeps every timestamp in range, its most absurd one too', async (ctx) => {
    const src = path.join(SHARED_DATA, 'pmacct-flowexport/100-traffic-00.pcap')
    if (!existsSync(src)) return ctx.skip()
    const b = Buffer.from(readFileSync(src))
    b.writeUInt32LE(0xa1b23c4d, 0)
    const expected: number[] = []
    let pos = 24
    for (let i = 0; pos + 16 <= b.length; i++) {
      b.writeUInt32LE(b.readUInt32LE(pos + 4) * 1000, pos + 4)
      // the last record gets the most absurd time the format can say: 32-bit seconds and 2^32-1 ns
      if (pos + 16 + b.readUInt32LE(pos + 8) === b.length) {
        b.writeUInt32LE(0xffffffff, pos)
        b.writeUInt32LE(0xffffffff, pos + 4)
      }
      expected.push(b.readUInt32LE(pos) * 1e6 + Math.floor(b.readUInt32LE(pos + 4) / 1000))
      pos += 16 + b.readUInt32LE(pos + 8)
    }
    const r = await read(file(b))
    expect(r.ts).toEqual(expected)
    expect(Math.max(...r.ts)).toBeLessThan(FLOW_TIME_MAX_US)
  })
})

describe('pcapng: packet and block caps', () => {
  const head = concat(shb(), idb({linktype: 1}))
  const good = epb(0, 1_700_000_000_000_000n, frame(1))

  it('an enhanced packet block with more than MAX_RECORD_CAPLEN bytes of data is a bad record; skipBad steps over it', async () => {
    const big = epb(0, 1_700_000_001_000_000n, new Uint8Array(MAX_RECORD_CAPLEN + 4))
    const p = file(concat(head, good, big, good), 'pcapng')
    const e = await readError(p, {chunkSize: CHUNK})
    expect(e.offset).toBe(head.length + good.length)
    expect(e.message).toContain(`captured length ${MAX_RECORD_CAPLEN + 4} exceeds the maximum of ${MAX_RECORD_CAPLEN}`)
    const stats = newStats()
    const r = await read(p, {chunkSize: CHUNK, skipBad: true}, stats)
    expect(r.ts).toEqual([1_700_000_000e6, 1_700_000_000e6])
    expect(stats).toMatchObject({records: 2, badRecords: 1})
  })

  it('a block longer than 16 MiB is a bad record stepped over by its length, never read into memory', async () => {
    const len = 64 * 1024 * 1024
    const hdr = new Uint8Array(12)
    const dv = new DataView(hdr.buffer)
    dv.setUint32(0, BT_CUSTOM, true)
    dv.setUint32(4, len, true)
    const body = concat(hdr, new Uint8Array(len - 12))
    const p = file(concat(head, good, body, good), 'pcapng')
    const e = await readError(p, {chunkSize: CHUNK})
    expect(e.offset).toBe(head.length + good.length)
    expect(e.message).toContain(`block length ${len} exceeds the maximum of ${16 * 1024 * 1024}`)
    const stats = newStats()
    const r = await read(p, {chunkSize: CHUNK, skipBad: true}, stats)
    expect(r.ts).toHaveLength(2)
    expect(stats).toMatchObject({records: 2, badRecords: 1})
    expect(r.maxBuf).toBe(CHUNK)
  })

  it('a packet timestamp before 1970 (negative if_tsoffset) is a bad record', async () => {
    const p = file(concat(shb(), idb({linktype: 1, tsoffset: -2_000_000_000}), good, pcapngBlock(BT_CUSTOM, new Uint8Array(4))), 'pcapng')
    const e = await readError(p)
    expect(e.offset).toBe(shb().length + idb({linktype: 1, tsoffset: -2_000_000_000}).length)
    expect(e.message).toContain('packet timestamp 1960-')
    expect(e.message).toContain('is outside 1970-01-01 .. 2200-01-01')
  })
})

describe('pcapng: time_2106_overflow.pcapng with its timestamp-high word set to extremes', () => {
  const src = path.join(SHARED_DATA, 'tcpdump-tests/time_2106_overflow.pcapng')
  /** the one EPB starts at 0x70; its timestamp-high word at +12 */
  const EPB_AT = 0x70

  function mutated(high: number): string {
    const b = Buffer.from(readFileSync(src))
    expect(b.readUInt32LE(EPB_AT)).toBe(6)
    b.writeUInt32LE(high, EPB_AT + 12)
    return file(b, 'pcapng')
  }

  for (const high of [0x70000000, 0x80000000, 0x7fffffff]) {
    const hex = `0x${high.toString(16)}`
    it(`${hex}: the reader names the file and the offset of the block; skipBad counts it`, async (ctx) => {
      if (!existsSync(src)) return ctx.skip()
      const p = mutated(high)
      const e = await readError(p)
      expect(e.message).toContain(`${p}: byte offset ${EPB_AT}: packet timestamp`)
      expect(e.exitCode).toBe(3)
      const stats = newStats()
      const r = await read(p, {skipBad: true}, stats)
      expect(r.ts).toEqual([])
      expect(stats).toMatchObject({records: 0, badRecords: 1})
    })

    it(`${hex}: ingest fails with exit 3 and stores nothing; with skipBad it stores no flow and counts the record`, async (ctx) => {
      if (!existsSync(src)) return ctx.skip()
      const p = mutated(high)
      const store = await FlowStore.open(path.join(dir, `s${fileNo++}.duckdb`))
      try {
        const err = await ingestCapture(store, p, {network: 'n', decode: 'packets'}).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(CaptureFormatError)
        expect((err as CaptureFormatError).exitCode).toBe(3)
        expect((err as CaptureFormatError).message).toContain(`${p}: byte offset ${EPB_AT}:`)
        const count = async (t: string): Promise<bigint> => ((await store.all<{n: bigint}>(`SELECT count(*) AS n FROM ${t}`))[0]!).n
        expect(await count('sources')).toBe(0n)
        expect(await count('flows')).toBe(0n)
        const r = await ingestCapture(store, p, {network: 'n', decode: 'packets', skipBad: true})
        expect(r).toMatchObject({status: 'ingested', packets: 0, flows: 0, badRecords: 1})
        expect(await count('flows')).toBe(0n)
      } finally {
        await store.close()
      }
    })
  }
})
