import {describe, expect, it} from 'vitest'
import {
  createDecodedPacket,
  DECODE_MALFORMED,
  DECODE_NOT_IP,
  DECODE_OK,
  DECODE_TRUNCATED,
  decodePacket,
  type DecodedPacket,
} from '../../../src/io/capture/packet-decoder.js'
import {
  ACK,
  bytes,
  concat,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ethernet,
  FIN,
  icmp,
  ipv4,
  ipv6,
  nullLoop,
  openbsdLoop,
  PSH,
  sctp,
  sll,
  sll2,
  SYN,
  tcp,
  udp,
  v4Words,
  v6Words,
} from '../../helpers/capture-bytes.js'

const LT_ETHERNET = 1
const LT_RAW = 101

function decode(frame: Uint8Array, linktype = LT_ETHERNET, opts: {caplen?: number; origLen?: number; at?: number} = {}): [number, DecodedPacket] {
  // place the frame at an offset inside a larger buffer, as in a capture chunk
  const at = opts.at ?? 37
  const buf = new Uint8Array(at + frame.length + 64).fill(0xee)
  buf.set(frame, at)
  const out = createDecodedPacket()
  const code = decodePacket(buf, at, opts.caplen ?? frame.length, opts.origLen ?? frame.length, linktype, out)
  return [code, out]
}

const tcp4 = ipv4({src: '10.0.0.1', dst: '192.168.1.2', proto: 6, payload: tcp(40000, 443, SYN | ACK, new Uint8Array(10))})
const udp6 = ipv6({src: '2001:db8::1', dst: 'fe80::2', proto: 17, payload: udp(5353, 53, new Uint8Array(12))})

