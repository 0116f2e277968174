/**
 * Seeded synthetic feature vectors for model tests: benign windows drawn around a network profile from
 * a few latent factors (activity, direction, fan-out), and attack-like windows with the signatures the
 * explanation rules look for. Values are in the units of FEATURE_NAMES.
 */
import {gaussianSource} from '../../src/infer/autoencoder.js'
import {FEATURE_COUNT, FEATURE_INDEX} from '../../src/infer/features.js'
import type {FeatureName} from '../../src/infer/features.js'
import type {FeatureVectors} from '../../src/infer/train.js'
import {createRng} from '../../src/core/rng.js'

export interface NetworkProfile {
  /** log of typical outbound bytes per window */
  logBytes: number
  /** typical inbound bytes per packet */
  bppIn: number
  /** log of typical outbound flows per window */
  logFlows: number
  /** log of typical peers per window */
  logPeers: number
  udp: number
}

export const NETWORK_A: NetworkProfile = {logBytes: 9, bppIn: 900, logFlows: 2, logPeers: 1.2, udp: 0.15}
/** a busier network with other habits: the "shifted scale" of the calibration test */
export const NETWORK_B: NetworkProfile = {logBytes: 11, bppIn: 450, logFlows: 3, logPeers: 2, udp: 0.35}

const clip = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x))

type Vector = Record<FeatureName, number>

function toMatrix(rows: Vector[]): FeatureVectors & {values: Float32Array} {
  const values = new Float32Array(rows.length * FEATURE_COUNT)
  rows.forEach((row, r) => {
    for (const [name, f] of Object.entries(FEATURE_INDEX)) values[r * FEATURE_COUNT + f] = row[name as FeatureName]
  })
  return {values, length: rows.length, featureCount: FEATURE_COUNT}
}

function vector(p: {
  bytesOut: number
  bytesIn: number
  bppOut: number
  bppIn: number
  flowsOut: number
  flowsIn: number
  peers: number
  ports: number
  peerEntropy: number
  portEntropy: number
  topShare: number
  synOnly: number
  udp: number
  small: number
  active: number
  /** most short connections to one peer and port in one sub-bin (default 1) */
  burst?: number
  /** share of DNS query records that are long (default 0) */
  longDns?: number
  /** most same-size short responses from one service port to one client in one sub-bin (default 0) */
  repeats?: number
  /** most distinct destination ports below 32768 between the address and one peer, in one direction (default 1) */
  lowPorts?: number
}): Vector {
  return {
    bytes_out_log1p: Math.log1p(p.bytesOut),
    bytes_in_log1p: Math.log1p(p.bytesIn),
    packets_out_log1p: Math.log1p(p.bytesOut / p.bppOut),
    packets_in_log1p: Math.log1p(p.bytesIn / p.bppIn),
    bpp_out: p.bppOut,
    bpp_in: p.bppIn,
    byte_ratio_log: Math.log1p(p.bytesOut) - Math.log1p(p.bytesIn),
    flows_out_log1p: Math.log1p(p.flowsOut),
    flows_in_log1p: Math.log1p(p.flowsIn),
    peers_log1p: Math.log1p(p.peers),
    dst_ports_log1p: Math.log1p(p.ports),
    peer_entropy: p.peers > 1 ? p.peerEntropy : 0,
    dst_port_entropy: p.ports > 1 ? p.portEntropy : 0,
    top_dst_port_share: p.topShare,
    syn_only_fraction: p.synOnly,
    udp_fraction: p.udp,
    small_packet_fraction: p.small,
    active_subbin_share: p.active,
    short_conn_burst_log1p: Math.log1p(p.burst ?? 1),
    long_dns_query_share: p.longDns ?? 0,
    repeated_response_log1p: Math.log1p(p.repeats ?? 0),
    low_ports_one_peer: p.lowPorts ?? 1,
  }
}

