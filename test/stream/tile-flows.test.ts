/**
 * tileFlows, the steady-state bench's traffic: a template network repeated over address blocks, each
 * copy's timeline rotated, cut to a time range.
 */
import {describe, expect, it} from 'vitest'

import {addrToString, appendFlowRecord, createFlowBatch, parseIp, type FlowBatch} from '../../src/core/index.js'
import {tileFlows} from '../../src/stream/index.js'

/** Two flows 10 s apart: 10.1.0.5 → 8.8.8.8 and fd00:1::5 → 2001:db8::1. */
function template(): FlowBatch {
  const b = createFlowBatch(2)
  // an address as the words appendFlowRecord takes: one for IPv4, four for IPv6
  const v4 = (s: string): number[] => {
    const ip = parseIp(s)!
    const words = ip.family === 4 ? 1 : 4
    return Array.from({length: words}, (_, k) => Number((ip.value >> BigInt(32 * (words - 1 - k))) & 0xffffffffn))
  }
  appendFlowRecord(b, {tsStart: 0, tsEnd: 2_000_000, family: 4, src: v4('10.1.0.5'), dst: v4('8.8.8.8'), srcPort: 40000, dstPort: 53, proto: 17, tcpFlags: 0, packets: 1, bytes: 80})
  appendFlowRecord(b, {tsStart: 10_000_000, tsEnd: 10_500_000, family: 6, src: v4('fd00:1::5'), dst: v4('2001:db8::1'), srcPort: 40001, dstPort: 443, proto: 6, tcpFlags: 0x18, packets: 4, bytes: 900})
  return b
}

const rows = (b: FlowBatch): Array<{t: number; d: number; src: string; dst: string; bytes: number}> =>
  Array.from({length: b.length}, (_, i) => ({t: b.tsStart[i]!, d: b.tsEnd[i]! - b.tsStart[i]!, src: addrToString(b.srcAddr, i, b.family[i]!), dst: addrToString(b.dstAddr, i, b.family[i]!), bytes: b.bytes[i]!}))

describe('tileFlows', () => {
  it('repeats every flow once per copy over the whole span, on its own addresses, in start order', () => {
    const out = rows(tileFlows([template()], 3, 0, 10_000_001))
    expect(out).toHaveLength(6)
    for (let k = 1; k < out.length; k++) expect(out[k]!.t).toBeGreaterThanOrEqual(out[k - 1]!.t)
    expect(new Set(out.map((r) => r.src))).toEqual(new Set(['10.1.0.5', '10.2.0.5', '10.3.0.5', 'fd00:1::5', 'fd00:1:0:1::5', 'fd00:1:0:2::5']))
    expect(new Set(out.filter((r) => r.bytes === 80).map((r) => r.dst))).toEqual(new Set(['8.8.8.8', '8.9.8.8', '8.10.8.8']))
    // durations and sizes are the template's; copy 0 is the template itself
    expect(out.filter((r) => r.bytes === 80).every((r) => r.d === 2_000_000)).toBe(true)
    expect(out.filter((r) => r.src === '10.1.0.5' || r.src === 'fd00:1::5').map((r) => r.t).sort((x, y) => x - y)).toEqual([0, 10_000_000])
  })

  it('keeps the flows whose rotated start falls in the range, and the rotation spreads the copies', () => {
    const all = rows(tileFlows([template()], 50, 0, 10_000_001))
    const firstHalf = rows(tileFlows([template()], 50, 0, 5_000_000))
    expect(all).toHaveLength(100)
    expect(firstHalf.every((r) => r.t < 5_000_000)).toBe(true)
    // a golden-ratio rotation puts about half of the copies' flows in each half of the span
    expect(firstHalf.length).toBeGreaterThan(35)
    expect(firstHalf.length).toBeLessThan(65)
  })
})
