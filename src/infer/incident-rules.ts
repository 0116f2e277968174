/**
 * What an incident is, from the flows behind it (src/infer/INCIDENTS.md documents every rule and
 * threshold; keep the two together). Pure: the evidence is read by io/store/incident-evidence.ts.
 *
 * Three steps over the merged incidents of one analyze run:
 * 1. **Type and role**: the first rule that fits the entity's evidence (RULE_ORDER) names the attack,
 *    the entity's part in it and what its peers are; `unknown` when none fits.
 * 2. **Evidence floor**: an incident resting on fewer than MIN_INCIDENT_PACKETS sampled packets is no
 *    incident on its own (a spoofed source seen once; a one-packet estimate's interval spans two
 *    orders of magnitude).
 * 3. **Folding**: an incident whose traffic in the span is mostly with the entity of an overlapping
 *    incident of a higher rank (flood victim > initiator > target/server > anomalous) is that
 *    incident's counterpart, not an incident: a flood's sources and reflectors belong to the victim,
 *    a scan's target to the scanner, a beacon's server to its client.
 */
import {AMPLIFICATION_SERVICES, LOGIN_SERVICES, poissonInterval95} from '../core/index.js'
import {COUNTERPART_SAMPLE_SIZE} from '../io/index.js'
import type {
  CounterpartSample,
  DirectionEvidence,
  EntityEvidence,
  IncidentConfidence,
  IncidentCounterparts,
  IncidentDecision,
  IncidentEvidenceRecord,
  IncidentRole,
  IncidentType,
  IntervalEstimate,
  MergedIncident,
} from '../io/index.js'
import {peakEvidence} from '../io/index.js'

/** Sampled packets (both directions) an incident needs of its own; fewer and it can only be a counterpart. */
export const MIN_INCIDENT_PACKETS = 3

/** The thresholds of the rules (INCIDENTS.md). Counts are of sampled records, not extrapolated. */
export const INCIDENT_RULES = {
  /** records a rule needs on the side it reads */
  minRecords: 3,
  /** the share that makes one kind of traffic "mostly" */
  dominance: 0.5,
  /** distinct sampled sources of a many-source attack */
  floodSources: 3,
  /** extrapolated packets in over out (or out over in) of a one-way flood */
  volumeRatio: 4,
  /** distinct service ports (< 32,768) with one peer: a vertical scan */
  scanPorts: 5,
  /** distinct peers, mostly on one port, of connection attempts: a horizontal scan */
  scanPeers: 5,
  /** short connections to one login service of one peer: password guessing */
  bruteConns: 5,
  /** an upload: the 95% lower bound of the extrapolated bytes out, their ratio to the bytes in, and the share of them that goes to one peer */
  exfilBytes: 256 * 1024,
  exfilRatio: 8,
  exfilTopShare: 0.9,
  /** share of a peer in an incident's records that folds it into that peer's incident */
  foldShare: 0.5,
  /** bytes per packet of a reflection's answers when the service port is not a known amplifier */
  amplifiedBpp: 400,
} as const

/**
 * A flood's sources are likely forged when at least this many were seen, unsampled, and at least this
 * share of them sent one record (for a SYN flood: and never completed a handshake). Under sampling
 * every source is seen about once, so the sample cannot tell.
 */
export const SPOOF_MIN_SOURCES = 20
export const SPOOF_ONCE_SHARE = 0.9

/** A merged incident with the evidence of its entity over its span. */
export interface IncidentCandidate {
  incident: MergedIncident
  evidence: EntityEvidence
}

/** What the type rules say of one candidate. */
export interface Classification {
  type: IncidentType
  role: IncidentRole
  /** what its peers are to it (plural: sources, reflectors, targets, servers, clients, destinations, victims, peers) */
  peersAre: string
  /** the rule that fired, with its figures */
  summary: string
  /** the one peer the rule is about (a brute force's other end), which it folds into when that peer is an incident of a higher rank */
  about?: string
}

const FLOOD_VICTIM_TYPES: ReadonlySet<IncidentType> = new Set(['syn_flood', 'udp_amplification', 'syn_ack_reflection', 'icmp_flood', 'udp_flood', 'tcp_flood'])
const INITIATOR_ROLES: ReadonlySet<IncidentRole> = new Set(['attacker', 'scanner', 'beacon-client', 'exfiltrator', 'tunnel-client'])

