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
 *
 * For a steady state rather than attacks on a quiet network: several networks, each with benign flows
 * replayed live beside the attacks and a history already in the store (what the trailing model window
 * looks back on, as after minutes of streaming), and several workers sharing the stream through a lease
 * table (dynalite on 127.0.0.1), each with its own store.
 */

import {ADDR_WORDS, addrToString, type FlowBatch} from '../core/index.js'
import {EPHEMERAL_PORT_START, INCIDENT_RULES, MIN_INCIDENT_PACKETS, type LoadedModel} from '../infer/index.js'
import {addToSource, insertSource, type FlowStore} from '../io/index.js'
import {createDynamoClient, createKinesisClient, sleep} from './aws.js'
import {FlowBatchBuilder} from './flow-builder.js'
import {createLocalStream, startLocalDynamo, startLocalKinesis, type LocalServer} from './local.js'
import {createModelScorer, type ModelScorerStats} from './model-scorer.js'
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
  /** its network (default: the options' `network`) */
  network?: string
}

/** A network's traffic besides the attacks. */
export interface LatencyNetwork {
  network: string
  /** benign flows replayed live (shifted to start with the attacks) */
  background?: readonly FlowBatch[]
  /**
   * flows already in every worker's store when the replay starts, shifted to end where it starts (so
   * `history` then `background` is one timeline when they were cut from one)
   */
  history?: readonly FlowBatch[]
}

export interface DetectionLatencyOptions {
  /** one worker's store, or one store per worker: two or more share the stream through a lease table */
  store: FlowStore | readonly FlowStore[]
  model: LoadedModel
  attacks: readonly LatencyAttack[]
  /** benign flows replayed with them on their network (shifted to the same start) */
  background?: readonly FlowBatch[]
  /** other networks (or the attacks' own, by name) with background and history */
  networks?: readonly LatencyNetwork[]
  /** how many times faster than recorded (default 1) */
  speed?: number
  windowSec?: number
  latenessSec?: number
  shards?: number
  /**
   * event time (µs) the replay starts at, as wall time: it waits for that moment once the history is
   * stored (default: a second from now, more with history to store)
   */
  startUs?: number
  /** the network of the attacks that name none (default 'lab') */
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
  otherIncidents: Array<{network: string; entity: string; attackType: string}>
  /** the incidents of the attacks' networks in the store at the end */
  incidents: Array<{network: string; entity: string; attackType: string; role: string | null; windows: number}>
  /** window end due (wall) → window committed, ms */
  windowCommitMs: {p50: number; p99: number; max: number}
  windows: number
  lateDropped: number
  /** flows put per second over the replay (all networks) */
  putFlowsPerSec: number
  /** per worker: the largest and mean window processing time / window length (≥ 1: falling behind) */
  maxRatio: number
  meanRatio: number
  /**
   * close → commit of each window, ms: the median and largest, and the largest of the windows ending
   * on the model's hop (their model windows scored for every address), null when none did
   */
  windowWorkMs: {p50: number; max: number; atHop: number | null}
  /** window processing ms summed over workers, and the scorers' share of it (the rest: incidents, commit) */
  processingMs: number
  scorer: Pick<ModelScorerStats, 'rounds' | 'rowsScored' | 'detections' | 'storeMs' | 'featuresMs' | 'modelMs'>
  workers: number
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
  return sortedByStart(b.view())
}

