/**
 * `generateTraffic`: a deterministic synthetic capture (pcap or pcapng) with labelled attacks and its
 * ground truth. Same seed and options give byte-identical files.
 *
 * Scale: the timeline is max(300 s + target/30 s capped at 900 s, target / 2000 pps), so fixtures span
 * minutes and large runs keep a steady ~2000 packets/s; the number of open sessions (and memory) stays
 * flat however many packets are asked for.
 */
import {writeFile} from 'node:fs/promises'

import {UsageError} from '../core/index.js'
import {CaptureWriter, LINKTYPE_ETHERNET} from './pcap-writer.js'
import type {CaptureFormat} from '../io/index.js'
import {createRng, type Rng} from '../core/index.js'
import {launchAttack} from './attacks.js'
import {expectedSlowPackets, isSlowAttack} from './slow-attacks.js'
import {BenignSpawner, expectedBenignPackets} from './benign.js'
import {ACTIVE_TIMEOUT_MICROS, IDLE_TIMEOUT_MICROS, TrafficEngine} from './engine.js'
import {buildHosts, parseInternalNets, populationSize, randomPublicIpv4} from './model.js'
import {MAX_GAP_MICROS, MAX_SESSION_MICROS, SECOND} from './sessions.js'
import {REUSE_GAP_MICROS} from './tuples.js'
import {
  ALL_ATTACK_KINDS,
  ATTACK_KINDS,
  BENIGN_KINDS,
  FlowCsvWriter,
  isoMicros,
  KIND_INDEX,
  type AttackKind,
  type AttackMeta,
  type AttackTruth,
  type GroundTruth,
  type TrafficKind,
  type Volume,
} from './truth.js'

export const DEFAULT_START = '2026-01-05T00:00:00Z'
export const DEFAULT_SEED = 1
const MAX_PACKETS = 2_000_000_000

export interface GenerateOptions {
  /** capture file to write */
  out: string
  /** default 'pcap' */
  format?: CaptureFormat
  /** default 1 */
  seed?: number
  /** target packet count: no new sessions start once it is reached; open ones finish */
  packets: number
  /** time of the timeline's origin (default 2026-01-05T00:00:00Z) */
  start?: Date | string
  /** internal networks: one IPv4 and/or one IPv6 CIDR (defaults 10.1.0.0/16 and fd00:1::/48) */
  internalNet?: string | readonly string[]
  /** attacks to inject (default: every kind of `ATTACK_KINDS`; the low-and-slow ones only when named) */
  attacks?: readonly AttackKind[]
  /**
   * length of the timeline in seconds (default: from the packet target, see above). A longer timeline
   * spreads the same packets thinner: how low-and-slow attacks get hours of background to hide in.
   */
  timelineSec?: number
  /** ground truth JSON path (default `<out>.truth.json`) */
  truthPath?: string
  /** also list every flow: true writes `<out>.flows.csv`, a string names the file. For small captures. */
  truthFlows?: boolean | string
  /** nanosecond timestamps in the capture */
  nanosecond?: boolean
  /** capture snaplen: frames longer than this are truncated in the file (IP lengths keep the real size) */
  snaplen?: number
  /** largest transport payload of any packet (default 1460: full-size frames); smaller keeps files small */
  maxPayload?: number
  /** called with the number of packets written, every 65536 packets and at the end */
  onProgress?: (packetsWritten: number) => void
}

export interface GenerateStats {
  sessions: number
  /** most sessions and spawners open at once */
  maxActiveSessions: number
  /** most 5-tuples tracked at once for reuse protection */
  maxTrackedTuples: number
  timelineSec: number
}

export interface GenerateResult extends Volume {
  out: string
  truthPath: string
  flowsPath: string | undefined
  truth: GroundTruth
  stats: GenerateStats
}

/** Share of the target each attack gets (the C2 beacon is sized by time instead). */
const ATTACK_BUDGET: Readonly<Record<AttackKind, number>> = {
  'horizontal-scan': 0.015,
  'vertical-scan': 0.015,
  'syn-flood': 0.06,
  'udp-amplification': 0.04,
  'ssh-bruteforce': 0.015,
  'c2-beacon': 0,
  exfiltration: 0.03,
  'slow-scan': 0,
  'slow-bruteforce': 0,
  'slow-beacon': 0,
}

/** Smallest useful size of each attack in packets, so tiny captures still show it. */
const ATTACK_MIN: Readonly<Record<AttackKind, number>> = {
  'horizontal-scan': 12,
  'vertical-scan': 16,
  'syn-flood': 18,
  'udp-amplification': 12,
  'ssh-bruteforce': 40,
  'c2-beacon': 0,
  exfiltration: 30,
  'slow-scan': 0,
  'slow-bruteforce': 0,
  'slow-beacon': 0,
}

