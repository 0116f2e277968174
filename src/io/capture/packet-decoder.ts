/**
 * Link-layer → IP → L4 header decoding for flow assembly, over the raw bytes of a capture chunk.
 *
 * Zero allocation per packet: the caller owns one `DecodedPacket` and the decoder overwrites it. Only the
 * outermost IP header is decoded — tunnels (GRE, IP-in-IP, VXLAN, MPLS-over-UDP, ESP) are flows of their
 * outer header, as nfpcapd and tshark's conversation tables treat them.
 */
import {
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_MOBILITY,
  IPPROTO_NONE,
  IPPROTO_ROUTING,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
} from '../../core/index.js'

export const DECODE_OK = 0
export const DECODE_NOT_IP = 1
export const DECODE_TRUNCATED = 2
export const DECODE_MALFORMED = 3

export interface DecodedPacket {
  /** 0 not IP, 4, 6 */
  family: number
  /** four big-endian words; IPv4 => [0, 0, 0xffff, v4] */
  src: Uint32Array
  dst: Uint32Array
  /** IPv4 protocol / IPv6 final next header (the fragment header's next header for later fragments) */
  proto: number
  /** TCP/UDP/SCTP/UDP-Lite ports; ICMP/ICMPv6: srcPort 0, dstPort = type*256+code (NetFlow convention) */
  srcPort: number
  dstPort: number
  /** low 8 bits of the TCP flags byte */
  tcpFlags: number
  /** IPv4 total length; IPv6 payload length + 40 (0 in the header, e.g. jumbo/TSO: origLen minus link header) */
  ipLength: number
  /** 0 not a fragment, 1 first fragment (offset 0, MF set), 2 later fragment (offset > 0) */
  fragment: number
  /** IPv4 identification / IPv6 fragment header identification */
  fragmentId: number
  /** where the transport header starts in the buffer (0 when not reached), and where the captured IP payload ends */
  l4Offset: number
  l4End: number
}

export function createDecodedPacket(): DecodedPacket {
  return {
    family: 0,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    proto: 0,
    srcPort: 0,
    dstPort: 0,
    tcpFlags: 0,
    ipLength: 0,
    fragment: 0,
    fragmentId: 0,
    l4Offset: 0,
    l4End: 0,
  }
}

// LINKTYPE_* values (https://www.tcpdump.org/linktypes.html)
const LINKTYPE_NULL = 0
const LINKTYPE_ETHERNET = 1
const LINKTYPE_RAW_OPENBSD = 12 // DLT_RAW on OpenBSD
const LINKTYPE_RAW_BSDOS = 14 // DLT_RAW on BSD/OS
const LINKTYPE_RAW = 101
const LINKTYPE_LOOP = 108
const LINKTYPE_LINUX_SLL = 113
const LINKTYPE_IPV4 = 228
const LINKTYPE_IPV6 = 229
const LINKTYPE_LINUX_SLL2 = 276

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_IPV6 = 0x86dd
const ETHERTYPE_VLAN = 0x8100 // IEEE 802.1Q
const ETHERTYPE_QINQ = 0x88a8 // IEEE 802.1ad service tag
const ETHERTYPE_QINQ_OLD = 0x9100 // pre-802.1ad vendor QinQ
const ETHERTYPE_PPPOE_SESSION = 0x8864 // RFC 2516 §5.
const PPP_IPV4 = 0x0021
const PPP_IPV6 = 0x0057

// Loopback address families: BSD AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD/BSD/OS),
// 28 (FreeBSD/DragonFly) or 30 (macOS) — pcap-linktype(7) on LINKTYPE_NULL.
const AF_INET = 2

