/**
 * Why a window was flagged: the features whose standardised reconstruction error is largest, and a
 * guess at the attack type from simple rules on the feature values themselves.
 *
 * The rules read volumes as estimates (scaled by the sampling rate, so their thresholds hold at any
 * rate) and counts of peers/ports/flows as sampled statistics (so they shrink under sampling: the
 * count thresholds are deliberately low). They run only on windows the model already flagged, in
 * this order, first match wins: flood victim of many sources, flood source, amplification, brute
 * force, scan source, scan target, flood victim of few sources, DNS tunnel (exfiltration), bulk
 * exfiltration, beaconing (client, then server), service probe (scan).
 * The ports of the address's most frequent outbound and inbound destination (context columns of the
 * feature matrix, not model inputs) let brute force be told apart from other single-port traffic.
 *
 * The victim of one source's stream of header-only connection attempts is ambiguous in feature sets 1-2:
 * there is no count of the address's own ports that were hit, so a vertical scan and a one-source SYN
 * flood look alike from the receiving end. The rules call it a scan target when the attempts are
 * small (bare headers, as scanners send) and a flood victim when they carry payload or come from
 * many sources; the source side is unambiguous (one port: flood; many ports: scan).
 * The thresholds were checked on real captures merged into a benign background
 * (test/infer/detection-real.integration.test.ts): ddosgrid's SYN flood (7.7 k packets in 11 s from
 * one host) and port scan, ESnet's masscan TCP/UDP scans, nDPI's SYN scan, a Slips C2 beacon, Slips'
 * SSH brute force, nDPI's DNS exfiltration.
 */
import type {DetectionFeature} from '../io/index.js'
import type {FeatureName} from './features.js'
import {DEFAULT_SUBBIN_SEC, FEATURE_INDEX, LONG_DNS_QUERY_BYTES, SMALL_PACKET_BYTES} from './features.js'
import type {ErrorNormalisation} from './normalisation.js'
import {standardisedErrors} from './normalisation.js'

export const ATTACK_TYPES = ['scan', 'flood', 'amplification', 'brute_force', 'beaconing', 'exfiltration', 'unknown'] as const
export type AttackType = (typeof ATTACK_TYPES)[number]

/** Login services that brute-force tools target (902: VMware authd, the target of Slips' nmap ssh-brute capture). */
export const AUTH_PORTS: ReadonlySet<number> = new Set([21, 22, 23, 110, 143, 445, 902, 993, 995, 1433, 3306, 3389, 5432, 5900])

/** Rule thresholds, in natural units (per window). */
export const RULES = {
  /**
   * estimated packets in a window that make a flood: ≈ 17 pps averaged over 5 minutes. Floods come
   * in bursts far above that (ddosgrid's SYN flood: 7.7 k packets in 11 s, 700 pps), and 30 k (100 pps
   * averaged over the window) missed such a burst because it is much shorter than the window.
   */
  floodPackets: 5_000,
  /** sources (sampled) of a distributed flood */
  floodPeers: 100,
  /** one direction this many times the other */
  dominance: 10,
  /** a flood source aims at one service: at least this share of its flows go to one port (a scan spreads) */
  floodPortShare: 0.5,
  /** distinct destination ports or peers (sampled) that make a scan */
  scanFanOut: 10,
  /** SYN-only or small-packet share of outbound flows typical of probes */
  probeShare: 0.5,
  /** bytes per packet of amplified UDP responses */
  amplificationBpp: 400,
  /** peers (reflectors, sampled) of an amplification victim */
  amplificationPeers: 10,
  /** share of inbound flows that are UDP at an amplification victim */
  amplificationUdp: 0.5,
  /** outbound flows (sampled) of a brute-force window */
  bruteForceFlows: 10,
  /** estimated outbound bytes that make exfiltration */
  exfiltrationBytes: 10_000_000,
  /** at most this many peers for one-to-one patterns (brute force, exfiltration, scan target) */
  fewPeers: 3,
  /**
   * normalised peer entropy at or below which one peer dominates the window (a scanned host's own
   * traffic with its usual peers is a trickle beside the probes)
   */
  dominantPeerEntropy: 0.2,
  /**
   * a beacon talks to one peer, on one port, in most sub-bins of the window, with little data; a
   * second peer is tolerated when it carries a small share of the flows (`dominantPeerEntropy`:
   * Slips' C2 capture also reaches the server's neighbour a few times). Without a measure of
   * regularity a lower activity share also takes in ordinary one-server clients, so beacons slower
   * than one every ~40 s are left to the periodicity evidence of the post-processing pass (src/buckets).
   */
  beaconPeers: 2,
  beaconActivity: 0.8,
  beaconTopShare: 0.9,
  beaconFlows: 5,
  beaconBytes: 1_000_000,
  /**
   * short connections to one port of one peer within one 30 s sub-bin that make a service probe (nmap
   * -sV/-A scripts, web vulnerability scanners: one request per connection); the nDPI background's
   * 99.9th percentile is 17
   */
  probeBurst: 20,
  /** share of an address's DNS query records that are long (`long_dns_query_share`) for DNS tunnelling */
  longDnsShare: 0.5,
} as const

