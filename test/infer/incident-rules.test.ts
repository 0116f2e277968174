/**
 * The incident rules (src/infer/INCIDENTS.md §3–5) on hand-made flows through a real store: flows and
 * window detections are written, then `writeIncidents(store, detections, {decide: decideIncidents})`
 * types, folds, floors and grades them as analyze does.
 */
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {decideIncidents} from '../../src/infer/incidents.js'
import {writeDetections, writeIncidents} from '../../src/io/store/index.js'
import type {Detection, IncidentCounterparts, IncidentEvidenceRecord} from '../../src/io/store/index.js'
import {FlowStore} from '../../src/io/store/store.js'
import {tempDir} from '../helpers/cli.js'
import {ACK, FIN, ICMP, MIN, PSH, SYN, T0, UDP, WIN, addFlows, times} from '../helpers/hand-flows.js'
import type {HandFlow} from '../helpers/hand-flows.js'

const X = '10.0.0.5' // the entity under test
const T = '10.0.0.9' // its one peer

/** A window detection of `address` in the window starting `startMin` minutes after T0 (score 2× its threshold). */
function det(address: string, over: Partial<Detection> & {startMin?: number} = {}): Detection {
  const {startMin = 0, ...rest} = over
  return {
    network: 'lab',
    address,
    windowStart: T0 + startMin * MIN,
    windowEnd: T0 + startMin * MIN + WIN,
    model: 'ae@1234',
    pass: 'first',
    score: 20,
    threshold: 10,
    attackType: 'unknown',
    topFeatures: [
      {name: 'bytes_out_log1p', value: 9, standardisedError: 14},
      {name: 'peers_log1p', value: 2, standardisedError: 7},
    ],
    ...rest,
  }
}

interface StoredIncident {
  incident_id: string
  entity: string
  role: string | null
  attack_type: string
  windows: number
  confidence: string | null
  counterparts: IncidentCounterparts
  evidence: IncidentEvidenceRecord
  status: string
  first_us: bigint
  last_us: bigint
}

