import {describe, expect, it} from 'vitest'

import {assembleTableFlows, tableFlowsToBatches} from '../../src/sampling/flow-records.js'
import {computeGroundTruth} from '../../src/sampling/ground-truth.js'
import {PacketTableBuilder, packetsByFlowKey, type PacketFields} from '../../src/sampling/packet-table.js'
import {syntheticTable} from './synthetic.js'

const S = 1e6

function v4(a: number): number[] {
  return [0, 0, 0xffff, a >>> 0]
}

function pkt(over: Partial<PacketFields> = {}): PacketFields {
  return {family: 4, src: v4(0x0a000001), dst: v4(0x0a000002), proto: 6, srcPort: 40000, dstPort: 443, tcpFlags: 0x10, ipLength: 100, ...over}
}

describe('PacketTableBuilder', () => {
  it('gives dense ids to hosts and 5-tuples and keeps per-key aggregates', () => {
    const b = new PacketTableBuilder(4) // grows past its capacity
    b.add(1, pkt({tcpFlags: 0x02, ipLength: 60}))
    b.add(2, pkt({src: v4(0x0a000002), dst: v4(0x0a000001), srcPort: 443, dstPort: 40000, tcpFlags: 0x12, ipLength: 60}))
    b.add(3, pkt({ipLength: 1500}))
    b.add(4, pkt({proto: 17, srcPort: 5353, dstPort: 53, tcpFlags: 0, ipLength: 80}))
    // the IPv4-mapped IPv6 address with the same words is another host
    b.add(5, pkt({family: 6, ipLength: 120}))
    const t = b.finish()
    expect(t.count).toBe(5)
    expect(t.hosts.count).toBe(4)
    expect(t.flowKeys.count).toBe(4)
    expect(Array.from(t.flowKeyId)).toEqual([0, 1, 0, 2, 3])
    expect(Array.from(t.srcHostId)).toEqual([0, 1, 0, 0, 2])
    expect(t.flowKeys.packets[0]).toBe(2)
    expect(t.flowKeys.bytes[0]).toBe(1560)
    expect(t.flowKeys.synPackets[0]).toBe(1)
    expect(t.flowKeys.synPackets[1]).toBe(1)
    expect(t.flowKeys.proto[2]).toBe(17)
    expect(t.flowKeys.dstPort[2]).toBe(53)
    expect(t.hosts.family[2]).toBe(6)
    expect(Array.from(t.hosts.addr.subarray(4, 8))).toEqual(v4(0x0a000002))
    // the hash is of the 5-tuple words: the same tuple in another table hashes the same
    const b2 = new PacketTableBuilder()
    b2.add(9, pkt({proto: 17, srcPort: 5353, dstPort: 53, tcpFlags: 0, ipLength: 80}))
    expect(b2.finish().flowKeys.hash[0]).toBe(t.flowKeys.hash[2])
  })

  it('indexes rows by flow key', () => {
    const {table} = syntheticTable({flows: 3000, seed: 3})
    const csr = packetsByFlowKey(table)
    expect(packetsByFlowKey(table)).toBe(csr)
    let bad = 0
    for (let f = 0; f < table.flowKeys.count; f++) {
      const rows = csr.rows.subarray(csr.start[f]!, csr.start[f + 1]!)
      if (rows.length !== table.flowKeys.packets[f]) bad++
      for (let j = 0; j < rows.length; j++) {
        if (table.flowKeyId[rows[j]!] !== f) bad++
        if (j > 0 && rows[j]! <= rows[j - 1]!) bad++
      }
    }
    expect(bad).toBe(0)
  })
})

