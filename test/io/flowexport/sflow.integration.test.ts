/**
 * sFlow v5 from real agents (tcpdump, nDPI and akvorado test captures). Ground truth: the sample
 * counts tshark prints per datagram in ../shared/data/VERIFY (first 15 frames of each file), and the
 * sampling rates, sample pools and sampled IP lengths of a by-hand `tshark -T fields -e
 * sflow.flow_sample.sampling_rate -e sflow.flow_sample.sample_pool -e ip.len` over the same files.
 */
import {existsSync, readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {FlowExportDecoder, looksLikeFlowExport, sflowEffectiveRate, type FlowExportProtocol} from '../../../src/io/flowexport/index.js'
import {keep, type KeptRecord} from './nfdump-csv.js'
import {readUdpDatagrams} from './udp-payloads.js'

const DATA = '../shared/data'

interface PerDatagram {
  frame: number
  protocol: FlowExportProtocol | undefined
  samples: number
  malformed: number
}

function decodeCapture(path: string): {dec: FlowExportDecoder; recs: KeptRecord[]; frames: PerDatagram[]} {
  const dec = new FlowExportDecoder()
  const recs: KeptRecord[] = []
  const frames: PerDatagram[] = []
  for (const d of readUdpDatagrams(`${DATA}/${path}`)) {
    const before = dec.stats.flowSamples + dec.stats.counterSamples
    const r = dec.decodeDatagram(d.payload, d.src, d.tsMicros, (rec) => recs.push(keep(rec)))
    frames.push({frame: d.frame, protocol: r.protocol, samples: dec.stats.flowSamples + dec.stats.counterSamples - before, malformed: r.malformed})
  }
  return {dec, recs, frames}
}

/** frame → sample count from the VERIFY txt's `tshark -r FILE` listing ("…, 7 samples"). */
function tsharkSampleCounts(path: string): Map<number, number> {
  const txt = readFileSync(`${DATA}/VERIFY/${path.replace('/', '__')}.txt`, 'utf8')
  const listing = txt.slice(txt.indexOf('flow-export decode'))
  const out = new Map<number, number>()
  for (const m of listing.matchAll(/^\s*(\d+)\s.*\bsFlow\b.*?\b(\d+) samples/gm)) out.set(Number(m[1]), Number(m[2]))
  return out
}

describe.skipIf(!existsSync(`${DATA}/VERIFY`))('sFlow v5 captures', () => {
  it('sample counts per datagram equal tshark’s where it lists them', () => {
    for (const path of [
      'ndpi-flowexport/sflow.pcap',
      'tcpdump-tests/sflow_expanded.pcap',
      'tcpdump-tests/sflow-print-v6.pcap',
      'tcpdump-tests/sflow_multiple_counter_30_pdus.pcap',
      'akvorado-flowexport/data-1140.pcap',
      'akvorado-flowexport/data-encap-vxlan.pcap',
      'akvorado-flowexport/data-icmpv6.pcap',
      'akvorado-flowexport/data-multiple-interfaces.pcap',
      'akvorado-flowexport/data-sflow-ipv4-data.pcap',
    ]) {
      const expected = tsharkSampleCounts(path)
      expect(expected.size, path).toBeGreaterThan(0)
      const {frames} = decodeCapture(path)
      for (const [frame, samples] of expected) {
        expect(frames.find((f) => f.frame === frame), `${path} frame ${frame}`).toMatchObject({protocol: 'sflow5', samples, malformed: 0})
      }
    }
  })

  it('ndpi sflow.pcap: 8 counter samples and one flow sample (ICMP echo, 1 in 2048)', () => {
    const {dec, recs} = decodeCapture('ndpi-flowexport/sflow.pcap')
    expect(dec.stats).toMatchObject({flowSamples: 1, counterSamples: 8, malformed: 0})
    expect(recs).toEqual([
      expect.objectContaining({src: '172.21.32.254', dst: '172.21.32.241', proto: 1, dstPort: 0x0800, bytes: 60, samplingRate: 2048}),
    ])
    expect(recs[0]!.tsStart).toBe(Date.UTC(2013, 8, 2, 12, 38, 51) * 1000 + 793_780)
    expect([...dec.stats.sflowSources.values()]).toEqual([
      expect.objectContaining({agent: '172.21.35.17', subAgentId: 1, samples: 1, samplingRate: 2048, firstSamplePool: 12288}),
    ])
  })

  it('tcpdump sflow_expanded.pcap: expanded flow sample, 1 in 1000', () => {
    const {recs} = decodeCapture('tcpdump-tests/sflow_expanded.pcap')
    expect(recs).toEqual([
      expect.objectContaining({src: '52.52.52.52', dst: '53.53.53.53', srcPort: 22, dstPort: 52237, proto: 6, bytes: 104, samplingRate: 1000}),
    ])
  })

  it('tcpdump sflow-print-v6.pcap: IPv6 agent, 13 flow samples of 1 in 1, pool 3..15', () => {
    const {dec, recs} = decodeCapture('tcpdump-tests/sflow-print-v6.pcap')
    expect(dec.stats).toMatchObject({flowSamples: 13, counterSamples: 48, malformed: 0})
    expect(recs.map((r) => r.bytes)).toEqual([46, 232, 482, ...new Array<number>(10).fill(46)])
    const src = dec.stats.sflowSources.get('30::1:1:1/0/0:7001')!
    expect(src).toMatchObject({samples: 13, firstSamplePool: 3, lastSamplePool: 15, samplingRates: [1]})
    expect(sflowEffectiveRate(src)).toBe(1)
  })

  it('tcpdump sflow_multiple_counter_30_pdus.pcap: 144 counter samples; the port-6343 non-sFlow datagrams are NetFlow v5', () => {
    const {dec, recs, frames} = decodeCapture('tcpdump-tests/sflow_multiple_counter_30_pdus.pcap')
    expect(dec.stats).toMatchObject({counterSamples: 144, flowSamples: 0, malformed: 0})
    // tshark shows frames 13 and 19–22 as plain data on the sFlow port: by content they are v5
    expect(frames.filter((f) => f.protocol === 'netflow5').map((f) => f.frame)).toEqual([13, 19, 20, 21, 22])
    expect(recs).toHaveLength(7)
  })

  it('akvorado captures: rates, pools and IP lengths', () => {
    const c1140 = decodeCapture('akvorado-flowexport/data-1140.pcap')
    expect(c1140.recs.map((r) => [r.family, r.bytes, r.samplingRate])).toEqual([
      [6, 1500, 1024],
      [4, 421, 1024],
      [6, 1500, 1024],
      [4, 40, 1024],
      [6, 1500, 1024],
    ])
    const if28 = c1140.dec.stats.sflowSources.get('172.16.0.3/0/0:28')!
    expect(if28).toMatchObject({samples: 3, firstSamplePool: 1664271360, lastSamplePool: 1664273408})
    expect(sflowEffectiveRate(if28)).toBe(1024)
    const v4 = decodeCapture('akvorado-flowexport/data-sflow-ipv4-data.pcap').recs
    expect(v4).toEqual([expect.objectContaining({src: '50.50.50.50', dst: '51.51.51.51', proto: 17, bytes: 1344, samplingRate: 256})])
    const icmp6 = decodeCapture('akvorado-flowexport/data-icmpv6.pcap').recs
    expect(icmp6).toEqual([expect.objectContaining({family: 6, proto: 58, dstPort: 135 * 256, bytes: 72, samplingRate: 1})])
    // VXLAN: the outer packet is the flow, as for captured packets
    const vxlan = decodeCapture('akvorado-flowexport/data-encap-vxlan.pcap').recs
    expect(vxlan).toEqual([expect.objectContaining({src: '192.168.108.40', dstPort: 4789, bytes: 154})])
  })

  it('tcpdump sflow_print-segv.pcap: a UDP length of 16 leaves an 8-byte sFlow header, counted as malformed', () => {
    const {dec, frames} = decodeCapture('tcpdump-tests/sflow_print-segv.pcap')
    expect(frames).toEqual([{frame: 1, protocol: 'sflow5', samples: 0, malformed: 1}])
    expect(dec.stats.problems[0]).toMatchObject({exporter: '10.0.0.250', offset: 0})
  })
})

describe.skipIf(!existsSync(`${DATA}/ndpi-flowexport`))('NetFlow v9 without templates (nDPI netflowv9.pcap)', () => {
  it('holds every data set, then counts all of them undecodable; no records, no crash', () => {
    const dec = new FlowExportDecoder()
    let records = 0
    const datagrams = readUdpDatagrams(`${DATA}/ndpi-flowexport/netflowv9.pcap`)
    for (const d of datagrams) {
      expect(looksLikeFlowExport(d.payload)).toBe('netflow9')
      dec.decodeDatagram(d.payload, d.src, d.tsMicros, () => records++)
    }
    expect(dec.stats.heldSets).toBe(23)
    const stats = dec.finish()
    expect(records).toBe(0)
    expect(stats).toMatchObject({datagrams: 10, heldSets: 0, undecodableSets: 23, undecodableBytes: 13176, malformed: 0, templates: 0})
  })
})
