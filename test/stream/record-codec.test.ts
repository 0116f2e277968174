import {describe, expect, it} from 'vitest'

import {appendFlowRecord, createFlowBatch, type FlowBatch} from '../../src/core/flow-batch.js'
import {addrToString} from '../../src/core/ip.js'
import {FlowBatchBuilder, decodeFlowRecords, encodeFlowJson, encodeFlows, RECORD_FORMATS} from '../../src/stream/index.js'

function mixedFlows(): FlowBatch {
  const b = createFlowBatch(4)
  appendFlowRecord(b, {
    tsStart: 1_700_000_000_123_456,
    tsEnd: 1_700_000_001_000_001,
    family: 4,
    src: [0x0a000001],
    dst: [0xc0a80102],
    srcPort: 51234,
    dstPort: 443,
    proto: 6,
    tcpFlags: 0x1b,
    packets: 12,
    bytes: 9000,
    samplingRate: 1,
  })
  appendFlowRecord(b, {
    tsStart: 1_700_000_002_000_000,
    tsEnd: 1_700_000_002_000_000,
    family: 6,
    src: [0x20010db8, 0, 0, 1],
    dst: [0xfe800000, 0, 0x02000000, 0xabcdef01],
    srcPort: 53,
    dstPort: 5353,
    proto: 17,
    tcpFlags: 0,
    packets: 2 ** 40,
    bytes: 2 ** 50,
    samplingRate: 1000,
    exporter: '192.0.2.9',
  })
  appendFlowRecord(b, {
    tsStart: 1_700_000_003_000_000,
    tsEnd: 1_700_000_004_000_000,
    family: 4,
    src: [0xffffffff],
    dst: [0],
    srcPort: 0,
    dstPort: 0,
    proto: 1,
    tcpFlags: 0,
    packets: 1,
    bytes: 64,
    samplingRate: 1,
    exporter: 'exporter-ü',
  })
  return b
}

function rows(b: FlowBatch): unknown[] {
  const out = []
  for (let i = 0; i < b.length; i++) {
    out.push({
      ts: b.tsStart[i],
      te: b.tsEnd[i],
      family: b.family[i],
      src: addrToString(b.srcAddr, i, b.family[i]!),
      dst: addrToString(b.dstAddr, i, b.family[i]!),
      srcWords: [...b.srcAddr.subarray(i * 4, i * 4 + 4)],
      sp: b.srcPort[i],
      dp: b.dstPort[i],
      pr: b.proto[i],
      fl: b.tcpFlags[i],
      pk: b.packets[i],
      by: b.bytes[i],
      sr: b.samplingRate[i],
      exp: b.exporter[i],
    })
  }
  return out
}

describe('record codec', () => {
  it('writes the documented JSON object', () => {
    const b = mixedFlows()
    expect(JSON.parse(encodeFlowJson(b, 0, 'acme'))).toEqual({
      v: 1,
      net: 'acme',
      exp: '',
      ts: 1_700_000_000_123_456,
      te: 1_700_000_001_000_001,
      sa: '10.0.0.1',
      da: '192.168.1.2',
      sp: 51234,
      dp: 443,
      pr: 6,
      fl: 0x1b,
      pk: 12,
      by: 9000,
      sr: 1,
    })
    expect(JSON.parse(encodeFlowJson(b, 1, 'acme'))).toMatchObject({sa: '2001:db8::1', da: 'fe80::200:0:abcd:ef01', exp: '192.0.2.9', sr: 1000})
  })

  for (const format of RECORD_FORMATS) {
    for (const maxRecordBytes of [0, 25_000]) {
      it(`round-trips IPv4, IPv6, exporters and large counters (${format}, ${maxRecordBytes ? 'packed' : 'one per record'})`, () => {
        const b = mixedFlows()
        const payloads = encodeFlows(b, [0, 1, 2], 'net-ä', {format, maxRecordBytes})
        expect(payloads.length).toBe(maxRecordBytes ? 1 : 3)
        const out = new FlowBatchBuilder(1)
        for (const p of payloads) expect(decodeFlowRecords(p, out).bad).toBe(0)
        expect(out.network).toEqual(['net-ä', 'net-ä', 'net-ä'])
        expect(rows(out.view())).toEqual(rows(b))
      })
    }
  }

  it('packs flows up to the size limit without splitting one', () => {
    const b = createFlowBatch(1000)
    for (let i = 0; i < 1000; i++) {
      appendFlowRecord(b, {tsStart: i, tsEnd: i, family: 4, src: [i], dst: [i + 1], srcPort: i, dstPort: 80, proto: 6, tcpFlags: 2, packets: 1, bytes: 60})
    }
    const all = Array.from({length: 1000}, (_, i) => i)
    for (const format of RECORD_FORMATS) {
      const payloads = encodeFlows(b, all, 'n', {format, maxRecordBytes: 5000})
      expect(payloads.length).toBeGreaterThan(1)
      for (const p of payloads) expect(p.length).toBeLessThanOrEqual(5000)
      const out = new FlowBatchBuilder(1)
      for (const p of payloads) decodeFlowRecords(p, out)
      expect(out.length).toBe(1000)
      expect([...out.view().srcPort]).toEqual(all.map((i) => i & 0xffff))
    }
  })

  it('counts bad records instead of failing', () => {
    const out = new FlowBatchBuilder(1)
    const good = encodeFlowJson(mixedFlows(), 0, 'n')
    const counts = decodeFlowRecords(Buffer.from(`${good}\n{"v":2}\nnot json\n{"v":1,"net":"n","ts":1,"te":1,"sa":"1.2.3","da":"1.2.3.4"}\n${good}`), out)
    expect(counts).toEqual({flows: 2, bad: 3})
    expect(decodeFlowRecords(Buffer.from([0x00, 0x01]), out).bad).toBe(1)
    expect(decodeFlowRecords(Buffer.from([0xf5, 0x01, 0x00, 0x05, 0x01, 0x41, 0x00]), out).bad).toBe(5)
  })

  it('counts records no store may hold as bad, in both formats (issue #20): damaged counts and times, control characters in the network', () => {
    const good = JSON.parse(encodeFlowJson(mixedFlows(), 0, 'n')) as Record<string, unknown>
    const lines = [
      {...good, pk: 16_602_433_577_848_307_712},
      {...good, ts: -9_214_646_400_000_000_000},
      {...good, te: (good.ts as number) - 1},
      {...good, by: 2 ** 60},
      {...good, sr: 2 ** 40},
      {...good, sp: 70_000},
      {...good, net: 'evil\u001b[31m'},
      good,
    ].map((o) => JSON.stringify(o))
    const out = new FlowBatchBuilder(1)
    expect(decodeFlowRecords(Buffer.from(lines.join('\n')), out)).toEqual({flows: 1, bad: 7})

    // binary: the same rows, encoded from a batch and then damaged in the row (ts_end before ts_start)
    const batch = mixedFlows()
    batch.tsEnd[1] = batch.tsStart[1]! - 1
    batch.packets[2] = 2 ** 60
    const [record] = encodeFlows(batch, [0, 1, 2], 'n', {format: 'binary'})
    const bin = new FlowBatchBuilder(1)
    expect(decodeFlowRecords(record!, bin)).toEqual({flows: 1, bad: 2})
    const [labelled] = encodeFlows(mixedFlows(), [0], 'bad\rlabel', {format: 'binary'})
    expect(decodeFlowRecords(labelled!, new FlowBatchBuilder(1))).toEqual({flows: 0, bad: 1})
  })
})