/** When each attack starts and how long it lasts, as fractions of the timeline. */
const ATTACK_WINDOW: Readonly<Record<AttackKind, [number, number]>> = {
  'horizontal-scan': [0.1, 0.08],
  'vertical-scan': [0.25, 0.06],
  'syn-flood': [0.4, 0.06],
  'udp-amplification': [0.55, 0.06],
  'ssh-bruteforce': [0.15, 0.3],
  'c2-beacon': [0.02, 0],
  exfiltration: [0.3, 0.3],
  'slow-scan': [0.08, 0.85],
  'slow-bruteforce': [0.12, 0.75],
  'slow-beacon': [0.02, 0.97],
}

const BEACON_PACKETS = 15

export async function generateTraffic(opts: GenerateOptions): Promise<GenerateResult> {
  const format = opts.format ?? 'pcap'
  if (format !== 'pcap' && format !== 'pcapng') throw new UsageError(`unknown capture format '${String(format)}'`, {hint: "use 'pcap' or 'pcapng'"})
  const target = opts.packets
  if (!Number.isInteger(target) || target < 1 || target > MAX_PACKETS) {
    throw new UsageError(`packets must be an integer from 1 to ${MAX_PACKETS}, got ${target}`)
  }
  const seed = opts.seed ?? DEFAULT_SEED
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`seed must be an integer from 0 to 4294967295, got ${seed}`)
  const startDate = opts.start === undefined ? new Date(DEFAULT_START) : new Date(opts.start)
  const startMs = startDate.getTime()
  if (!Number.isFinite(startMs) || startMs < 0) throw new UsageError(`start '${String(opts.start)}' is not a time after 1970`)
  const maxPayload = opts.maxPayload ?? 1460
  if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > 1460) {
    throw new UsageError(`maxPayload must be an integer from 0 to 1460, got ${maxPayload}`)
  }
  const attacks = opts.attacks === undefined ? [...ATTACK_KINDS] : [...new Set(opts.attacks)]
  for (const a of attacks) {
    if (!(ALL_ATTACK_KINDS as readonly string[]).includes(a)) {
      throw new UsageError(`unknown attack '${String(a)}'`, {hint: `choose from ${ALL_ATTACK_KINDS.join(', ')}`})
    }
  }
  if (opts.timelineSec !== undefined && !(Number.isFinite(opts.timelineSec) && opts.timelineSec >= 60 && opts.timelineSec <= 30 * 86_400)) {
    throw new UsageError(`timelineSec must be from 60 s to 30 days, got ${opts.timelineSec}`)
  }
  attacks.sort((a, b) => KIND_INDEX[a] - KIND_INDEX[b])
  const nets = parseInternalNets(opts.internalNet)
  const truthPath = opts.truthPath ?? `${opts.out}.truth.json`
  const flowsPath =
    opts.truthFlows === undefined || opts.truthFlows === false
      ? undefined
      : typeof opts.truthFlows === 'string'
        ? opts.truthFlows
        : `${opts.out}.flows.csv`

  const t0 = startMs * 1000
  const timelineSec = opts.timelineSec ?? Math.max(300 + Math.min(600, target / 30), target / 2000)
  const timeline = timelineSec * SECOND

  // attack budgets: shares of the target, at least a minimum, at most 45% of the target together
  const budgets = new Map<AttackKind, number>()
  for (const a of attacks) budgets.set(a, Math.max(ATTACK_MIN[a], target * ATTACK_BUDGET[a]))
  // time-sized attacks: the C2 beacon, and the low-and-slow ones (their packets come out of the benign budget)
  const beaconPackets =
    (attacks.includes('c2-beacon') ? (timelineSec / 60) * BEACON_PACKETS : 0) +
    attacks.reduce((sum, a) => sum + (isSlowAttack(a) ? expectedSlowPackets(a, ATTACK_WINDOW[a][1] * timelineSec) : 0), 0)
  const attackSum = [...budgets.values()].reduce((x, y) => x + y, 0) + beaconPackets
  if (attackSum > target * 0.45) {
    const scale = Math.max(0, target * 0.45 - beaconPackets) / Math.max(1, attackSum - beaconPackets)
    for (const [a, b] of budgets) budgets.set(a, Math.max(4, b * scale))
  }
  const benignBudget = Math.max(target * 0.4, target - [...budgets.values()].reduce((x, y) => x + y, 0) - beaconPackets)

  const nets4 = nets.v4
  const hosts = buildHosts(derived(seed, 'hosts'), populationSize(target, nets4), nets4, nets.v6)
  const modelV4 = new Set<number>(hosts.v4)
  const cap = Math.round(Math.max(50, Math.min(20_000, target / 50)))
  const meanGap = (timeline * expectedBenignPackets(cap)) / benignBudget

  const writer = await CaptureWriter.open(opts.out, {format, linktype: LINKTYPE_ETHERNET, nanosecond: opts.nanosecond ?? false, ...(opts.snaplen === undefined ? {} : {snaplen: opts.snaplen})})
  let csv: FlowCsvWriter | undefined
  try {
    csv = flowsPath === undefined ? undefined : await FlowCsvWriter.open(flowsPath)
  } catch (err) {
    await writer.close()
    throw err
  }
  const engine = new TrafficEngine({writer, csv, target, hosts, maxPayload, rng: derived(seed, 'engine')})
  const metas: AttackMeta[] = []
  try {
    for (const kind of attacks) {
      const rng = derived(seed, kind)
      const [at, len] = ATTACK_WINDOW[kind]
      const jitter = (rng.next() - 0.5) * 0.04
      let duration = len * timeline
      if (kind === 'exfiltration') duration = Math.min(duration, 1200 * SECOND)
      const startMicros = Math.round(t0 + Math.max(0.01, at + jitter) * timeline)
      // a low-and-slow attack ends with the timeline at the latest
      if (isSlowAttack(kind)) duration = Math.max(0, Math.min(duration, t0 + timeline - startMicros))
      metas.push(
        launchAttack(kind, {
          eng: engine,
          rng,
          startMicros,
          durationMicros: duration,
          budget: budgets.get(kind) ?? 0,
          net4: nets4,
          freshExternal: () => {
            for (;;) {
              const a = randomPublicIpv4(rng)
              if (!modelV4.has(a)) return a
            }
          },
        }),
      )
    }
    engine.spawn(new BenignSpawner(engine, derived(seed, 'benign'), t0, meanGap, cap))
    await engine.run(opts.onProgress)
  } finally {
    try {
      await writer.close()
    } finally {
      await csv?.close()
    }
  }

  const totals = engine.totals
  const kinds: Partial<Record<TrafficKind, Volume>> = {}
  for (const k of BENIGN_KINDS) kinds[k] = totals.volume(KIND_INDEX[k])
  for (const k of attacks) kinds[k] = totals.volume(KIND_INDEX[k])
  const attackTruth: AttackTruth[] = metas.map((m) => {
    const i = KIND_INDEX[m.kind]
    const first = totals.first[i]!
    const last = totals.last[i]!
    const seen = Number.isFinite(first)
    return {
      kind: m.kind,
      label: m.label,
      src: m.src,
      srcCount: m.srcCount,
      dst: m.dst,
      dstCount: m.dstCount,
      ports: m.ports,
      portCount: m.portCount,
      start: seen ? isoMicros(first) : '',
      end: seen ? isoMicros(last) : '',
      startUs: seen ? first : 0,
      endUs: seen ? last : 0,
      params: m.params,
      ...totals.volume(i),
    }
  })
  let firstUs = Infinity
  let lastUs = -Infinity
  for (let i = 0; i < totals.first.length; i++) {
    if (totals.first[i]! < firstUs) firstUs = totals.first[i]!
    if (totals.last[i]! > lastUs) lastUs = totals.last[i]!
  }
  const flows = totals.famFlows[0]! + totals.famFlows[1]!
  const truth: GroundTruth = {
    version: 1,
    generator: 'flowscope-gen',
    seed,
    format,
    linktype: LINKTYPE_ETHERNET,
    nanosecond: opts.nanosecond ?? false,
    snaplen: writer.snaplen,
    targetPackets: target,
    packets: engine.packets,
    bytes: engine.bytes,
    flows,
    start: isoMicros(firstUs),
    end: isoMicros(lastUs),
    startUs: firstUs,
    endUs: lastUs,
    internalNets: nets.text,
    assumptions: {
      idleTimeoutSec: IDLE_TIMEOUT_MICROS / SECOND,
      activeTimeoutSec: ACTIVE_TIMEOUT_MICROS / SECOND,
      flowKey: 'unidirectional (src, dst, srcPort, dstPort, proto)',
      tcpFinRstEndsFlow: true,
      bytes: 'IPv4 total length; IPv6 payload length + 40',
      icmpPorts: 'srcPort 0, dstPort type*256+code',
      maxGapInFlowSec: MAX_GAP_MICROS / SECOND,
      pauseSec: [20, 60],
      tupleReuseGapSec: REUSE_GAP_MICROS / SECOND,
      sessionWindDownSec: MAX_SESSION_MICROS / SECOND,
      finalAckOfCloseOmitted: true,
    },
    kinds,
    families: {ipv4: totals.family(0), ipv6: totals.family(1)},
    attacks: attackTruth,
    hosts: engine.hostCounts(),
    sessions: engine.sessions,
  }
  await writeFile(truthPath, `${JSON.stringify(truth, null, 2)}\n`)
  return {
    out: opts.out,
    truthPath,
    flowsPath,
    packets: engine.packets,
    bytes: engine.bytes,
    flows,
    truth,
    stats: {
      sessions: engine.sessions,
      maxActiveSessions: engine.maxActive,
      maxTrackedTuples: engine.registry.maxSize,
      timelineSec,
    },
  }
}

/** An independent random stream per component, so one attack's draws do not shift another's. */
function derived(seed: number, name: string): Rng {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return createRng((h ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0)
}
