import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import type {FeatureMatrix} from '../../src/infer/features.js'
import {FEATURE_COUNT, FEATURE_INDEX, FEATURE_NAMES, computeFeatures, featureRow, featureSql} from '../../src/infer/features.js'
import type {FlowRecordInput} from '../../src/core/flow-batch.js'
import {appendFlowRecord, createFlowBatch} from '../../src/core/flow-batch.js'
import {createRng} from '../../src/core/rng.js'
import {FlowStore} from '../../src/io/store/store.js'
import {tempDir} from '../helpers/cli.js'

const SEC = 1_000_000
/** a multiple of 60 s, so windows with a 60 s hop start exactly here */
const T0 = 1_700_000_040 * SEC

function v4(text: string): number {
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)
}

type Flow = Omit<FlowRecordInput, 'src' | 'dst' | 'tsEnd' | 'family'> & {src: string; dst: string}

const LAB: Flow[] = [
  // A → B: a SYN-only probe to 22 and a full TCP connection to 80
  {src: '10.0.0.1', dst: '10.0.0.2', tsStart: T0 + 10 * SEC, srcPort: 50000, dstPort: 22, proto: 6, tcpFlags: 0x02, packets: 1, bytes: 60},
  {src: '10.0.0.1', dst: '10.0.0.2', tsStart: T0 + 20 * SEC, srcPort: 50001, dstPort: 80, proto: 6, tcpFlags: 0x1b, packets: 10, bytes: 5000},
  // A ↔ C: a DNS exchange seen through 1-in-100 sampling
  {src: '10.0.0.1', dst: '10.0.0.3', tsStart: T0 + 40 * SEC, srcPort: 40000, dstPort: 53, proto: 17, tcpFlags: 0, packets: 2, bytes: 150, samplingRate: 100},
  {src: '10.0.0.3', dst: '10.0.0.1', tsStart: T0 + 45 * SEC, srcPort: 53, dstPort: 40000, proto: 17, tcpFlags: 0, packets: 1, bytes: 300, samplingRate: 100},
  // D → A: a SYN-ACK-flagged flow to 443
  {src: '10.0.0.4', dst: '10.0.0.1', tsStart: T0 + 100 * SEC, srcPort: 33333, dstPort: 443, proto: 6, tcpFlags: 0x12, packets: 4, bytes: 200},
  // E → F exactly on a window boundary (T0 + 300 s is outside the window starting at T0)
  {src: '10.0.0.5', dst: '10.0.0.6', tsStart: T0 + 300 * SEC, srcPort: 1, dstPort: 2, proto: 6, tcpFlags: 0x10, packets: 3, bytes: 3000},
]

const OTHER: Flow[] = [
  {src: '10.0.0.1', dst: '10.0.0.9', tsStart: T0 + 10 * SEC, srcPort: 1, dstPort: 9, proto: 6, tcpFlags: 0x10, packets: 1, bytes: 1000},
]

async function writeFlows(store: FlowStore, network: string, flows: Flow[], v6 = false): Promise<void> {
  const batch = createFlowBatch(flows.length + 1)
  for (const f of flows) {
    appendFlowRecord(batch, {...f, family: 4, src: [v4(f.src)], dst: [v4(f.dst)], tsEnd: f.tsStart + SEC})
  }
  if (v6) {
    appendFlowRecord(batch, {
      family: 6, src: [0x20010db8, 0, 0, 1], dst: [0x20010db8, 0, 0, 2], tsStart: T0, tsEnd: T0, srcPort: 5, dstPort: 6,
      proto: 17, tcpFlags: 0, packets: 1, bytes: 80,
    })
  }
  const appender = await store.createFlowAppender()
  appender.append(batch, network, 1)
  appender.close()
}

function lookup(m: FeatureMatrix, network: string, address: string, windowStart: number): Record<string, number> {
  for (let i = 0; i < m.length; i++) {
    if (m.networks[i] === network && m.addresses[i] === address && m.windowStart[i] === windowStart) {
      const row = featureRow(m, i)
      return {...Object.fromEntries(FEATURE_NAMES.map((n, f) => [n, row[f] ?? NaN])), topDstPort: m.topDstPort[i] ?? NaN, topInPort: m.topInPort[i] ?? NaN, udpInFraction: m.udpInFraction[i] ?? NaN}
    }
  }
  throw new Error(`no row for ${network} ${address} ${windowStart}`)
}

