import {describe, expect, it} from 'vitest'

import {planBuckets, planGroups, prefixText} from '../../src/buckets/plan.js'
import type {PlanAddress} from '../../src/buckets/plan.js'
import {createRng, parseIp} from '../../src/core/index.js'

function addr(text: string, asn = 0, network = 'lab'): PlanAddress {
  const p = parseIp(text)!
  return {network, address: text, value: p.value, family: p.family, asn}
}

describe('bucket planning', () => {
  it('groups private addresses by /24 and /48, public ones by AS', () => {
    const buckets = planBuckets(
      [addr('10.1.2.3'), addr('10.1.2.200'), addr('10.1.3.1'), addr('fd00:1::5'), addr('fd00:1:0:1::9'), addr('fd00:2::1'), addr('8.8.8.8', 15169), addr('8.8.4.4', 15169), addr('1.1.1.1', 13335)],
      {packTarget: 1},
    )
    const groups = buckets.flatMap((b) => b.groups.map((g) => [g.key, g.addresses]))
    expect(groups).toEqual([
      ['lab|10.1.2.0/24', ['10.1.2.3', '10.1.2.200']],
      ['lab|10.1.3.0/24', ['10.1.3.1']],
      ['lab|AS13335', ['1.1.1.1']],
      ['lab|AS15169', ['8.8.4.4', '8.8.8.8']],
      ['lab|fd00:1::/48', ['fd00:1::5', 'fd00:1:0:1::9']],
      ['lab|fd00:2::/48', ['fd00:2::1']],
    ])
    expect(buckets.find((b) => b.key === 'lab|AS15169')?.groups[0]?.prefix).toBe('8.8.0.0/20')
  })

  it('takes the prefix lengths it is given and keeps networks apart', () => {
    const groups = planGroups([addr('10.1.2.3'), addr('10.1.3.3'), addr('10.1.2.3', 0, 'other')], {prefixV4: 16})
    expect(groups.map((g) => [g.network, g.group.key, g.group.addresses.length])).toEqual([
      ['lab', 'lab|10.1.0.0/16', 2],
      ['other', 'other|10.1.0.0/16', 1],
    ])
  })

  it('splits a group above the cap along prefix lines, never cutting a prefix that fits', () => {
    // one AS with 3 /24s of 120 hosts each; cap 250: two whole /24s, then the third
    const list: PlanAddress[] = []
    for (const third of [10, 11, 12]) for (let h = 1; h <= 120; h++) list.push(addr(`203.0.${third}.${h}`, 64500))
    const groups = planGroups(list, {bucketCap: 250})
    expect(groups.map((g) => g.group.addresses.length)).toEqual([240, 120])
    expect(groups[0]!.group.prefix).toBe('203.0.10.0/23')
    expect(groups[1]!.group.addresses[0]).toBe('203.0.12.1')
    expect(groups.every((g) => g.group.key.startsWith('lab|AS64500|'))).toBe(true)
    // a /24 bigger than the cap is cut at /25, /26, ...
    const dense = Array.from({length: 254}, (_, i) => addr(`10.9.9.${i + 1}`))
    const parts = planGroups(dense, {bucketCap: 100})
    expect(parts.map((g) => g.group.addresses.length)).toEqual([63, 64, 64, 63])
    expect(parts.map((g) => g.group.prefix)).toEqual(['10.9.9.0/24', '10.9.9.0/24', '10.9.9.0/24', '10.9.9.0/24'])
    expect(new Set(parts.flatMap((g) => g.group.addresses)).size).toBe(254)
  })

  it('packs small groups into buckets up to the target, a group never split', () => {
    const list = Array.from({length: 40}, (_, i) => addr(`100.${i}.0.1`, 1000 + i))
    const buckets = planBuckets(list, {packTarget: 15})
    expect(buckets.map((b) => b.addresses.length)).toEqual([15, 15, 10])
    expect(buckets.map((b) => b.id)).toEqual([0, 1, 2])
    expect(buckets[0]!.key).toBe('lab|AS1000..lab|AS1014')
    expect(planBuckets(list).length).toBe(1)
  })

  it('is deterministic and loses no address, whatever the input order', () => {
    const rng = createRng(7)
    const list: PlanAddress[] = []
    for (let i = 0; i < 3000; i++) {
      const a = rng.int(4) === 0 ? `2001:db8:${rng.int(6).toString(16)}::${rng.int(65535).toString(16)}` : `10.${rng.int(3)}.${rng.int(40)}.${1 + rng.int(250)}`
      list.push(addr(a, a.startsWith('2001') ? 0 : rng.int(3) === 0 ? 64512 + rng.int(3) : 0))
    }
    const a = planBuckets(list, {bucketCap: 200})
    const shuffled = [...list].sort(() => rng.next() - 0.5)
    const b = planBuckets(shuffled, {bucketCap: 200})
    expect(b).toEqual(a)
    const distinct = new Set(list.map((x) => x.address))
    expect(a.flatMap((x) => x.addresses).sort()).toEqual([...distinct].sort())
    expect(Math.max(...a.map((x) => x.addresses.length))).toBeLessThanOrEqual(200)
  })

  it('names prefixes in CIDR form (RFC 5952 for IPv6)', () => {
    expect(prefixText(parseIp('10.1.2.3')!.value, 96 + 24, 4)).toBe('10.1.2.0/24')
    expect(prefixText(parseIp('2001:db8:0:0:1::1')!.value, 48, 6)).toBe('2001:db8::/48')
    expect(prefixText(parseIp('2001:db8:1:2::1')!.value, 64, 6)).toBe('2001:db8:1:2::/64')
  })
})
