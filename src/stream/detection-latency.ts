/**
 * Detection latency as a user feels it: attacks (and optional benign background) replayed into Kinesis
 * at their recorded pace (or `speed` times faster) as if they were happening now, read by one stream
 * worker with the batch model and the incident rules; per attack, the wall time from the moment its first
 * flow was put to the commit of
 *
 * - its first window detection on the attack's entity, and
 * - its first incident on that entity of an expected type.
 *
 * Every capture is shifted in time so that all of them start together at the moment the replay starts
 * (event time ≈ wall time, as on a live network). Against a local kinesalite unless given an endpoint.
 */

import {addrToString, type FlowBatch} from '../core/index.js'
import {EPHEMERAL_PORT_START, INCIDENT_RULES, MIN_INCIDENT_PACKETS, type LoadedModel} from '../infer/index.js'
import type {FlowStore} from '../io/index.js'
import {createKinesisClient, sleep} from './aws.js'
import {FlowBatchBuilder} from './flow-builder.js'
import {createLocalStream, startLocalKinesis} from './local.js'
import {createModelScorer} from './model-scorer.js'
import {putFlows} from './producer.js'
import {DEFAULT_LATENESS_SEC, DEFAULT_STREAM_WINDOW_SEC} from './windows.js'
import {runStreamWorker, type WindowReport} from './worker.js'

export interface LatencyAttack {
  name: string
  flows: readonly FlowBatch[]
  /** the address the attack's incident is about (a flood's victim, a scanner) */
  entity: string
  /** incident types that count as found */
  types: readonly string[]
}

export interface DetectionLatencyOptions {
  store: FlowStore
  model: LoadedModel
  attacks: readonly LatencyAttack[]
  /** benign flows replayed with them (shifted to the same start) */
  background?: readonly FlowBatch[]
  /** how many times faster than recorded (default 1) */
  speed?: number
  windowSec?: number
  latenessSec?: number
  shards?: number
  network?: string
  /** Kinesis endpoint; default: kinesalite started here on 127.0.0.1 */
  endpoint?: string
}

export interface AttackLatency {
  name: string
  entity: string
  /** sampled packets of the attack's flows */
  packets: number
  /** wall ms from the attack's first flow put to its first detection / incident committed; null: none */
  detectionMs: number | null
  incidentMs: number | null
  /**
   * wall ms from the moment the sample held enough evidence for the rule of its type (`evidenceUs`) to
   * its incident committed; null: no incident
   */
  incidentAfterEvidenceMs: number | null
  /** ms from the attack's first flow to that moment (event time) */
  evidenceAfterStartMs: number | null
  /**
   * stream windows between the one holding that moment and the one whose commit raised the incident
   * (0: the first window that could raise it did); null: no incident or never enough evidence
   */
  windowsAfterEvidence: number | null
  /** the type of the first incident on the entity (right or not), and whether one of `types` came */
  firstIncidentType: string | null
  typed: boolean
  /** sampled packets of the attack that started before the detecting window's end */
  packetsAtIncident: number | null
}

export interface DetectionLatencyResult {
  speed: number
  windowSec: number
  latenessSec: number
  flows: number
  attacks: AttackLatency[]
  /** entities with an incident that is no attack's, at any window: false positives while they lasted */
  otherIncidents: Array<{entity: string; attackType: string}>
  /** the incidents in the store at the end */
  incidents: Array<{entity: string; attackType: string; role: string | null; windows: number}>
  /** window end due (wall) → window committed, ms */
  windowCommitMs: {p50: number; p99: number; max: number}
  windows: number
  lateDropped: number
}

/** Flows of several batches, shifted by `shiftUs`, in start order, as one batch. */
function mergeShifted(parts: Array<{flows: readonly FlowBatch[]; shiftUs: number}>): FlowBatch {
  const b = new FlowBatchBuilder(1024)
  for (const p of parts) {
    for (const batch of p.flows) {
      b.reserve(batch.length)
      for (let i = 0; i < batch.length; i++) {
        const row = b.length
        b.appendRow(batch, i, '')
        b.batch.tsStart[row] = b.batch.tsStart[row]! + p.shiftUs
        b.batch.tsEnd[row] = b.batch.tsEnd[row]! + p.shiftUs
      }
    }
  }
  const all = b.view()
  const order = Array.from({length: all.length}, (_, i) => i).sort((x, y) => all.tsStart[x]! - all.tsStart[y]!)
  const sorted = new FlowBatchBuilder(all.length)
  for (const i of order) sorted.appendRow(all, i, '')
  return sorted.view()
}