function windowsOf(m: FeatureMatrix, network: string, address: string): number[] {
  const out: number[] = []
  for (let i = 0; i < m.length; i++) if (m.networks[i] === network && m.addresses[i] === address) out.push((m.windowStart[i] ?? 0) - T0)
  return out.map((us) => us / SEC)
}

function expectFeatures(actual: Record<string, number>, expected: Record<string, number>): void {
  for (const [name, value] of Object.entries(expected)) {
    // float32 storage: about 7 significant digits
    expect(actual[name], name).toBeCloseTo(value, 5)
  }
}

function entropy(counts: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0)
  const h = -counts.reduce((acc, c) => acc + (c / n) * Math.log(c / n), 0)
  return counts.length > 1 ? h / Math.log(counts.length) : 0
}

describe('computeFeatures', () => {
  let store: FlowStore
  let all: FeatureMatrix

  beforeAll(async () => {
    store = await FlowStore.open(path.join(tempDir(), 'features.duckdb'))
    await writeFlows(store, 'lab', LAB)
    await writeFlows(store, 'other', OTHER, true)
    all = await computeFeatures(store)
  })
  afterAll(async () => {
    await store.close()
  })

  it('has 22 named features', () => {
    expect(FEATURE_COUNT).toBe(22)
    expect(all.featureCount).toBe(22)
    expect(all.values.length).toBe(all.length * 22)
  })

  it('computes both directions of an address, with sampled records scaled by their rate', () => {
    const a = lookup(all, 'lab', '10.0.0.1', T0)
    const bytesOut = 60 + 5000 + 150 * 100
    const packetsOut = 1 + 10 + 2 * 100
    const bytesIn = 300 * 100 + 200
    const packetsIn = 1 * 100 + 4
    expectFeatures(a, {
      bytes_out_log1p: Math.log1p(bytesOut),
      bytes_in_log1p: Math.log1p(bytesIn),
      packets_out_log1p: Math.log1p(packetsOut),
      packets_in_log1p: Math.log1p(packetsIn),
      bpp_out: bytesOut / packetsOut,
      bpp_in: bytesIn / packetsIn,
      byte_ratio_log: Math.log1p(bytesOut) - Math.log1p(bytesIn),
      flows_out_log1p: Math.log1p(3),
      flows_in_log1p: Math.log1p(2),
      peers_log1p: Math.log1p(3), // B, C (both directions), D
      dst_ports_log1p: Math.log1p(3), // 22, 80, 53
      peer_entropy: entropy([2, 2, 1]),
      dst_port_entropy: 1,
      top_dst_port_share: 1 / 3,
      syn_only_fraction: 1 / 2, // of the two outbound TCP flows, the SYN probe
      udp_fraction: 1 / 3,
      small_packet_fraction: 3 / 5, // 60/1, 150/2, 200/4 bytes per packet
      active_subbin_share: 3 / 10, // sub-bins 0 (10 s, 20 s), 1 (40 s, 45 s), 3 (100 s)
      // the probe to 22 and the connection to 80 are short (SYN, ≤ 16 packets) but to different ports;
      // so is D's SYN-ACK in: at most one per (sub-bin, peer, port, direction)
      short_conn_burst_log1p: Math.log1p(1),
      long_dns_query_share: 0, // one query to 53, 75 bytes per packet: not long
      // D's SYN-ACK comes from port 33333 to 443: a request's side, not a response
      repeated_response_log1p: 0,
      // 22 and 80 of B out (53 of C: one; 443 from D in: one; C's reply to 40000 is an ephemeral port)
      low_ports_one_peer: 2,
      topDstPort: 22, // three ports with one flow each: the lowest wins
      topInPort: 443, // inbound to 40000 (DNS reply) and 443, one flow each
      udpInFraction: 1 / 2,
    })
  })

  it('slides the window: a later window holds only the later flows', () => {
    const a = lookup(all, 'lab', '10.0.0.1', T0 + 60 * SEC)
    expectFeatures(a, {
      bytes_out_log1p: 0,
      bytes_in_log1p: Math.log1p(200),
      packets_in_log1p: Math.log1p(4),
      bpp_out: 0,
      bpp_in: 50,
      byte_ratio_log: -Math.log1p(200),
      flows_out_log1p: 0,
      flows_in_log1p: Math.log1p(1),
      peers_log1p: Math.log1p(1),
      dst_ports_log1p: 0,
      peer_entropy: 0,
      dst_port_entropy: 0,
      top_dst_port_share: 0,
      syn_only_fraction: 0,
      udp_fraction: 0,
      small_packet_fraction: 1,
      active_subbin_share: 1 / 10,
      short_conn_burst_log1p: Math.log1p(1),
      long_dns_query_share: 0,
      repeated_response_log1p: 0,
      low_ports_one_peer: 1, // 443 from D
      topDstPort: -1,
      topInPort: 443,
    })
    const early = lookup(all, 'lab', '10.0.0.1', T0 - 240 * SEC)
    expectFeatures(early, {
      bytes_in_log1p: Math.log1p(300 * 100),
      flows_out_log1p: Math.log1p(3),
      flows_in_log1p: Math.log1p(1),
      // offsets 250, 260, 280, 285 s into the window: sub-bins 8, 8, 9, 9
      active_subbin_share: 2 / 10,
    })
  })

  it('puts a flow in every window covering its start and in no other', () => {
    expect(windowsOf(all, 'lab', '10.0.0.1')).toEqual([-240, -180, -120, -60, 0, 60])
    expect(windowsOf(all, 'lab', '10.0.0.5')).toEqual([60, 120, 180, 240, 300])
  })

  it('reads the destination side as inbound', () => {
    const b = lookup(all, 'lab', '10.0.0.2', T0)
    expectFeatures(b, {
      bytes_out_log1p: 0,
      bytes_in_log1p: Math.log1p(5060),
      packets_in_log1p: Math.log1p(11),
      bpp_in: 5060 / 11,
      flows_in_log1p: Math.log1p(2),
      peers_log1p: Math.log1p(1),
      small_packet_fraction: 1 / 2,
      active_subbin_share: 1 / 10,
      syn_only_fraction: 0, // the SYN probe is A's outbound flow, not B's
      topDstPort: -1,
      topInPort: 22, // 22 and 80 once each
    })
    const d = lookup(all, 'lab', '10.0.0.4', T0)
    expectFeatures(d, {syn_only_fraction: 0, top_dst_port_share: 1, dst_ports_log1p: Math.log1p(1), topDstPort: 443})
    expectFeatures(lookup(all, 'lab', '10.0.0.3', T0), {long_dns_query_share: 0, short_conn_burst_log1p: 0})
  })

  it('counts bursts of short connections to one peer and port in a sub-bin, long DNS queries, capped packet sizes', async () => {
    const s = await FlowStore.open(path.join(tempDir(), 'burst.duckdb'))
    const tries: Flow[] = []
    // 12 login attempts in the first 30 s sub-bin, 5 a minute later; one long session; an ACK-only record
    for (let i = 0; i < 17; i++) {
      tries.push({src: '10.1.0.1', dst: '10.1.0.2', tsStart: T0 + (i < 12 ? i : 60 + i) * SEC, srcPort: 40000 + i, dstPort: 22, proto: 6, tcpFlags: 0x1b, packets: 9, bytes: 2000})
    }
    tries.push({src: '10.1.0.1', dst: '10.1.0.2', tsStart: T0 + 5 * SEC, srcPort: 39999, dstPort: 22, proto: 6, tcpFlags: 0x1b, packets: 17, bytes: 9000})
    tries.push({src: '10.1.0.1', dst: '10.1.0.2', tsStart: T0 + 6 * SEC, srcPort: 40000, dstPort: 22, proto: 6, tcpFlags: 0x10, packets: 1, bytes: 52})
    // a DNS client, sampled 1-in-10: one record of long queries (200 bytes per packet), one short, and the
    // resolver's answer (from port 53, not a query)
    tries.push({src: '10.1.0.3', dst: '10.1.0.4', tsStart: T0 + 50 * SEC, srcPort: 5353, dstPort: 53, proto: 17, tcpFlags: 0, packets: 3, bytes: 600, samplingRate: 10})
    tries.push({src: '10.1.0.3', dst: '10.1.0.4', tsStart: T0 + 51 * SEC, srcPort: 5354, dstPort: 53, proto: 17, tcpFlags: 0, packets: 1, bytes: 100, samplingRate: 10})
    tries.push({src: '10.1.0.4', dst: '10.1.0.3', tsStart: T0 + 51 * SEC, srcPort: 53, dstPort: 5353, proto: 17, tcpFlags: 0, packets: 3, bytes: 900, samplingRate: 10})
    // a loopback capture's 10 kB segments count as full-size packets
    tries.push({src: '10.1.0.5', dst: '10.1.0.6', tsStart: T0 + 70 * SEC, srcPort: 1000, dstPort: 2000, proto: 6, tcpFlags: 0x18, packets: 2, bytes: 20000})
    await writeFlows(s, 'lab', tries)
    for (const plan of ['slots', 'direct'] as const) {
      const m = await computeFeatures(s, {plan})
      expectFeatures(lookup(m, 'lab', '10.1.0.1', T0), {short_conn_burst_log1p: Math.log1p(12), long_dns_query_share: 0})
      expectFeatures(lookup(m, 'lab', '10.1.0.2', T0), {short_conn_burst_log1p: Math.log1p(12)})
      // a window that starts after the first sub-bin sees only the later five
      expectFeatures(lookup(m, 'lab', '10.1.0.1', T0 + 60 * SEC), {short_conn_burst_log1p: Math.log1p(5)})
      expectFeatures(lookup(m, 'lab', '10.1.0.1', T0 - 240 * SEC), {short_conn_burst_log1p: Math.log1p(12)})
      // records, not packets or estimates: a sampled statistic like the other shares
      expectFeatures(lookup(m, 'lab', '10.1.0.3', T0), {long_dns_query_share: 1 / 2, short_conn_burst_log1p: 0})
      // the resolver receives the same queries
      expectFeatures(lookup(m, 'lab', '10.1.0.4', T0), {long_dns_query_share: 1 / 2})
      expectFeatures(lookup(m, 'lab', '10.1.0.5', T0), {bpp_out: 1500})
      expectFeatures(lookup(m, 'lab', '10.1.0.6', T0), {bpp_in: 1500})
    }
    await s.close()
  })

  it('counts same-size short responses from one service port to one client in a sub-bin, from both ends', async () => {
    const s = await FlowStore.open(path.join(tempDir(), 'responses.duckdb'))
    const flows: Flow[] = []
    const web = {src: '10.2.0.1', srcPort: 80, proto: 6, tcpFlags: 0x1b}
    // a web server answers one client's 6 requests in the first 30 s sub-bin: five identical 467-byte
    // error pages and one 6,373-byte page; the client's requests (from its ephemeral ports) are not responses
    for (let i = 0; i < 6; i++) {
      flows.push({...web, dst: '10.2.0.2', tsStart: T0 + i * SEC, dstPort: 50000 + i, packets: 4, bytes: i < 5 ? 467 : 6373})
      flows.push({src: '10.2.0.2', dst: '10.2.0.1', tsStart: T0 + i * SEC, srcPort: 50000 + i, dstPort: 80, proto: 6, tcpFlags: 0x1b, packets: 5, bytes: 400})
    }
    // same size, but not counted with the five: a long response (17 packets), a continuation record
    // without SYN, one in the next sub-bin (T0 + 35 s)
    flows.push({...web, dst: '10.2.0.2', tsStart: T0 + 7 * SEC, dstPort: 50010, packets: 17, bytes: 467})
    flows.push({...web, dst: '10.2.0.2', tsStart: T0 + 8 * SEC, dstPort: 50011, tcpFlags: 0x10, packets: 4, bytes: 467})
    flows.push({...web, dst: '10.2.0.2', tsStart: T0 + 35 * SEC, dstPort: 50012, packets: 4, bytes: 467})
    // one byte more is another response: sizes are compared exactly
    flows.push({...web, dst: '10.2.0.2', tsStart: T0 + 9 * SEC, dstPort: 50013, packets: 4, bytes: 468})
    // the same page to another client counts for that client, not with the first's; a third client
    // gets it once: nothing repeated
    for (let i = 0; i < 2; i++) flows.push({...web, dst: '10.2.0.5', tsStart: T0 + i * SEC, dstPort: 50000 + i, packets: 4, bytes: 467})
    flows.push({...web, dst: '10.2.0.6', tsStart: T0, dstPort: 50000, packets: 4, bytes: 467})
    // refused logins seen 1-in-100: three sampled records are two repeats, not 299
    for (let i = 0; i < 3; i++) {
      flows.push({src: '10.2.0.3', dst: '10.2.0.4', tsStart: T0 + i * SEC, srcPort: 22, dstPort: 40000 + i, proto: 6, tcpFlags: 0x1b, packets: 3, bytes: 186, samplingRate: 100})
    }
    await writeFlows(s, 'lab', flows)
    for (const plan of ['slots', 'direct'] as const) {
      const m = await computeFeatures(s, {plan})
      // five identical responses are the first and four repeats: from the server's outbound records and
      // from the client's inbound ones
      expectFeatures(lookup(m, 'lab', '10.2.0.1', T0), {repeated_response_log1p: Math.log1p(4)})
      expectFeatures(lookup(m, 'lab', '10.2.0.2', T0), {repeated_response_log1p: Math.log1p(4)})
      expectFeatures(lookup(m, 'lab', '10.2.0.5', T0), {repeated_response_log1p: Math.log1p(1)})
      expectFeatures(lookup(m, 'lab', '10.2.0.6', T0), {repeated_response_log1p: 0})
      expectFeatures(lookup(m, 'lab', '10.2.0.3', T0), {repeated_response_log1p: Math.log1p(2)})
      expectFeatures(lookup(m, 'lab', '10.2.0.4', T0), {repeated_response_log1p: Math.log1p(2)})
    }
    await s.close()
  })

  it('counts the most distinct low destination ports of one peer, from both ends', async () => {
    const s = await FlowStore.open(path.join(tempDir(), 'low-ports.duckdb'))
    const flows: Flow[] = []
    const probe = {src: '10.3.0.1', dst: '10.3.0.2', srcPort: 61000, proto: 6, tcpFlags: 0x02, packets: 1, bytes: 60}
    // a vertical scan: ports 1-30 in the first minute, ports 1-10 again in the second (one slot each):
    // 30 distinct ports, not 40
    for (let p = 1; p <= 30; p++) flows.push({...probe, tsStart: T0 + SEC, dstPort: p})
    for (let p = 1; p <= 10; p++) flows.push({...probe, tsStart: T0 + 70 * SEC, dstPort: p})
    // ephemeral ports (≥ 32768) and ICMP do not count; UDP does
    flows.push({...probe, tsStart: T0 + 2 * SEC, dstPort: 40000})
    flows.push({...probe, tsStart: T0 + 2 * SEC, dstPort: 32768})
    flows.push({...probe, tsStart: T0 + 2 * SEC, proto: 1, srcPort: 0, dstPort: 31, tcpFlags: 0})
    flows.push({...probe, tsStart: T0 + 3 * SEC, proto: 17, dstPort: 161, tcpFlags: 0})
    // one sampled probe (1-in-100) to a further port counts once: a sampled statistic, not scaled
    flows.push({...probe, tsStart: T0 + 4 * SEC, dstPort: 32767, samplingRate: 100})
    // another peer's ports are not added: the most of one peer counts
    for (const p of [80, 443]) flows.push({...probe, dst: '10.3.0.3', tsStart: T0 + 5 * SEC, dstPort: p})
    // a web server's answers go to its client's ephemeral ports: nothing out, one port in (its own 443)
    for (let i = 0; i < 20; i++) {
      flows.push({src: '10.3.0.5', dst: '10.3.0.4', tsStart: T0 + i * SEC, srcPort: 50000 + i, dstPort: 443, proto: 6, tcpFlags: 0x1b, packets: 10, bytes: 2000})
      flows.push({src: '10.3.0.4', dst: '10.3.0.5', tsStart: T0 + i * SEC, srcPort: 443, dstPort: 50000 + i, proto: 6, tcpFlags: 0x1b, packets: 10, bytes: 9000})
    }
    await writeFlows(s, 'lab', flows)
    for (const plan of ['slots', 'direct'] as const) {
      const m = await computeFeatures(s, {plan})
      // 30 TCP ports, UDP 161 and the sampled 32767
      expectFeatures(lookup(m, 'lab', '10.3.0.1', T0), {low_ports_one_peer: 32})
      expectFeatures(lookup(m, 'lab', '10.3.0.2', T0), {low_ports_one_peer: 32})
      expectFeatures(lookup(m, 'lab', '10.3.0.3', T0), {low_ports_one_peer: 2})
      // a window holding only the second minute's probes
      expectFeatures(lookup(m, 'lab', '10.3.0.2', T0 + 60 * SEC), {low_ports_one_peer: 10})
      // the server's 20 answers go to ephemeral ports; its client reaches one port (443) of it
      expectFeatures(lookup(m, 'lab', '10.3.0.4', T0), {low_ports_one_peer: 1})
      expectFeatures(lookup(m, 'lab', '10.3.0.5', T0), {low_ports_one_peer: 1})
    }
    await s.close()
  })

  it('keeps networks apart and prints IPv6 addresses as stored', async () => {
    const other = lookup(all, 'other', '10.0.0.1', T0)
    expectFeatures(other, {bytes_out_log1p: Math.log1p(1000), bytes_in_log1p: 0, peers_log1p: Math.log1p(1)})
    expect(all.addresses).toContain('2001:db8::1')
    const lab = await computeFeatures(store, {network: 'lab'})
    expect(new Set(lab.networks)).toEqual(new Set(['lab']))
    expect(lab.length).toBe(all.networks.filter((n) => n === 'lab').length)
  })

  it('restricts to addresses and to a range of window starts', async () => {
    const m = await computeFeatures(store, {network: 'lab', addresses: ['10.0.0.2'], since: T0, until: T0 + 60 * SEC + 1})
    expect(m.addresses).toEqual(['10.0.0.2'])
    expect(Array.from(m.windowStart, (w) => (w - T0) / SEC)).toEqual([0])
    const ranged = await computeFeatures(store, {network: 'lab', addresses: ['10.0.0.1'], since: T0, until: T0 + 61 * SEC})
    expect(Array.from(ranged.windowStart, (w) => (w - T0) / SEC)).toEqual([0, 60])
    // the window at T0 still sees every flow it covers, not only those after `since`
    expect(featureRow(ranged, 0)[FEATURE_INDEX.flows_out_log1p]).toBeCloseTo(Math.log1p(3), 5)
  })

  it('honours window and hop lengths', async () => {
    const m = await computeFeatures(store, {network: 'lab', addresses: ['10.0.0.1'], windowSec: 60, hopSec: 60})
    expect(Array.from(m.windowStart, (w) => (w - T0) / SEC)).toEqual([0, 60])
    const first = featureRow(m, 0)
    expect(first[FEATURE_INDEX.flows_out_log1p]).toBeCloseTo(Math.log1p(3), 5)
    expect(first[FEATURE_INDEX.active_subbin_share]).toBeCloseTo(2 / 2, 5)
  })

  it('refuses a hop longer than the window', async () => {
    await expect(computeFeatures(store, {windowSec: 60, hopSec: 120})).rejects.toBeInstanceOf(UsageError)
  })

  it('uses the slot plan for whole-hop windows and the direct plan otherwise', () => {
    expect(featureSql({}).plan).toBe('slots')
    expect(featureSql({windowSec: 90, hopSec: 60}).plan).toBe('direct')
    expect(featureSql({windowSec: 300, hopSec: 45}).plan).toBe('direct') // hop not a whole number of 30 s sub-bins
    expect(() => featureSql({windowSec: 90, hopSec: 60, plan: 'slots'})).toThrow(UsageError)
  })
})

