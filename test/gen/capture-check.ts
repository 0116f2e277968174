/**
 * A tiny capture reader and flow meter for the generator tests, written independently of src/io: it
 * parses little-endian pcap/pcapng records and the Ethernet/IP/transport headers itself, and meters
 * flows with the rules the ground truth promises (unidirectional 5-tuple, 15 s idle, 1800 s active,
 * TCP FIN/RST ends a flow, bytes = IP total length or IPv6 payload length + 40).
 */
import {readFileSync} from 'node:fs'

export interface Pkt {
  /** µs since the epoch */
  ts: number
  caplen: number
  origLen: number
  family: 4 | 6
  src: string
  dst: string
  proto: number
  srcPort: number
  dstPort: number
  flags: number
  ipBytes: number
  /** IPv4 header checksum verifies (always true for IPv6) */
  ipChecksumOk: boolean
}

export interface CaptureInfo {
  format: 'pcap' | 'pcapng'
  nanosecond: boolean
  linktype: number
  snaplen: number
  packets: Pkt[]
}

export function readCaptureFile(file: string): CaptureInfo {
  const b = readFileSync(file)
  const magic = b.readUInt32LE(0)
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) return readPcap(b, magic === 0xa1b23c4d)
  if (magic === 0x0a0d0d0a) return readPcapng(b)
  throw new Error(`${file}: not a little-endian pcap/pcapng (magic ${magic.toString(16)})`)
}

function readPcap(b: Buffer, nanosecond: boolean): CaptureInfo {
  if (b.readUInt16LE(4) !== 2 || b.readUInt16LE(6) !== 4) throw new Error('pcap version is not 2.4')
  const snaplen = b.readUInt32LE(16)
  const linktype = b.readUInt32LE(20)
  const packets: Pkt[] = []
  let p = 24
  while (p < b.length) {
    if (p + 16 > b.length) throw new Error(`truncated record header at ${p}`)
    const sec = b.readUInt32LE(p)
    const frac = b.readUInt32LE(p + 4)
    const caplen = b.readUInt32LE(p + 8)
    const origLen = b.readUInt32LE(p + 12)
    if (p + 16 + caplen > b.length) throw new Error(`truncated record at ${p}`)
    if (frac >= (nanosecond ? 1e9 : 1e6)) throw new Error(`bad fraction at ${p}`)
    const ts = sec * 1e6 + (nanosecond ? Math.floor(frac / 1000) : frac)
    packets.push(decode(b.subarray(p + 16, p + 16 + caplen), ts, caplen, origLen))
    p += 16 + caplen
  }
  return {format: 'pcap', nanosecond, linktype, snaplen, packets}
}

function readPcapng(b: Buffer): CaptureInfo {
  let p = 0
  let linktype = -1
  let snaplen = 0
  let unitsPerSec = 1_000_000n
  const packets: Pkt[] = []
  while (p < b.length) {
    const type = b.readUInt32LE(p)
    const len = b.readUInt32LE(p + 4)
    if (len < 12 || len % 4 !== 0 || p + len > b.length) throw new Error(`bad block length ${len} at ${p}`)
    if (b.readUInt32LE(p + len - 4) !== len) throw new Error(`trailing length mismatch at ${p}`)
    if (type === 0x0a0d0d0a) {
      if (b.readUInt32LE(p + 8) !== 0x1a2b3c4d) throw new Error('SHB byte-order magic')
    } else if (type === 1) {
      linktype = b.readUInt16LE(p + 8)
      snaplen = b.readUInt32LE(p + 12)
      let o = p + 16
      while (o < p + len - 4) {
        const code = b.readUInt16LE(o)
        const olen = b.readUInt16LE(o + 2)
        if (code === 0) break
        if (code === 9) {
          const v = b[o + 4]!
          unitsPerSec = v & 0x80 ? 2n ** BigInt(v & 0x7f) : 10n ** BigInt(v)
        }
        o += 4 + ((olen + 3) & ~3)
      }
    } else if (type === 6) {
      if (b.readUInt32LE(p + 8) !== 0) throw new Error('unknown interface')
      const units = (BigInt(b.readUInt32LE(p + 12)) << 32n) | BigInt(b.readUInt32LE(p + 16))
      const caplen = b.readUInt32LE(p + 20)
      const origLen = b.readUInt32LE(p + 24)
      if (28 + caplen + 4 > len) throw new Error(`EPB data overruns its block at ${p}`)
      const ts = Number((units * 1_000_000n) / unitsPerSec)
      packets.push(decode(b.subarray(p + 28, p + 28 + caplen), ts, caplen, origLen))
    } else {
      throw new Error(`unexpected block type ${type} at ${p}`)
    }
    p += len
  }
  return {format: 'pcapng', nanosecond: unitsPerSec === 1_000_000_000n, linktype, snaplen, packets}
}