describe('decodePacket: link layers', () => {
  it('decodes Ethernet IPv4 TCP: addresses mapped, ports, flags, total length', () => {
    const [code, d] = decode(ethernet(tcp4, ETHERTYPE_IPV4))
    expect(code).toBe(DECODE_OK)
    expect(d.family).toBe(4)
    expect(Array.from(d.src)).toEqual(v4Words('10.0.0.1'))
    expect(Array.from(d.dst)).toEqual(v4Words('192.168.1.2'))
    expect(d.proto).toBe(6)
    expect([d.srcPort, d.dstPort]).toEqual([40000, 443])
    expect(d.tcpFlags).toBe(SYN | ACK)
    expect(d.ipLength).toBe(20 + 20 + 10)
    expect(d.fragment).toBe(0)
  })

  it('decodes Ethernet IPv6 UDP', () => {
    const [code, d] = decode(ethernet(udp6, ETHERTYPE_IPV6))
    expect(code).toBe(DECODE_OK)
    expect(d.family).toBe(6)
    expect(Array.from(d.src)).toEqual(v6Words('2001:db8::1'))
    expect(Array.from(d.dst)).toEqual(v6Words('fe80::2'))
    expect([d.proto, d.srcPort, d.dstPort, d.ipLength]).toEqual([17, 5353, 53, 40 + 8 + 12])
  })

  it.each([
    ['802.1Q', [0x8100]],
    ['802.1ad + 802.1Q', [0x88a8, 0x8100]],
    ['0x9100 QinQ', [0x9100, 0x8100]],
    ['four tags deep', [0x88a8, 0x9100, 0x8100, 0x8100]],
  ])('skips VLAN tags: %s', (_name, tags) => {
    const [code, d] = decode(ethernet(tcp4, ETHERTYPE_IPV4, tags))
    expect(code).toBe(DECODE_OK)
    expect([d.family, d.srcPort, d.dstPort]).toEqual([4, 40000, 443])
  })

  it('reports ARP, LLC and unknown EtherTypes as not IP', () => {
    expect(decode(ethernet(new Uint8Array(28), ETHERTYPE_ARP))[0]).toBe(DECODE_NOT_IP)
    expect(decode(ethernet(new Uint8Array(28), ETHERTYPE_ARP, [0x8100]))[0]).toBe(DECODE_NOT_IP)
    // 802.3 length field + LLC (STP)
    expect(decode(ethernet(new Uint8Array(38), 38))[0]).toBe(DECODE_NOT_IP)
    expect(decode(ethernet(new Uint8Array(40), 0x8847))[0]).toBe(DECODE_NOT_IP)
  })

  it('decodes PPPoE session frames carrying IP', () => {
    const ppp = concat(bytes(0x11, 0x00, 0x00, 0x01, 0x00, tcp4.length + 2, 0x00, 0x21), tcp4)
    const [code, d] = decode(ethernet(ppp, 0x8864))
    expect(code).toBe(DECODE_OK)
    expect([d.family, d.srcPort]).toEqual([4, 40000])
  })

  it('decodes Linux cooked captures v1 and v2', () => {
    const [c1, d1] = decode(sll(tcp4, ETHERTYPE_IPV4), 113)
    expect(c1).toBe(DECODE_OK)
    expect(d1.dstPort).toBe(443)
    const [c2, d2] = decode(sll2(udp6, ETHERTYPE_IPV6), 276)
    expect(c2).toBe(DECODE_OK)
    expect([d2.family, d2.dstPort]).toEqual([6, 53])
    expect(decode(sll(new Uint8Array(20), 0x0806), 113)[0]).toBe(DECODE_NOT_IP)
    expect(decode(sll2(new Uint8Array(20), 0x0806), 276)[0]).toBe(DECODE_NOT_IP)
    expect(decode(sll(tcp4, ETHERTYPE_IPV4).subarray(0, 15), 113)[0]).toBe(DECODE_TRUNCATED)
  })

  it.each([101, 12, 14])('raw IP link type %i picks the version from the first nibble', (lt) => {
    expect(decode(tcp4, lt)[1].family).toBe(4)
    expect(decode(udp6, lt)[1].family).toBe(6)
    expect(decode(bytes(0x50, 0, 0, 0), lt)[0]).toBe(DECODE_MALFORMED)
  })

  it('LINKTYPE_IPV4 / LINKTYPE_IPV6 require their version', () => {
    expect(decode(tcp4, 228)[0]).toBe(DECODE_OK)
    expect(decode(udp6, 229)[0]).toBe(DECODE_OK)
    expect(decode(udp6, 228)[0]).toBe(DECODE_MALFORMED)
    expect(decode(tcp4, 229)[0]).toBe(DECODE_MALFORMED)
  })

  it('BSD loopback: AF in either byte order, AF_INET6 as 24, 28 or 30', () => {
    expect(decode(nullLoop(tcp4, 2, true), 0)[1].family).toBe(4)
    expect(decode(nullLoop(tcp4, 2, false), 0)[1].family).toBe(4)
    for (const af of [24, 28, 30]) {
      for (const le of [true, false]) {
        const [code, d] = decode(nullLoop(udp6, af, le), 0)
        expect(code).toBe(DECODE_OK)
        expect(d.family).toBe(6)
      }
    }
    expect(decode(nullLoop(tcp4, 7, true), 0)[0]).toBe(DECODE_NOT_IP)
    expect(decode(bytes(2, 0), 0)[0]).toBe(DECODE_TRUNCATED)
  })

  it('OpenBSD loopback: AF in network order', () => {
    expect(decode(openbsdLoop(tcp4, 2), 108)[1].family).toBe(4)
    expect(decode(openbsdLoop(udp6, 24), 108)[1].family).toBe(6)
    expect(decode(openbsdLoop(tcp4, 99), 108)[0]).toBe(DECODE_NOT_IP)
  })

  it('unknown link types are not IP', () => {
    expect(decode(tcp4, 105)[0]).toBe(DECODE_NOT_IP)
  })
})