function expectSameMatrix(a: FeatureMatrix, b: FeatureMatrix): void {
  expect(a.length).toBeGreaterThan(0)
  expect(b.networks).toEqual(a.networks)
  expect(b.addresses).toEqual(a.addresses)
  expect(b.windowStart).toEqual(a.windowStart)
  expect(b.topDstPort).toEqual(a.topDstPort)
  expect(b.topInPort).toEqual(a.topInPort)
  let worst = 0
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i] as number
    worst = Math.max(worst, Math.abs(x - (b.values[i] as number)) / (1e-6 + Math.abs(x)))
  }
  expect(worst).toBeLessThan(1e-5)
}

describe('feature query plans', () => {
  it('agree on random traffic, sampled and unsampled, in any geometry both support', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'plans.duckdb'))
    const rng = createRng(17)
    const flows: Flow[] = []
    for (let i = 0; i < 3000; i++) {
      const host = rng.int(12)
      flows.push({
        // a few busy hosts with repeat peers, so slots hold several flows
        src: `10.0.0.${host}`,
        dst: `10.0.${rng.int(2)}.${rng.int(20)}`,
        tsStart: T0 + Math.floor(rng.next() * 1800 * SEC),
        srcPort: 1024 + rng.int(1000),
        dstPort: [22, 53, 80, 443, 3389][rng.int(5)] ?? 80,
        proto: rng.next() < 0.7 ? 6 : 17,
        tcpFlags: [0x02, 0x12, 0x1b, 0x10][rng.int(4)] ?? 0,
        packets: 1 + rng.int(30),
        bytes: 40 + rng.int(20000),
        samplingRate: rng.next() < 0.3 ? 100 : 1,
      })
    }
    // services answering with a few fixed sizes, so same-size responses repeat within sub-bins
    for (let i = 0; i < 600; i++) {
      flows.push({
        src: `10.0.0.${rng.int(3)}`,
        dst: `10.0.1.${rng.int(3)}`,
        tsStart: T0 + Math.floor(rng.next() * 1800 * SEC),
        srcPort: [80, 443][rng.int(2)] ?? 80,
        dstPort: 40000 + rng.int(1000),
        proto: 6,
        tcpFlags: [0x12, 0x1b, 0x14][rng.int(3)] ?? 0,
        packets: 1 + rng.int(20),
        bytes: [467, 6373][rng.int(2)] ?? 467,
        samplingRate: rng.next() < 0.3 ? 100 : 1,
      })
    }
    await writeFlows(store, 'lab', flows)
    for (const geometry of [{}, {windowSec: 120, hopSec: 30, subBinSec: 10}, {windowSec: 600, hopSec: 600}]) {
      const slots = await computeFeatures(store, {...geometry, plan: 'slots'})
      const direct = await computeFeatures(store, {...geometry, plan: 'direct'})
      expectSameMatrix(slots, direct)
    }
    const since = T0 + 600 * SEC
    expectSameMatrix(
      await computeFeatures(store, {since, until: since + 300 * SEC, addresses: ['10.0.0.3', '10.0.1.7'], plan: 'slots'}),
      await computeFeatures(store, {since, until: since + 300 * SEC, addresses: ['10.0.0.3', '10.0.1.7'], plan: 'direct'}),
    )
    await store.close()
  })
})