describe('assembleTableFlows', () => {
  it('splits flows like ingest: idle timeout, active timeout, FIN/RST', () => {
    const b = new PacketTableBuilder()
    // flow A: two packets 10 s apart (one record), then 16 s idle (new record)
    b.add(0, pkt({tcpFlags: 0x02}))
    b.add(10 * S, pkt())
    b.add(26 * S + 1, pkt())
    // flow B: ends with FIN; the next packet of the same tuple is a new record
    const B = {srcPort: 50000}
    b.add(1 * S, pkt({...B, tcpFlags: 0x02}))
    b.add(2 * S, pkt({...B, tcpFlags: 0x11}))
    b.add(3 * S, pkt({...B, tcpFlags: 0x10}))
    // UDP with the FIN bit pattern in its (meaningless) flags byte: not ended
    const U = {proto: 17, srcPort: 7, dstPort: 7, tcpFlags: 0}
    b.add(4 * S, pkt(U))
    b.add(5 * S, pkt(U))
    // flow C: packets every 10 s for 1900 s: the active timeout (1800 s) cuts it once
    const C = {srcPort: 60000}
    for (let t = 0; t <= 1900; t += 10) b.add(t * S, pkt(C))
    // rows out of time order are fine for the table, but assembly wants them in order: sort by time
    const raw = b.finish()
    const order = Array.from(raw.tsMicros.keys()).sort((x, y) => raw.tsMicros[x]! - raw.tsMicros[y]! || x - y)
    const flows = assembleTableFlows(raw, {rows: Uint32Array.from(order)})
    const byKey = new Map<number, number[]>()
    for (let r = 0; r < flows.length; r++) {
      const list = byKey.get(flows.flowKeyId[r]!) ?? []
      list.push(flows.packets[r]!)
      byKey.set(flows.flowKeyId[r]!, list)
    }
    expect(byKey.get(raw.flowKeyId[0]!)).toEqual([2, 1])
    expect(byKey.get(raw.flowKeyId[3]!)).toEqual([2, 1])
    expect(byKey.get(raw.flowKeyId[6]!)).toEqual([2])
    // 191 packets at 0..1900 s: the packet at 1800 s has lasted ≥ 1800 s and starts the next record
    expect(byKey.get(raw.flowKeyId[8]!)).toEqual([180, 11])
  })

  it('turns records into FlowBatches with the sampling rate on every record', () => {
    const b = new PacketTableBuilder()
    b.add(0, pkt({tcpFlags: 0x02, ipLength: 60}))
    b.add(1000, pkt({ipLength: 1500, tcpFlags: 0x18}))
    b.add(2000, pkt({family: 6, src: [0x20010db8, 0, 0, 1], dst: [0x20010db8, 0, 0, 2], proto: 17, srcPort: 1, dstPort: 2, ipLength: 200}))
    const table = b.finish()
    const flows = assembleTableFlows(table)
    const [batch, more] = tableFlowsToBatches(table, flows, {samplingRate: 100})
    expect(more).toBeUndefined()
    expect(batch!.length).toBe(2)
    expect(Array.from(batch!.samplingRate.subarray(0, 2))).toEqual([100, 100])
    expect(batch!.packets[0]).toBe(2)
    expect(batch!.bytes[0]).toBe(1560)
    expect(batch!.tcpFlags[0]).toBe(0x1a)
    expect(batch!.tsEnd[0]).toBe(1000)
    expect(batch!.family[1]).toBe(6)
    expect(Array.from(batch!.srcAddr.subarray(4, 8))).toEqual([0x20010db8, 0, 0, 1])
    expect(batch!.dstPort[1]).toBe(2)
  })
})

describe('computeGroundTruth', () => {
  it('counts what the generator made', () => {
    const syn = syntheticTable({flows: 20000, seed: 5})
    const truth = computeGroundTruth(syn.table)
    expect(truth.packets).toBe(syn.packets)
    expect(truth.bytes).toBe(syn.bytes)
    // every generated TCP flow opens with exactly one SYN
    expect(truth.synPackets).toBe(syn.tcpFlows)
    // distinct generated flows may share a 5-tuple (a reused ephemeral port), rarely overlapping in time
    expect(truth.tcpFlows).toBeLessThanOrEqual(syn.tcpFlows)
    expect(truth.tcpFlows).toBeGreaterThan(syn.tcpFlows * 0.99)
    expect(truth.flowRecords).toBeLessThanOrEqual(syn.flows)
    expect(truth.hostBytes.reduce((a, b) => a + b, 0)).toBe(syn.bytes)
    expect(truth.protoPackets.reduce((a, b) => a + b, 0)).toBe(syn.packets)
    expect(truth.recordPackets.reduce((a, b) => a + b, 0)).toBe(syn.packets)
    const top = truth.topTalkers
    for (let j = 1; j < top.length; j++) expect(truth.hostBytes[top[j]!]!).toBeLessThanOrEqual(truth.hostBytes[top[j - 1]!]!)
    const {sizes, counts} = truth.flowSizes
    for (let j = 1; j < sizes.length; j++) expect(sizes[j]!).toBeGreaterThan(sizes[j - 1]!)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(truth.flowRecords)
    expect(sizes.reduce((a, x, j) => a + x * counts[j]!, 0)).toBe(syn.packets)
  })
})
