import {describe, expect, it} from 'vitest'
import {FlowExportDecoder} from '../../../src/io/flowexport/index.js'
import {
  ByteWriter,
  concat,
  ipfixMessage,
  ipfixOptionsTemplateRecord,
  set,
  templateRecord,
  v9OptionsTemplateRecord,
  v9Packet,
  type FieldSpec,
} from './build.js'
import {keep, type KeptRecord} from './nfdump-csv.js'

const EXPORTER = '192.0.2.1'
const T0 = 1_700_000_000 // export time, seconds

function decodeAll(payloads: Uint8Array[], dec = new FlowExportDecoder()): {dec: FlowExportDecoder; recs: KeptRecord[]} {
  const recs: KeptRecord[] = []
  for (const p of payloads) dec.decodeDatagram(p, EXPORTER, 42e6, (r) => recs.push(keep(r)))
  return {dec, recs}
}

const V4_FIELDS: FieldSpec[] = [
  {id: 8, len: 4},
  {id: 12, len: 4},
  {id: 7, len: 2},
  {id: 11, len: 2},
  {id: 4, len: 1},
  {id: 6, len: 1},
  {id: 2, len: 4},
  {id: 1, len: 4},
]

function v4Record(src: string, dst: string, sport: number, dport: number, proto: number, pkts: number, bytes: number): Uint8Array {
  return new ByteWriter().ipv4(src).ipv4(dst).u16(sport).u16(dport).u8(proto).u8(0x12).u32(pkts).u32(bytes).build()
}