describe('phased windows (the stream’s trailing window)', () => {
  it('are the windows of the same length that start there, with sub-bins counted from their start', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'phase.duckdb'))
    const rng = createRng(23)
    const flows: Flow[] = []
    for (let i = 0; i < 2000; i++) {
      flows.push({
        src: `10.0.0.${rng.int(10)}`,
        dst: `10.0.${rng.int(2)}.${rng.int(15)}`,
        tsStart: T0 + Math.floor(rng.next() * 1200 * SEC),
        srcPort: [80, 443, 1024 + rng.int(1000)][rng.int(3)] ?? 80,
        dstPort: [22, 53, 80, 443, 40000 + rng.int(100)][rng.int(5)] ?? 80,
        proto: rng.next() < 0.7 ? 6 : 17,
        tcpFlags: [0x02, 0x12, 0x1b, 0x10][rng.int(4)] ?? 0,
        packets: 1 + rng.int(12),
        bytes: [467, 40 + rng.int(9000)][rng.int(2)] ?? 467,
        samplingRate: rng.next() < 0.3 ? 100 : 1,
      })
    }
    await writeFlows(store, 'lab', flows)
    const phased = (start: number, addresses?: string[]): Promise<FeatureMatrix> =>
      computeFeatures(store, {since: start, until: start + 1, windowSec: 300, hopSec: 300, phaseUs: start, ...(addresses ? {addresses} : {})})
    // a start on the model's hop: the model's own window
    const aligned = T0 + 600 * SEC
    const own = await computeFeatures(store, {since: aligned, until: aligned + 1})
    expect(own.length).toBeGreaterThan(10)
    expectSameMatrix(await phased(aligned), own)
    // a start off the hop and off the sub-bins: the direct plan's window of a 1 s hop, whose sub-bins start with the window
    for (const off of [605, 717, 5]) {
      const start = T0 + off * SEC
      const direct = await computeFeatures(store, {since: start, until: start + 1, windowSec: 300, hopSec: 1, plan: 'direct'})
      expect(direct.length).toBeGreaterThan(10)
      const mine = await phased(start)
      expectSameMatrix(mine, direct)
      expect([...mine.windowStart].every((s) => s === start)).toBe(true)
      // restricted to some addresses: the same rows of those
      const some = ['10.0.0.3', '10.0.1.7']
      const picked = await phased(start, some)
      expect(new Set(picked.addresses)).toEqual(new Set(mine.addresses.filter((a) => some.includes(a))))
      for (let i = 0; i < picked.length; i++) {
        const j = mine.addresses.indexOf(picked.addresses[i]!)
        expect([...featureRow(picked, i)]).toEqual([...featureRow(mine, j)])
      }
    }
    await store.close()
  })
})
