/**
 * Ground truth of a generated capture, counted by the generator from what it emitted (never by
 * re-parsing the file): totals per traffic kind and per address family, one entry per injected attack,
 * and optionally every flow as a CSV row.
 */
import {open, type FileHandle} from 'node:fs/promises'

import type {CaptureFormat} from '../io/index.js'

export const BENIGN_KINDS = ['benign-tcp', 'benign-dns', 'benign-udp', 'benign-icmp'] as const
export const ATTACK_KINDS = [
  'horizontal-scan',
  'vertical-scan',
  'syn-flood',
  'udp-amplification',
  'ssh-bruteforce',
  'c2-beacon',
  'exfiltration',
] as const
/**
 * Low-and-slow attacks, for the post-processing engine's recall tests: injected only when asked for
 * (never by default), so default captures stay byte-identical. Appended after the default kinds so
 * every existing kind keeps its index.
 */
export const SLOW_ATTACK_KINDS = ['slow-scan', 'slow-bruteforce', 'slow-beacon'] as const
/** every attack the generator can inject: the default ones, then the low-and-slow ones */
export const ALL_ATTACK_KINDS = [...ATTACK_KINDS, ...SLOW_ATTACK_KINDS] as const
export const TRAFFIC_KINDS = [...BENIGN_KINDS, ...ATTACK_KINDS, ...SLOW_ATTACK_KINDS] as const

export type BenignKind = (typeof BENIGN_KINDS)[number]
export type SlowAttackKind = (typeof SLOW_ATTACK_KINDS)[number]
export type AttackKind = (typeof ALL_ATTACK_KINDS)[number]
export type TrafficKind = (typeof TRAFFIC_KINDS)[number]

export const KIND_INDEX: Readonly<Record<TrafficKind, number>> = Object.fromEntries(
  TRAFFIC_KINDS.map((k, i) => [k, i]),
) as Record<TrafficKind, number>

export const FLOW_CSV_HEADER = 'ts_start_us,ts_end_us,src_ip,dst_ip,src_port,dst_port,proto,tcp_flags,packets,bytes,kind'

export interface Volume {
  flows: number
  packets: number
  bytes: number
}

/** What the truth says about an attack besides its volumes and times (what its launcher describes). */
export interface AttackMeta {
  kind: AttackKind
  label: string
  /** source addresses (empty when there are many, e.g. spoofed) */
  src: string[]
  srcCount: number
  dst: string[]
  dstCount: number
  /** destination (service) ports the attack aims at; for amplification the reflectors' source ports */
  ports: number[]
  /** distinct destination ports probed (vertical scan: the whole list is not repeated here) */
  portCount: number
  /** attack-specific sizes (probes, sessions, reflectors, beacon period…) */
  params: Record<string, number | string>
}

export interface AttackTruth extends Volume, AttackMeta {
  /** first and last packet of the attack, ISO 8601 and µs since the epoch */
  start: string
  end: string
  startUs: number
  endUs: number
}

export interface GroundTruth extends Volume {
  version: 1
  generator: 'flowscope-gen'
  seed: number
  format: CaptureFormat
  linktype: number
  nanosecond: boolean
  snaplen: number
  /** packets asked for; `packets` is what was written */
  targetPackets: number
  start: string
  end: string
  startUs: number
  endUs: number
  internalNets: string[]
  assumptions: {
    idleTimeoutSec: number
    activeTimeoutSec: number
    flowKey: string
    tcpFinRstEndsFlow: true
    bytes: string
    icmpPorts: string
    maxGapInFlowSec: number
    pauseSec: [number, number]
    tupleReuseGapSec: number
    /** sessions stop sending data after this long, so every flow stays under the active timeout */
    sessionWindDownSec: number
    finalAckOfCloseOmitted: true
  }
  kinds: Partial<Record<TrafficKind, Volume>>
  families: {ipv4: Volume; ipv6: Volume}
  attacks: AttackTruth[]
  hosts: {internal: number; external: number}
  sessions: number
}

/** Running totals, by kind index and by family. */
export class TruthTotals {
  readonly flows = new Float64Array(TRAFFIC_KINDS.length)
  readonly packets = new Float64Array(TRAFFIC_KINDS.length)
  readonly bytes = new Float64Array(TRAFFIC_KINDS.length)
  readonly first = new Float64Array(TRAFFIC_KINDS.length).fill(Infinity)
  readonly last = new Float64Array(TRAFFIC_KINDS.length).fill(-Infinity)
  /** [v4, v6] */
  readonly famFlows = new Float64Array(2)
  readonly famPackets = new Float64Array(2)
  readonly famBytes = new Float64Array(2)

  addFlow(kind: number, family: 4 | 6, start: number, end: number, packets: number, bytes: number): void {
    this.flows[kind]! += 1
    this.packets[kind]! += packets
    this.bytes[kind]! += bytes
    if (start < this.first[kind]!) this.first[kind] = start
    if (end > this.last[kind]!) this.last[kind] = end
    const f = family === 4 ? 0 : 1
    this.famFlows[f]! += 1
    this.famPackets[f]! += packets
    this.famBytes[f]! += bytes
  }

  volume(kind: number): Volume {
    return {flows: this.flows[kind]!, packets: this.packets[kind]!, bytes: this.bytes[kind]!}
  }

  family(f: 0 | 1): Volume {
    return {flows: this.famFlows[f]!, packets: this.famPackets[f]!, bytes: this.famBytes[f]!}
  }
}

export function isoMicros(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString()
}

/** Flow rows to `<out>.flows.csv`, written in the order flows end, in chunks of about 1 MiB. */
export class FlowCsvWriter {
  private chunks: string[] = []
  private size = 0
  private readonly fh: FileHandle

  private constructor(fh: FileHandle) {
    this.fh = fh
    this.add(FLOW_CSV_HEADER)
  }

  static async open(path: string): Promise<FlowCsvWriter> {
    return new FlowCsvWriter(await open(path, 'w'))
  }

  add(line: string): void {
    this.chunks.push(line, '\n')
    this.size += line.length + 1
  }

  get wantsFlush(): boolean {
    return this.size >= 1 << 20
  }

  async flush(): Promise<void> {
    if (this.size === 0) return
    const text = this.chunks.join('')
    this.chunks = []
    this.size = 0
    await this.fh.write(text)
  }

  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      await this.fh.close()
    }
  }
}