/** A feature that drove a score: the store's `DetectionFeature`, as detections carry it. */
export type FeatureContribution = DetectionFeature

export interface Explanation {
  topFeatures: FeatureContribution[]
  attackType: AttackType
  /** the rule that matched, in words with the numbers it saw */
  reason: string
}

export interface ExplainOptions {
  /** how many features to report (default 3) */
  topK?: number
  /** most frequent outbound destination port, -1 when none (FeatureMatrix.topDstPort) */
  topDstPort?: number
  /** most frequent inbound destination port, -1 when none (FeatureMatrix.topInPort) */
  topInPort?: number
  /** share of inbound flows that are UDP (FeatureMatrix.udpInFraction); unknown when absent */
  udpInFraction?: number
}

/** Top contributing features and an attack-type guess for one window. */
export function explain(
  featureNames: readonly string[],
  normalisation: ErrorNormalisation,
  values: ArrayLike<number>,
  sqError: ArrayLike<number>,
  options: ExplainOptions = {},
): Explanation {
  const z = standardisedErrors(sqError, normalisation)
  const order = Array.from(z, (_, f) => f).sort((a, b) => (z[b] as number) - (z[a] as number) || a - b)
  const topFeatures = order.slice(0, options.topK ?? 3).map((f) => ({
    name: featureNames[f] ?? `f${f}`,
    value: values[f] as number,
    standardisedError: z[f] as number,
  }))
  const guess = guessAttackType(values, options)
  return {topFeatures, ...guess}
}