/**
 * Decode the packet at `buf[offset .. offset + caplen)` into `out` and return a DECODE_* code.
 *
 * - DECODE_OK: `family`, addresses, `proto`, `ipLength` and fragment fields are set. Ports and flags
 *   are set only when the whole minimal L4 header (TCP 20, UDP/UDP-Lite 8, SCTP 12, ICMP 4 bytes) is
 *   captured inside the IP datagram and the packet is not a later fragment; otherwise they are 0 and
 *   the packet still counts, as flow exporters count snapped packets.
 * - DECODE_NOT_IP: a link-layer payload other than IPv4/IPv6 (ARP, STP, LLC, …).
 * - DECODE_TRUNCATED: the link-layer header, the IP header or an IPv6 extension header is cut by the
 *   snap length.
 * - DECODE_MALFORMED: an IP version that does not match the link type (or is neither 4 nor 6), an IPv4
 *   header length below 20 bytes or above the total length, an IPv6 extension header running past the
 *   payload length, or an IPv6 fragment header in a packet whose payload length is 0.
 *
 * Other fields are unspecified when the result is not DECODE_OK.
 */
export function decodePacket(
  buf: Uint8Array,
  offset: number,
  caplen: number,
  origLen: number,
  linktype: number,
  out: DecodedPacket,
): number {
  out.family = 0
  out.proto = 0
  out.srcPort = 0
  out.dstPort = 0
  out.tcpFlags = 0
  out.ipLength = 0
  out.fragment = 0
  out.fragmentId = 0
  out.l4Offset = 0
  out.l4End = 0

  const end = offset + caplen
  let p = offset
  // 0 = decide by the version nibble, 4 / 6 = must be that version
  let version = 0

  switch (linktype) {
    case LINKTYPE_ETHERNET: {
      if (caplen < 14) return DECODE_TRUNCATED
      return decodeEthertype(buf, offset + 12, end, origLen, offset, out)
    }
    case LINKTYPE_LINUX_SLL: {
      // 16-byte cooked header, protocol (an EtherType for IP) at offset 14
      if (caplen < 16) return DECODE_TRUNCATED
      return decodeEthertype(buf, offset + 14, end, origLen, offset, out)
    }
    case LINKTYPE_LINUX_SLL2: {
      // 20-byte cooked header v2, protocol first
      if (caplen < 20) return DECODE_TRUNCATED
      const et = (buf[offset]! << 8) | buf[offset + 1]!
      if (et === ETHERTYPE_IPV4 || et === ETHERTYPE_IPV6) {
        return decodeIp(buf, offset + 20, end, origLen - 20, et === ETHERTYPE_IPV4 ? 4 : 6, out)
      }
      if (isVlanTag(et)) return decodeEthertype(buf, offset + 20, end, origLen, offset, out)
      return DECODE_NOT_IP
    }
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_OPENBSD:
    case LINKTYPE_RAW_BSDOS:
      break
    case LINKTYPE_IPV4:
      version = 4
      break
    case LINKTYPE_IPV6:
      version = 6
      break
    case LINKTYPE_NULL: {
      // AF in the capturing host's byte order; AF values fit in one byte, so whichever end byte is
      // non-zero tells the order.
      if (caplen < 4) return DECODE_TRUNCATED
      const af = buf[offset] !== 0 ? buf[offset]! : buf[offset + 3]!
      p = offset + 4
      if (af === AF_INET) version = 4
      else if (af === 24 || af === 28 || af === 30) version = 6
      else return DECODE_NOT_IP
      break
    }
    case LINKTYPE_LOOP: {
      // OpenBSD loopback: AF in network byte order
      if (caplen < 4) return DECODE_TRUNCATED
      const af = ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0
      p = offset + 4
      if (af === AF_INET) version = 4
      else if (af === 24 || af === 28 || af === 30) version = 6
      else return DECODE_NOT_IP
      break
    }
    default:
      return DECODE_NOT_IP
  }
  return decodeIp(buf, p, end, origLen - (p - offset), version, out)
}

function isVlanTag(et: number): boolean {
  return et === ETHERTYPE_VLAN || et === ETHERTYPE_QINQ || et === ETHERTYPE_QINQ_OLD
}