function sortedByStart(all: FlowBatch): FlowBatch {
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

/**
 * A network `copies` times the size of `template`: copy c is the template with every IPv4 address moved
 * by c × 65,536 (internal /16s stay whole) and c added to the second word of every IPv6 one, its
 * timeline rotated by a golden-ratio share of the template's span (wrapping round) so the copies'
 * sessions interleave. Returns the flows starting in [fromUs, toUs) of the template's clock, in start order.
 */
export function tileFlows(template: readonly FlowBatch[], copies: number, fromUs: number, toUs: number): FlowBatch {
  let lo = Infinity
  let hi = -Infinity
  for (const b of template) {
    for (let i = 0; i < b.length; i++) {
      lo = Math.min(lo, b.tsStart[i]!)
      hi = Math.max(hi, b.tsStart[i]!)
    }
  }
  const span = hi - lo + 1
  const out = new FlowBatchBuilder(1024)
  for (let c = 0; c < copies; c++) {
    const rotUs = Math.floor(((c * 0.6180339887498949) % 1) * span)
    for (const b of template) {
      for (let i = 0; i < b.length; i++) {
        const t = lo + ((b.tsStart[i]! - lo + rotUs) % span)
        if (t < fromUs || t >= toUs) continue
        const row = out.length
        out.appendRow(b, i, '')
        const f = out.batch
        f.tsEnd[row] = t + (b.tsEnd[i]! - b.tsStart[i]!)
        f.tsStart[row] = t
        const o = row * ADDR_WORDS
        for (const addr of [f.srcAddr, f.dstAddr]) {
          if (f.family[row] === 4) addr[o + 3] = (addr[o + 3]! + c * 65536) >>> 0
          else addr[o + 1] = (addr[o + 1]! + c) >>> 0
        }
      }
    }
  }
  return sortedByStart(out.view())
}

/** The flows of `flows` shifted by `shiftUs`, appended to the store under a source of their own. */
async function appendHistory(store: FlowStore, network: string, flows: readonly FlowBatch[], shiftUs: number): Promise<void> {
  const b = mergeShifted([{flows, shiftUs}])
  let packets = 0
  let bytes = 0
  let first = Infinity
  let last = -Infinity
  for (let i = 0; i < b.length; i++) {
    packets += b.packets[i]!
    bytes += b.bytes[i]!
    first = Math.min(first, b.tsStart[i]!)
    last = Math.max(last, b.tsEnd[i]!)
  }
  if (b.length === 0) return
  const sourceId = await insertSource(store, {path: `history:${network}`, sha256: `history:${network}:${shiftUs}`, format: 'history', network, ingestedAtUs: Date.now() * 1000, content: 'flow-export'})
  const appender = await store.createFlowAppender()
  try {
    appender.append(b, network, sourceId)
  } finally {
    appender.close()
  }
  await addToSource(store, sourceId, {flows: b.length, packets, bytes, firstUs: first, lastUs: last, samplingRate: 1})
}

export async function measureDetectionLatency(o: DetectionLatencyOptions): Promise<DetectionLatencyResult> {
  const speed = o.speed ?? 1
  const windowSec = o.windowSec ?? DEFAULT_STREAM_WINDOW_SEC
  const latenessSec = o.latenessSec ?? DEFAULT_LATENESS_SEC
  const network = o.network ?? 'lab'
  const windowUs = windowSec * 1e6
  const stores: readonly FlowStore[] = Array.isArray(o.store) ? o.store : [o.store as FlowStore]
  // the networks and what each replays: the attacks on theirs, with its background
  const traffic = new Map<string, {background: Array<readonly FlowBatch[]>; history: Array<readonly FlowBatch[]>}>()
  const netOf = (name: string): {background: Array<readonly FlowBatch[]>; history: Array<readonly FlowBatch[]>} => {
    let t = traffic.get(name)
    if (!t) traffic.set(name, (t = {background: [], history: []}))
    return t
  }
  if (o.background !== undefined) netOf(network).background.push(o.background)
  for (const n of o.networks ?? []) {
    if (n.background !== undefined) netOf(n.network).background.push(n.background)
    if (n.history !== undefined) netOf(n.network).history.push(n.history)
  }
  // every capture starts now (event time ≈ wall time), plus a second to set up (more with history to store)
  const historyFlows = [...traffic.values()].reduce((x, t) => x + t.history.flat().reduce((y, b) => y + b.length, 0), 0)
  const startUs = o.startUs ?? (Date.now() + 1000 + Math.ceil(historyFlows / 200)) * 1000
  const attackShift = o.attacks.map((a) => startUs - firstStart(a.flows))
  const attackStartUs = o.attacks.map((a, k) => firstStart(a.flows) + attackShift[k]!)
  const merged = new Map<string, FlowBatch>()
  const attackNet = o.attacks.map((a) => a.network ?? network)
  for (const n of attackNet) netOf(n)
  for (const [name, t] of traffic) {
    const parts = t.background.filter((f) => f.length > 0).map((flows) => ({flows, shiftUs: startUs - firstStart(flows)}))
    parts.unshift(...o.attacks.flatMap((a, k) => (attackNet[k] === name ? [{flows: a.flows, shiftUs: attackShift[k]!}] : [])))
    merged.set(name, mergeShifted(parts))
  }
  const totalFlows = [...merged.values()].reduce((x, b) => x + b.length, 0)

  const local = o.endpoint === undefined ? await startLocalKinesis() : undefined
  const kinesis = createKinesisClient({endpoint: o.endpoint ?? local!.endpoint, requestTimeoutMs: 10_000})
  const stream = `flowscope-latency-${Date.now()}`
  let dynamoServer: LocalServer | undefined
  let dynamo: ReturnType<typeof createDynamoClient> | undefined
  try {
    await createLocalStream(kinesis, stream, o.shards ?? Math.max(1, stores.length))
    // the past, in every store: each history ends where the replay starts
    for (const [name, t] of traffic) {
      for (const h of t.history) {
        let end = -Infinity
        for (const b of h) for (let i = 0; i < b.length; i++) end = Math.max(end, b.tsStart[i]!)
        if (Number.isFinite(end)) for (const store of stores) await appendHistory(store, name, h, startUs - 1 - end)
      }
    }
    if (stores.length > 1) {
      dynamoServer = await startLocalDynamo()
      dynamo = createDynamoClient({endpoint: dynamoServer.endpoint, requestTimeoutMs: 10_000})
    }
    const detectedAt = new Map<string, number>()
    const windows: WindowReport[] = []
    let committed = 0
    const stop = new AbortController()
    const scorers = await Promise.all(
      stores.map((store, w) =>
        createModelScorer(store, o.model, {
          stream,
          workerId: `latency-${w}`,
          onDetections: (net, _model, detections) => {
            const at = Date.now()
            for (const d of detections) if (!detectedAt.has(`${net}/${d.address}`)) detectedAt.set(`${net}/${d.address}`, at)
          },
        }),
      ),
    )
    const running = scorers.map((scorer, w) =>
      runStreamWorker({
        kinesis,
        ...(dynamo === undefined ? {} : {dynamo, leaseTable: `${stream}-leases`}),
        stream,
        workerId: `latency-${w}`,
        store: scorer.store,
        scoreWindow: scorer.scoreWindow,
        raiseIncidents: scorer.raiseIncidents,
        windowSec,
        latenessSec,
        startPosition: {type: 'TRIM_HORIZON'},
        signal: stop.signal,
        discoveryMs: 2000,
        read: {idlePollMs: 50},
        onWindow: (r) => {
          committed += r.records
          windows.push(r)
        },
      }),
    )
    for (const r of running) r.catch(() => undefined)

    // released at the recorded pace from t0Wall; event time startUs is wall time t0Wall (later only when
    // storing the history took longer than planned)
    if (startUs / 1000 > Date.now()) await sleep(startUs / 1000 - Date.now())
    const t0Wall = Date.now()
    const paced = async function* (flows: FlowBatch): AsyncGenerator<FlowBatch> {
      let i = 0
      while (i < flows.length) {
        const dueMs = t0Wall + (flows.tsStart[i]! - startUs) / 1000 / speed
        const wait = dueMs - Date.now()
        if (wait > 0) await sleep(wait)
        // everything due by now, in one put
        const out = new FlowBatchBuilder(256)
        const nowMs = Date.now()
        for (; i < flows.length && t0Wall + (flows.tsStart[i]! - startUs) / 1000 / speed <= nowMs; i++) out.appendRow(flows, i, '')
        if (out.length > 0) yield out.view()
      }
    }
    await Promise.all([...merged].map(([name, flows]) => putFlows(kinesis, stream, paced(flows), {network: name, partitionKey: 'network'})))
    const putDoneMs = Date.now()
    const deadline = Date.now() + (windowSec + latenessSec) * 1000 + 60_000
    while (committed < totalFlows && Date.now() < deadline) await sleep(20)
    stop.abort()
    const summaries = await Promise.all(running)

    const wallOf = (us: number): number => t0Wall + (us - startUs) / 1000 / speed
    const attacks = o.attacks.map((a, k): AttackLatency => {
      const start = wallOf(attackStartUs[k]!)
      let packets = 0
      for (const b of a.flows) for (let i = 0; i < b.length; i++) packets += b.packets[i]!
      const detection = detectedAt.get(`${attackNet[k]}/${a.entity}`)
      let incidentMs: number | null = null
      let firstIncidentType: string | null = null
      let packetsAtIncident: number | null = null
      let incidentEndUs: number | null = null
      for (const w of windows) {
        for (const inc of w.incidents) {
          if (inc.entity !== a.entity || inc.network !== attackNet[k]) continue
          firstIncidentType ??= inc.attackType
          if (incidentMs === null && a.types.includes(inc.attackType)) {
            incidentMs = w.committedAtMs - start
            incidentEndUs = w.windowEndUs
            const endUs = w.windowEndUs - attackShift[k]!
            packetsAtIncident = 0
            for (const b of a.flows) for (let i = 0; i < b.length; i++) if (b.tsStart[i]! < endUs && involves(b, i, a.entity)) packetsAtIncident += b.packets[i]!
          }
        }
      }
      const ready = evidenceUs(a.flows, a.entity, a.types[0] ?? '')
      const readyWall = ready === undefined ? undefined : wallOf(ready + attackShift[k]!)
      return {
        name: a.name,
        entity: a.entity,
        packets,
        incidentAfterEvidenceMs: incidentMs === null || readyWall === undefined ? null : incidentMs + start - readyWall,
        evidenceAfterStartMs: ready === undefined ? null : (ready + attackShift[k]! - attackStartUs[k]!) / 1000,
        windowsAfterEvidence:
          ready === undefined || incidentEndUs === null ? null : Math.round((incidentEndUs - (Math.floor((ready + attackShift[k]!) / windowUs) + 1) * windowUs) / windowUs),
        detectionMs: detection === undefined ? null : detection - start,
        incidentMs,
        firstIncidentType,
        typed: incidentMs !== null,
        packetsAtIncident,
      }
    })
    const entities = new Set(o.attacks.map((a, k) => `${attackNet[k]}/${a.entity}`))
    const others = new Map<string, {network: string; entity: string; attackType: string}>()
    for (const w of windows) {
      for (const inc of w.incidents) {
        if (!entities.has(`${inc.network}/${inc.entity}`)) others.set(`${inc.network}/${inc.entity}`, {network: inc.network, entity: inc.entity, attackType: inc.attackType})
      }
    }
    const commitDelays = windows
      .filter((w) => w.straggler === undefined)
      .map((w) => w.committedAtMs - wallOf(w.windowEndUs))
      .sort((x, y) => x - y)
    const q = (p: number): number => commitDelays[Math.min(commitDelays.length - 1, Math.floor(p * commitDelays.length))] ?? Number.NaN
    const work = windows.map((w) => w.committedAtMs - w.closedAtMs).sort((x, y) => x - y)
    const atHop = windows.filter((w) => w.windowEndUs % scorers[0]!.hopUs === 0).map((w) => w.committedAtMs - w.closedAtMs)
    const incidents: DetectionLatencyResult['incidents'] = []
    const nets = [...new Set(attackNet)]
    for (const store of stores) {
      const rows = await store.all<{network: string; entity: string; attack_type: string; role: string | null; windows: number}>(
        `SELECT network, entity, attack_type, role, windows FROM incidents WHERE network IN (${nets.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY first_seen`,
        nets,
      )
      for (const r of rows) incidents.push({network: r.network, entity: r.entity, attackType: r.attack_type, role: r.role, windows: Number(r.windows)})
    }
    const scorer = {rounds: 0, rowsScored: 0, detections: 0, storeMs: 0, featuresMs: 0, modelMs: 0}
    for (const s of scorers) for (const key of Object.keys(scorer) as Array<keyof typeof scorer>) scorer[key] += s.stats[key]
    return {
      speed,
      windowSec,
      latenessSec,
      flows: totalFlows,
      attacks,
      otherIncidents: [...others.values()],
      incidents,
      windowCommitMs: {p50: q(0.5), p99: q(0.99), max: commitDelays.at(-1) ?? Number.NaN},
      windowWorkMs: {p50: work[Math.floor(work.length / 2)] ?? Number.NaN, max: work.at(-1) ?? Number.NaN, atHop: atHop.length === 0 ? null : Math.max(...atHop)},
      windows: summaries.reduce((x, r) => x + r.windows, 0),
      lateDropped: summaries.reduce((x, r) => x + r.lateDropped, 0),
      putFlowsPerSec: totalFlows / Math.max(0.001, (putDoneMs - t0Wall) / 1000),
      maxRatio: Math.max(...summaries.map((r) => r.maxRatio)),
      meanRatio: summaries.reduce((x, r) => x + r.meanRatio, 0) / summaries.length,
      processingMs: summaries.reduce((x, r) => x + r.processingMs, 0),
      scorer,
      workers: stores.length,
    }
  } finally {
    kinesis.destroy()
    dynamo?.destroy()
    await dynamoServer?.close()
    await local?.close()
  }
}