export function benignVectors(profile: NetworkProfile, count: number, seed: number): FeatureVectors & {values: Float32Array} {
  const g = gaussianSource(createRng(seed))
  const rows: Vector[] = []
  for (let i = 0; i < count; i++) {
    const activity = g()
    const direction = 0.5 * g()
    const fan = g()
    const flowsOut = Math.max(1, Math.round(Math.exp(profile.logFlows + 0.8 * activity + 0.3 * g())))
    const ports = Math.min(flowsOut, Math.max(1, Math.round(Math.exp(0.7 + 0.3 * fan + 0.2 * g()))))
    rows.push(
      vector({
        bytesOut: Math.exp(profile.logBytes + 1.5 * activity - direction + 0.2 * g()),
        bytesIn: Math.exp(profile.logBytes + 1 + 1.5 * activity + direction + 0.2 * g()),
        bppOut: clip(80 + 30 * Math.abs(g()), 40, 1500),
        bppIn: clip(profile.bppIn + 150 * g(), 100, 1500),
        flowsOut,
        flowsIn: Math.max(1, Math.round(flowsOut * (0.9 + 0.1 * Math.abs(g())))),
        peers: Math.max(1, Math.round(Math.exp(profile.logPeers + 0.5 * fan + 0.3 * activity))),
        ports,
        peerEntropy: clip(0.6 + 0.1 * fan + 0.05 * g(), 0, 1),
        portEntropy: clip(0.3 + 0.1 * g(), 0, 1),
        topShare: clip(0.7 - 0.1 * fan + 0.05 * g(), 1 / ports, 1),
        synOnly: clip(0.02 + 0.02 * Math.abs(g()), 0, 1),
        udp: clip(profile.udp + 0.05 * g(), 0, 1),
        small: clip(0.3 + 0.1 * g(), 0, 1),
        active: clip(0.6 + 0.2 * activity + 0.1 * g(), 1 / 10, 1),
        // from the latent activity alone: no extra draw, so the other features keep their seeded values
        burst: Math.round(Math.exp(0.5 + 0.3 * activity)),
        repeats: Math.round(Math.exp(0.2 * activity)),
        lowPorts: Math.min(ports, 2),
      }),
    )
  }
  return toMatrix(rows)
}

/** Vertical/horizontal scans: hundreds of ports, SYN-only, small packets, almost nothing back. */
export function scanVectors(count: number, seed: number): FeatureVectors & {values: Float32Array} {
  const g = gaussianSource(createRng(seed))
  const rows: Vector[] = []
  for (let i = 0; i < count; i++) {
    const flowsOut = Math.round(500 + 200 * Math.abs(g()))
    rows.push(
      vector({
        bytesOut: flowsOut * 60,
        bytesIn: flowsOut * 0.3 * 54,
        bppOut: 60,
        bppIn: 54,
        flowsOut,
        flowsIn: Math.round(flowsOut * 0.3),
        peers: Math.max(1, Math.round(3 + 2 * Math.abs(g()))),
        ports: Math.round(flowsOut * 0.9),
        peerEntropy: 0.3,
        portEntropy: 0.98,
        topShare: 0.005,
        synOnly: clip(0.9 + 0.05 * g(), 0, 1),
        udp: 0,
        small: 0.97,
        active: 1,
        lowPorts: Math.round(flowsOut * 0.9),
      }),
    )
  }
  return toMatrix(rows)
}

/** One hand-made vector per attack type, for the explanation rules. */
export function attackVector(kind: 'flood' | 'amplification' | 'brute_force' | 'exfiltration' | 'beaconing' | 'scan'): Float32Array {
  const base = {peerEntropy: 0.5, portEntropy: 0.2, active: 1, udp: 0, synOnly: 0, small: 0.2}
  const byKind = {
    // SYN flood victim: 3 M packets in from thousands of spoofed peers, SYN-ACKs out
    flood: {...base, bytesOut: 5e6, bytesIn: 1.2e8, bppOut: 60, bppIn: 40, flowsOut: 300, flowsIn: 2000, peers: 2000, ports: 300, topShare: 0.01, small: 1},
    // DNS amplification victim: big UDP answers from many reflectors
    amplification: {...base, bytesOut: 1e4, bytesIn: 5e8, bppOut: 60, bppIn: 1400, flowsOut: 5, flowsIn: 3000, peers: 800, ports: 3, topShare: 0.6},
    // SSH password guessing: hundreds of short connections to port 22 of one server
    brute_force: {...base, bytesOut: 400 * 3000, bytesIn: 400 * 4000, bppOut: 150, bppIn: 200, flowsOut: 400, flowsIn: 400, peers: 1, ports: 1, topShare: 1, burst: 40, repeats: 30},
    // a 2 GB upload to one host
    exfiltration: {...base, bytesOut: 2e9, bytesIn: 3e7, bppOut: 1400, bppIn: 60, flowsOut: 2, flowsIn: 2, peers: 1, ports: 1, topShare: 1},
    // a C2 check-in every 30 s
    beaconing: {...base, bytesOut: 10 * 600, bytesIn: 10 * 900, bppOut: 120, bppIn: 180, flowsOut: 10, flowsIn: 10, peers: 1, ports: 1, topShare: 1, active: 1},
    scan: {...base, bytesOut: 60 * 1000, bytesIn: 54 * 200, bppOut: 60, bppIn: 54, flowsOut: 1000, flowsIn: 200, peers: 1, ports: 1000, portEntropy: 0.99, topShare: 0.001, synOnly: 0.95, small: 1, lowPorts: 1000},
  } as const
  const row = vector(byKind[kind])
  const out = new Float32Array(FEATURE_COUNT)
  for (const [name, f] of Object.entries(FEATURE_INDEX)) out[f] = row[name as FeatureName]
  return out
}