/** `p` points at an EtherType field; skips any number of VLAN tags (each 4 bytes: TCI + next type). */
function decodeEthertype(
  buf: Uint8Array,
  p: number,
  end: number,
  origLen: number,
  frameStart: number,
  out: DecodedPacket,
): number {
  for (;;) {
    if (p + 2 > end) return DECODE_TRUNCATED
    const et = (buf[p]! << 8) | buf[p + 1]!
    if (et === ETHERTYPE_IPV4) return decodeIp(buf, p + 2, end, origLen - (p + 2 - frameStart), 4, out)
    if (et === ETHERTYPE_IPV6) return decodeIp(buf, p + 2, end, origLen - (p + 2 - frameStart), 6, out)
    if (isVlanTag(et)) {
      p += 4
      continue
    }
    if (et === ETHERTYPE_PPPOE_SESSION) {
      // 6-byte PPPoE header, then the 2-byte PPP protocol (RFC 2516 §5, RFC 1661 §2)
      if (p + 10 > end) return DECODE_TRUNCATED
      const ppp = (buf[p + 8]! << 8) | buf[p + 9]!
      const ip = p + 10
      if (ppp === PPP_IPV4) return decodeIp(buf, ip, end, origLen - (ip - frameStart), 4, out)
      if (ppp === PPP_IPV6) return decodeIp(buf, ip, end, origLen - (ip - frameStart), 6, out)
      return DECODE_NOT_IP
    }
    return DECODE_NOT_IP
  }
}

/**
 * `p` points at the IP header, `end` is the end of the captured bytes, `wireLen` the original length
 * from the IP header on (for the IPv6 jumbo/TSO case). `version` 0 means "read the nibble".
 */
function decodeIp(buf: Uint8Array, p: number, end: number, wireLen: number, version: number, out: DecodedPacket): number {
  if (p >= end) return DECODE_TRUNCATED
  const nibble = buf[p]! >>> 4
  if (version === 0) {
    if (nibble === 4) version = 4
    else if (nibble === 6) version = 6
    else return DECODE_MALFORMED
  } else if (nibble !== version) {
    return DECODE_MALFORMED
  }
  return version === 4 ? decodeIpv4(buf, p, end, wireLen, out) : decodeIpv6(buf, p, end, wireLen, out)
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0
}

function decodeIpv4(buf: Uint8Array, p: number, end: number, wireLen: number, out: DecodedPacket): number {
  if (p + 20 > end) return DECODE_TRUNCATED
  const hlen = (buf[p]! & 0x0f) << 2
  if (hlen < 20) return DECODE_MALFORMED
  if (p + hlen > end) return DECODE_TRUNCATED
  let totalLen = (buf[p + 2]! << 8) | buf[p + 3]!
  // A total length of 0 is what TCP segmentation offload leaves in locally captured super-packets
  // (the NIC fills it in per segment); fall back to the wire length as tshark does.
  if (totalLen === 0) totalLen = wireLen
  else if (totalLen < hlen) return DECODE_MALFORMED
  const fragField = (buf[p + 6]! << 8) | buf[p + 7]!
  const proto = buf[p + 9]!

  out.family = 4
  const src = out.src
  src[0] = 0
  src[1] = 0
  src[2] = 0xffff
  src[3] = u32(buf, p + 12)
  const dst = out.dst
  dst[0] = 0
  dst[1] = 0
  dst[2] = 0xffff
  dst[3] = u32(buf, p + 16)
  out.proto = proto
  out.ipLength = totalLen
  out.fragmentId = (buf[p + 4]! << 8) | buf[p + 5]!
  // RFC 791 §3.1: flags (reserved, DF, MF) then a 13-bit offset in 8-byte units
  if ((fragField & 0x1fff) !== 0) {
    out.fragment = 2
    return DECODE_OK
  }
  if ((fragField & 0x2000) !== 0) out.fragment = 1

  // L4 bytes are bounded by both the capture and the datagram (Ethernet pads short frames).
  const datagramEnd = p + totalLen
  decodeL4(buf, p + hlen, datagramEnd < end ? datagramEnd : end, proto, out)
  return DECODE_OK
}

