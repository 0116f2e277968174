import {describe, expect, it} from 'vitest'

import {addrToBigInt, addrToString, ipv6ToString, parseIp} from '../../src/core/ip.js'

describe('address text and numbers', () => {
  it('formats IPv6 per RFC 5952 (longest zero run, first on ties, no single-group ::)', () => {
    expect(ipv6ToString(0x20010db8, 0, 0, 1)).toBe('2001:db8::1')
    expect(ipv6ToString(0, 0, 0, 0)).toBe('::')
    expect(ipv6ToString(0, 0, 0, 1)).toBe('::1')
    expect(ipv6ToString(0x20010db8, 0x00000001, 0x00010001, 0x00010001)).toBe('2001:db8:0:1:1:1:1:1')
    expect(ipv6ToString(0x20010000, 0x00000001, 0, 0x00000001)).toBe('2001:0:0:1::1')
    expect(ipv6ToString(0xfe800000, 0, 0x02000000, 0x00000001)).toBe('fe80::200:0:0:1')
  })

  it('round-trips text -> number -> text for both families', () => {
    for (const text of ['10.1.2.3', '255.255.255.255', '0.0.0.0', '2001:db8::1', 'fd00:1::abcd:1', '::', 'fe80::1:2:3:4']) {
      const p = parseIp(text)!
      const words = new Uint32Array(4)
      for (let i = 0; i < 4; i++) words[i] = Number((p.value >> BigInt(96 - 32 * i)) & 0xffffffffn)
      expect(addrToBigInt(words, 0)).toBe(p.value)
      expect(addrToString(words, 0, p.family)).toBe(text)
    }
  })

  it('maps IPv4 into ::ffff:0:0/96 and rejects non-addresses', () => {
    expect(parseIp('10.0.0.1')).toEqual({family: 4, value: 0xffff0a000001n})
    expect(parseIp('::ffff:10.0.0.1')).toEqual({family: 6, value: 0xffff0a000001n})
    for (const bad of ['10.0.0.256', '1.2.3', 'abc', '1::2::3', '12345::', "10.0.0.1'; DROP", '']) expect(parseIp(bad)).toBeUndefined()
  })

  it('IPv6 text agrees with the WHATWG URL serialiser (RFC 5952 compression) on 20,000 zero-heavy addresses', () => {
    let x = 12345
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0)
    for (let k = 0; k < 20000; k++) {
      // each group zero with probability 1/2, so runs of every length and ties occur
      const g = Array.from({length: 8}, () => (next() & 1 ? 0 : next() & 0xffff))
      const w = [0, 2, 4, 6].map((i) => ((g[i]! << 16) | g[i + 1]!) >>> 0) as [number, number, number, number]
      const want = new URL(`http://[${g.map((v) => v.toString(16)).join(':')}]/`).hostname.slice(1, -1)
      if (g[5] === 0xffff && g.slice(0, 5).every((v) => v === 0)) continue // URL prints IPv4-mapped as hex too, but skip the ambiguity
      expect(ipv6ToString(...w)).toBe(want)
    }
  })
})