function decode(f: Buffer, ts: number, caplen: number, origLen: number): Pkt {
  const ethertype = f.readUInt16BE(12)
  let family: 4 | 6
  let src: string
  let dst: string
  let proto: number
  let l4: number
  let ipBytes: number
  let ipChecksumOk = true
  if (ethertype === 0x0800) {
    family = 4
    const ihl = (f[14]! & 15) * 4
    ipBytes = f.readUInt16BE(16)
    proto = f[23]!
    src = [...f.subarray(26, 30)].join('.')
    dst = [...f.subarray(30, 34)].join('.')
    l4 = 14 + ihl
    let sum = 0
    for (let i = 14; i < 14 + ihl; i += 2) sum += f.readUInt16BE(i)
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    ipChecksumOk = sum === 0xffff
  } else if (ethertype === 0x86dd) {
    family = 6
    ipBytes = f.readUInt16BE(18) + 40
    proto = f[20]!
    src = v6Text(f.subarray(22, 38))
    dst = v6Text(f.subarray(38, 54))
    l4 = 54
  } else {
    throw new Error(`ethertype ${ethertype.toString(16)}`)
  }
  let srcPort = 0
  let dstPort = 0
  let flags = 0
  if (proto === 6 || proto === 17) {
    srcPort = f.readUInt16BE(l4)
    dstPort = f.readUInt16BE(l4 + 2)
    if (proto === 6) flags = f[l4 + 13]!
  } else if (proto === 1 || proto === 58) {
    dstPort = f[l4]! * 256 + f[l4 + 1]!
  }
  return {ts, caplen, origLen, family, src, dst, proto, srcPort, dstPort, flags, ipBytes, ipChecksumOk}
}

/** RFC 5952 text through the WHATWG URL serializer, which compresses IPv6 the same way. */
function v6Text(a: Buffer): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(a.readUInt16BE(i).toString(16))
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

export function flowKey(p: Pkt): string {
  return `${p.family}|${p.src}|${p.dst}|${p.srcPort}|${p.dstPort}|${p.proto}`
}

/** Flow rows `ts_start,ts_end,src,dst,sport,dport,proto,flags,packets,bytes` metered from packets. */
export function meterFlows(packets: readonly Pkt[]): string[] {
  interface Open {
    first: Pkt
    start: number
    last: number
    packets: number
    bytes: number
    flags: number
  }
  const open = new Map<string, Open>()
  const rows: string[] = []
  const emit = (f: Open): void => {
    const p = f.first
    rows.push([f.start, f.last, p.src, p.dst, p.srcPort, p.dstPort, p.proto, f.flags, f.packets, f.bytes].join(','))
  }
  for (const p of packets) {
    const key = flowKey(p)
    let f = open.get(key)
    if (f !== undefined && (p.ts - f.last > 15e6 || p.ts - f.start >= 1800e6)) {
      emit(f)
      open.delete(key)
      f = undefined
    }
    if (f === undefined) {
      f = {first: p, start: p.ts, last: p.ts, packets: 0, bytes: 0, flags: 0}
      open.set(key, f)
    }
    f.last = p.ts
    f.packets++
    f.bytes += p.ipBytes
    f.flags |= p.flags
    if (p.proto === 6 && (p.flags & 0x05) !== 0) {
      emit(f)
      open.delete(key)
    }
  }
  for (const f of open.values()) emit(f)
  return rows
}

export interface CsvFlow {
  row: string
  start: number
  end: number
  src: string
  dst: string
  srcPort: number
  dstPort: number
  proto: number
  flags: number
  packets: number
  bytes: number
  kind: string
}

export function readFlowsCsv(file: string): {header: string; flows: CsvFlow[]} {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
  const header = lines[0] ?? ''
  const flows = lines.slice(1).map((line) => {
    const c = line.split(',')
    return {
      row: c.slice(0, 10).join(','),
      start: Number(c[0]),
      end: Number(c[1]),
      src: c[2]!,
      dst: c[3]!,
      srcPort: Number(c[4]),
      dstPort: Number(c[5]),
      proto: Number(c[6]),
      flags: Number(c[7]),
      packets: Number(c[8]),
      bytes: Number(c[9]),
      kind: c[10]!,
    }
  })
  return {header, flows}
}