function decodeIpv6(buf: Uint8Array, p: number, end: number, wireLen: number, out: DecodedPacket): number {
  if (p + 40 > end) return DECODE_TRUNCATED
  const payloadLen = (buf[p + 4]! << 8) | buf[p + 5]!
  let nh = buf[p + 6]!

  out.family = 6
  const src = out.src
  src[0] = u32(buf, p + 8)
  src[1] = u32(buf, p + 12)
  src[2] = u32(buf, p + 16)
  src[3] = u32(buf, p + 20)
  const dst = out.dst
  dst[0] = u32(buf, p + 24)
  dst[1] = u32(buf, p + 28)
  dst[2] = u32(buf, p + 32)
  dst[3] = u32(buf, p + 36)
  // Payload length 0 with a next header means a jumbogram (RFC 2675 §3) or a TSO super-packet; the
  // wire length is then the only size we have.
  out.ipLength = payloadLen === 0 && nh !== IPPROTO_NONE ? wireLen : payloadLen + 40
  const datagramEnd = payloadLen === 0 ? end : p + 40 + payloadLen
  const limit = datagramEnd < end ? datagramEnd : end

  // RFC 8200 §4: walk the extension header chain to the upper-layer header.
  let q = p + 40
  for (;;) {
    const ah = nh === IPPROTO_AH
    if (ah || nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING || nh === IPPROTO_DSTOPTS || nh === IPPROTO_MOBILITY) {
      if (q + 2 > limit) return chainCut(q + 2, end)
      // options headers: length in 8-octet units, not counting the first 8 (RFC 8200 §4.3-4.6, RFC 6275
      // §6.1.1); AH: payload length in 4-octet units minus 2 (RFC 4302 §2.2)
      const len = ah ? (buf[q + 1]! + 2) << 2 : (buf[q + 1]! + 1) << 3
      if (q + len > limit) return chainCut(q + len, end)
      nh = buf[q]!
      q += len
    } else if (nh === IPPROTO_FRAGMENT) {
      // Neither a jumbogram (RFC 2675 §3) nor a TSO super-packet can be a fragment: with payload
      // length 0 the fragment's extent is unknowable.
      if (payloadLen === 0) return DECODE_MALFORMED
      if (q + 8 > limit) return chainCut(q + 8, end)
      const offFlags = (buf[q + 2]! << 8) | buf[q + 3]!
      out.fragmentId = u32(buf, q + 4)
      nh = buf[q]!
      q += 8
      // RFC 8200 §4.5: 13-bit offset in the top bits, M flag in bit 0. Offset 0 without M is an
      // atomic fragment (RFC 6946): a whole datagram, not a fragment.
      if (offFlags >>> 3 !== 0) {
        out.fragment = 2
        out.proto = nh
        return DECODE_OK
      }
      if ((offFlags & 1) !== 0) out.fragment = 1
    } else {
      break
    }
  }
  out.proto = nh
  if (nh !== IPPROTO_NONE) decodeL4(buf, q, limit, nh, out)
  return DECODE_OK
}

/**
 * An extension header that ends at `headerEnd` does not fit: cut by the snap length it is truncated,
 * overrunning the payload length it is malformed. Either way the upper-layer protocol is unknown.
 */
function chainCut(headerEnd: number, capturedEnd: number): number {
  return headerEnd > capturedEnd ? DECODE_TRUNCATED : DECODE_MALFORMED
}

function decodeL4(buf: Uint8Array, q: number, limit: number, proto: number, out: DecodedPacket): void {
  const avail = limit - q
  out.l4Offset = q
  out.l4End = limit
  switch (proto) {
    case IPPROTO_TCP:
      if (avail < 20) return
      out.srcPort = (buf[q]! << 8) | buf[q + 1]!
      out.dstPort = (buf[q + 2]! << 8) | buf[q + 3]!
      out.tcpFlags = buf[q + 13]!
      return
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
      if (avail < 8) return
      out.srcPort = (buf[q]! << 8) | buf[q + 1]!
      out.dstPort = (buf[q + 2]! << 8) | buf[q + 3]!
      return
    case IPPROTO_SCTP:
      if (avail < 12) return
      out.srcPort = (buf[q]! << 8) | buf[q + 1]!
      out.dstPort = (buf[q + 2]! << 8) | buf[q + 3]!
      return
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (avail < 4) return
      out.dstPort = (buf[q]! << 8) | buf[q + 1]!
      return
    default:
      return
  }
}
