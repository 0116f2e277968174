import {existsSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {FlowExportDecoder, looksLikeFlowExport} from '../../../src/io/flowexport/index.js'
import {ByteWriter, ipfixMessage, set, sflowDatagram, templateRecord, v9Packet} from './build.js'
import {readUdpDatagrams} from './udp-payloads.js'

const DATA = '../shared/data'

describe('looksLikeFlowExport', () => {
  it('recognises each protocol by content', () => {
    const tpl = set(2, templateRecord(256, [{id: 8, len: 4}]))
    expect(looksLikeFlowExport(ipfixMessage(0, 0, [tpl]))).toBe('ipfix')
    expect(looksLikeFlowExport(v9Packet(0, 0, 0, [set(0, templateRecord(256, [{id: 8, len: 4}], false))]))).toBe('netflow9')
    const v5 = new ByteWriter().u16(5).u16(1).zeros(20).zeros(48).build()
    expect(looksLikeFlowExport(v5)).toBe('netflow5')
    expect(looksLikeFlowExport(sflowDatagram('192.0.2.1', 0, 1, []))).toBe('sflow5')
  })

  it('rejects payloads whose first structure does not fit', () => {
    const v5 = new ByteWriter().u16(5).u16(2).zeros(20).zeros(48).build() // count 2, one record
    expect(looksLikeFlowExport(v5)).toBeUndefined()
    const ipfix = ipfixMessage(0, 0, [set(2, templateRecord(256, [{id: 8, len: 4}]))])
    ipfix[3]! += 4 // message length past the datagram
    expect(looksLikeFlowExport(ipfix)).toBeUndefined()
    expect(looksLikeFlowExport(v9Packet(0, 0, 0, [set(7, new Uint8Array(4))]))).toBeUndefined() // reserved set id
    // DNS query for example.com
    const dns = new ByteWriter().u16(0x0005).u16(0x0100).u16(1).zeros(6).bytes([7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]).u16(1).u16(1)
    expect(looksLikeFlowExport(dns.build())).toBeUndefined()
    expect(looksLikeFlowExport(new Uint8Array(0))).toBeUndefined()
  })

  it('decodeDatagram still takes damaged datagrams of a known version (and counts them malformed)', () => {
    const dec = new FlowExportDecoder()
    const r = dec.decodeDatagram(new ByteWriter().u16(5).u16(2).zeros(20).zeros(48).build(), 'x', 0, () => {})
    expect(r).toMatchObject({protocol: 'netflow5', malformed: 1})
    expect(dec.decodeDatagram(new Uint8Array([1, 2, 3]), 'x', 0, () => {}).protocol).toBeUndefined()
    expect(dec.stats).toMatchObject({datagrams: 2, unrecognised: 1})
  })
})

describe.skipIf(!existsSync(DATA))('looksLikeFlowExport on real captures', () => {
  it('finds every export datagram in the export captures, whatever the port', () => {
    for (const [path, protocol] of [
      ['pmacct-flowexport/104-traffic-00.pcap', 'ipfix'], // port 9992
      ['pmacct-flowexport/112-traffic-00.pcap', 'ipfix'], // Linux SLL, IPv6
      ['ndpi-flowexport/netflowv9.pcap', 'netflow9'], // port 2057
      ['ndpi-flowexport/sflow.pcap', 'sflow5'],
      ['akvorado-flowexport/nfv5.pcap', 'netflow5'], // port 9990
    ] as const) {
      const ds = readUdpDatagrams(`${DATA}/${path}`)
      expect(ds.length, path).toBeGreaterThan(0)
      expect(ds.map((d) => looksLikeFlowExport(d.payload)), path).toEqual(ds.map(() => protocol))
    }
    // all 92 logstash datagrams except the two whose v5 record count is impossible
    const logstash = readUdpDatagrams(`${DATA}/logstash-netflow-dat/DERIVED_all-vendors.pcap`)
    expect(logstash.filter((d) => looksLikeFlowExport(d.payload) === undefined).map((d) => d.frame)).toEqual([33, 34])
  })

  it('finds none in ordinary traffic (nDPI application captures: DNS, QUIC, VoIP, games, …)', () => {
    const path = `${DATA}/bench-ndpi-concat/DERIVED_ndpi_benign_concat.pcap`
    if (!existsSync(path)) return
    const udp = readUdpDatagrams(path)
    expect(udp.length).toBeGreaterThan(10_000)
    expect(udp.filter((d) => looksLikeFlowExport(d.payload) !== undefined)).toEqual([])
  })
})
