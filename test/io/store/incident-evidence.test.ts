import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {emptyEvidence, readIncidentEvidence} from '../../../src/io/store/incident-evidence.js'
import type {EntityEvidence} from '../../../src/io/store/incident-evidence.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'
import {ACK, ICMP, PSH, SYN, T0, UDP, WIN, addFlows} from '../../helpers/hand-flows.js'
import type {HandFlow} from '../../helpers/hand-flows.js'

const E = '10.0.0.5'
const A = '10.0.1.1' // probed on several ports, and talks back once
const B = '10.0.1.2' // its resolver
const C = '10.0.1.3' // three short SSH connections
const S1 = '10.0.2.1' // one SYN each, never answered
const S2 = '10.0.2.2'
const R1 = '10.0.3.1' // SYN-ACKs: one bare, one with PSH, one of 7 packets
const U1 = '10.0.4.1' // UDP from NTP (123)
const U2 = '10.0.4.2' // UDP from NTP and DNS

const N = 100 // every record sampled 1-in-100

/** What E sent in [T0, T0 + WIN), 13 records, 30 packets, 6,514 bytes. */
const OUT: HandFlow[] = [
  {src: E, dst: A, dport: 22, flags: SYN, packets: 1, bytes: 60},
  {src: E, dst: A, dport: 80, flags: SYN, packets: 1, bytes: 60},
  {src: E, dst: A, dport: 443, flags: SYN, packets: 2, bytes: 120},
  {src: E, dst: A, dport: 3306, flags: SYN | ACK, packets: 1, bytes: 60}, // an answer: not an attempt (but bare and short)
  {src: E, dst: A, dport: 8080, flags: PSH | ACK, packets: 10, bytes: 5000}, // established: not an attempt
  {src: E, dst: A, dport: 40_000, flags: SYN, packets: 1, bytes: 60}, // an attempt, but not on a service port (≥ 32,768)
  {src: E, dst: A, proto: UDP, sport: 5001, dport: 161, packets: 1, bytes: 70}, // UDP counts as a probe
  {src: E, dst: A, proto: ICMP, packets: 1, bytes: 84},
  {src: E, dst: B, proto: UDP, sport: 5000, dport: 53, packets: 2, bytes: 400}, // a long DNS query (200 B/packet)
  {src: E, dst: B, proto: UDP, sport: 5000, dport: 53, packets: 1, bytes: 60},
  {src: E, dst: C, dport: 22, flags: SYN, packets: 3, bytes: 180},
  {src: E, dst: C, dport: 22, flags: SYN, packets: 3, bytes: 180},
  {src: E, dst: C, dport: 22, flags: SYN, packets: 3, bytes: 180},
].map((f) => ({...f, rate: N}))

/** What E received in the span: 9 records, 16 packets, 2,628 bytes. */
const IN: HandFlow[] = [
  {src: S1, dst: E, dport: 80, flags: SYN, packets: 1, bytes: 40},
  {src: S2, dst: E, dport: 80, flags: SYN, packets: 1, bytes: 40},
  {src: R1, dst: E, sport: 80, dport: 5555, flags: SYN | ACK, packets: 1, bytes: 60}, // bare SYN-ACK
  {src: R1, dst: E, sport: 80, dport: 5556, flags: SYN | ACK | PSH, packets: 1, bytes: 60}, // carried data
  {src: R1, dst: E, sport: 80, dport: 5557, flags: SYN | ACK, packets: 7, bytes: 420}, // more than 6 packets
  {src: U1, dst: E, proto: UDP, sport: 123, dport: 5000, packets: 1, bytes: 468},
  {src: U2, dst: E, proto: UDP, sport: 123, dport: 5000, packets: 2, bytes: 936},
  {src: U2, dst: E, proto: UDP, sport: 53, dport: 5000, packets: 1, bytes: 512},
  {src: A, dst: E, sport: 8080, dport: 1234, flags: ACK, packets: 1, bytes: 52},
].map((f) => ({...f, rate: N}))

/** Records that must not count: just before the span, at its (exclusive) end, and in another network. */
const OUTSIDE: HandFlow[] = [
  {src: E, dst: A, dport: 21, flags: SYN, at: T0 - 1, rate: N},
  {src: S1, dst: E, dport: 21, flags: SYN, at: T0 + WIN, rate: N},
  {src: E, dst: A, dport: 23, flags: SYN, at: T0 + 2 * 1e6, rate: N, network: 'other'},
  {src: A, dst: E, dport: 23, flags: SYN, at: T0 + 2 * 1e6, rate: N, network: 'other'},
]