describe('decodePacket: L4', () => {
  it('ICMP and ICMPv6 put type*256+code in dstPort, srcPort 0', () => {
    const [, d4] = decode(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: icmp(3, 3)}), LT_RAW)
    expect([d4.proto, d4.srcPort, d4.dstPort]).toEqual([1, 0, 0x0303])
    const [, d6] = decode(ipv6({src: '::1', dst: '::2', proto: 58, payload: icmp(128, 0)}), LT_RAW)
    expect([d6.proto, d6.srcPort, d6.dstPort]).toEqual([58, 0, 128 * 256])
  })

  it('SCTP and UDP-Lite carry ports', () => {
    const [, s] = decode(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 132, payload: sctp(2905, 2906)}), LT_RAW)
    expect([s.srcPort, s.dstPort]).toEqual([2905, 2906])
    const [, l] = decode(ipv6({src: '::1', dst: '::2', proto: 136, payload: udp(1000, 2000)}), LT_RAW)
    expect([l.srcPort, l.dstPort]).toEqual([1000, 2000])
  })

  it('does not decode tunnels: GRE and VXLAN are flows of the outer header', () => {
    const [, g] = decode(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 47, payload: concat(bytes(0, 0, 0x08, 0x00), tcp4)}), LT_RAW)
    expect([g.proto, g.srcPort, g.dstPort]).toEqual([47, 0, 0])
    expect(Array.from(g.src)).toEqual(v4Words('1.1.1.1'))
    const vx = udp(51000, 4789, concat(new Uint8Array(8), ethernet(tcp4, ETHERTYPE_IPV4)))
    const [, v] = decode(ipv4({src: '3.3.3.3', dst: '4.4.4.4', proto: 17, payload: vx}), LT_RAW)
    expect([v.proto, v.srcPort, v.dstPort]).toEqual([17, 51000, 4789])
    expect(Array.from(v.dst)).toEqual(v4Words('4.4.4.4'))
  })

  it('other protocols are decoded by number, without ports', () => {
    const [code, d] = decode(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 89, payload: new Uint8Array(24)}), LT_RAW)
    expect(code).toBe(DECODE_OK)
    expect([d.proto, d.srcPort, d.dstPort, d.tcpFlags]).toEqual([89, 0, 0, 0])
  })

  it('a truncated L4 header keeps the packet (ports 0) like an exporter would count it', () => {
    const frame = ethernet(tcp4, ETHERTYPE_IPV4)
    // 14 + 20 + 13: the flags byte (offset 13) is cut
    const [code, d] = decode(frame, LT_ETHERNET, {caplen: 14 + 20 + 13})
    expect(code).toBe(DECODE_OK)
    expect([d.family, d.proto, d.srcPort, d.dstPort, d.tcpFlags]).toEqual([4, 6, 0, 0, 0])
    expect(d.ipLength).toBe(50)
    const [c2, u] = decode(ethernet(udp6, ETHERTYPE_IPV6), LT_ETHERNET, {caplen: 14 + 40 + 7})
    expect(c2).toBe(DECODE_OK)
    expect([u.proto, u.srcPort, u.dstPort]).toEqual([17, 0, 0])
  })

  it('reads L4 within the IP datagram only, not the Ethernet padding after it', () => {
    // IPv4 total length covers only 4 bytes of UDP; the frame is padded to 60 bytes with junk
    const ip = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: udp(7, 9).subarray(0, 4)})
    const frame = concat(ethernet(ip, ETHERTYPE_IPV4), new Uint8Array(60 - 14 - ip.length).fill(0x55))
    const [code, d] = decode(frame)
    expect(code).toBe(DECODE_OK)
    expect([d.srcPort, d.dstPort, d.ipLength]).toEqual([0, 0, 24])
  })
})