function firstStart(flows: readonly FlowBatch[]): number {
  let first = Infinity
  for (const b of flows) for (let i = 0; i < b.length; i++) first = Math.min(first, b.tsStart[i]!)
  return first
}

/**
 * When the attack's sampled flows first hold what the incident rule of `type` needs
 * (src/infer/INCIDENTS.md): the start of the flow that completes it, µs; undefined when they never do.
 *
 * - vertical_scan: `scanPorts` distinct service ports between the entity and one peer;
 * - horizontal_scan: `scanPeers` distinct peers;
 * - any other type: `minRecords` records of the entity;
 *
 * and in every case MIN_INCIDENT_PACKETS sampled packets of the entity.
 */
export function evidenceUs(flows: readonly FlowBatch[], entity: string, type: string): number | undefined {
  const rows: Array<{ts: number; peer: string; port: number; packets: number}> = []
  for (const b of flows) {
    for (let i = 0; i < b.length; i++) {
      const src = addrToString(b.srcAddr, i, b.family[i]!)
      const dst = addrToString(b.dstAddr, i, b.family[i]!)
      if (src !== entity && dst !== entity) continue
      rows.push({ts: b.tsStart[i]!, peer: src === entity ? dst : src, port: b.dstPort[i]!, packets: b.packets[i]!})
    }
  }
  rows.sort((x, y) => x.ts - y.ts)
  let packets = 0
  const ports = new Map<string, Set<number>>()
  const peers = new Set<string>()
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!
    packets += r.packets
    peers.add(r.peer)
    let enough: boolean
    if (type === 'vertical_scan') {
      const p = ports.get(r.peer) ?? new Set<number>()
      if (r.port < EPHEMERAL_PORT_START) p.add(r.port)
      ports.set(r.peer, p)
      enough = p.size >= INCIDENT_RULES.scanPorts
    } else if (type === 'horizontal_scan') {
      enough = peers.size >= INCIDENT_RULES.scanPeers
    } else {
      enough = k + 1 >= INCIDENT_RULES.minRecords
    }
    if (enough && packets >= MIN_INCIDENT_PACKETS) return r.ts
  }
  return undefined
}

function involves(b: FlowBatch, i: number, entity: string): boolean {
  return addrToString(b.srcAddr, i, b.family[i]!) === entity || addrToString(b.dstAddr, i, b.family[i]!) === entity
}