describe('incident rules on hand-made flows', () => {
  let store: FlowStore
  beforeEach(async () => {
    store = await FlowStore.open(path.join(tempDir(), 'rules.duckdb'))
  })
  afterEach(async () => {
    await store.close()
  })

  /** Writes the flows, then the detections and their incidents in one transaction, as analyze does. */
  async function analyse(flows: readonly HandFlow[], detections: Detection[], runId = 1): Promise<StoredIncident[]> {
    await addFlows(store, flows)
    return rerun(detections, runId)
  }
  async function rerun(detections: Detection[], runId: number): Promise<StoredIncident[]> {
    await store.transaction(async () => {
      await writeDetections(store, detections)
      await writeIncidents(store, detections, {runId, decide: decideIncidents})
    })
    return incidents()
  }
  async function incidents(): Promise<StoredIncident[]> {
    const rows = await store.all<Omit<StoredIncident, 'counterparts' | 'evidence'> & {counterparts: string | null; evidence: string}>(
      `SELECT incident_id, entity, role, attack_type, windows, confidence, counterparts::VARCHAR AS counterparts, evidence::VARCHAR AS evidence, status,
              epoch_us(first_seen) AS first_us, epoch_us(last_seen) AS last_us
         FROM incidents ORDER BY entity, first_seen`,
    )
    return rows.map((r) => ({...r, counterparts: JSON.parse(r.counterparts ?? 'null') as IncidentCounterparts, evidence: JSON.parse(r.evidence) as IncidentEvidenceRecord}))
  }
  async function links(): Promise<Map<string, string | null>> {
    const rows = await store.all<{address: string; incident_id: string | null}>('SELECT DISTINCT address, incident_id FROM detections ORDER BY address')
    return new Map(rows.map((r) => [r.address, r.incident_id]))
  }
  /** The one incident stored, with its type, role and summary. */
  async function only(flows: readonly HandFlow[], detections: Detection[]): Promise<StoredIncident> {
    const rows = await analyse(flows, detections)
    expect(rows.map((r) => r.entity)).toEqual([detections[0]!.address])
    return rows[0]!
  }

  describe('§3 type and role: the first rule that fits', () => {
    /** X probes ten service ports (20..29) of T with SYNs. */
    const verticalScan = times(10, (i) => ({src: X, dst: T, dport: 20 + i, flags: SYN}))

    it('1. vertical scan, scanner: ≥ 5 service ports of one peer probed', async () => {
      const i = await only(verticalScan, [det(X, {attackType: 'scan'})])
      expect([i.attack_type, i.role]).toEqual(['vertical_scan', 'scanner'])
      expect(i.evidence.summary).toBe('10 service ports probed on one host')
      expect(i.counterparts.role).toBe('targets')
    })

    it('1. four ports are not a vertical scan', async () => {
      const i = await only(verticalScan.slice(0, 4), [det(X)])
      expect(i.attack_type).not.toBe('vertical_scan')
    })

    it('2. vertical scan, target: ≥ 5 of its service ports probed by one peer', async () => {
      const i = await only(verticalScan, [det(T)])
      expect([i.attack_type, i.role]).toEqual(['vertical_scan', 'target'])
      expect(i.evidence.summary).toBe('10 of its service ports probed by one host')
    })

    it('3. SYN flood victim: SYN-only records in from ≥ 3 sources', async () => {
      const flows = times(10, (i) => ({src: `198.51.100.${i + 1}`, dst: X, dport: 80, flags: SYN}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['syn_flood', 'victim'])
      expect(i.evidence.summary).toBe('10 connection attempts (SYN without ACK) from 10 sources, most to port 80')
      expect(i.counterparts).toMatchObject({total: 10, role: 'sources', seenOnceShare: 1})
    })

    it('3. two sources are too few for rule 3; the volume rule (12) still types it, by its SYN-only majority', async () => {
      const flows = times(10, (i) => ({src: `198.51.100.${(i % 2) + 1}`, dst: X, dport: 80, flags: SYN}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['syn_flood', 'victim'])
      expect(i.evidence.summary).toMatch(/^≈10 packets in against 0 out, from 2 source\(s\)$/)
    })

    it('4. UDP amplification by a known amplifier port (DNS 53) from ≥ 2 reflectors', async () => {
      const flows = times(6, (i) => ({src: `192.0.2.${(i % 3) + 1}`, dst: X, proto: UDP, sport: 53, dport: 40_000 + i, packets: 3, bytes: 3 * 3000}))
      const i = await only(flows, [det(X, {attackType: 'amplification'})])
      expect([i.attack_type, i.role]).toEqual(['udp_amplification', 'victim'])
      expect(i.evidence.summary).toMatch(/^6 UDP answers at 3,000 bytes\/packet from 3 reflectors \(dns \(53\)\), with nothing sent$/)
      expect(i.counterparts.role).toBe('reflectors')
      expect(i.counterparts.services).toEqual([{port: 53, name: 'dns', share: 1}])
    })

    it('4. UDP amplification by an unknown port at ≥ 400 bytes/packet from ≥ 3 reflectors', async () => {
      const flows = times(6, (i) => ({src: `192.0.2.${(i % 3) + 1}`, dst: X, proto: UDP, sport: 41_234, dport: 40_000 + i, packets: 2, bytes: 2 * 1200}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['udp_amplification', 'victim'])
      expect(i.evidence.summary).toContain('6 UDP answers at 1,200 bytes/packet from 3 reflectors (port 41234)')
    })

    it('4. the same unknown port at small packets (100 bytes/packet) is a UDP flood, not amplification', async () => {
      const flows = times(6, (i) => ({src: `192.0.2.${(i % 3) + 1}`, dst: X, proto: UDP, sport: 41_234, dport: 40_000 + i, packets: 2, bytes: 2 * 100}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['udp_flood', 'victim'])
    })

    it('5. SYN-ACK reflection: bare SYN-ACKs in from ≥ 3 reflectors', async () => {
      const flows = times(6, (i) => ({src: `192.0.2.${(i % 5) + 1}`, dst: X, sport: 80, dport: 40_000 + i, flags: SYN | ACK}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['syn_ack_reflection', 'victim'])
      expect(i.evidence.summary).toBe('6 bare SYN-ACKs (answers to connections it did not open) from 5 reflectors')
    })

    it('6. horizontal scan: probes of one port on ≥ 5 hosts', async () => {
      const flows = times(12, (i) => ({src: X, dst: `10.0.1.${i + 1}`, dport: 23, flags: SYN}))
      const i = await only(flows, [det(X, {attackType: 'scan'})])
      expect([i.attack_type, i.role]).toEqual(['horizontal_scan', 'scanner'])
      expect(i.evidence.summary).toBe('12 probes of port 23 on 12 hosts')
    })

    it('6. horizontal scan by UDP probes of one packet each', async () => {
      const flows = times(10, (i) => ({src: X, dst: `10.0.1.${i + 1}`, proto: UDP, sport: 50_000, dport: 161, packets: 1, bytes: 80}))
      const i = await only(flows, [det(X, {attackType: 'scan'})])
      expect([i.attack_type, i.role]).toEqual(['horizontal_scan', 'scanner'])
      expect(i.evidence.summary).toBe('10 probes of port 161 on 10 hosts')
    })

    // Ten one-packet UDP probes of port 161 beside one 100-packet SNMP exchange with another host: 10 of 11
    // records are probes ("mostly"), counted per record (found as a doc/code divergence, now fixed).
    it('6. UDP probes are counted per record: one large UDP record beside ten probes does not hide the scan', async () => {
      const flows: HandFlow[] = [
        ...times(10, (i) => ({src: X, dst: `10.0.1.${i + 1}`, proto: UDP, sport: 50_000, dport: 161, packets: 1, bytes: 80})),
        {src: X, dst: '10.0.3.1', proto: UDP, sport: 50_001, dport: 161, packets: 100, bytes: 8000},
      ]
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['horizontal_scan', 'scanner'])
    })

    // Ten SYN probes of port 23 beside one 100-packet HTTPS record: port 23 leads by records (10 of 11),
    // though 443 leads by packets (found as a doc/code divergence, now fixed).
    it('6. "mostly to one port" is by records: one heavy record to another port does not hide the scan', async () => {
      const flows: HandFlow[] = [
        ...times(10, (i) => ({src: X, dst: `10.0.1.${i + 1}`, dport: 23, flags: SYN})),
        {src: X, dst: '10.0.3.1', sport: 50_001, dport: 443, flags: ACK | PSH, packets: 100, bytes: 6000},
      ]
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['horizontal_scan', 'scanner'])
    })

    /** X opens eight short SSH sessions on T, and T answers each. */
    const sshGuessing: HandFlow[] = [
      ...times(8, (i) => ({src: X, dst: T, sport: 50_000 + i, dport: 22, flags: SYN | ACK | PSH | FIN, packets: 10, bytes: 1000})),
      ...times(8, (i) => ({src: T, dst: X, sport: 22, dport: 50_000 + i, flags: SYN | ACK | PSH | FIN, packets: 9, bytes: 1500})),
    ]

    it('7. brute force, attacker: ≥ 5 short connections to one login port of one peer', async () => {
      const i = await only(sshGuessing, [det(X, {attackType: 'brute_force'})])
      expect([i.attack_type, i.role]).toEqual(['brute_force', 'attacker'])
      expect(i.evidence.summary).toBe(`8 short ssh (22) connections to ${T}`)
    })

    it('7. the same on a port that is no login service (8080) is not brute force', async () => {
      const flows = times(8, (i) => ({src: X, dst: T, sport: 50_000 + i, dport: 8080, flags: SYN | ACK | PSH | FIN, packets: 10, bytes: 1000}))
      const i = await only(flows, [det(X)])
      expect(i.attack_type).not.toBe('brute_force')
    })

    it('8. brute force, target: ≥ 5 short connections to one of its login ports from one peer', async () => {
      const i = await only(sshGuessing, [det(T)])
      expect([i.attack_type, i.role]).toEqual(['brute_force', 'target'])
      expect(i.evidence.summary).toBe(`8 short ssh (22) connections from ${X}`)
    })

    it('9. DNS tunnel: most DNS query packets over 128 bytes per packet', async () => {
      const flows = [
        ...times(6, (i) => ({src: X, dst: '10.0.0.53', proto: UDP, sport: 50_000 + i, dport: 53, packets: 2, bytes: 600})),
        {src: X, dst: '10.0.0.53', proto: UDP, sport: 50_010, dport: 53, packets: 1, bytes: 70},
      ]
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['dns_tunnel', 'tunnel-client'])
      expect(i.evidence.summary).toBe('12 of 13 DNS query packets over 128 bytes (data in query names)')
    })

    /** X checks in with S on 443 once a minute; S answers. */
    const S = '10.0.0.80'
    const checkIns: HandFlow[] = [
      ...times(5, (i) => ({src: X, dst: S, sport: 50_000 + i, dport: 443, flags: ACK | PSH, packets: 3, bytes: 300, at: T0 + i * MIN})),
      ...times(5, (i) => ({src: S, dst: X, sport: 443, dport: 50_000 + i, flags: ACK | PSH, packets: 3, bytes: 400, at: T0 + i * MIN})),
    ]

    it('10. beaconing client: windows typed beaconing, its largest destination port a service port', async () => {
      const i = await only(checkIns, [det(X, {attackType: 'beaconing'})])
      expect([i.attack_type, i.role]).toEqual(['beaconing', 'beacon-client'])
      expect(i.evidence.summary).toBe('regular small check-ins to port 443 of 1 peer(s)')
    })

    it('10. beaconing server: its largest destination port is a client’s ephemeral port', async () => {
      const i = await only(checkIns, [det(S, {attackType: 'beaconing'})])
      expect([i.attack_type, i.role]).toEqual(['beaconing', 'beacon-server'])
      expect(i.evidence.summary).toBe('answers regular small check-ins from 1 peer(s)')
    })

    it('10. the same traffic in windows not typed beaconing is not beaconing', async () => {
      const i = await only(checkIns, [det(X)])
      expect(i.attack_type).toBe('unknown')
    })

    it('11. exfiltration: ≥ 256 kB out, ≥ 8× the bytes in, ≥ 90% of them to one peer (whatever the window type)', async () => {
      const flows: HandFlow[] = [
        ...times(2, (i) => ({src: X, dst: '203.0.113.7', sport: 50_000 + i, dport: 443, flags: SYN | ACK | PSH | FIN, packets: 1000, bytes: 1_400_000})),
        ...times(2, (i) => ({src: '203.0.113.7', dst: X, sport: 443, dport: 50_000 + i, flags: SYN | ACK | FIN, packets: 900, bytes: 54_000})),
      ]
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['exfiltration', 'exfiltrator'])
      expect(i.evidence.summary).toBe('≈2.8 MB sent (95% at least 2.8 MB), 100% to one peer, 26× the bytes received')
    })

    it('11. a sampled upload is exfiltration only when the 95% lower bound of its bytes clears 256 kB', async () => {
      // 1-in-1000: one sampled packet of 1,400 bytes stands for ≈1.4 MB, but 95% at least ≈35 kB: not enough
      const few: HandFlow[] = [
        {src: X, dst: '203.0.113.7', sport: 50_000, dport: 443, flags: ACK | PSH, packets: 1, bytes: 1400, rate: 1000},
        {src: '203.0.113.7', dst: X, sport: 443, dport: 50_000, flags: ACK, packets: 2, bytes: 80, rate: 1000},
      ]
      expect((await only(few, [det(X)])).attack_type).not.toBe('exfiltration')
      // 40 sampled packets: ≈56 MB, 95% at least ≈40 MB
      const many: HandFlow[] = [
        {src: X, dst: '203.0.113.7', sport: 50_000, dport: 443, flags: ACK | PSH, packets: 40, bytes: 56_000, rate: 1000},
        {src: '203.0.113.7', dst: X, sport: 443, dport: 50_000, flags: ACK, packets: 5, bytes: 200, rate: 1000},
      ]
      expect((await only(many, [det(X)])).attack_type).toBe('exfiltration')
    })

    it('10. periodic windows on a login port are brute force, not a beacon', async () => {
      const flows = times(6, (i) => ({src: X, dst: T, sport: 50_000 + i, dport: 22, flags: SYN | ACK | PSH | FIN, packets: 20, bytes: 3000, at: T0 + i * MIN}))
      const i = await only(flows, [det(X, {attackType: 'beaconing'})])
      expect([i.attack_type, i.role]).toEqual(['brute_force', 'attacker'])
    })

    it('14. a brute force typed by its windows: the target is the end whose own login port receives the connections', async () => {
      // a server that sends more than it receives (long answers) is still the target
      const flows: HandFlow[] = [
        ...times(3, (i) => ({src: X, dst: T, sport: 50_000 + i, dport: 22, flags: SYN | ACK | PSH | FIN, packets: 30, bytes: 3000})),
        ...times(3, (i) => ({src: T, dst: X, sport: 22, dport: 50_000 + i, flags: SYN | ACK | PSH | FIN, packets: 40, bytes: 9000})),
      ]
      const i = await only(flows, [det(T, {attackType: 'brute_force'})])
      expect([i.attack_type, i.role]).toEqual(['brute_force', 'target'])
    })

    it('12. one-way flood, victim: ≥ 4× the packets in, typed by the inbound majority (ICMP)', async () => {
      const flows = times(4, (i) => ({src: `192.0.2.${(i % 2) + 1}`, dst: X, proto: ICMP, packets: 500, bytes: 500 * 84}))
      const i = await only(flows, [det(X, {attackType: 'flood'})])
      expect([i.attack_type, i.role]).toEqual(['icmp_flood', 'victim'])
      expect(i.evidence.summary).toBe('≈2,000 packets in against 0 out, from 2 source(s)')
    })

    it('13. one-way flood, attacker: ≥ 4× the packets out, to at most 3 peers', async () => {
      const flows = times(4, (i) => ({src: X, dst: T, proto: UDP, sport: 50_000 + i, dport: 9999, packets: 500, bytes: 500 * 100}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['udp_flood', 'attacker'])
      expect(i.evidence.summary).toBe('≈2,000 packets out to 1 peer(s) against 0 in')
    })

    it('14. window-type fallback: a flood window the flows do not explain is a flood on the side with more packets', async () => {
      // two inbound records only (rule 12 needs 3)
      const flows = times(2, (i) => ({src: `192.0.2.${i + 1}`, dst: X, sport: 443, dport: 50_000 + i, flags: ACK, packets: 100, bytes: 6000}))
      const i = await only(flows, [det(X, {attackType: 'flood'})])
      expect([i.attack_type, i.role]).toEqual(['tcp_flood', 'victim'])
      expect(i.evidence.summary).toBe('≈200 packets in from 2 source(s) (window type flood)')
    })

    it('14. window-type fallback: a scan window with two probes is a vertical scan by its scanner', async () => {
      const flows = times(2, (i) => ({src: X, dst: T, dport: 80 + i, flags: SYN, packets: 2, bytes: 120}))
      const i = await only(flows, [det(X, {attackType: 'scan'})])
      expect([i.attack_type, i.role]).toEqual(['vertical_scan', 'scanner'])
      expect(i.evidence.summary).toBe('probes (window type scan)')
    })

    it('15. unknown: no rule fits; the summary names the top features of its peak window', async () => {
      const flows: HandFlow[] = [
        ...times(3, (i) => ({src: X, dst: T, sport: 50_000 + i, dport: 443, flags: ACK | PSH, packets: 5, bytes: 2000})),
        ...times(3, (i) => ({src: T, dst: X, sport: 443, dport: 50_000 + i, flags: ACK | PSH, packets: 5, bytes: 2000})),
      ]
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.role]).toEqual(['unknown', 'anomalous'])
      expect(i.evidence.summary).toBe('no attack rule fits; anomalous in bytes_out_log1p, peers_log1p')
    })
  })

  describe('§4 folding and the evidence floor', () => {
    it('a SYN flood of 100 spoofed sources, each flagged, is ONE incident on the victim with every source folded', async () => {
      const sources = times(100, (i) => ({src: `198.51.${100 + Math.floor(i / 50)}.${(i % 50) + 1}`, dst: X, dport: 80, flags: SYN, bytes: 40, at: T0 + i * 1e6})).map((f) => f.src)
      const flows = sources.map((src, i) => ({src, dst: X, dport: 80, flags: SYN, bytes: 40, at: T0 + i * 1e6}))
      const victimWindows = [0, 1, 2].map((m) => det(X, {startMin: m, attackType: 'flood', score: 40}))
      const sourceDetections = sources.map((s) => det(s, {attackType: 'unknown'}))
      const rows = await analyse(flows, [...victimWindows, ...sourceDetections])
      expect(rows).toHaveLength(1)
      const [v] = rows
      expect([v!.entity, v!.attack_type, v!.role]).toEqual([X, 'syn_flood', 'victim'])
      const l = await links()
      expect(l.size).toBe(101)
      expect([...l.values()].every((id) => id === v!.incident_id)).toBe(true)
      expect(v!.counterparts.folded).toEqual([...sources].sort())
      expect(v!.counterparts.likelySpoofed).toBe(true)
      expect(v!.counterparts.total).toBeGreaterThanOrEqual(100)
      expect(v!.counterparts.seenOnceShare).toBe(1)
      expect(v!.counterparts.sample.length).toBeLessThanOrEqual(10)
    })

    it('sources seen more than once (each also completed a connection) are not likely spoofed', async () => {
      const sources = times(30, (i) => ({src: `198.51.100.${i + 1}`, dst: X})).map((f) => f.src)
      const flows = [
        ...sources.map((src) => ({src, dst: X, dport: 80, flags: SYN, bytes: 40})),
        // each source also sent one completed connection: two records each, not one
        ...sources.map((src) => ({src, dst: X, dport: 80, flags: ACK | PSH, packets: 4, bytes: 400})),
      ]
      const i = await only(flows, [det(X)])
      expect(i.attack_type).toBe('syn_flood')
      expect(i.counterparts.likelySpoofed).toBe(false)
    })

    it('a SYN flood whose one-record sources completed handshakes (a third of them) is not likely spoofed', async () => {
      const flows = times(30, (i) => ({src: `198.51.100.${i + 1}`, dst: X, dport: 80, flags: i < 20 ? SYN : SYN | ACK | PSH | FIN, packets: i < 20 ? 1 : 6}))
      const i = await only(flows, [det(X)])
      expect([i.attack_type, i.counterparts.seenOnceShare]).toEqual(['syn_flood', 1])
      expect(i.counterparts.likelySpoofed).toBe(false)
    })

    it.each([
      [1, 0, false],
      [2, 0, false],
      [1, 1, false],
      [3, 0, true],
      [2, 1, true],
    ])('the evidence floor: %i packet(s) out and %i in at 1-in-100, no host to fold into → incident: %s', async (out, inn, kept) => {
      const P = '10.0.0.200'
      const flows: HandFlow[] = [
        ...times(out, (i) => ({src: X, dst: P, sport: 50_000 + i, dport: 443, flags: ACK, rate: 100})),
        ...times(inn, (i) => ({src: P, dst: X, sport: 443, dport: 50_000 + i, flags: ACK, rate: 100})),
      ]
      const rows = await analyse(flows, [det(X, {score: 80})])
      expect(rows).toHaveLength(kept ? 1 : 0)
      const id = (await links()).get(X)
      if (kept) expect(id).toBe(rows[0]!.incident_id)
      else expect(id).toBeNull()
    })

    it('a one-packet address still folds into a host it talks to (it is below the floor, but a counterpart)', async () => {
      const flows = [...times(10, (i) => ({src: `198.51.100.${i + 1}`, dst: X, dport: 80, flags: SYN, rate: 100}))]
      const rows = await analyse(flows, [det(X), det('198.51.100.1')])
      expect(rows.map((r) => r.entity)).toEqual([X])
      expect((await links()).get('198.51.100.1')).toBe(rows[0]!.incident_id)
      expect(rows[0]!.counterparts.folded).toEqual(['198.51.100.1'])
      // under sampling the sample cannot tell forged sources
      expect(rows[0]!.counterparts.likelySpoofed).toBe(false)
    })

    it('a scan target folds into its scanner', async () => {
      const flows = times(10, (i) => ({src: X, dst: T, dport: 20 + i, flags: SYN}))
      const rows = await analyse(flows, [det(X, {attackType: 'scan'}), det(T)])
      expect(rows.map((r) => [r.entity, r.attack_type, r.role])).toEqual([[X, 'vertical_scan', 'scanner']])
      expect(rows[0]!.counterparts.folded).toEqual([T])
      expect((await links()).get(T)).toBe(rows[0]!.incident_id)
    })

    it('a target that does not overlap its scanner in time is not folded', async () => {
      const flows = [
        ...times(10, (i) => ({src: X, dst: T, dport: 20 + i, flags: SYN})),
        ...times(10, (i) => ({src: X, dst: T, dport: 20 + i, flags: SYN, at: T0 + 60 * MIN + i})),
      ]
      const rows = await analyse(flows, [det(X), det(T, {startMin: 60})])
      expect(rows.map((r) => [r.entity, r.role])).toEqual([
        [X, 'scanner'],
        [T, 'target'],
      ])
    })

    it('a brute-force target that is a busy server (most records with other peers) still folds into its attacker', async () => {
      const flows: HandFlow[] = [
        ...times(8, (i) => ({src: X, dst: T, sport: 50_000 + i, dport: 22, flags: SYN | ACK | PSH | FIN, packets: 10, bytes: 1000})),
        // 30 other clients of T, 2 records each: 60 of T's 68 records are not with X
        ...times(60, (i) => ({src: `10.0.2.${(i % 30) + 1}`, dst: T, sport: 50_000 + i, dport: 443, flags: ACK | PSH, packets: 2, bytes: 800})),
      ]
      const rows = await analyse(flows, [det(X, {attackType: 'brute_force'}), det(T)])
      expect(rows.map((r) => [r.entity, r.attack_type, r.role])).toEqual([[X, 'brute_force', 'attacker']])
      expect(rows[0]!.counterparts.folded).toEqual([T])
      expect((await links()).get(T)).toBe(rows[0]!.incident_id)
    })

    it('a beacon’s server folds into its client', async () => {
      const S = '10.0.0.80'
      const flows: HandFlow[] = [
        ...times(5, (i) => ({src: X, dst: S, sport: 50_000 + i, dport: 443, flags: ACK | PSH, packets: 3, bytes: 300, at: T0 + i * MIN})),
        ...times(5, (i) => ({src: S, dst: X, sport: 443, dport: 50_000 + i, flags: ACK | PSH, packets: 3, bytes: 400, at: T0 + i * MIN})),
      ]
      const rows = await analyse(flows, [det(X, {attackType: 'beaconing'}), det(S, {attackType: 'beaconing'})])
      expect(rows.map((r) => [r.entity, r.role])).toEqual([[X, 'beacon-client']])
      expect(rows[0]!.counterparts.folded).toEqual([S])
    })

    it('an amplification’s reflectors, flagged, are folded into the victim', async () => {
      const reflectors = ['192.0.2.1', '192.0.2.2', '192.0.2.3']
      const flows = times(9, (i) => ({src: reflectors[i % 3]!, dst: X, proto: UDP, sport: 123, dport: 40_000 + i, packets: 2, bytes: 2 * 468}))
      const rows = await analyse(flows, [det(X), ...reflectors.map((r) => det(r))])
      expect(rows.map((r) => [r.entity, r.attack_type, r.role])).toEqual([[X, 'udp_amplification', 'victim']])
      expect(rows[0]!.counterparts.folded).toEqual(reflectors)
      expect(rows[0]!.counterparts.services?.[0]).toMatchObject({port: 123, name: 'ntp', share: 1})
    })
  })

  describe('§5 confidence and intervals', () => {
    /** `n` sampled records of one packet (60 bytes) each, X → T, at 1-in-`rate`. */
    const sent = (n: number, rate: number): HandFlow[] => times(n, (i) => ({src: X, dst: T, proto: UDP, sport: 50_000 + i, dport: 9999, packets: 1, bytes: 60, rate}))

    it('unsampled and ratio ≥ 1.5 → high; the figures are exact', async () => {
      const i = await only(sent(12, 1), [det(X, {score: 15})])
      expect(i.confidence).toBe('high')
      expect(i.evidence.confidenceText).toBe('high: 12 packets seen, unsampled; score 1.5× its threshold over 1 window')
      expect(i.evidence.estimated.packets).toEqual({estimate: 12, low: 12, high: 12})
      expect(i.evidence.estimated.bytes).toEqual({estimate: 720, low: 720, high: 720})
      expect(i.evidence.samplingRate).toBe(1)
    })

    it('unsampled but ratio < 1.5 → medium', async () => {
      const i = await only(sent(12, 1), [det(X, {score: 14})])
      expect(i.confidence).toBe('medium')
    })

    it('12 sampled packets at 1-in-100 and ratio 2 → medium, with the interval N·Garwood(12) in words', async () => {
      const i = await only(sent(12, 100), [det(X), det(X, {startMin: 1})])
      expect(i.confidence).toBe('medium')
      // Garwood(12) = [6.2006, 20.9616]: ×100 → 620–2,096 packets, ×(7,200 bytes / 12) → 372,035–1,257,695 bytes
      expect(i.evidence.estimated.packets).toEqual({estimate: 1200, low: 620, high: 2096})
      expect(i.evidence.estimated.bytes).toEqual({estimate: 72_000, low: Math.round(72_000 * (6.200575 / 12)), high: Math.round(72_000 * (20.961585 / 12))})
      expect(i.evidence.sampled).toEqual({records: 12, packets: 12, bytes: 720})
      expect(i.evidence.samplingRate).toBe(100)
      expect(i.evidence.confidenceText).toContain('12 sampled packets at 1-in-100')
      expect(i.evidence.confidenceText).toContain('≈1,200 (95% interval 620–2,096)')
      expect(i.evidence.confidenceText).toMatch(/^medium: .*; score 2(\.0)?× its threshold over 2 windows$/)
    })

    it('12 sampled packets and ratio < 1.5 → low', async () => {
      const i = await only(sent(12, 100), [det(X, {score: 14})])
      expect(i.confidence).toBe('low')
    })

    it('the medium band (w ≤ 0.75 at ratio ≥ 1.5) starts at 9 sampled packets: 8 give w = 0.77 → low', async () => {
      const eight = await only(sent(8, 100), [det(X)])
      expect(eight.confidence).toBe('low')
      await store.run('DELETE FROM incidents')
      await store.run('DELETE FROM detections')
      await addFlows(store, sent(1, 100))
      const nine = await rerun([det(X)], 2)
      expect(nine[0]!.confidence).toBe('medium')
    })

    it('4 sampled packets → low, whatever the score', async () => {
      const i = await only(sent(4, 100), [det(X, {score: 100})])
      expect(i.confidence).toBe('low')
      // Garwood(4) = [1.0899, 10.2416]
      expect(i.evidence.estimated.packets).toEqual({estimate: 400, low: 109, high: 1024})
      expect(i.evidence.confidenceText).toContain('4 sampled packets at 1-in-100 stand for ≈400 (95% interval 109–1,024)')
    })

    it('40 sampled packets (w ≤ 0.35) → high at ratio ≥ 1.5, medium below', async () => {
      const hi = await only(sent(40, 100), [det(X)])
      expect(hi.confidence).toBe('high')
      // Garwood(40) = [28.5766, 54.4686]
      expect(hi.evidence.estimated.packets).toEqual({estimate: 4000, low: 2858, high: 5447})
      await store.run('DELETE FROM incidents')
      await store.run('DELETE FROM detections')
      const rows = await rerun([det(X, {score: 11})], 2)
      expect(rows[0]!.confidence).toBe('medium')
    })
  })

  describe('§1 re-runs and later runs', () => {
    const flows: HandFlow[] = [
      ...times(10, (i) => ({src: X, dst: T, dport: 20 + i, flags: SYN, at: T0 + i * 1e6})),
      ...times(10, (i) => ({src: X, dst: T, dport: 20 + i, flags: SYN, at: T0 + 8 * MIN + i * 1e6})),
      {src: '10.0.0.77', dst: T, dport: 443, flags: ACK, rate: 100}, // below the floor
    ]
    const firstRun = [det(X, {attackType: 'scan'}), det(X, {startMin: 1, attackType: 'scan'}), det(T), det('10.0.0.77')]

    it('re-running the same run leaves incidents identical (ids, folded links)', async () => {
      const before = await analyse(flows, firstRun, 1)
      const linksBefore = await links()
      expect(before).toHaveLength(1)
      expect(linksBefore.get(T)).toBe(before[0]!.incident_id)
      expect(linksBefore.get('10.0.0.77')).toBeNull()
      const after = await rerun(firstRun, 2)
      expect(after).toEqual(before)
      expect(await links()).toEqual(linksBefore)
    })

    it('a later run extends the incident: same id, later last_seen, more windows, folds kept', async () => {
      const [first] = await analyse(flows, firstRun, 1)
      const later = [det(X, {startMin: 8, attackType: 'scan'}), det(T, {startMin: 8})]
      const after = await rerun(later, 2)
      expect(after).toHaveLength(1)
      expect(after[0]).toMatchObject({incident_id: first!.incident_id, entity: X, attack_type: 'vertical_scan', role: 'scanner', windows: 3})
      expect(after[0]!.last_us).toBe(BigInt(T0 + 13 * MIN))
      expect(after[0]!.counterparts.folded).toEqual([T])
      const l = await store.all<{address: string; ws: bigint; incident_id: string | null}>(
        'SELECT address, epoch_us(window_start) AS ws, incident_id FROM detections ORDER BY address, window_start',
      )
      expect(l.filter((d) => d.address !== '10.0.0.77').every((d) => d.incident_id === first!.incident_id)).toBe(true)
      expect(l.filter((d) => d.address === T)).toHaveLength(2)
    })
  })
})
