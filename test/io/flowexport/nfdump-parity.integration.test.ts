/**
 * NetFlow v5/v9 and IPFIX decoding against nfdump 1.7.1: the nfcapd files in ../shared/data/nfcapd-derived
 * were made by replaying the UDP payloads of these pcaps into nfcapd; VERIFY/ holds `nfdump -o csv` and
 * `nfdump -I` of each. Record counts, packet and byte totals and every record's
 * (src, dst, sport, dport, proto, packets, bytes) must match, apart from the differences listed in
 * ALLOWED below, each with its reason.
 *
 * nfcapd applies an announced sampling rate only when told to (-s); these files hold raw counters, so
 * raw counters are compared (records with samplingRate > 1 in the logstash set prove it: they match
 * nfdump unscaled).
 */
import {existsSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {FlowExportDecoder, looksLikeFlowExport, type FlowExportStats} from '../../../src/io/flowexport/index.js'
import {
  keep,
  multisetMinus,
  nfdumpKey,
  ourKey,
  readNfdumpCsv,
  readNfdumpInfo,
  type KeptRecord,
  type NfdumpRecord,
} from './nfdump-csv.js'
import {readUdpDatagrams} from './udp-payloads.js'

const DATA = '../shared/data'
const VERIFY = `${DATA}/VERIFY`

interface Decoded {
  recs: KeptRecord[]
  stats: FlowExportStats
  /** datagrams that looksLikeFlowExport recognised */
  recognised: number
  datagrams: number
}

/** Replays the UDP payloads of `files` in order through one decoder; exporter = the datagram's source. */
function decodeFiles(files: string[]): Decoded {
  const dec = new FlowExportDecoder()
  const recs: KeptRecord[] = []
  let recognised = 0
  let datagrams = 0
  for (const f of files) {
    for (const d of readUdpDatagrams(`${DATA}/${f}`)) {
      datagrams++
      if (looksLikeFlowExport(d.payload)) recognised++
      dec.decodeDatagram(d.payload, d.src, d.tsMicros, (r) => recs.push(keep(r)))
    }
  }
  return {recs, stats: dec.finish(), recognised, datagrams}
}

function nfdump(name: string): {rows: NfdumpRecord[]; info: Record<string, number>} {
  return {
    rows: readNfdumpCsv(`${VERIFY}/nfcapd-derived__nfcapd.${name}.flows.csv`),
    info: readNfdumpInfo(`${VERIFY}/nfcapd-derived__nfcapd.${name}.info.txt`),
  }
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

/**
 * nfdump 1.7.1 stores a record of a template that has both IPv4 (8/12) and IPv6 (27/28) address
 * elements in its IPv6 slot: IPv4 values print as IPv4-compatible '::a.b.c.d' (pmacct SRv6/MPLS
 * templates 313/340/344) or are lost ('::', Procera 52935), and IPv6 values of such records are lost
 * too ('::'). We keep whichever family is non-zero. Normalise: '::a.b.c.d' → 'a.b.c.d'; a record
 * with '::' on both sides matches ours on every other field.
 */
function compareRecords(nf: NfdumpRecord[], ours: KeptRecord[]): {onlyOurs: string[]; onlyNfdump: string[]; wildcarded: number} {
  const v4compat = (a: string): string => (/^::\d+\.\d+\.\d+\.\d+$/.test(a) ? a.slice(2) : a)
  const exact: string[] = []
  const wild = new Map<string, number>()
  let wildcarded = 0
  for (const r of nf) {
    if (r.sa === '::' && r.da === '::') {
      const k = nfdumpKey({...r, sa: '*', da: '*'})
      wild.set(k, (wild.get(k) ?? 0) + 1)
      wildcarded++
    } else {
      exact.push(nfdumpKey({...r, sa: v4compat(r.sa), da: v4compat(r.da)}))
    }
  }
  const ourKeys = ours.map((r) => ourKey(r))
  const onlyNfdump = multisetMinus(exact, ourKeys)
  const onlyOurs: string[] = []
  for (const k of multisetMinus(ourKeys, exact)) {
    const w = k.replace(/^[^|]*\|[^|]*\|/, '*|*|')
    const n = wild.get(w) ?? 0
    if (n > 0) wild.set(w, n - 1)
    else onlyOurs.push(k)
  }
  for (const [k, n] of wild) for (let i = 0; i < n; i++) onlyNfdump.push(k)
  return {onlyOurs, onlyNfdump, wildcarded}
}

describe.skipIf(!existsSync(VERIFY))('flow-export decoding matches nfdump 1.7.1', () => {
  it('pmacct 400 (IPFIX, Cisco SRv6): 766 records, 332,598 packets, 62,555,647 bytes', () => {
    const {recs, stats, recognised, datagrams} = decodeFiles(['pmacct-flowexport/400-traffic-00.pcap', 'pmacct-flowexport/400-traffic-01.pcap'])
    const {rows, info} = nfdump('pmacct-ipfix-srv6-400')
    expect(recognised).toBe(datagrams)
    expect(stats).toMatchObject({malformed: 0, undecodableSets: 0, heldSets: 0})
    expect(recs.length).toBe(info.Flows)
    expect(sum(recs.map((r) => r.packets))).toBe(info.Packets)
    expect(sum(recs.map((r) => r.bytes))).toBe(info.Bytes)
    const {onlyOurs, onlyNfdump, wildcarded} = compareRecords(rows, recs)
    expect(onlyOurs).toEqual([])
    expect(onlyNfdump).toEqual([])
    expect(wildcarded).toBe(72)
    // flowStart/EndSysUpTime + systemInitTimeMilliseconds: same seconds as nfdump, which reports
    // IPFIX 22/21 as last/first (its ts > te for every record with a duration)
    const ourTimes = recs.map((r) => `${Math.floor(r.tsStart / 1e6)}|${Math.floor(r.tsEnd / 1e6)}|${r.bytes}`)
    const nfTimes = rows.map((r) => `${Math.min(r.ts, r.te)}|${Math.max(r.ts, r.te)}|${r.ibyt}`)
    expect(multisetMinus(ourTimes, nfTimes)).toEqual([])
  })

  it('pmacct 401 (IPFIX, IPv6 MPLS): 1,464 records, 613,581 packets, 112,953,938 bytes', () => {
    const {recs, stats} = decodeFiles(['pmacct-flowexport/401-traffic-00.pcap', 'pmacct-flowexport/401-traffic-01.pcap'])
    const {rows, info} = nfdump('pmacct-ipfix-mpls-401')
    expect(stats).toMatchObject({malformed: 0, undecodableSets: 0})
    expect([recs.length, sum(recs.map((r) => r.packets)), sum(recs.map((r) => r.bytes))]).toEqual([
      info.Flows,
      info.Packets,
      info.Bytes,
    ])
    const {onlyOurs, onlyNfdump, wildcarded} = compareRecords(rows, recs)
    expect(onlyOurs).toEqual([])
    expect(onlyNfdump).toEqual([])
    expect(wildcarded).toBe(176)
    const ourTimes = recs.map((r) => `${Math.floor(r.tsStart / 1e6)}|${Math.floor(r.tsEnd / 1e6)}|${r.bytes}`)
    const nfTimes = rows.map((r) => `${Math.min(r.ts, r.te)}|${Math.max(r.ts, r.te)}|${r.ibyt}`)
    expect(multisetMinus(ourTimes, nfTimes)).toEqual([])
  })

  it('pmacct 100–112 (NetFlow v9 and IPFIX, Cisco/Huawei, sampling options, SLL capture): 137 records', () => {
    const files = ['100', '101', '102', '104', '106', '111', '111-traffic-01', '112'].map(
      (n) => `pmacct-flowexport/${n.includes('-') ? n : `${n}-traffic-00`}.pcap`,
    )
    const {recs, stats} = decodeFiles(files)
    const {rows, info} = nfdump('pmacct-nfv9-ipfix-1xx')
    expect(stats.malformed).toBe(0)
    // 112 sends data for templates 313, 341 and 348 that the capture never defines (nfcapd drops them too)
    expect(stats.undecodableSets).toBe(4)
    expect([recs.length, sum(recs.map((r) => r.packets)), sum(recs.map((r) => r.bytes))]).toEqual([
      info.Flows,
      info.Packets,
      info.Bytes,
    ])
    const {onlyOurs, onlyNfdump, wildcarded} = compareRecords(rows, recs)
    expect(onlyOurs).toEqual([])
    expect(onlyNfdump).toEqual([])
    expect(wildcarded).toBe(0)
  })

  it('akvorado (NetFlow v5, v9 template+data, ipfixprobe IPFIX, Juniper IPFIX)', () => {
    const {recs, stats} = decodeFiles(
      ['nfv5', 'template', 'data', 'ipfixprobe-templates', 'ipfixprobe-data', 'juniper-cpid-template', 'juniper-cpid-data'].map(
        (n) => `akvorado-flowexport/${n}.pcap`,
      ),
    )
    const {rows, info} = nfdump('akvorado-nf')
    expect(stats).toMatchObject({malformed: 0, undecodableSets: 0})
    // juniper-cpid data carries no addresses (a control-plane id record): not a flow
    expect(stats.nonFlowRecords).toBe(1)
    // ALLOWED: nfcapd.akvorado-nf holds only the 29 records of nfv5.pcap. The v9 template+data (4) and
    // ipfixprobe (4) records are missing from that file although nfcapd 1.7.1 decodes them when the
    // same payloads are replayed into it; these 8 tuples are that by-hand replay's `nfdump -o csv`.
    const replayed = [
      '198.38.121.178|91.170.143.87|443|19624|6|1|1500',
      '198.38.121.219|88.122.57.97|443|2444|6|1|1500',
      '173.194.190.106|37.165.129.20|443|53697|6|1|1400',
      '74.125.100.234|88.120.219.117|443|52300|6|1|1448',
      '10.10.1.4|10.10.1.1|56166|53|17|1|62',
      '10.10.1.20|10.10.1.255|138|138|17|1|229',
      '10.10.1.4|74.53.140.153|1470|25|6|28|21673',
      '192.168.1.1|10.10.1.4|0|0|1|4|2304',
    ]
    const ours = recs.map((r) => ourKey(r))
    const theirs = [...rows.map(nfdumpKey), ...replayed]
    expect(multisetMinus(ours, theirs)).toEqual([])
    expect(multisetMinus(theirs, ours)).toEqual([])
    const v5 = recs.filter((r) => r.exporter === '10.19.144.41')
    expect([v5.length, sum(v5.map((r) => r.packets)), sum(v5.map((r) => r.bytes))]).toEqual([info.Flows, info.Packets, info.Bytes])
    // NetFlow v5 First/Last through sysUptime and unix_secs: the same seconds as nfdump
    const ourTimes = v5.map((r) => `${r.tsStart / 1e6}|${r.tsEnd / 1e6}|${r.bytes}`)
    const nfTimes = rows.map((r) => `${r.ts}|${r.te}|${r.ibyt}`)
    expect(multisetMinus(ourTimes, nfTimes)).toEqual([])
  })

  it('logstash multi-vendor (≈20 vendors, 92 datagrams incl. deliberately invalid ones)', () => {
    const {recs, stats} = decodeFiles(['logstash-netflow-dat/DERIVED_all-vendors.pcap'])
    const {rows} = nfdump('logstash-multivendor')
    // netflow5_test_invalid01/02 (record counts 55582 and 163): rejected whole, as nfcapd does
    expect(stats.problems.map((p) => p.exporter)).toEqual(['10.255.0.15', '10.255.0.16'])
    // ipt-netflow data for templates 259/262 and Netscaler data for 280 never get their template
    expect(stats.undecodableSets).toBe(7)

    // ALLOWED: nfdump emits data records of templates without any address element (Cisco ASR9k/NBAR/WLC
    // and other statistics templates) as 0.0.0.0 → 0.0.0.0 flows; they are not flows: we count them
    const {onlyOurs, onlyNfdump, wildcarded} = compareRecords(rows, recs)
    const addressless = onlyNfdump.filter((k) => k.startsWith('0.0.0.0|0.0.0.0|0|0|0|'))
    expect(addressless.length).toBe(19)
    expect(stats.nonFlowRecords).toBe(addressless.length)
    const field = (k: string, i: number): number => Number(k.split('|')[i])
    expect(recs.length).toBe(rows.length - addressless.length)
    expect(sum(recs.map((r) => r.packets))).toBe(sum(rows.map((r) => r.ipkt)) - sum(addressless.map((k) => field(k, 5))))
    expect(sum(recs.map((r) => r.bytes))).toBe(sum(rows.map((r) => r.ibyt)) - sum(addressless.map((k) => field(k, 6))))
    // raw counters, not scaled: Juniper MX80 v5 (1 in 1000) and netflow9_test_invalid01 (option 34 = 100)
    expect(recs.filter((r) => r.samplingRate > 1).map((r) => r.samplingRate).sort((a, b) => a - b)).toEqual([
      100,
      100,
      ...new Array<number>(29).fill(1000),
    ])

    // ALLOWED: ICMP type/code where the exporter gives no ICMP element. We keep L4_DST_PORT (the
    // NetFlow convention, type * 256 + code) and zero the source port; nfdump 1.7.1 instead
    //  - overwrites the ports with Cisco NBAR's tcpSourcePort/udpDestinationPort (182/181), which are
    //    0 for ICMP, losing echo request 8/0 (2048);
    //  - reports softflowd's ICMPv6 router advertisement (134/0 = 34304 in L4_DST_PORT) as 0;
    //  - builds Procera's ICMPv6 (L4_SRC_PORT 136, L4_DST_PORT 135) into 136 * 256 = 34816.
    const icmpOurs = [
      '10.30.18.62|10.30.19.180|0|2048|1|1|44',
      '10.10.172.60|10.30.19.180|0|2048|1|1|44',
      'fe80::20c:29ff:fe83:3b6e|ff02::1|0|34304|58|7|672',
      'fe80::20c:29ff:fe83:3b6e|ff02::1|0|34304|58|7|672',
      '2001:388:cf0a:6::1|2001:388:cf0a:6::2|0|135|58|0|0',
      '2001:388:cf0a:6::1|2001:388:cf0a:6::2|0|135|58|0|0',
    ]
    const icmpNfdump = [
      '10.30.18.62|10.30.19.180|0|0|1|1|44',
      '10.10.172.60|10.30.19.180|0|0|1|1|44',
      'fe80::20c:29ff:fe83:3b6e|ff02::1|0|0|58|7|672',
      'fe80::20c:29ff:fe83:3b6e|ff02::1|0|0|58|7|672',
      '2001:388:cf0a:6::1|2001:388:cf0a:6::2|0|34816|58|0|0',
      '2001:388:cf0a:6::1|2001:388:cf0a:6::2|0|34816|58|0|0',
    ]
    expect(wildcarded).toBe(6) // Procera's IPv4 records
    expect(onlyOurs.sort()).toEqual(icmpOurs.sort())
    expect(onlyNfdump.filter((k) => !addressless.includes(k)).sort()).toEqual(icmpNfdump.sort())
  })
})
