import {existsSync, readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {FlowExportDecoder, type FlowExportProblem} from '../../../src/io/flowexport/index.js'
import {createRng} from '../../../src/core/rng.js'
import {ByteWriter, concat, ipfixMessage, ipfixOptionsTemplateRecord, set, sflowDatagram, templateRecord, v9Packet, xdr} from './build.js'
import {readUdpDatagrams} from './udp-payloads.js'

const DATA = '../shared/data'
const LOGSTASH = `${DATA}/logstash-netflow-dat`
const EXPORTER = '198.51.100.7'
const T0 = 1_700_000_000

function decodeOne(payload: Uint8Array, dec = new FlowExportDecoder()): {problems: FlowExportProblem[]; records: number} {
  const before = dec.stats.problems.length
  const r = dec.decodeDatagram(payload, EXPORTER, 0, () => {})
  return {problems: dec.stats.problems.slice(before), records: r.records}
}

const V4: {id: number; len: number}[] = [
  {id: 8, len: 4},
  {id: 12, len: 4},
  {id: 2, len: 4},
  {id: 1, len: 4},
]
const v4rec = (): Uint8Array => new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2').u32(1).u32(60).build()

describe('malformed datagrams are counted with exporter and offset, never thrown', () => {
  it('truncated headers', () => {
    const dec = new FlowExportDecoder()
    expect(decodeOne(new Uint8Array([0, 9, 0, 1, 0, 0]), dec).problems).toEqual([
      {exporter: EXPORTER, offset: 0, detail: 'NetFlow v9 header truncated: 6 of 20 bytes'},
    ])
    expect(decodeOne(new Uint8Array([0, 10, 0, 16, 1, 2]), dec).problems[0]).toMatchObject({offset: 0})
    expect(decodeOne(new Uint8Array([0, 5, 0, 1]), dec).problems[0]!.detail).toMatch(/v5 header truncated/)
    expect(decodeOne(new Uint8Array([0, 0, 0, 5, 0, 0, 0, 1, 10]), dec).problems[0]!.detail).toMatch(/sFlow header truncated/)
    expect(dec.stats.malformed).toBe(4)
    expect(dec.stats.byProtocol).toEqual({netflow5: 1, netflow9: 1, ipfix: 1, sflow5: 1})
  })

  it('set length below 4 and set length past the end stop the datagram; the next datagram decodes', () => {
    const dec = new FlowExportDecoder()
    const tpl = set(2, templateRecord(256, V4))
    const short = concat(ipfixMessage(0, T0, [tpl]).slice(0, 16), new ByteWriter().u16(256).u16(2).zeros(8).build())
    const fixLen = (m: Uint8Array): Uint8Array => {
      m[2] = m.length >> 8
      m[3] = m.length & 0xff
      return m
    }
    expect(decodeOne(fixLen(short), dec).problems).toEqual([{exporter: EXPORTER, offset: 16, detail: 'set 256 has length 2 (< 4)'}])
    const past = ipfixMessage(0, T0, [tpl, set(256, v4rec())])
    past[past.length - 20 + 2] = 0x01 // data set length 0x01xx: past the end
    expect(decodeOne(past, dec).problems[0]).toMatchObject({offset: past.length - 20})
    expect(decodeOne(past, dec).problems[0]!.detail).toMatch(/runs past the end of the message/)
    expect(decodeOne(ipfixMessage(0, T0, [set(256, v4rec())]), dec).records).toBe(1)
  })

  it('IPFIX message length disagreeing with the datagram', () => {
    const msg = ipfixMessage(0, T0, [set(2, templateRecord(256, V4)), set(256, v4rec())])
    const truncated = msg.slice(0, msg.length - 6)
    const r = decodeOne(truncated)
    expect(r.problems.map((p) => p.offset)).toEqual([2, 16 + 4 + 4 + 16])
    expect(r.records).toBe(0)
    const tooShort = msg.slice()
    tooShort[3] = 12
    expect(decodeOne(tooShort).problems[0]!.detail).toMatch(/shorter than its header/)
  })

  it('template field counts that overflow the set, reserved ids and empty records', () => {
    const overflow = new ByteWriter().u16(256).u16(40).u16(8).u16(4).build()
    expect(decodeOne(ipfixMessage(0, T0, [set(2, overflow)])).problems[0]).toEqual({
      exporter: EXPORTER,
      offset: 20,
      detail: 'template 256: 40 fields overflow the set',
    })
    expect(decodeOne(ipfixMessage(0, T0, [set(2, templateRecord(17, V4))])).problems[0]!.detail).toMatch(/reserved/)
    const empty = templateRecord(256, [
      {id: 8, len: 0},
      {id: 12, len: 0},
    ])
    expect(decodeOne(ipfixMessage(0, T0, [set(2, empty)])).problems[0]!.detail).toMatch(/empty record/)
    expect(decodeOne(v9Packet(0, T0, 0, [set(0, new ByteWriter().u16(256).u16(0).build())])).problems[0]!.detail).toMatch(
      /no fields/,
    )
    const badScope = new ByteWriter().u16(300).u16(2).u16(5).u16(149).u16(4).u16(34).u16(4).build()
    expect(decodeOne(ipfixMessage(0, T0, [set(3, badScope)])).problems[0]!.detail).toMatch(/scope field count 5 of 2/)
  })

  it('zero-length fields take no bytes and do not stop decoding', () => {
    const fields = [...V4, {id: 0, len: 0}, {id: 95, len: 0}]
    const dec = new FlowExportDecoder()
    const r = decodeOne(ipfixMessage(0, T0, [set(2, templateRecord(256, fields)), set(256, concat(v4rec(), v4rec()))]), dec)
    expect(r).toEqual({problems: [], records: 2})
  })

  it('a variable-length field running past its set', () => {
    const tpl = templateRecord(256, [...V4, {id: 82, len: 0xffff}])
    const rec = concat(v4rec(), new Uint8Array([255, 0x10, 0]))
    const r = decodeOne(ipfixMessage(0, T0, [set(2, tpl), set(256, rec)]))
    expect(r.records).toBe(0)
    expect(r.problems[0]!.detail).toMatch(/field of 4096 bytes runs past the end of set at \d+/)
  })

  it('sFlow sample and record lengths past their container', () => {
    const sample = xdr(1, new ByteWriter().u32(1).u32(7).u32(256).u32(1000).u32(0).u32(1).u32(2).u32(0).build())
    const bad = sflowDatagram('192.0.2.9', 0, 1, [sample])
    bad[bad.length - 4] = 0xff // num_records → huge, no record present
    const r = decodeOne(bad)
    expect(r.problems[0]!.detail).toMatch(/announces 4278190080 records, holds 0/)
    const longSample = sflowDatagram('192.0.2.9', 0, 1, [sample])
    longSample[28 + 4] = 0x7f // sample length
    expect(decodeOne(longSample).problems[0]).toMatchObject({offset: 28})
    const moreSamples = sflowDatagram('192.0.2.9', 0, 1, [sample])
    moreSamples[27] = 3
    expect(decodeOne(moreSamples).problems[0]!.detail).toMatch(/announces 3 samples, holds 1/)
  })

  it('options templates with an odd v9 scope length', () => {
    const opt = new ByteWriter().u16(300).u16(6).u16(4).u16(1).u16(4).u16(34).u16(4).build()
    expect(decodeOne(v9Packet(0, T0, 0, [set(1, opt, 2)])).problems[0]!.detail).toMatch(/not multiples of 4/)
    const ok = decodeOne(ipfixMessage(0, T0, [set(3, ipfixOptionsTemplateRecord(300, [{id: 149, len: 4}], [{id: 34, len: 4}]))]))
    expect(ok.problems).toEqual([])
  })
})

describe.skipIf(!existsSync(LOGSTASH))('logstash invalid datagrams', () => {
  const dat = (name: string): Uint8Array => new Uint8Array(readFileSync(`${LOGSTASH}/${name}`))

  it('netflow5_test_invalid01/02: record counts beyond 30 are rejected whole (as nfcapd does)', () => {
    const dec = new FlowExportDecoder()
    const r1 = dec.decodeDatagram(dat('netflow5_test_invalid01.dat'), EXPORTER, 0, () => {})
    const r2 = dec.decodeDatagram(dat('netflow5_test_invalid02.dat'), EXPORTER, 0, () => {})
    expect([r1, r2]).toEqual([
      {protocol: 'netflow5', records: 0, malformed: 1, heldSets: 0, invalidRecords: 0},
      {protocol: 'netflow5', records: 0, malformed: 1, heldSets: 0, invalidRecords: 0},
    ])
    expect(dec.stats.problems).toEqual([
      {exporter: EXPORTER, offset: 2, detail: 'NetFlow v5 record count 55582 outside 1..30'},
      {exporter: EXPORTER, offset: 2, detail: 'NetFlow v5 record count 163 outside 1..30'},
    ])
  })

  it('netflow9_test_invalid01: only its header count is wrong (2 for 5 flowsets); the sets decode', () => {
    const dec = new FlowExportDecoder()
    const rates: number[] = []
    const r = dec.decodeDatagram(dat('netflow9_test_invalid01.dat'), EXPORTER, 0, (rec) => rates.push(rec.samplingRate ?? 1))
    expect(r).toEqual({protocol: 'netflow9', records: 2, malformed: 0, heldSets: 0, invalidRecords: 0})
    // its options record announces SAMPLING_INTERVAL 100
    expect(rates).toEqual([100, 100])
  })
})

describe.skipIf(!existsSync(DATA))('fuzz: truncated and bit-flipped real datagrams', () => {
  it('1,000 seeded variants decode without throwing', () => {
    const sources = [
      'akvorado-flowexport/template.pcap',
      'akvorado-flowexport/data.pcap',
      'akvorado-flowexport/nfv5.pcap',
      'akvorado-flowexport/ipfixprobe-templates.pcap',
      'akvorado-flowexport/ipfixprobe-data.pcap',
      'akvorado-flowexport/data-1140.pcap',
      'akvorado-flowexport/physicalinterfaces.pcap',
      'pmacct-flowexport/102-traffic-00.pcap',
      'pmacct-flowexport/112-traffic-00.pcap',
      'tcpdump-tests/sflow-print-v6.pcap',
      'tcpdump-tests/sflow_expanded.pcap',
      'logstash-netflow-dat/DERIVED_all-vendors.pcap',
    ]
    const corpus = sources.flatMap((f) => readUdpDatagrams(`${DATA}/${f}`).map((d) => d.payload))
    expect(corpus.length).toBeGreaterThan(100)
    const rng = createRng(20240601)
    const dec = new FlowExportDecoder({maxProblems: 1_000_000, maxHeldSetsPerExporter: 50})
    let records = 0
    for (let i = 0; i < 1000; i++) {
      const original = corpus[rng.int(corpus.length)]!
      let v = original.slice()
      const kind = rng.int(3)
      if (kind === 0) {
        v = v.slice(0, rng.int(v.length + 1))
      } else if (kind === 1) {
        const flips = 1 + rng.int(16)
        for (let f = 0; f < flips && v.length > 0; f++) v[rng.int(v.length)]! ^= 1 << rng.int(8)
      } else if (v.length >= 2) {
        // overwrite a 16-bit word: hits set lengths, field counts and field lengths
        const at = rng.int(v.length - 1)
        const word = [0, 1, 3, 4, 0xffff, 0x8000, rng.int(65536)][rng.int(7)]!
        v[at] = word >> 8
        v[at + 1] = word & 0xff
      }
      const exporter = `10.9.${rng.int(4)}.1`
      // keep templates flowing so mutated data sets meet real templates
      dec.decodeDatagram(original, exporter, i, () => records++)
      expect(() =>
        dec.decodeDatagram(v, exporter, i, (r) => {
          records++
          expect(r.family === 4 || r.family === 6).toBe(true)
        }),
      ).not.toThrow()
    }
    dec.finish()
    expect(dec.stats.problems.filter((p) => p.detail.startsWith('decoder error'))).toEqual([])
    expect(dec.stats.malformed).toBeGreaterThan(50)
    expect(records).toBeGreaterThan(1000)
  })
})