export async function measureDetectionLatency(o: DetectionLatencyOptions): Promise<DetectionLatencyResult> {
  const speed = o.speed ?? 1
  const windowSec = o.windowSec ?? DEFAULT_STREAM_WINDOW_SEC
  const latenessSec = o.latenessSec ?? DEFAULT_LATENESS_SEC
  const network = o.network ?? 'lab'
  const windowUs = windowSec * 1e6
  // every capture starts now (event time ≈ wall time), plus a second to set up
  const startUs = (Date.now() + 1000) * 1000
  const parts = [...o.attacks.map((a) => ({flows: a.flows, shiftUs: startUs - firstStart(a.flows)}))]
  if (o.background !== undefined && o.background.length > 0) parts.push({flows: o.background, shiftUs: startUs - firstStart(o.background)})
  const merged = mergeShifted(parts)
  const attackStartUs = o.attacks.map((a, k) => firstStart(a.flows) + parts[k]!.shiftUs)

  const local = o.endpoint === undefined ? await startLocalKinesis() : undefined
  const kinesis = createKinesisClient({endpoint: o.endpoint ?? local!.endpoint, requestTimeoutMs: 10_000})
  const stream = `flowscope-latency-${Date.now()}`
  try {
    await createLocalStream(kinesis, stream, o.shards ?? 1)
    const detectedAt = new Map<string, number>()
    const scorer = await createModelScorer(o.store, o.model, {
      stream,
      workerId: 'latency',
      onDetections: (_network, _model, detections) => {
        const at = Date.now()
        for (const d of detections) if (!detectedAt.has(d.address)) detectedAt.set(d.address, at)
      },
    })
    const windows: WindowReport[] = []
    let committed = 0
    const stop = new AbortController()
    const worker = runStreamWorker({
      kinesis,
      stream,
      workerId: 'latency',
      store: scorer.store,
      scoreWindow: scorer.scoreWindow,
      raiseIncidents: scorer.raiseIncidents,
      windowSec,
      latenessSec,
      startPosition: {type: 'TRIM_HORIZON'},
      signal: stop.signal,
      discoveryMs: 2000,
      read: {idlePollMs: 50},
      onWindow: (w) => {
        committed += w.records
        windows.push(w)
      },
    })
    worker.catch(() => undefined)

    // released at the recorded pace from t0Wall; event time startUs is wall time t0Wall
    let t0Wall = 0
    const paced = async function* (): AsyncGenerator<FlowBatch> {
      t0Wall = Date.now()
      let i = 0
      while (i < merged.length) {
        const dueMs = t0Wall + (merged.tsStart[i]! - startUs) / 1000 / speed
        const wait = dueMs - Date.now()
        if (wait > 0) await sleep(wait)
        // everything due by now, in one put
        const out = new FlowBatchBuilder(256)
        const nowMs = Date.now()
        for (; i < merged.length && t0Wall + (merged.tsStart[i]! - startUs) / 1000 / speed <= nowMs; i++) out.appendRow(merged, i, '')
        if (out.length > 0) yield out.view()
      }
    }
    await putFlows(kinesis, stream, paced(), {network, partitionKey: 'network'})
    const deadline = Date.now() + (windowSec + latenessSec) * 1000 + 60_000
    while (committed < merged.length && Date.now() < deadline) await sleep(20)
    stop.abort()
    const summary = await worker

    const wallOf = (us: number): number => t0Wall + (us - startUs) / 1000 / speed
    const attacks = o.attacks.map((a, k): AttackLatency => {
      const start = wallOf(attackStartUs[k]!)
      let packets = 0
      for (const b of a.flows) for (let i = 0; i < b.length; i++) packets += b.packets[i]!
      const detection = detectedAt.get(a.entity)
      let incidentMs: number | null = null
      let firstIncidentType: string | null = null
      let packetsAtIncident: number | null = null
      let incidentEndUs: number | null = null
      for (const w of windows) {
        for (const inc of w.incidents) {
          if (inc.entity !== a.entity) continue
          firstIncidentType ??= inc.attackType
          if (incidentMs === null && a.types.includes(inc.attackType)) {
            incidentMs = w.committedAtMs - start
            incidentEndUs = w.windowEndUs
            const endUs = w.windowEndUs - parts[k]!.shiftUs
            packetsAtIncident = 0
            for (const b of a.flows) for (let i = 0; i < b.length; i++) if (b.tsStart[i]! < endUs && involves(b, i, a.entity)) packetsAtIncident += b.packets[i]!
          }
        }
      }
      const ready = evidenceUs(a.flows, a.entity, a.types[0] ?? '')
      const readyWall = ready === undefined ? undefined : wallOf(ready + parts[k]!.shiftUs)
      return {
        name: a.name,
        entity: a.entity,
        packets,
        incidentAfterEvidenceMs: incidentMs === null || readyWall === undefined ? null : incidentMs + start - readyWall,
        evidenceAfterStartMs: ready === undefined ? null : (ready + parts[k]!.shiftUs - attackStartUs[k]!) / 1000,
        windowsAfterEvidence:
          ready === undefined || incidentEndUs === null ? null : Math.round((incidentEndUs - (Math.floor((ready + parts[k]!.shiftUs) / windowUs) + 1) * windowUs) / windowUs),
        detectionMs: detection === undefined ? null : detection - start,
        incidentMs,
        firstIncidentType,
        typed: incidentMs !== null,
        packetsAtIncident,
      }
    })
    const entities = new Set(o.attacks.map((a) => a.entity))
    const others = new Map<string, string>()
    for (const w of windows) for (const inc of w.incidents) if (!entities.has(inc.entity)) others.set(inc.entity, inc.attackType)
    const commitDelays = windows
      .filter((w) => w.straggler === undefined)
      .map((w) => w.committedAtMs - wallOf(w.windowEndUs))
      .sort((x, y) => x - y)
    const q = (p: number): number => commitDelays[Math.min(commitDelays.length - 1, Math.floor(p * commitDelays.length))] ?? Number.NaN
    return {
      speed,
      windowSec,
      latenessSec,
      flows: merged.length,
      attacks,
      otherIncidents: [...others].map(([entity, attackType]) => ({entity, attackType})),
      incidents: (await o.store.all<{entity: string; attack_type: string; role: string | null; windows: number}>('SELECT entity, attack_type, role, windows FROM incidents ORDER BY first_seen')).map((r) => ({
        entity: r.entity,
        attackType: r.attack_type,
        role: r.role,
        windows: Number(r.windows),
      })),
      windowCommitMs: {p50: q(0.5), p99: q(0.99), max: commitDelays.at(-1) ?? Number.NaN},
      windows: summary.windows,
      lateDropped: summary.lateDropped,
    }
  } finally {
    kinesis.destroy()
    await local?.close()
  }
}