describe('readIncidentEvidence', () => {
  let store: FlowStore
  let ev: EntityEvidence

  beforeAll(async () => {
    store = await FlowStore.open(path.join(tempDir(), 'evidence.duckdb'))
    await addFlows(store, [...OUT, ...IN, ...OUTSIDE])
    const got = await readIncidentEvidence(store, [
      {key: 'span', network: 'lab', entity: E, lo: T0, hi: T0 + WIN},
      {key: 'later', network: 'lab', entity: E, lo: T0 + WIN, hi: T0 + 2 * WIN},
      {key: 'nobody', network: 'lab', entity: '10.9.9.9', lo: T0, hi: T0 + WIN},
      {key: 'before', network: 'lab', entity: E, lo: T0 - 10 * WIN, hi: T0 - 9 * WIN},
      {key: 'no-network', network: 'absent', entity: E, lo: T0, hi: T0 + WIN},
    ])
    ev = got.get('span')!
  })

  afterAll(async () => {
    await store.close()
  })

  it('counts what the entity sent: records, packets and bytes, sampled and extrapolated at 1-in-100', () => {
    expect(ev.samplingRate).toBe(N)
    expect(ev.out).toMatchObject({records: 13, packets: 30, bytes: 6514, estPackets: 3000, estBytes: 651_400})
    expect(ev.out).toMatchObject({tcpRecords: 9, udpRecords: 3, udpEstPackets: 400, icmpRecords: 1})
    expect(ev.out).toMatchObject({peers: 3, dstPorts: 9})
  })

  it('the TCP flag mix out: SYN without ACK is an attempt, a SYN-ACK is an answer, short connections have SYN and ≤ 16 packets', () => {
    expect(ev.out.synOnlyRecords).toBe(7)
    expect(ev.out.synAckRecords).toBe(1)
    expect(ev.out.bareSynAckRecords).toBe(1)
    expect(ev.out.shortConnRecords).toBe(8)
  })

  it('DNS query packets, and those of the long queries (> 128 bytes per packet)', () => {
    expect(ev.out).toMatchObject({dnsPackets: 3, dnsLongPackets: 2})
    expect(ev.in).toMatchObject({dnsPackets: 0, dnsLongPackets: 0})
  })

  it('maxPortsOnePeer counts only attempts and UDP on service ports: not answers, established traffic or high ports', () => {
    // A: SYN to 22, 80, 443 and UDP to 161; not the SYN-ACK to 3306, the PSH-ACK to 8080, the SYN to 40000, ICMP
    expect(ev.out.maxPortsOnePeer).toBe(4)
    // inbound: each sender reached one port of E
    expect(ev.in.maxPortsOnePeer).toBe(1)
  })

  it('the top (peer, port) pair by short connections', () => {
    expect(ev.out).toMatchObject({topPairPeer: C, topPairPort: 22, topPairShortConns: 3})
    // in: S1 → 80, S2 → 80, R1 → 5555 (bare SYN-ACK), 5556, 5557 each once; the tie goes to the smallest peer, then port
    expect(ev.in).toMatchObject({topPairPeer: S1, topPairPort: 80, topPairShortConns: 1})
  })

  it('ports by extrapolated packets: destination ports, and UDP source ports', () => {
    // 22 (1 + 9 packets) ties 8080 (10): the smaller port first
    expect(ev.out.dstPortsTop.slice(0, 3)).toEqual([
      {port: 22, records: 4, estPackets: 1000},
      {port: 8080, records: 1, estPackets: 1000},
      {port: 53, records: 2, estPackets: 300},
    ])
    expect(ev.out.dstPortsTop).toHaveLength(5) // nine ports, the largest five kept
    expect(ev.out.dstPorts).toBe(9)
    expect(ev.out.udpSrcPortsTop).toEqual([
      {port: 5000, records: 2, estPackets: 300},
      {port: 5001, records: 1, estPackets: 100},
    ])
    expect(ev.in.udpSrcPortsTop).toEqual([
      {port: 123, records: 2, estPackets: 300},
      {port: 53, records: 1, estPackets: 100},
    ])
  })

  it('counts what the entity received, with bare SYN-ACKs apart from those with data or more than 6 packets', () => {
    expect(ev.in).toMatchObject({records: 9, packets: 16, bytes: 2588, estPackets: 1600, estBytes: 258_800})
    expect(ev.in).toMatchObject({tcpRecords: 6, synOnlyRecords: 2, synAckRecords: 3, bareSynAckRecords: 1, udpRecords: 3, udpEstPackets: 400, icmpRecords: 0})
    expect(ev.in).toMatchObject({peers: 6, shortConnRecords: 5})
  })

  it('its peers, both directions: the count, those seen once in or out, those that only sent SYNs, the largest first', () => {
    expect(ev.peerCount).toBe(8) // A, B, C, S1, S2, R1, U1, U2
    expect(ev.peersOnceIn).toBe(4) // S1, S2, U1, A
    expect(ev.peersOnceOut).toBe(0) // it sent A eight records, B two, C three
    expect(ev.peersSynOnly).toBe(2) // S1, S2 (A sent an ACK)
    expect(ev.peers).toHaveLength(8)
    expect(ev.peers[0]).toEqual({address: A, recordsOut: 8, recordsIn: 1, estPackets: 1900, estBytes: 556_600, estBytesOut: 551_400})
    // C and R1 tie at 900 packets: the smaller address first
    expect(ev.peers.slice(1, 3).map((p) => [p.address, p.recordsOut, p.recordsIn, p.estPackets])).toEqual([
      [C, 3, 0, 900],
      [R1, 0, 3, 900],
    ])
    expect(ev.peers.map((p) => p.estPackets)).toEqual([...ev.peers.map((p) => p.estPackets)].sort((a, b) => b - a))
  })

  it('records outside [lo, hi) and of another network are not counted; each span is read apart', async () => {
    // the record at exactly hi belongs to the next span, and only it
    const later = (await readIncidentEvidence(store, [{key: 'k', network: 'lab', entity: E, lo: T0 + WIN, hi: T0 + 2 * WIN}])).get('k')!
    expect(later.in).toMatchObject({records: 1, synOnlyRecords: 1, estPackets: 100})
    expect(later.out.records).toBe(0)
    expect(later.peers.map((p) => p.address)).toEqual([S1])
    const other = (await readIncidentEvidence(store, [{key: 'k', network: 'other', entity: E, lo: T0, hi: T0 + WIN}])).get('k')!
    expect([other.out.records, other.in.records, other.peerCount]).toEqual([1, 1, 1])
    // and the record one µs before lo is in a span that reaches it
    const wider = (await readIncidentEvidence(store, [{key: 'k', network: 'lab', entity: E, lo: T0 - 1, hi: T0 + WIN}])).get('k')!
    expect(wider.out.records).toBe(14)
  })

  it('spans with no records (another address, an earlier time, an unknown network) give emptyEvidence', async () => {
    const got = await readIncidentEvidence(store, [
      {key: 'nobody', network: 'lab', entity: '10.9.9.9', lo: T0, hi: T0 + WIN},
      {key: 'before', network: 'lab', entity: E, lo: T0 - 10 * WIN, hi: T0 - 9 * WIN},
      {key: 'no-network', network: 'absent', entity: E, lo: T0, hi: T0 + WIN},
      {key: 'span', network: 'lab', entity: E, lo: T0, hi: T0 + WIN},
    ])
    expect([...got.keys()].sort()).toEqual(['before', 'no-network', 'nobody', 'span'])
    for (const k of ['nobody', 'before', 'no-network']) expect(got.get(k)).toEqual(emptyEvidence())
    expect(got.get('span')).toEqual(ev) // read with others, a span's evidence is the same
    expect((await readIncidentEvidence(store, [])).size).toBe(0)
  })

  it('unsampled records extrapolate to themselves (rate 1)', async () => {
    const s = await FlowStore.open(path.join(tempDir(), 'unsampled.duckdb'))
    try {
      await addFlows(s, [{src: E, dst: A, dport: 80, packets: 4, bytes: 240}])
      const e = (await readIncidentEvidence(s, [{key: 'k', network: 'lab', entity: E, lo: T0, hi: T0 + WIN}])).get('k')!
      expect(e.samplingRate).toBe(1)
      expect(e.out).toMatchObject({records: 1, packets: 4, estPackets: 4, bytes: 240, estBytes: 240})
    } finally {
      await s.close()
    }
  })
})