describe('IPFIX templates', () => {
  it('decodes data through a template and reports the exporter on each record', () => {
    const msg = ipfixMessage(7, T0, [
      set(2, templateRecord(256, V4_FIELDS)),
      set(256, concat(v4Record('10.0.0.1', '10.0.0.2', 1234, 80, 6, 3, 180), v4Record('10.0.0.2', '10.0.0.1', 80, 1234, 6, 2, 120))),
    ])
    const {dec, recs} = decodeAll([msg])
    expect(recs).toHaveLength(2)
    expect(recs[0]).toMatchObject({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1234, dstPort: 80, proto: 6, tcpFlags: 0x12})
    expect(recs[0]).toMatchObject({packets: 3, bytes: 180, samplingRate: 1, exporter: EXPORTER, family: 4})
    // no time fields: the export time stands in
    expect(recs[0]!.tsStart).toBe(T0 * 1e6)
    expect(dec.stats.templates).toBe(1)
    expect(dec.stats.records).toBe(2)
  })

  it('keeps templates per observation domain and per exporter', () => {
    const tpl = set(2, templateRecord(256, V4_FIELDS))
    const data = set(256, v4Record('10.0.0.1', '10.0.0.2', 1, 2, 17, 1, 60))
    const dec = new FlowExportDecoder()
    const recs: KeptRecord[] = []
    dec.decodeDatagram(ipfixMessage(1, T0, [tpl]), EXPORTER, 0, (r) => recs.push(keep(r)))
    dec.decodeDatagram(ipfixMessage(2, T0, [data]), EXPORTER, 0, (r) => recs.push(keep(r))) // other domain
    dec.decodeDatagram(ipfixMessage(1, T0, [data]), '192.0.2.99', 0, (r) => recs.push(keep(r))) // other exporter
    expect(recs).toHaveLength(0)
    dec.decodeDatagram(ipfixMessage(1, T0, [data]), EXPORTER, 0, (r) => recs.push(keep(r)))
    expect(recs).toHaveLength(1)
    expect(dec.finish().undecodableSets).toBe(2)
  })

  it('withdraws a template (field count 0) and all templates (template id 2)', () => {
    const data = set(256, v4Record('10.0.0.1', '10.0.0.2', 1, 2, 17, 1, 60))
    const data257 = set(257, v4Record('10.0.0.3', '10.0.0.4', 1, 2, 17, 1, 60))
    const withdraw256 = set(2, new ByteWriter().u16(256).u16(0).build())
    const withdrawAll = set(2, new ByteWriter().u16(2).u16(0).build())
    const {dec, recs} = decodeAll([
      ipfixMessage(0, T0, [set(2, concat(templateRecord(256, V4_FIELDS), templateRecord(257, V4_FIELDS)))]),
      ipfixMessage(0, T0, [data, data257]),
      ipfixMessage(0, T0, [withdraw256, data, data257]),
      ipfixMessage(0, T0, [withdrawAll, data257]),
    ])
    expect(recs.map((r) => r.src)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.3'])
    expect(dec.stats.templateWithdrawals).toBe(2)
    expect(dec.finish().undecodableSets).toBe(2)
  })

  it('follows a template refresh that changes the layout', () => {
    const reordered: FieldSpec[] = [{id: 12, len: 4}, {id: 8, len: 4}, ...V4_FIELDS.slice(2)]
    const rec = v4Record('10.0.0.1', '10.0.0.2', 1, 2, 17, 1, 60)
    const {recs} = decodeAll([
      ipfixMessage(0, T0, [set(2, templateRecord(300, V4_FIELDS)), set(300, rec)]),
      ipfixMessage(0, T0, [set(2, templateRecord(300, reordered)), set(300, rec)]),
    ])
    expect(recs.map((r) => `${r.src}>${r.dst}`)).toEqual(['10.0.0.1>10.0.0.2', '10.0.0.2>10.0.0.1'])
  })

  it('holds data that arrives before its template and decodes it when the template comes', () => {
    const data = set(256, v4Record('10.0.0.1', '10.0.0.2', 1, 2, 17, 5, 500))
    const dec = new FlowExportDecoder()
    const recs: KeptRecord[] = []
    const r1 = dec.decodeDatagram(ipfixMessage(0, T0, [data]), EXPORTER, 0, (r) => recs.push(keep(r)))
    expect(r1).toMatchObject({protocol: 'ipfix', records: 0, heldSets: 1})
    expect(dec.stats.heldSets).toBe(1)
    const r2 = dec.decodeDatagram(ipfixMessage(0, T0 + 5, [set(2, templateRecord(256, V4_FIELDS))]), EXPORTER, 0, (r) =>
      recs.push(keep(r)),
    )
    expect(r2.records).toBe(1)
    expect(recs[0]).toMatchObject({src: '10.0.0.1', packets: 5, bytes: 500})
    // held data keeps the time of its own message
    expect(recs[0]!.tsStart).toBe(T0 * 1e6)
    expect(dec.finish()).toMatchObject({heldSets: 0, undecodableSets: 0})
  })

  it('bounds the held queue per exporter and counts what falls out as undecodable', () => {
    const dec = new FlowExportDecoder({maxHeldSetsPerExporter: 3})
    for (let i = 0; i < 5; i++) {
      dec.decodeDatagram(ipfixMessage(0, T0, [set(400 + i, new Uint8Array(8))]), EXPORTER, 0, () => {})
    }
    expect(dec.stats).toMatchObject({heldSets: 3, undecodableSets: 2, undecodableBytes: 16})
    expect(dec.finish()).toMatchObject({heldSets: 0, undecodableSets: 5, undecodableBytes: 40})
    const none = new FlowExportDecoder({maxHeldSetsPerExporter: 0})
    none.decodeDatagram(ipfixMessage(0, T0, [set(400, new Uint8Array(8))]), EXPORTER, 0, () => {})
    expect(none.stats).toMatchObject({heldSets: 0, undecodableSets: 1})
  })

  it('reads variable-length fields with 1- and 3-byte length prefixes and skips enterprise fields', () => {
    const fields: FieldSpec[] = [
      {id: 8, len: 4},
      {id: 82, len: 0xffff}, // interfaceName, variable
      {id: 12, len: 4},
      {id: 1, len: 4, enterprise: 29305}, // reverse octetDeltaCount: must not count as bytes
      {id: 100, len: 0xffff, enterprise: 9}, // vendor string, variable
      {id: 2, len: 4},
      {id: 1, len: 4},
    ]
    const long = new Uint8Array(300).fill(65)
    const rec1 = new ByteWriter().ipv4('10.1.1.1').u8(3).bytes([101, 116, 104]).ipv4('10.1.1.2').u32(999).u8(0).u32(4).u32(400)
    const rec2 = new ByteWriter().ipv4('10.1.1.3').u8(255).u16(300).bytes(long).ipv4('10.1.1.4').u32(999).u8(255).u16(2).u16(7)
    rec2.u32(6).u32(600)
    const {dec, recs} = decodeAll([
      ipfixMessage(0, T0, [set(2, templateRecord(256, fields)), set(256, concat(rec1.build(), rec2.build()))]),
    ])
    expect(dec.stats.malformed).toBe(0)
    expect(recs.map((r) => [r.src, r.dst, r.packets, r.bytes])).toEqual([
      ['10.1.1.1', '10.1.1.2', 4, 400],
      ['10.1.1.3', '10.1.1.4', 6, 600],
    ])
  })

  it('accepts reduced-size encoding of unsigned integers (any length 1–8)', () => {
    const fields: FieldSpec[] = [
      {id: 8, len: 4},
      {id: 12, len: 4},
      {id: 2, len: 2},
      {id: 1, len: 3},
      {id: 7, len: 1},
      {id: 11, len: 8},
      {id: 4, len: 2},
    ]
    const rec = new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2').uint(513, 2).uint(70_000, 3).uint(9, 1).uint(443, 8)
    rec.uint(6, 2)
    const {recs} = decodeAll([ipfixMessage(0, T0, [set(2, templateRecord(256, fields)), set(256, rec.build())])])
    expect(recs[0]).toMatchObject({packets: 513, bytes: 70_000, srcPort: 9, dstPort: 443, proto: 6})
  })

  it('reads 8-byte counters and IPv6 addresses', () => {
    const fields: FieldSpec[] = [
      {id: 27, len: 16},
      {id: 28, len: 16},
      {id: 86, len: 8},
      {id: 85, len: 8},
      {id: 4, len: 1},
    ]
    const rec = new ByteWriter().ipv6('2001:db8::1').ipv6('2001:db8:0:0:0:0:0:2').u64(2 ** 40).u64(3 * 2 ** 40).u8(17)
    const {recs} = decodeAll([ipfixMessage(0, T0, [set(2, templateRecord(256, fields)), set(256, rec.build())])])
    expect(recs[0]).toMatchObject({family: 6, src: '2001:db8::1', dst: '2001:db8::2', packets: 2 ** 40, bytes: 3 * 2 ** 40})
  })

  it('prefers the IPv6 fields when a dual template carries zero IPv4 addresses', () => {
    const fields: FieldSpec[] = [
      {id: 8, len: 4},
      {id: 12, len: 4},
      {id: 27, len: 16},
      {id: 28, len: 16},
      {id: 2, len: 4},
    ]
    const v6 = new ByteWriter().u32(0).u32(0).ipv6('2001:db8::16').ipv6('2001:db8::12').u32(1)
    const v4 = new ByteWriter().ipv4('192.0.2.11').ipv4('192.0.2.12').zeros(32).u32(1)
    const {recs} = decodeAll([ipfixMessage(0, T0, [set(2, templateRecord(256, fields)), set(256, concat(v6.build(), v4.build()))])])
    expect(recs.map((r) => `${r.family} ${r.src}`)).toEqual(['6 2001:db8::16', '4 192.0.2.11'])
  })

  it('does not emit records without addresses (not flows)', () => {
    const fields: FieldSpec[] = [
      {id: 10, len: 4},
      {id: 2, len: 4},
      {id: 1, len: 4},
    ]
    const {dec, recs} = decodeAll([ipfixMessage(0, T0, [set(2, templateRecord(256, fields)), set(256, new Uint8Array(12))])])
    expect(recs).toHaveLength(0)
    expect(dec.stats.nonFlowRecords).toBe(1)
  })

  it('puts ICMP type and code in the destination port (type * 256 + code)', () => {
    const withTypeCode: FieldSpec[] = [...V4_FIELDS, {id: 32, len: 2}]
    const withSplit: FieldSpec[] = [...V4_FIELDS, {id: 176, len: 1}, {id: 177, len: 1}]
    const icmp = v4Record('10.0.0.1', '10.0.0.2', 17549, 0, 1, 1, 84)
    const {recs} = decodeAll([
      ipfixMessage(0, T0, [
        set(2, concat(templateRecord(256, withTypeCode), templateRecord(257, withSplit))),
        set(256, concat(icmp, new Uint8Array([8, 0]))),
        set(257, concat(icmp, new Uint8Array([3, 1]))),
        // no ICMP element: L4_DST_PORT already carries type * 256 + code by convention
        set(257, concat(v4Record('10.0.0.1', '10.0.0.2', 0, 0x0b00, 1, 1, 84), new Uint8Array([0, 0]))),
      ]),
    ])
    expect(recs.map((r) => [r.srcPort, r.dstPort])).toEqual([
      [0, 0x0800],
      [0, 0x0301],
      [0, 0],
    ])
  })
})

describe('times', () => {
  const addr: FieldSpec[] = [
    {id: 8, len: 4},
    {id: 12, len: 4},
  ]
  const a = (): ByteWriter => new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2')

  it('reads absolute seconds, milliseconds, NTP microseconds and nanoseconds', () => {
    const NTP = 2_208_988_800
    const msg = ipfixMessage(0, T0, [
      set(2, concat(
        templateRecord(256, [...addr, {id: 150, len: 4}, {id: 151, len: 4}]),
        templateRecord(257, [...addr, {id: 152, len: 8}, {id: 153, len: 8}]),
        templateRecord(258, [...addr, {id: 154, len: 8}, {id: 155, len: 8}]),
        templateRecord(259, [...addr, {id: 156, len: 8}, {id: 157, len: 8}]),
      )),
      set(256, a().u32(T0 - 10).u32(T0 - 5).build()),
      set(257, a().u64((T0 - 10) * 1000 + 250).u64((T0 - 5) * 1000 + 750).build()),
      // fraction 2^31 = half a second
      set(258, a().u32(T0 - 10 + NTP).u32(2 ** 31).u32(T0 - 5 + NTP).u32(0).build()),
      set(259, a().u32(T0 - 10 + NTP).u32(2 ** 30).u32(T0 - 5 + NTP).u32(0).build()),
    ])
    const {recs} = decodeAll([msg])
    expect(recs.map((r) => [r.tsStart / 1e3, r.tsEnd / 1e3])).toEqual([
      [(T0 - 10) * 1000, (T0 - 5) * 1000],
      [(T0 - 10) * 1000 + 250, (T0 - 5) * 1000 + 750],
      [(T0 - 10) * 1000 + 500, (T0 - 5) * 1000],
      [(T0 - 10) * 1000 + 250, (T0 - 5) * 1000],
    ])
  })

  it('counts records whose times or counts no store may hold, and hands none of them on (issue #20)', () => {
    // milliseconds 2^63 - 1 used to become µs beyond int64 (exit 1 from the sources insert); an end before
    // the start; a packet count of 2^60 from a damaged length word
    const msg = ipfixMessage(0, T0, [
      set(2, concat(
        templateRecord(257, [...addr, {id: 152, len: 8}, {id: 153, len: 8}]),
        templateRecord(260, [...addr, {id: 150, len: 4}, {id: 151, len: 4}, {id: 2, len: 8}]),
      )),
      set(257, concat(a().u64(2 ** 63 - 1).u64(2 ** 63 - 1).build(), a().u64(T0 * 1000).u64((T0 - 60) * 1000).build(), a().u64(T0 * 1000).u64(T0 * 1000 + 5).build())),
      set(260, concat(a().u32(T0).u32(T0).u64(2 ** 60).build(), a().u32(T0).u32(T0).u64(7).build())),
    ])
    const dec = new FlowExportDecoder()
    const recs: KeptRecord[] = []
    const r = dec.decodeDatagram(msg, EXPORTER, 42e6, (rec) => recs.push(keep(rec)))
    expect([r.records, r.invalidRecords]).toEqual([2, 3])
    expect(r.invalidDetail).toMatch(/outside 1970-01-01/)
    expect(recs.map((x) => [x.tsStart, x.tsEnd])).toEqual([[T0 * 1e6, T0 * 1e6 + 5000], [T0 * 1e6, T0 * 1e6]])
    expect(recs[1]!.packets).toBe(7)
    expect(dec.stats.invalidRecords).toBe(3)
    expect(dec.stats.problems.map((p) => p.detail)).toEqual([
      expect.stringMatching(/^flow record out of range: flow start .* outside 1970-01-01 \.\. 2200-01-01$/),
      expect.stringMatching(/^flow record out of range: flow end .* is before its start/),
      expect.stringMatching(/^flow record out of range: packet count .* outside 0 \.\. 2\^48$/),
    ])
  })

  it('turns v9 sysUptime-relative FIRST/LAST_SWITCHED into absolute times with the header', () => {
    const up = 1_000_000
    const pkt = v9Packet(0, T0, up, [
      set(0, templateRecord(256, [...addr, {id: 22, len: 4}, {id: 21, len: 4}], false)),
      // first 10 s before export, last 2 s before; then a record whose uptime wrapped past 2^32
      set(256, concat(a().u32(up - 10_000).u32(up - 2_000).build(), a().u32(2 ** 32 - 500).u32(200).build())),
    ])
    const dec = new FlowExportDecoder()
    const recs: KeptRecord[] = []
    dec.decodeDatagram(pkt, EXPORTER, 0, (r) => recs.push(keep(r)))
    expect(recs[0]).toMatchObject({tsStart: (T0 - 10) * 1e6, tsEnd: (T0 - 2) * 1e6})
    const wrapped = v9Packet(0, T0, 1_000, [set(256, a().u32(2 ** 32 - 500).u32(200).build())])
    dec.decodeDatagram(wrapped, EXPORTER, 0, (r) => recs.push(keep(r)))
    expect(recs[2]).toMatchObject({tsStart: T0 * 1e6 - 1_500_000, tsEnd: T0 * 1e6 - 800_000})
  })

  it('uses systemInitTimeMilliseconds (160) from an options record for IPFIX uptime times', () => {
    const boot = (T0 - 3600) * 1000
    const msg = ipfixMessage(0, T0, [
      set(3, ipfixOptionsTemplateRecord(500, [{id: 149, len: 4}], [{id: 160, len: 8}])),
      set(500, new ByteWriter().u32(0).u64(boot).build()),
      set(2, templateRecord(256, [...addr, {id: 22, len: 4}, {id: 21, len: 4}])),
      set(256, a().u32(1_000).u32(4_000).build()),
    ])
    const {dec, recs} = decodeAll([msg])
    expect(dec.stats.optionsRecords).toBe(1)
    expect(recs[0]).toMatchObject({tsStart: (boot + 1_000) * 1000, tsEnd: (boot + 4_000) * 1000})
  })

  it('reads flowStart/EndDeltaMicroseconds (158/159) against the export time', () => {
    const msg = ipfixMessage(0, T0, [
      set(2, templateRecord(256, [...addr, {id: 158, len: 4}, {id: 159, len: 4}])),
      set(256, a().u32(5_000_000).u32(1_000_000).build()),
    ])
    const {recs} = decodeAll([msg])
    expect(recs[0]).toMatchObject({tsStart: T0 * 1e6 - 5e6, tsEnd: T0 * 1e6 - 1e6})
  })
})

describe('sampling', () => {
  const addr: FieldSpec[] = [
    {id: 8, len: 4},
    {id: 12, len: 4},
  ]
  const a = (): ByteWriter => new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2')

  it('maps FLOW_SAMPLER_ID in v9 data to the interval of that sampler (options 48/49/50)', () => {
    const pkt = v9Packet(3, T0, 1000, [
      set(1, v9OptionsTemplateRecord(300, [{id: 1, len: 4}], [{id: 48, len: 1}, {id: 49, len: 1}, {id: 50, len: 4}]), 2),
      set(300, concat(new ByteWriter().u32(0).u8(1).u8(2).u32(512).build(), new ByteWriter().u32(0).u8(2).u8(2).u32(64).build()), 2),
      set(0, templateRecord(256, [...addr, {id: 48, len: 1}], false)),
      set(256, concat(a().u8(1).build(), a().u8(2).build(), a().u8(9).build())),
    ])
    const {recs} = decodeAll([pkt])
    expect(recs.map((r) => r.samplingRate)).toEqual([512, 64, 1])
  })

  it('applies an exporter-wide SAMPLING_INTERVAL (34) from a v9 options record', () => {
    const pkt = v9Packet(0, T0, 1000, [
      set(1, v9OptionsTemplateRecord(300, [{id: 1, len: 4}], [{id: 34, len: 4}, {id: 35, len: 1}]), 2),
      set(300, new ByteWriter().u32(0).u32(100).u8(1).build(), 3),
      set(0, templateRecord(256, addr, false)),
      set(256, a().build()),
    ])
    const {recs} = decodeAll([pkt])
    expect(recs[0]!.samplingRate).toBe(100)
  })

  it('derives IPFIX rates from samplingPacketInterval/Space (305/306) and samplingSize/Population (309/310)', () => {
    const msg = ipfixMessage(0, T0, [
      set(3, concat(
        ipfixOptionsTemplateRecord(500, [{id: 302, len: 4}], [{id: 305, len: 4}, {id: 306, len: 4}]),
        ipfixOptionsTemplateRecord(501, [{id: 302, len: 4}], [{id: 309, len: 4}, {id: 310, len: 4}]),
      )),
      set(500, new ByteWriter().u32(7).u32(1).u32(999).build()),
      set(501, new ByteWriter().u32(8).u32(1).u32(4096).build()),
      set(2, concat(templateRecord(256, [...addr, {id: 302, len: 4}]), templateRecord(257, [...addr, {id: 305, len: 4}, {id: 306, len: 4}]))),
      set(256, concat(a().u32(7).build(), a().u32(8).build())),
      // a record carrying its own rate: take 2, skip 3 → 1 in 2.5, rounded
      set(257, a().u32(2).u32(3).build()),
    ])
    const {recs} = decodeAll([msg])
    expect(recs.map((r) => r.samplingRate)).toEqual([1000, 4096, 3])
  })
})