/** Rank for folding: a lower-ranked incident folds into a higher-ranked one it mostly talks to. */
export function rankOf(c: Classification): number {
  if (c.role === 'victim' && FLOOD_VICTIM_TYPES.has(c.type)) return 4
  if (INITIATOR_ROLES.has(c.role)) return 3
  if (c.role === 'anomalous') return 1
  return 2
}

/** The type, role and reason of one candidate (the first rule that fits; INCIDENTS.md). */
export function classifyIncident(c: IncidentCandidate): Classification {
  const R = INCIDENT_RULES
  const {in: rx, out: tx} = c.evidence
  const family = c.incident.attackType
  const most = (part: number, whole: number) => whole > 0 && part >= R.dominance * whole
  const n = fmt

  // — a vertical scan (before the floods: a scan target receives SYNs too, but on many ports from one host) —
  if (tx.maxPortsOnePeer >= R.scanPorts) {
    return {type: 'vertical_scan', role: 'scanner', peersAre: 'targets', summary: `${n(tx.maxPortsOnePeer)} service ports probed on one host`}
  }
  if (rx.maxPortsOnePeer >= R.scanPorts) {
    return {type: 'vertical_scan', role: 'target', peersAre: 'scanners', summary: `${n(rx.maxPortsOnePeer)} of its service ports probed by one host`}
  }
  // — many-source attacks on a victim —
  if (rx.synOnlyRecords >= R.minRecords && most(rx.tcpRecords, rx.records) && most(rx.synOnlyRecords, rx.tcpRecords) && rx.peers >= R.floodSources && rx.synOnlyRecords >= 3 * tx.synOnlyRecords) {
    const port = rx.dstPortsTop[0]
    return victim('syn_flood', 'sources', `${n(rx.synOnlyRecords)} connection attempts (SYN without ACK) from ${n(rx.peers)} sources${port === undefined ? '' : `, most to port ${port.port}`}`)
  }
  if (rx.udpRecords >= R.minRecords && most(rx.udpRecords, rx.records)) {
    let amplified = 0
    for (const p of rx.udpSrcPortsTop) if (AMPLIFICATION_SERVICES.has(p.port)) amplified += p.estPackets
    const top = rx.udpSrcPortsTop[0]
    const bpp = rx.estPackets > 0 ? rx.estBytes / rx.estPackets : 0
    const known = most(amplified, rx.udpEstPackets) && rx.peers >= 2
    const unknownService = top !== undefined && most(top.estPackets, rx.udpEstPackets) && bpp >= R.amplifiedBpp && rx.peers >= R.floodSources
    if ((known || unknownService) && rx.estBytes >= 2 * (tx.estBytes + 1)) {
      const services = rx.udpSrcPortsTop.filter((p) => AMPLIFICATION_SERVICES.has(p.port) || p === top).map((p) => serviceName(p.port))
      return victim('udp_amplification', 'reflectors', `${n(rx.udpRecords)} UDP answers at ${n(bpp)} bytes/packet from ${n(rx.peers)} reflectors (${[...new Set(services)].join(', ')}), ${tx.estBytes > 0 ? `${n(rx.estBytes / tx.estBytes)}× the bytes sent` : 'with nothing sent'}`)
    }
  }
  if (rx.bareSynAckRecords >= R.minRecords && most(rx.bareSynAckRecords, rx.tcpRecords) && rx.peers >= R.floodSources) {
    return victim('syn_ack_reflection', 'reflectors', `${n(rx.bareSynAckRecords)} bare SYN-ACKs (answers to connections it did not open) from ${n(rx.peers)} reflectors`)
  }

  // — one initiator and its targets —
  const probes = tx.synOnlyRecords + tx.udpProbeRecords
  const topOut = tx.topDstPortByRecords ?? undefined
  if (tx.peers >= R.scanPeers && most(probes, tx.records) && topOut !== undefined && most(topOut.records, tx.records)) {
    return {type: 'horizontal_scan', role: 'scanner', peersAre: 'targets', summary: `${n(probes)} probes of port ${topOut.port} on ${n(tx.peers)} hosts`}
  }
  if (tx.topPairShortConns >= R.bruteConns && LOGIN_SERVICES.has(tx.topPairPort)) {
    return {type: 'brute_force', role: 'attacker', peersAre: 'targets', summary: `${n(tx.topPairShortConns)} short ${serviceName(tx.topPairPort)} connections to ${tx.topPairPeer}`, ...about(tx.topPairPeer)}
  }
  if (rx.topPairShortConns >= R.bruteConns && LOGIN_SERVICES.has(rx.topPairPort)) {
    return {type: 'brute_force', role: 'target', peersAre: 'attackers', summary: `${n(rx.topPairShortConns)} short ${serviceName(rx.topPairPort)} connections from ${rx.topPairPeer}`, ...about(rx.topPairPeer)}
  }
  if (tx.dnsLongPackets >= R.minRecords && most(tx.dnsLongPackets, tx.dnsPackets)) {
    return {type: 'dns_tunnel', role: 'tunnel-client', peersAre: 'resolvers', summary: `${n(tx.dnsLongPackets)} of ${n(tx.dnsPackets)} DNS query packets over 128 bytes (data in query names)`}
  }
  if (rx.dnsLongPackets >= R.minRecords && most(rx.dnsLongPackets, rx.dnsPackets)) {
    return {type: 'dns_tunnel', role: 'target', peersAre: 'clients', summary: `receives ${n(rx.dnsLongPackets)} of ${n(rx.dnsPackets)} DNS query packets over 128 bytes (a tunnel's resolver)`}
  }
  if (family === 'beaconing') {
    const port = tx.dstPortsTop[0]?.port ?? 65535
    if (port < 32768 && LOGIN_SERVICES.has(port)) {
      return {type: 'brute_force', role: 'attacker', peersAre: 'targets', summary: `regular logins to ${serviceName(port)} of ${n(tx.peers)} peer(s) (periodic guessing)`}
    }
    return port < 32768
      ? {type: 'beaconing', role: 'beacon-client', peersAre: 'servers', summary: `regular small check-ins to port ${port} of ${n(tx.peers)} peer(s)`}
      : {type: 'beaconing', role: 'beacon-server', peersAre: 'clients', summary: `answers regular small check-ins from ${n(rx.peers)} peer(s)`}
  }
  const sentLow = lowerBound(tx.estBytes, tx.packets, c.evidence.samplingRate)
  const topSink = c.evidence.maxBytesOutOnePeer
  if (sentLow >= R.exfilBytes && tx.estBytes >= R.exfilRatio * (rx.estBytes + 1) && topSink >= R.exfilTopShare * tx.estBytes) {
    return {
      type: 'exfiltration',
      role: 'exfiltrator',
      peersAre: 'destinations',
      summary: `≈${bytes(tx.estBytes)} sent (95% at least ${bytes(sentLow)}), ${pct(topSink / tx.estBytes)} to one peer, ${n(tx.estBytes / (rx.estBytes + 1))}× the bytes received`,
    }
  }

  // — one-way volume —
  if (rx.records >= R.minRecords && rx.estPackets >= R.volumeRatio * (tx.estPackets + 1)) {
    const t = protocolFlood(rx)
    return victim(t, 'sources', `≈${n(rx.estPackets)} packets in against ${n(tx.estPackets)} out, from ${n(rx.peers)} source(s)`)
  }
  if (tx.records >= R.minRecords && tx.estPackets >= R.volumeRatio * (rx.estPackets + 1) && tx.peers <= 3) {
    const t = protocolFlood(tx)
    return {type: t, role: 'attacker', peersAre: 'victims', summary: `≈${n(tx.estPackets)} packets out to ${n(tx.peers)} peer(s) against ${n(rx.estPackets)} in`}
  }

  // — the window type, when the flows do not say more —
  const inbound = rx.estPackets > tx.estPackets
  switch (family) {
    case 'scan':
      return tx.peers >= R.scanPeers
        ? {type: 'horizontal_scan', role: 'scanner', peersAre: 'targets', summary: `connection attempts to ${n(tx.peers)} hosts (window type scan)`}
        : {type: 'vertical_scan', role: inbound ? 'target' : 'scanner', peersAre: inbound ? 'scanners' : 'targets', summary: `probes (window type scan)`}
    case 'flood':
      return inbound
        ? victim(protocolFlood(rx), 'sources', `≈${n(rx.estPackets)} packets in from ${n(rx.peers)} source(s) (window type flood)`)
        : {type: protocolFlood(tx), role: 'attacker', peersAre: 'victims', summary: `≈${n(tx.estPackets)} packets out (window type flood)`}
    case 'amplification':
      return inbound
        ? victim('udp_amplification', 'reflectors', `large UDP answers from ${n(rx.peers)} peer(s) (window type amplification)`)
        : {type: 'udp_amplification', role: 'reflector', peersAre: 'victims', summary: `large UDP answers to ${n(tx.peers)} peer(s) (window type amplification)`}
    case 'brute_force': {
      // the attacker connects to the login port; the target is where it is the destination port
      const login = (d: DirectionEvidence) => d.dstPortsTop.filter((p) => LOGIN_SERVICES.has(p.port)).reduce((a, p) => a + p.records, 0)
      const target = login(rx) !== login(tx) ? login(rx) > login(tx) : inbound
      return {type: 'brute_force', role: target ? 'target' : 'attacker', peersAre: target ? 'attackers' : 'targets', summary: 'repeated login attempts (window type brute_force)'}
    }
    case 'exfiltration':
      return {type: 'exfiltration', role: 'exfiltrator', peersAre: 'destinations', summary: `≈${bytes(tx.estBytes)} sent (window type exfiltration)`}
    default:
      return {type: 'unknown', role: 'anomalous', peersAre: 'peers', summary: `no attack rule fits; anomalous in ${topFeatureNames(c.incident)}`}
  }
}

