import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_PSH, TCP_SYN} from '../../src/core/protocols.js'
import {
  buildEthernetIpv4Frame,
  buildEthernetIpv6Frame,
  CaptureWriter,
  createL4Header,
} from '../../src/gen/pcap-writer.js'
import {readCaptureFile} from './capture-check.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'flowscope-writer-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const V6_SRC = [0xfd000001, 0, 0x12, 0x3456789a]
const V6_DST = [0x20010db9, 0xabcd, 0, 1]

/** One's-complement sum of 16-bit words, folded. */
function sum(bytes: Uint8Array, start: number, end: number, init = 0): number {
  let s = init
  for (let i = start; i < end; i += 2) s += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

function pseudo4(f: Uint8Array, proto: number, len: number): number {
  return sum(f, 26, 34) + proto + len
}

function pseudo6(f: Uint8Array, proto: number, len: number): number {
  return sum(f, 22, 54) + proto + len
}

describe('frame builders', () => {
  it('build IPv4 TCP/UDP/ICMP frames with correct lengths and checksums', () => {
    const out = new Uint8Array(2000)
    const l4 = createL4Header()
    const src = 0x0a010203
    const dst = 0xc6336401
    for (const [proto, payload] of [
      [IPPROTO_TCP, 0],
      [IPPROTO_TCP, 1460],
      [IPPROTO_UDP, 33],
      [IPPROTO_ICMP, 56],
    ] as const) {
      out.fill(0xee)
      Object.assign(l4, {proto, payloadLen: payload, srcPort: 51000, dstPort: 443, tcpFlags: TCP_ACK | TCP_PSH, seq: 0xfffffff0, ack: 7, icmpType: 8, icmpId: 9, icmpSeq: 1, ipId: 77})
      const len = buildEthernetIpv4Frame(out, src, dst, l4)
      const hdr = proto === IPPROTO_TCP ? 20 : 8
      expect(len).toBe(14 + 20 + hdr + payload)
      const f = out.subarray(0, len)
      expect((f[16]! << 8) | f[17]!).toBe(len - 14)
      expect(f[23]).toBe(proto)
      expect(sum(f, 14, 34)).toBe(0xffff)
      const l4Len = len - 34
      const check = proto === IPPROTO_ICMP ? sum(f, 34, len) : sum(f, 34, len, pseudo4(f, proto, l4Len))
      expect(check, `proto ${proto}`).toBe(0xffff)
      expect(f.subarray(34 + hdr).every((b) => b === 0)).toBe(true)
      if (proto !== IPPROTO_ICMP) expect([(f[34]! << 8) | f[35]!, (f[36]! << 8) | f[37]!]).toEqual([51000, 443])
      if (proto === IPPROTO_TCP) expect(f[47]).toBe(TCP_ACK | TCP_PSH)
      if (proto === IPPROTO_UDP) expect((f[38]! << 8) | f[39]!).toBe(8 + payload)
    }
  })

  it('build IPv6 frames with payload length and pseudo-header checksums', () => {
    const out = new Uint8Array(2000)
    const l4 = createL4Header()
    for (const [proto, payload] of [
      [IPPROTO_TCP, 1440],
      [IPPROTO_UDP, 0],
      [IPPROTO_ICMPV6, 56],
    ] as const) {
      Object.assign(l4, {proto, payloadLen: payload, srcPort: 1234, dstPort: 53, tcpFlags: TCP_SYN, icmpType: 128, ttl: 61})
      const len = buildEthernetIpv6Frame(out, V6_SRC, V6_DST, l4)
      const f = out.subarray(0, len)
      expect((f[12]! << 8) | f[13]!).toBe(0x86dd)
      expect((f[18]! << 8) | f[19]!).toBe(len - 54)
      expect(f[20]).toBe(proto)
      expect(f[21]).toBe(61)
      expect(sum(f, 54, len, pseudo6(f, proto, len - 54)), `proto ${proto}`).toBe(0xffff)
    }
  })

  it('refuses a frame that does not fit the scratch buffer', () => {
    const l4 = Object.assign(createL4Header(), {payloadLen: 1460})
    expect(() => buildEthernetIpv4Frame(new Uint8Array(100), 1, 2, l4)).toThrow(RangeError)
  })
})

describe('CaptureWriter', () => {
  async function writeAll(file: string, format: 'pcap' | 'pcapng', nanosecond: boolean): Promise<Uint8Array[]> {
    const w = await CaptureWriter.open(file, {format, nanosecond, snaplen: 5000, bufferSize: 4096})
    const scratch = new Uint8Array(10_000)
    const l4 = createL4Header()
    const frames: Uint8Array[] = []
    for (let i = 0; i < 400; i++) {
      l4.payloadLen = i === 200 ? 8000 : (i * 37) % 1400
      l4.srcPort = i
      const len = buildEthernetIpv4Frame(scratch, 0x0a000001, 0x0a000002 + i, l4)
      frames.push(scratch.slice(0, Math.min(len, 5000)))
      const p = w.write(1_767_571_200_000_000 + i * 1000 + 0.25, scratch, len, len)
      if (p) await p
    }
    await w.close()
    expect(w.packets).toBe(400)
    expect(w.bytes).toBe(readFileSync(file).length)
    return frames
  }

  for (const format of ['pcap', 'pcapng'] as const) {
    for (const nanosecond of [false, true]) {
      it(`writes ${format}${nanosecond ? ' (ns)' : ''} in chunks: frames larger than the buffer, snaplen truncation`, async () => {
        const file = path.join(dir, `w-${nanosecond ? 'ns' : 'us'}.${format}`)
        const frames = await writeAll(file, format, nanosecond)
        const cap = readCaptureFile(file)
        expect(cap.format).toBe(format)
        expect(cap.nanosecond).toBe(nanosecond)
        expect(cap.snaplen).toBe(5000)
        expect(cap.packets.length).toBe(400)
        cap.packets.forEach((p, i) => {
          expect(p.ts).toBe(1_767_571_200_000_000 + i * 1000)
          expect(p.caplen).toBe(frames[i]!.length)
          expect(p.srcPort).toBe(i)
        })
        expect(cap.packets[200]!.caplen).toBe(5000)
        expect(cap.packets[200]!.origLen).toBe(14 + 20 + 20 + 8000)
        const raw = readFileSync(file)
        if (format === 'pcap') {
          // first record's fraction: 0.25 µs is kept as 250 ns in a nanosecond file
          expect(raw.readUInt32LE(24 + 4)).toBe(nanosecond ? 250 : 0)
          expect(raw.subarray(24 + 16, 24 + 16 + frames[0]!.length).equals(Buffer.from(frames[0]!))).toBe(true)
        }
      })
    }
  }

  it('says so when write is called again before an awaited flush', async () => {
    const w = await CaptureWriter.open(path.join(dir, 'busy.pcap'), {format: 'pcap', bufferSize: 4096})
    const frame = new Uint8Array(3000)
    let pending: void | Promise<void> = undefined
    for (let i = 0; i < 10 && pending === undefined; i++) pending = w.write(i, frame)
    expect(pending).toBeInstanceOf(Promise)
    expect(() => w.write(99, frame)).toThrow(/await/)
    await pending
    await w.close()
  })

  it('rejects bad options', async () => {
    await expect(CaptureWriter.open(path.join(dir, 'x.pcap'), {format: 'pcap', snaplen: 0})).rejects.toThrow(UsageError)
    await expect(CaptureWriter.open(path.join(dir, 'x.pcap'), {format: 'erf' as never})).rejects.toThrow(UsageError)
  })
})