describe('decodePacket: IPv4 details', () => {
  it('uses the header length for options', () => {
    const ip = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: udp(1, 2), options: bytes(1, 1, 1, 0, 0x94, 4, 0, 0)})
    const [code, d] = decode(ip, LT_RAW)
    expect(code).toBe(DECODE_OK)
    expect([d.srcPort, d.dstPort, d.ipLength]).toEqual([1, 2, 36])
  })

  it('marks fragments and keeps ports only on the first', () => {
    const first = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: udp(1111, 2222, new Uint8Array(16)), mf: true, id: 777})
    const [c1, d1] = decode(first, LT_RAW)
    expect(c1).toBe(DECODE_OK)
    expect([d1.fragment, d1.fragmentId, d1.srcPort, d1.dstPort]).toEqual([1, 777, 1111, 2222])
    const later = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: new Uint8Array(16), mf: true, fragOffset: 3, id: 777})
    const [c2, d2] = decode(later, LT_RAW)
    expect(c2).toBe(DECODE_OK)
    expect([d2.fragment, d2.fragmentId, d2.proto, d2.srcPort, d2.dstPort]).toEqual([2, 777, 17, 0, 0])
    const last = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: new Uint8Array(8), fragOffset: 5, id: 777})
    expect(decode(last, LT_RAW)[1].fragment).toBe(2)
    // DF alone is not a fragment
    const df = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: udp(1, 2)})
    df[6] = 0x40
    expect(decode(df, LT_RAW)[1].fragment).toBe(0)
  })

  it('total length 0 (TSO) falls back to the wire length minus the link header', () => {
    const ip = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcp(1, 2, ACK, new Uint8Array(100)), totalLength: 0})
    const [code, d] = decode(ethernet(ip, ETHERTYPE_IPV4), LT_ETHERNET, {origLen: 14 + 9000})
    expect(code).toBe(DECODE_OK)
    expect(d.ipLength).toBe(9000)
    expect(d.srcPort).toBe(1)
  })

  it('truncated and malformed IPv4 headers', () => {
    const frame = ethernet(tcp4, ETHERTYPE_IPV4)
    expect(decode(frame, LT_ETHERNET, {caplen: 13})[0]).toBe(DECODE_TRUNCATED)
    expect(decode(frame, LT_ETHERNET, {caplen: 14})[0]).toBe(DECODE_TRUNCATED)
    expect(decode(frame, LT_ETHERNET, {caplen: 14 + 19})[0]).toBe(DECODE_TRUNCATED)
    // options announced (IHL 15 = 60 bytes) but only 40 bytes captured
    const withOpts = ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: new Uint8Array(20), ihl: 15})
    expect(decode(withOpts, LT_RAW)[0]).toBe(DECODE_TRUNCATED)
    expect(decode(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: new Uint8Array(20), ihl: 4}), LT_RAW)[0]).toBe(DECODE_MALFORMED)
    expect(decode(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: new Uint8Array(20), totalLength: 12}), LT_RAW)[0]).toBe(
      DECODE_MALFORMED,
    )
    expect(decode(ethernet(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: new Uint8Array(20), version: 5}), ETHERTYPE_IPV4))[0]).toBe(
      DECODE_MALFORMED,
    )
  })
})

