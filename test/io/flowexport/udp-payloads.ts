/**
 * Test helper: the UDP payloads of a classic pcap (µs or ns, either byte order) with Ethernet
 * (802.1Q/QinQ), Linux SLL or raw IP framing. Deliberately independent of the project's capture
 * reader so the flow-export tests exercise only the flow-export decoders.
 */
import {readFileSync} from 'node:fs'
import {ipv4ToString, ipv6ToString} from '../../../src/core/ip.js'

export interface UdpDatagram {
  /** 1-based frame number in the capture */
  frame: number
  /** capture time, µs since the Unix epoch */
  tsMicros: number
  src: string
  dst: string
  srcPort: number
  dstPort: number
  payload: Uint8Array
}

const LINKTYPE_ETHERNET = 1
const LINKTYPE_RAW = 101
const LINKTYPE_LINUX_SLL = 113
const LINKTYPE_IPV4 = 228
const LINKTYPE_IPV6 = 229

export function readUdpDatagrams(path: string): UdpDatagram[] {
  const buf = new Uint8Array(readFileSync(path))
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const magic = dv.getUint32(0, false)
  let le: boolean
  let nanos: boolean
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    le = false
    nanos = magic === 0xa1b23c4d
  } else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) {
    le = true
    nanos = magic === 0x4d3cb2a1
  } else {
    throw new Error(`${path}: not a classic pcap`)
  }
  const linktype = dv.getUint32(20, le) & 0x0fffffff
  const out: UdpDatagram[] = []
  let off = 24
  let frame = 0
  while (off + 16 <= buf.length) {
    const sec = dv.getUint32(off, le)
    const frac = dv.getUint32(off + 4, le)
    const caplen = dv.getUint32(off + 8, le)
    off += 16
    frame++
    if (off + caplen > buf.length) break
    const pkt = buf.subarray(off, off + caplen)
    off += caplen
    const tsMicros = sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac)
    const d = udpOf(pkt, linktype)
    if (d) out.push({frame, tsMicros, ...d})
  }
  return out
}

function udpOf(pkt: Uint8Array, linktype: number): Omit<UdpDatagram, 'frame' | 'tsMicros'> | undefined {
  const dv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength)
  let off: number
  let etherType: number
  if (linktype === LINKTYPE_ETHERNET) {
    if (pkt.length < 14) return undefined
    off = 12
    etherType = dv.getUint16(off)
    off += 2
    while ((etherType === 0x8100 || etherType === 0x88a8) && off + 4 <= pkt.length) {
      etherType = dv.getUint16(off + 2)
      off += 4
    }
  } else if (linktype === LINKTYPE_LINUX_SLL) {
    if (pkt.length < 16) return undefined
    etherType = dv.getUint16(14)
    off = 16
  } else if (linktype === LINKTYPE_RAW || linktype === LINKTYPE_IPV4 || linktype === LINKTYPE_IPV6) {
    off = 0
    etherType = pkt.length > 0 && pkt[0]! >> 4 === 6 ? 0x86dd : 0x0800
  } else {
    return undefined
  }
  let src: string
  let dst: string
  let proto: number
  let l4: number
  let l4End: number
  if (etherType === 0x0800) {
    if (off + 20 > pkt.length) return undefined
    const ihl = (pkt[off]! & 15) * 4
    const total = dv.getUint16(off + 2)
    const fragOff = dv.getUint16(off + 6) & 0x1fff
    if (fragOff !== 0) return undefined
    proto = pkt[off + 9]!
    src = ipv4ToString(dv.getUint32(off + 12))
    dst = ipv4ToString(dv.getUint32(off + 16))
    l4 = off + ihl
    l4End = Math.min(pkt.length, off + total)
  } else if (etherType === 0x86dd) {
    if (off + 40 > pkt.length) return undefined
    proto = pkt[off + 6]!
    const w = (o: number): number => dv.getUint32(off + o)
    src = ipv6ToString(w(8), w(12), w(16), w(20))
    dst = ipv6ToString(w(24), w(28), w(32), w(36))
    l4 = off + 40
    l4End = Math.min(pkt.length, l4 + dv.getUint16(off + 4))
    // hop-by-hop, routing, destination options
    while ((proto === 0 || proto === 43 || proto === 60) && l4 + 8 <= l4End) {
      proto = pkt[l4]!
      l4 += (pkt[l4 + 1]! + 1) * 8
    }
  } else {
    return undefined
  }
  if (proto !== 17 || l4 + 8 > l4End) return undefined
  const udpLen = dv.getUint16(l4 + 4)
  const end = Math.min(l4End, l4 + Math.max(8, udpLen))
  return {
    src,
    dst,
    srcPort: dv.getUint16(l4),
    dstPort: dv.getUint16(l4 + 2),
    payload: pkt.subarray(l4 + 8, end),
  }
}