function about(peer: string | null): {about?: string} {
  return peer === null ? {} : {about: peer}
}

function victim(type: IncidentType, peersAre: string, summary: string): Classification {
  return {type, role: 'victim', peersAre, summary}
}

/** The 95% lower bound of an extrapolated total resting on `sampled` packets at 1-in-`rate` (the total itself unsampled). */
function lowerBound(total: number, sampled: number, rate: number): number {
  if (rate <= 1 || sampled <= 0) return total
  return (total * poissonInterval95(sampled).low) / sampled
}

function pct(x: number): string {
  return `${Math.round(100 * x)}%`
}

function protocolFlood(d: DirectionEvidence): IncidentType {
  if (d.records > 0 && d.synOnlyRecords >= INCIDENT_RULES.dominance * d.records) return 'syn_flood'
  if (d.records > 0 && d.icmpRecords >= INCIDENT_RULES.dominance * d.records) return 'icmp_flood'
  if (d.records > 0 && d.udpRecords >= INCIDENT_RULES.dominance * d.records) return 'udp_flood'
  return 'tcp_flood'
}

/** Decides every candidate (see the module comment): kept with its type and evidence, folded, or dropped. */
export function decideFromEvidence(candidates: readonly IncidentCandidate[]): Map<string, IncidentDecision> {
  const classes = candidates.map((c) => classifyIncident(c))
  const order = candidates.map((_, i) => i).sort((a, b) => rankOf(classes[b]!) - rankOf(classes[a]!) || ratio(candidates[b]!.incident) - ratio(candidates[a]!.incident) || a - b)
  const decisions = new Map<string, IncidentDecision>()
  const hosts: number[] = [] // kept, in rank order
  const index: HostIndex = new Map()
  const folded = new Map<number, string[]>()
  for (const i of order) {
    const c = candidates[i]!
    const host = foldTarget(c, classes[i]!, index, candidates)
    if (host !== undefined) {
      decisions.set(c.incident.incidentId, {kind: 'folded', into: candidates[host]!.incident.incidentId})
      const list = folded.get(host)
      if (list === undefined) folded.set(host, [c.incident.entity])
      else list.push(c.incident.entity)
      continue
    }
    const sampled = c.evidence.out.packets + c.evidence.in.packets
    if (sampled < MIN_INCIDENT_PACKETS) {
      decisions.set(c.incident.incidentId, {kind: 'dropped', reason: `${sampled} sampled packet(s): too little evidence for an incident of its own`})
      continue
    }
    const key = hostKey(c.incident.network, c.incident.entity)
    const entry = {at: i, rank: rankOf(classes[i]!), order: hosts.length}
    hosts.push(i)
    const same = index.get(key)
    if (same === undefined) index.set(key, [entry])
    else same.push(entry)
  }
  for (const i of hosts) {
    const c = candidates[i]!
    const cls = classes[i]!
    decisions.set(c.incident.incidentId, {
      kind: 'incident',
      attackType: cls.type,
      role: cls.role,
      confidence: confidenceOf(c).level,
      counterparts: counterpartsOf(c, cls, folded.get(i) ?? []),
      evidence: evidenceOf(c, cls),
    })
  }
  return decisions
}