/** The attack-type rules on a feature vector of this feature set. */
export function guessAttackType(values: ArrayLike<number>, context: Omit<ExplainOptions, 'topK'> = {}): {attackType: AttackType; reason: string} {
  const v = (name: FeatureName): number => values[FEATURE_INDEX[name]] as number
  // every count and volume is a whole number; the float32 log can land just above one (ln 3 → 2.0000002 peers)
  const count = (name: FeatureName): number => Math.round(Math.expm1(v(name)))
  const bytesOut = count('bytes_out_log1p')
  const bytesIn = count('bytes_in_log1p')
  const packetsOut = count('packets_out_log1p')
  const packetsIn = count('packets_in_log1p')
  const flowsOut = count('flows_out_log1p')
  const flowsIn = count('flows_in_log1p')
  const peers = count('peers_log1p')
  const ports = count('dst_ports_log1p')
  const synOnly = v('syn_only_fraction')
  const udp = v('udp_fraction')
  const small = v('small_packet_fraction')
  const topShare = v('top_dst_port_share')
  const r = RULES
  const n = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2).replace(/\.?0+$/, ''))
  const pct = (x: number): string => `${Math.round(x * 100)}%`

  // many sources: a DDoS victim, whether it answers every SYN (SYN cookies: as many packets out as in) or not
  if (packetsIn >= r.floodPackets && v('bpp_in') < r.amplificationBpp && peers >= r.floodPeers) {
    return {attackType: 'flood', reason: `≈${n(packetsIn)} packets in against ${n(packetsOut)} out, from ${n(peers)} peers (flood victim)`}
  }
  if (
    packetsOut >= r.floodPackets &&
    packetsOut >= r.dominance * (packetsIn + 1) &&
    peers <= r.fewPeers &&
    topShare >= r.floodPortShare &&
    (synOnly >= r.probeShare || udp >= r.probeShare)
  ) {
    return {attackType: 'flood', reason: `≈${n(packetsOut)} packets out to ${n(peers)} peer(s), ${pct(topShare)} to port ${context.topDstPort ?? '?'}, ${pct(Math.max(synOnly, udp))} SYN-only/UDP (flood source)`}
  }
  // reflected answers arrive unasked: many more flows in than out (a download has both directions)
  const udpIn = context.udpInFraction
  if (
    v('bpp_in') >= r.amplificationBpp &&
    bytesIn >= r.dominance * (bytesOut + 1) &&
    peers >= r.amplificationPeers &&
    flowsIn >= r.dominance * (flowsOut + 1) &&
    (udpIn === undefined || udpIn >= r.amplificationUdp)
  ) {
    return {attackType: 'amplification', reason: `≈${n(bytesIn)} bytes in at ${n(v('bpp_in'))} bytes/packet from ${n(peers)} peers, unanswered (victim)`}
  }
  if (udp >= r.probeShare && v('bpp_out') >= r.amplificationBpp && bytesOut >= r.dominance * (bytesIn + 1)) {
    return {attackType: 'amplification', reason: `${pct(udp)} UDP out at ${n(v('bpp_out'))} bytes/packet, ${n(bytesOut / (bytesIn + 1))}× the bytes in (reflector)`}
  }
  const outPort = context.topDstPort ?? -1
  const inPort = context.topInPort ?? -1
  if (AUTH_PORTS.has(outPort) && topShare >= 0.8 && flowsOut >= r.bruteForceFlows && peers <= r.fewPeers) {
    return {attackType: 'brute_force', reason: `${n(flowsOut)} flows to port ${outPort} of ${n(peers)} peer(s) (attacker)`}
  }
  if (AUTH_PORTS.has(inPort) && flowsIn >= r.bruteForceFlows && peers <= r.fewPeers) {
    return {attackType: 'brute_force', reason: `${n(flowsIn)} flows in to port ${inPort} from ${n(peers)} peer(s) (target)`}
  }
  // many peers (a sweep: SYN, ICMP or UDP probes are all small) or many ports of few peers (SYN-only,
  // or small UDP probes; small TCP packets alone are what a sampled server's ACKs look like too)
  const probing = flowsOut >= r.scanFanOut && flowsOut >= flowsIn
  const sweep = peers >= r.scanFanOut && (synOnly >= r.probeShare || small >= r.probeShare)
  const portScan = ports >= r.scanFanOut && (synOnly >= r.probeShare || (udp >= r.probeShare && small >= r.probeShare))
  if (probing && (sweep || portScan)) {
    return {attackType: 'scan', reason: `${n(ports)} ports on ${n(peers)} peers, ${pct(synOnly)} SYN-only, ${pct(small)} small-packet flows`}
  }
  // the receiving end of header-only attempts from one dominant peer (or a few), unanswered or answered
  // with headers only (RSTs from closed ports): small packets both ways, headers-only on average
  // inbound (a sampled ordinary session's ACKs are small too, but its inbound carries data), and
  // none of its own SYNs
  const onePeer = peers <= r.fewPeers || v('peer_entropy') <= r.dominantPeerEntropy
  const headersIn = v('bpp_in') < SMALL_PACKET_BYTES
  if (flowsIn >= r.scanFanOut && flowsIn >= flowsOut && small >= r.probeShare && headersIn && synOnly < r.probeShare && onePeer) {
    return {attackType: 'scan', reason: `${n(flowsIn)} small flows in from ${n(peers)} peer(s), ${n(flowsOut)} out (scan target)`}
  }
  if (packetsIn >= r.floodPackets && v('bpp_in') < r.amplificationBpp && packetsIn >= r.dominance * (packetsOut + 1)) {
    return {attackType: 'flood', reason: `≈${n(packetsIn)} packets in against ${n(packetsOut)} out, from ${n(peers)} peer(s) (flood victim)`}
  }
  // data packed into query names: the client sends the long queries, its resolver receives them
  const longDns = v('long_dns_query_share')
  if (longDns >= r.longDnsShare) {
    const side = flowsOut >= flowsIn ? 'client' : 'resolver'
    return {attackType: 'exfiltration', reason: `${pct(longDns)} of DNS queries longer than ${LONG_DNS_QUERY_BYTES} bytes per packet (DNS tunnel ${side})`}
  }
  if (bytesOut >= r.exfiltrationBytes && bytesOut >= r.dominance * (bytesIn + 1) && peers <= r.fewPeers) {
    return {attackType: 'exfiltration', reason: `≈${n(bytesOut)} bytes out to ${n(peers)} peer(s), ${n(bytesOut / (bytesIn + 1))}× the bytes in`}
  }
  if (
    v('active_subbin_share') >= r.beaconActivity &&
    (peers <= 1 || (peers <= r.beaconPeers && v('peer_entropy') <= r.dominantPeerEntropy)) &&
    topShare >= r.beaconTopShare &&
    flowsOut >= r.beaconFlows &&
    bytesOut + bytesIn <= r.beaconBytes
  ) {
    return {attackType: 'beaconing', reason: `small regular traffic to ${n(peers)} peer(s): active in ${pct(v('active_subbin_share'))} of sub-bins, ≈${n(bytesOut + bytesIn)} bytes`}
  }
  // the beacon's server: the same check-ins seen inbound, on its own port; its answers go to the
  // client's ephemeral ports, so the outbound top-port share says nothing here
  if (
    v('active_subbin_share') >= r.beaconActivity &&
    (peers <= 1 || (peers <= r.beaconPeers && v('peer_entropy') <= r.dominantPeerEntropy)) &&
    inPort >= 0 &&
    flowsIn >= r.beaconFlows &&
    flowsIn >= flowsOut &&
    bytesOut + bytesIn <= r.beaconBytes
  ) {
    return {attackType: 'beaconing', reason: `small regular traffic in to port ${inPort} from ${n(peers)} peer(s): active in ${pct(v('active_subbin_share'))} of sub-bins, ≈${n(bytesOut + bytesIn)} bytes (beacon server)`}
  }
  // many short connections to one service of one peer within seconds, not on a login port (those are
  // brute force, above): version detection and script scans, web vulnerability scanners
  const burst = count('short_conn_burst_log1p')
  if (burst >= r.probeBurst && peers <= r.fewPeers) {
    const side = flowsOut >= flowsIn ? `to port ${outPort} of` : `in to port ${inPort} from`
    return {attackType: 'scan', reason: `${n(burst)} short connections within ${DEFAULT_SUBBIN_SEC} s ${side} ${n(peers)} peer(s) (service probe)`}
  }
  return {attackType: 'unknown', reason: 'no attack rule matched; see the top features'}
}

/** Rows of a feature matrix and their score result, as `explainRow` reads them. */
export interface ExplainableRows {
  values: ArrayLike<number>
  featureCount: number
  topDstPort?: ArrayLike<number>
  topInPort?: ArrayLike<number>
  udpInFraction?: ArrayLike<number>
}

/** `explain` for row `i` of a scored feature matrix. */
export function explainRow(
  featureNames: readonly string[],
  normalisation: ErrorNormalisation,
  features: ExplainableRows,
  sqErrors: Float32Array,
  i: number,
  topK = 3,
): Explanation {
  const F = features.featureCount
  const values = Array.from({length: F}, (_, f) => features.values[i * F + f] as number)
  return explain(featureNames, normalisation, values, sqErrors.subarray(i * F, (i + 1) * F), {
    topK,
    topDstPort: features.topDstPort?.[i] ?? -1,
    topInPort: features.topInPort?.[i] ?? -1,
    ...(features.udpInFraction === undefined ? {} : {udpInFraction: features.udpInFraction[i] ?? 0}),
  })
}
