import {describe, expect, it} from 'vitest'
import {FlowExportDecoder, sflowEffectiveRate} from '../../../src/io/flowexport/index.js'
import {ByteWriter, ethIpv4Tcp, flowSample, rawHeader, sampledIpv4, sampledIpv6, sflowDatagram, xdr} from './build.js'
import {keep, type KeptRecord} from './nfdump-csv.js'

const EXPORTER = '192.0.2.50'
const RECEIVED = 1_700_000_123_456_789

function decode(payloads: Uint8Array[]): {dec: FlowExportDecoder; recs: KeptRecord[]} {
  const dec = new FlowExportDecoder()
  const recs: KeptRecord[] = []
  for (const p of payloads) dec.decodeDatagram(p, EXPORTER, RECEIVED, (r) => recs.push(keep(r)))
  return {dec, recs}
}

describe('sFlow v5', () => {
  it('turns each flow sample into one record: packets 1, IP bytes, the sample rate, receive time', () => {
    const d = sflowDatagram('192.0.2.1', 3, 77, [
      flowSample({
        sequence: 1,
        sourceIndex: 5,
        samplingRate: 512,
        samplePool: 5120,
        records: [sampledIpv4(1500, 6, '10.0.0.1', '10.0.0.2', 443, 51000, 0x10)],
      }),
      flowSample({
        sequence: 2,
        sourceIndex: 5,
        samplingRate: 512,
        samplePool: 5632,
        records: [sampledIpv6(1280, 17, '2001:db8::1', '2001:db8::2', 53, 40000)],
      }),
      flowSample({
        sequence: 3,
        sourceIndex: 5,
        samplingRate: 512,
        samplePool: 6144,
        // host-sflow reports ICMP type in src_port and code in dst_port
        records: [sampledIpv4(84, 1, '10.0.0.3', '10.0.0.4', 3, 1)],
      }),
    ])
    const {dec, recs} = decode([d])
    expect(recs).toEqual([
      {
        tsStart: RECEIVED,
        tsEnd: RECEIVED,
        family: 4,
        src: '10.0.0.1',
        dst: '10.0.0.2',
        srcPort: 443,
        dstPort: 51000,
        proto: 6,
        tcpFlags: 0x10,
        packets: 1,
        bytes: 1500,
        samplingRate: 512,
        exporter: EXPORTER,
      },
      expect.objectContaining({family: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: 17, bytes: 1280}),
      expect.objectContaining({proto: 1, srcPort: 0, dstPort: 0x0301, bytes: 84}),
    ])
    expect(dec.stats).toMatchObject({flowSamples: 3, counterSamples: 0, records: 3, malformed: 0})
    const src = dec.stats.sflowSources.get('192.0.2.1/3/0:5')
    expect(src).toMatchObject({samples: 3, samplingRate: 512, firstSamplePool: 5120, lastSamplePool: 6144})
    expect(sflowEffectiveRate(src!)).toBe(512)
  })

  it('prefers the raw packet header, decoded like a captured packet, over a sampled-IPv4 record', () => {
    const header = ethIpv4Tcp('172.16.0.1', '172.16.0.2', 22, 60000, 1400)
    const d = sflowDatagram('192.0.2.1', 0, 1, [
      flowSample({
        sequence: 9,
        sourceIndex: 2,
        samplingRate: 1000,
        samplePool: 9000,
        expanded: true,
        records: [sampledIpv4(99, 17, '1.1.1.1', '2.2.2.2', 1, 2), rawHeader(1, 1418, 4, header)],
      }),
    ])
    const {recs} = decode([d])
    // the IP length comes from the sampled IP header, not from the 54 captured bytes
    expect(recs).toEqual([
      expect.objectContaining({src: '172.16.0.1', dst: '172.16.0.2', srcPort: 22, dstPort: 60000, tcpFlags: 0x18, bytes: 1400}),
    ])
  })

  it('falls back to frame_length − stripped − Ethernet header when the IP header gives no length', () => {
    const tso = ethIpv4Tcp('172.16.0.1', '172.16.0.2', 22, 60000, 0)
    const {recs} = decode([
      sflowDatagram('192.0.2.1', 0, 1, [
        flowSample({sequence: 1, sourceIndex: 2, samplingRate: 10, samplePool: 10, records: [rawHeader(1, 9018, 4, tso)]}),
      ]),
    ])
    expect(recs[0]!.bytes).toBe(9018 - 4 - 14)
  })

  it('counts samples without an IP packet, counter samples and enterprise samples apart', () => {
    const arp = new ByteWriter().zeros(12).u16(0x0806).zeros(28).build()
    const cut = ethIpv4Tcp('172.16.0.1', '172.16.0.2', 22, 60000, 1400).slice(0, 20) // IP header cut
    const d = sflowDatagram('192.0.2.1', 0, 1, [
      flowSample({sequence: 1, sourceIndex: 2, samplingRate: 10, samplePool: 10, records: [rawHeader(1, 64, 4, arp)]}),
      flowSample({sequence: 2, sourceIndex: 2, samplingRate: 10, samplePool: 20, records: [rawHeader(1, 1418, 4, cut)]}),
      xdr(2, new Uint8Array(16)),
      xdr(4, new Uint8Array(24)),
      xdr(1, new Uint8Array(40), 4413), // a vendor's own sample format: skipped
    ])
    const {dec, recs} = decode([d])
    expect(recs).toEqual([])
    expect(dec.stats).toMatchObject({flowSamples: 2, flowSamplesWithoutIp: 2, counterSamples: 2, malformed: 0})
  })

  it('derives the effective rate from sample-pool growth over sequence growth', () => {
    // the agent announces 1 in 256 but samples at 1 in 512 (e.g. rate changed, or samples lost in
    // transit do not matter: sequence numbers tell how many were taken)
    const sample = (sequence: number, pool: number): Uint8Array =>
      flowSample({sequence, sourceIndex: 7, samplingRate: 256, samplePool: pool, records: []})
    const {dec} = decode([
      sflowDatagram('192.0.2.1', 0, 1, [sample(4_294_967_290, 4_294_967_000)]),
      sflowDatagram('192.0.2.1', 0, 3, [sample(4, 4_294_967_000 + 10 * 512)]), // both counters wrapped
    ])
    const s = dec.stats.sflowSources.get('192.0.2.1/0/0:7')!
    expect(s).toMatchObject({samples: 2, samplingRates: [256], sumSamplingRate: 512})
    expect(sflowEffectiveRate(s)).toBe(512)
  })

  it('reads an IPv6 agent address', () => {
    const d = new ByteWriter().u32(5).u32(2).ipv6('2001:db8::a').u32(1).u32(1).u32(0).u32(1)
    d.bytes(flowSample({sequence: 1, sourceIndex: 1, samplingRate: 2, samplePool: 2, records: [sampledIpv4(60, 6, '10.0.0.1', '10.0.0.2', 1, 2)]}))
    const {dec, recs} = decode([d.build()])
    expect(recs).toHaveLength(1)
    expect([...dec.stats.sflowSources.keys()]).toEqual(['2001:db8::a/1/0:1'])
  })
})