/** When the entity was active inside its incident's windows: its first record start and last record end (a day-long window of 16 minutes of data is 16 minutes). */
function activeSpan(c: IncidentCandidate): {active?: {first: string; last: string}} {
  const {firstRecordUs: a, lastRecordUs: b} = c.evidence
  if (a === null || b === null) return {}
  const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString()
  return {active: {first: iso(Math.max(a, c.incident.firstSeen)), last: iso(Math.min(Math.max(a, b), c.incident.lastSeen))}}
}

/** The kept incidents by (network, entity), each with its rank and its place in rank order. */
type HostIndex = Map<string, {at: number; rank: number; order: number}[]>

function hostKey(network: string, entity: string): string {
  return `${network}\u0000${entity}`
}

/**
 * The kept incident (of a higher rank, overlapping in time) that `c` mostly talks to, if any: the one on
 * a peer of at least half its records (only its top two by records can be), or on the one peer its
 * rule is about (a busy server's brute force is the attacker's incident); the former first.
 */
function foldTarget(c: IncidentCandidate, cls: Classification, hosts: HostIndex, all: readonly IncidentCandidate[]): number | undefined {
  const records = c.evidence.out.records + c.evidence.in.records
  if (records === 0) return undefined
  const rank = rankOf(cls)
  const half = c.evidence.topPeersByRecords.filter((p) => p.records >= INCIDENT_RULES.foldShare * records).map((p) => p.address)
  const peers = [...half, ...(cls.about === undefined ? [] : [cls.about])]
  for (const peer of peers) {
    let best: {at: number; order: number} | undefined
    for (const h of hosts.get(hostKey(c.incident.network, peer)) ?? []) {
      // a higher rank, or two anomalous addresses (the one with the higher score is the host)
      if (h.rank < rank || (h.rank === rank && h.rank !== 1)) continue
      const host = all[h.at]!.incident
      if (host.firstSeen >= c.incident.lastSeen || c.incident.firstSeen >= host.lastSeen) continue
      if (best === undefined || h.order < best.order) best = h
    }
    if (best !== undefined) return best.at
  }
  return undefined
}