describe('decodePacket: IPv6 extension headers', () => {
  it('walks hop-by-hop, routing, destination options, AH and mobility headers', () => {
    const ip = ipv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      proto: 6,
      payload: tcp(1234, 80, PSH | ACK),
      ext: [{type: 0}, {type: 43, body: new Uint8Array(14)}, {type: 60}, {type: 51}, {type: 135}],
    })
    const [code, d] = decode(ethernet(ip, ETHERTYPE_IPV6))
    expect(code).toBe(DECODE_OK)
    expect([d.proto, d.srcPort, d.dstPort, d.tcpFlags]).toEqual([6, 1234, 80, PSH | ACK])
    expect(d.ipLength).toBe(ip.length)
  })

  it('stops at no-next-header (59)', () => {
    const ip = ipv6({src: '::1', dst: '::2', proto: 59, payload: new Uint8Array(0), ext: [{type: 60}]})
    const [code, d] = decode(ip, LT_RAW)
    expect(code).toBe(DECODE_OK)
    expect([d.proto, d.srcPort, d.dstPort, d.ipLength]).toEqual([59, 0, 0, 48])
  })

  it('fragment header: first fragment keeps ports, later ones do not, atomic fragments are whole', () => {
    const first = ipv6({src: '::1', dst: '::2', proto: 17, payload: udp(53, 5353, new Uint8Array(32)), ext: [{type: 0}, {type: 44, mf: true, id: 0xdeadbeef}]})
    const [c1, d1] = decode(first, LT_RAW)
    expect(c1).toBe(DECODE_OK)
    expect([d1.fragment, d1.fragmentId, d1.proto, d1.srcPort, d1.dstPort]).toEqual([1, 0xdeadbeef, 17, 53, 5353])
    const later = ipv6({src: '::1', dst: '::2', proto: 17, payload: new Uint8Array(32), ext: [{type: 44, fragOffset: 5, id: 0xdeadbeef}]})
    const [c2, d2] = decode(later, LT_RAW)
    expect(c2).toBe(DECODE_OK)
    expect([d2.fragment, d2.fragmentId, d2.proto, d2.srcPort]).toEqual([2, 0xdeadbeef, 17, 0])
    const atomic = ipv6({src: '::1', dst: '::2', proto: 17, payload: udp(1, 2), ext: [{type: 44}]})
    const [, d3] = decode(atomic, LT_RAW)
    expect([d3.fragment, d3.srcPort]).toEqual([0, 1])
  })

  it('payload length 0 (jumbo/TSO) uses the wire length', () => {
    const ip = ipv6({src: '::1', dst: '::2', proto: 6, payload: tcp(1, 2), payloadLength: 0})
    const [code, d] = decode(ethernet(ip, ETHERTYPE_IPV6), LT_ETHERNET, {origLen: 14 + 70000})
    expect(code).toBe(DECODE_OK)
    expect([d.ipLength, d.srcPort]).toEqual([70000, 1])
  })

  it('truncated and malformed IPv6 headers', () => {
    const frame = ethernet(udp6, ETHERTYPE_IPV6)
    expect(decode(frame, LT_ETHERNET, {caplen: 14 + 39})[0]).toBe(DECODE_TRUNCATED)
    const withExt = ipv6({src: '::1', dst: '::2', proto: 17, payload: udp(1, 2), ext: [{type: 0, body: new Uint8Array(14)}]})
    // the 16-byte hop-by-hop header is cut by the snap length
    expect(decode(withExt, LT_RAW, {caplen: 40 + 10})[0]).toBe(DECODE_TRUNCATED)
    // ... or overruns the payload length
    const lying = ipv6({src: '::1', dst: '::2', proto: 17, payload: udp(1, 2), ext: [{type: 0, body: new Uint8Array(14)}], payloadLength: 8})
    expect(decode(lying, LT_RAW)[0]).toBe(DECODE_MALFORMED)
    // a fragment header in a packet with payload length 0 (tcpdump's ipv6_frag6_negative_len case)
    const frag0 = ipv6({src: '::1', dst: '::2', proto: 17, payload: udp(1, 2), ext: [{type: 44, mf: true}], payloadLength: 0})
    expect(decode(frag0, LT_RAW)[0]).toBe(DECODE_MALFORMED)
  })
})

describe('decodePacket: output object', () => {
  it('resets every field between packets (one reusable object, no allocation)', () => {
    const out = createDecodedPacket()
    const src = out.src
    const tcpFrame = ethernet(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcp(5, 6, FIN), mf: true}), ETHERTYPE_IPV4)
    expect(decodePacket(tcpFrame, 0, tcpFrame.length, tcpFrame.length, 1, out)).toBe(DECODE_OK)
    expect(out.tcpFlags).toBe(FIN)
    const arp = ethernet(new Uint8Array(28), ETHERTYPE_ARP)
    expect(decodePacket(arp, 0, arp.length, arp.length, 1, out)).toBe(DECODE_NOT_IP)
    expect([out.family, out.proto, out.srcPort, out.dstPort, out.tcpFlags, out.fragment, out.ipLength]).toEqual([0, 0, 0, 0, 0, 0, 0])
    expect(out.src).toBe(src)
  })
})