function ratio(m: MergedIncident): number {
  return m.peakThreshold > 0 ? m.peakScore / m.peakThreshold : Number.POSITIVE_INFINITY
}

/** Extrapolated packets and bytes with 95% intervals: exact Poisson on the sampled packets, scaled (exact when unsampled). */
export function estimatesOf(e: EntityEvidence): {packets: IntervalEstimate; bytes: IntervalEstimate; sampledPackets: number} {
  const sampledPackets = e.out.packets + e.in.packets
  const estPackets = e.out.estPackets + e.in.estPackets
  const estBytes = e.out.estBytes + e.in.estBytes
  if (e.samplingRate <= 1 || sampledPackets === 0) {
    return {packets: {estimate: estPackets, low: estPackets, high: estPackets}, bytes: {estimate: estBytes, low: estBytes, high: estBytes}, sampledPackets}
  }
  const p = poissonInterval95(sampledPackets)
  const lo = p.low / sampledPackets
  const hi = p.high / sampledPackets
  const scaled = (x: number): IntervalEstimate => ({estimate: x, low: Math.round(x * lo), high: Math.round(x * hi)})
  return {packets: scaled(estPackets), bytes: scaled(estBytes), sampledPackets}
}

/** The confidence level and its sentence (INCIDENTS.md): how wide the interval is, and how far over the threshold. */
export function confidenceOf(c: IncidentCandidate): {level: IncidentConfidence; text: string} {
  const e = c.evidence
  const est = estimatesOf(e)
  const r = ratio(c.incident)
  const w = est.packets.estimate > 0 ? (est.packets.high - est.packets.low) / (2 * est.packets.estimate) : 1
  const level: IncidentConfidence = w <= 0.35 && r >= 1.5 ? 'high' : w <= 0.35 || (w <= 0.75 && r >= 1.5) ? 'medium' : 'low'
  const score = `score ${fmt(r)}× its threshold over ${c.incident.windows} window${c.incident.windows === 1 ? '' : 's'}`
  const seen =
    e.samplingRate <= 1
      ? `${fmt(est.sampledPackets)} packets seen, unsampled`
      : `${fmt(est.sampledPackets)} sampled packets at 1-in-${fmt(e.samplingRate)} stand for ≈${fmt(est.packets.estimate)} (95% interval ${fmt(est.packets.low)}–${fmt(est.packets.high)})`
  return {level, text: `${level}: ${seen}; ${score}`}
}

function counterpartsOf(c: IncidentCandidate, cls: Classification, folded: string[]): IncidentCounterparts {
  const e = c.evidence
  const total = e.out.estPackets + e.in.estPackets
  const role = singular(cls.peersAre)
  const sample: CounterpartSample[] = e.peers.slice(0, COUNTERPART_SAMPLE_SIZE).map((p) => ({
    address: p.address,
    role,
    records: p.recordsOut + p.recordsIn,
    packets: p.estPackets,
    bytes: p.estBytes,
    share: total > 0 ? p.estPackets / total : 0,
  }))
  // "seen once": one record from each source (victims) or to each target (initiators)
  const inbound = cls.role === 'victim' || cls.role === 'target' || cls.role === 'beacon-server'
  const seenOnceShare = e.peerCount > 0 ? (inbound ? e.peersOnceIn : e.peersOnceOut) / e.peerCount : 0
  const handshakeless = e.peerCount > 0 ? e.peersSynOnly / e.peerCount : 0
  const manyOnce = cls.role === 'victim' && cls.peersAre === 'sources' && e.samplingRate <= 1 && e.peerCount >= SPOOF_MIN_SOURCES && seenOnceShare >= SPOOF_ONCE_SHARE
  const out: IncidentCounterparts = {
    total: e.peerCount,
    role: cls.peersAre,
    seenOnceShare,
    likelySpoofed: manyOnce && (cls.type !== 'syn_flood' || handshakeless >= SPOOF_ONCE_SHARE),
    sample,
  }
  if (cls.type === 'udp_amplification' && cls.role === 'victim') {
    const udp = e.in.udpEstPackets
    out.services = e.in.udpSrcPortsTop.map((p) => ({port: p.port, name: AMPLIFICATION_SERVICES.get(p.port) ?? `port ${p.port}`, share: udp > 0 ? p.estPackets / udp : 0}))
  }
  if (folded.length > 0) out.folded = [...folded].sort()
  return out
}

function evidenceOf(c: IncidentCandidate, cls: Classification): IncidentEvidenceRecord {
  const e = c.evidence
  const est = estimatesOf(e)
  return {
    summary: cls.summary,
    confidenceText: confidenceOf(c).text,
    samplingRate: e.samplingRate,
    sampled: {records: e.out.records + e.in.records, packets: est.sampledPackets, bytes: e.out.bytes + e.in.bytes},
    estimated: {packets: est.packets, bytes: est.bytes},
    ...activeSpan(c),
    ...peakEvidence(c.incident),
  }
}

function singular(peersAre: string): string {
  const map: Record<string, string> = {sources: 'source', reflectors: 'reflector', targets: 'target', servers: 'server', clients: 'client', destinations: 'destination', victims: 'victim', scanners: 'scanner', attackers: 'attacker', resolvers: 'resolver'}
  return map[peersAre] ?? 'peer'
}

function serviceName(port: number): string {
  const name = AMPLIFICATION_SERVICES.get(port) ?? LOGIN_SERVICES.get(port)
  return name === undefined ? `port ${port}` : `${name} (${port})`
}

function topFeatureNames(m: MergedIncident): string {
  const f = m.evidence.topFeatures
  const names = Array.isArray(f) ? f.map((x: unknown) => (typeof x === 'object' && x !== null && 'name' in x ? String((x as {name: unknown}).name) : '')).filter((s) => s !== '') : []
  return names.length === 0 ? 'its features' : names.slice(0, 3).join(', ')
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '∞'
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(0) : x.toFixed(1).replace(/\.0$/, '')
}

function bytes(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)} GB`
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)} MB`
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)} kB`
  return `${Math.round(x)} B`
}
