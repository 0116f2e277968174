/**
 * The `incidents` table (schema.ts) and its one writer: after analyze writes a run's window detections,
 * `writeIncidents` merges them (incident-merge.ts, the rule and the severity bands) with the stored
 * incidents they may continue, upserts the incidents and links each detection to its incident
 * (`detections.incident_id`), in the caller's transaction.
 *
 * A stored incident of the same (network, entity) whose span comes within the idle time of
 * the new detections is read back with its linked detections and merged again with them, so a later run
 * extends it (same incident_id, later last_seen, more windows) and a re-run over the same data rebuilds
 * it unchanged (its id and run_id are kept). A merged group takes the id of the earliest stored incident
 * it overlaps; stored incidents that no group took (their detections now belong to another) are deleted.
 * Open incidents the run did not touch are closed once their network's data runs past the idle time.
 *
 * What each merged incident is — its type, role, confidence, counterparts and evidence, or that it is
 * folded into another incident (a flood's source into its victim) or is no incident at all (too little
 * sampled evidence) — is decided by `options.decide` (src/infer/incidents.ts gives the rules); without
 * it every merged incident is stored with its detections' type and no role.
 */
import {sqlString, timestampUs} from '../../core/index.js'
import type {Detection} from './detections.js'
import {storedFeatures} from './detections.js'
import type {MergeDetection, MergedIncident} from './incident-merge.js'
import type {IncidentConfidence, IncidentCounterparts, IncidentEvidenceRecord, IncidentRole} from './incident-record.js'
import {DEFAULT_INCIDENT_IDLE_US, incidentIdOf, mergeIncidents} from './incident-merge.js'
import type {FlowStore} from './store.js'

export interface WriteIncidentsOptions {
  /** the run that writes them (kept as `run_id` of the incidents it opens) */
  runId?: number | null
  /** largest gap within one incident and the idle time that closes it, µs (default one 5-minute window) */
  idleUs?: number
  /** decides what each merged incident is (see the module comment) */
  decide?: DecideIncidents
}

/** What a merged incident is, as `decide` says. */
export type IncidentDecision =
  | {
      kind: 'incident'
      attackType: string
      role: IncidentRole | null
      confidence: IncidentConfidence | null
      counterparts: IncidentCounterparts | null
      evidence: IncidentEvidenceRecord | null
    }
  /** its detections belong to incident `into` (another of the same call, itself kept) */
  | {kind: 'folded'; into: string}
  /** no incident: its detections keep no incident_id */
  | {kind: 'dropped'; reason: string}

/** Decides every merged incident (by incidentId); one left out is kept as merged. */
export type DecideIncidents = (store: FlowStore, incidents: readonly MergedIncident[]) => Promise<Map<string, IncidentDecision>>

export interface WrittenIncidents {
  /** incidents the run's detections belong to */
  incidents: number
  /** of those, still open */
  open: number
  /** those incidents as written */
  written: WrittenIncident[]
}

/** An incident as `saveIncidents` wrote it: what a live reader (the stream) reports of it. */
export interface WrittenIncident {
  incidentId: string
  network: string
  entity: string
  attackType: string
  role: IncidentRole | null
  confidence: IncidentConfidence | null
  severity: number
  /** µs since the epoch */
  firstSeen: number
  lastSeen: number
  status: string
}

/** The stored incidents of the new detections' (network, entity) within the idle time of their span. */
const STORED_NEAR_SQL = `incidents i JOIN incident_spans_in s
           ON i.network = s.network AND i.entity = s.entity AND i.last_seen >= s.lo AND i.first_seen <= s.hi`

/** what the merging needs of a stored incident: its key and span, and the run that first built it */
type StoredIncident = Pick<MergedIncident, 'incidentId' | 'network' | 'entity' | 'firstSeen' | 'lastSeen'> & {runId: number | null}

/**
 * What `saveIncidents` writes: the merged incidents with their ids and decisions, the stored ones they
 * replace, and the networks' data times. Made by `planIncidents`, which only reads.
 */
export interface IncidentPlan {
  idle: number
  latest: Map<string, number>
  rows: {incident: MergedIncident; runId: number | null}[]
  decisions: Map<string, IncidentDecision>
  /** stored incidents near the new detections: those not kept are deleted */
  stored: {incidentId: string}[]
  claimed: Set<string>
}

/** Builds, merges and writes the incidents of `detections` (see the module comment): `planIncidents`, then `saveIncidents`. */
export async function writeIncidents(store: FlowStore, detections: Iterable<Detection>, options: WriteIncidentsOptions = {}): Promise<WrittenIncidents> {
  return saveIncidents(store, await planIncidents(store, detections, options))
}

/**
 * Reads what the incidents of `detections` need — the stored incidents they may continue, and the
 * flow evidence `options.decide` reads — and decides them, writing nothing but temporary tables. Run
 * it before the transaction that writes the detections: the evidence's queries over temporary tables
 * run 1.5-2× slower inside a transaction that holds uncommitted rows.
 */
export async function planIncidents(store: FlowStore, detections: Iterable<Detection>, options: WriteIncidentsOptions = {}): Promise<IncidentPlan> {
  const idle = options.idleUs ?? DEFAULT_INCIDENT_IDLE_US
  const runId = options.runId ?? null
  const fresh = new Map<string, MergeDetection>()
  for (const d of detections) {
    fresh.set(detectionKey(d.network, d.address, d.windowStart, d.model, d.pass), {
      network: d.network,
      address: d.address,
      attackType: d.attackType,
      windowStart: d.windowStart,
      windowEnd: d.windowEnd,
      model: d.model,
      pass: d.pass,
      score: d.score,
      threshold: d.threshold,
      // converted to the stored form only for the one detection that becomes an incident's peak (peakEvidence)
      topFeatures: d.topFeatures,
    })
  }
  const latest = await latestDataTimes(store)
  if (fresh.size === 0) return {idle, latest, rows: [], decisions: new Map(), stored: [], claimed: new Set()}

  // the span of each (network, entity) among the new detections, widened by the idle time
  const spans = new Map<string, {network: string; entity: string; lo: number; hi: number}>()
  for (const d of fresh.values()) {
    const k = `${d.network}\u0000${d.address}`
    const s = spans.get(k)
    if (s === undefined) spans.set(k, {network: d.network, entity: d.address, lo: d.windowStart, hi: d.windowEnd})
    else {
      s.lo = Math.min(s.lo, d.windowStart)
      s.hi = Math.max(s.hi, d.windowEnd)
    }
  }
  await store.run('CREATE TEMP TABLE IF NOT EXISTS incident_spans_in (network VARCHAR, entity VARCHAR, lo TIMESTAMP, hi TIMESTAMP)')
  await store.run('DELETE FROM incident_spans_in')
  const sa = await store.connection.createAppender('incident_spans_in', null, 'temp')
  try {
    for (const s of spans.values()) {
      sa.appendVarchar(s.network)
      sa.appendVarchar(s.entity)
      sa.appendTimestamp(timestampUs(s.lo - idle))
      sa.appendTimestamp(timestampUs(s.hi + idle))
      sa.endRow()
    }
  } finally {
    sa.closeSync()
  }
  const stored = (
    await store.all<{incident_id: string; network: string; entity: string; first_us: bigint; last_us: bigint; run_id: number | null}>(
      `SELECT DISTINCT i.incident_id, i.network, i.entity, epoch_us(i.first_seen) AS first_us, epoch_us(i.last_seen) AS last_us, i.run_id
         FROM ${STORED_NEAR_SQL}`,
    )
  ).map(
    (r): StoredIncident => ({
      incidentId: r.incident_id,
      network: r.network,
      entity: r.entity,
      firstSeen: Number(r.first_us),
      lastSeen: Number(r.last_us),
      runId: r.run_id,
    }),
  )

  // the detections already linked to those incidents join the merge (the new ones win on the same key)
  const all = new Map(fresh)
  if (stored.length > 0) {
    const linked = await store.all<{
      network: string
      address: string
      attack_type: string
      ws: bigint
      we: bigint
      model: string
      pass: string
      score: number
      threshold: number
      top_features: string
    }>(
      `SELECT d.network, d.address, d.attack_type, epoch_us(d.window_start) AS ws, epoch_us(d.window_end) AS we, d.model, d.pass, d.score, d.threshold,
              CAST(d.top_features AS VARCHAR) AS top_features
         FROM detections d WHERE d.incident_id IN (SELECT i.incident_id FROM ${STORED_NEAR_SQL})`,
    )
    for (const r of linked) {
      const key = detectionKey(r.network, r.address, Number(r.ws), r.model, r.pass)
      if (all.has(key)) continue
      all.set(key, {
        network: r.network,
        address: r.address,
        attackType: r.attack_type,
        windowStart: Number(r.ws),
        windowEnd: Number(r.we),
        model: r.model,
        pass: r.pass,
        score: r.score,
        threshold: r.threshold,
        topFeatures: JSON.parse(r.top_features) as unknown,
      })
    }
  }

  const merged = mergeIncidents(all.values(), {idleUs: idle, latestDataUs: latest})
  const storedByKey = new Map<string, StoredIncident[]>()
  for (const s of stored.sort((a, b) => a.firstSeen - b.firstSeen || (a.incidentId < b.incidentId ? -1 : 1))) {
    const k = `${s.network}\u0000${s.entity}`
    storedByKey.set(k, [...(storedByKey.get(k) ?? []), s])
  }
  const claimed = new Set<string>()
  const used = new Set<string>()
  const rows: {incident: MergedIncident; runId: number | null}[] = []
  for (const m of merged) {
    const candidates = storedByKey.get(`${m.network}\u0000${m.entity}`) ?? []
    const prior = candidates.find((s) => !claimed.has(s.incidentId) && s.firstSeen <= m.lastSeen && s.lastSeen >= m.firstSeen)
    let id = prior?.incidentId ?? m.incidentId
    for (let n = 2; prior === undefined && used.has(id); n++) id = incidentIdOf(m.network, m.entity, m.firstSeen) + `-${n}`
    if (prior !== undefined) claimed.add(prior.incidentId)
    used.add(id)
    rows.push({incident: {...m, incidentId: id}, runId: prior === undefined ? runId : prior.runId})
  }
  const decisions = options.decide === undefined ? new Map<string, IncidentDecision>() : await options.decide(store, rows.map((r) => r.incident))
  await store.run('DELETE FROM incident_spans_in')
  return {idle, latest, rows, decisions, stored, claimed}
}

/** Writes a plan (`planIncidents`): the incidents, the links of their detections, and closes the idle ones; in the caller's transaction. */
export async function saveIncidents(store: FlowStore, plan: IncidentPlan): Promise<WrittenIncidents> {
  const {idle, latest, rows, decisions, stored, claimed} = plan
  if (rows.length === 0) {
    await closeIdle(store, latest, idle)
    return {incidents: 0, open: 0, written: []}
  }
  const decisionOf = (m: MergedIncident): IncidentDecision => decisions.get(m.incidentId) ?? keptAsMerged(m)
  const kept = rows.filter((r) => decisionOf(r.incident).kind === 'incident')
  const keptIds = new Set(kept.map((r) => r.incident.incidentId))
  // stored incidents that no group took, or whose group is now folded into another or dropped
  const dropped = stored.filter((s) => !claimed.has(s.incidentId) || !keptIds.has(s.incidentId)).map((s) => s.incidentId)
  if (dropped.length > 0) await store.run(`DELETE FROM incidents WHERE incident_id IN (${dropped.map(sqlString).join(', ')})`)

  await store.run('CREATE OR REPLACE TEMP TABLE incidents_in AS SELECT * FROM incidents LIMIT 0')
  await store.run(
    'CREATE OR REPLACE TEMP TABLE incident_links_in (network VARCHAR, address VARCHAR, lo TIMESTAMP, hi TIMESTAMP, incident_id VARCHAR)',
  )
  const ia = await store.connection.createAppender('incidents_in', null, 'temp')
  const la = await store.connection.createAppender('incident_links_in', null, 'temp')
  try {
    for (const {incident: m, runId: rid} of kept) {
      const d = decisionOf(m) as Extract<IncidentDecision, {kind: 'incident'}>
      ia.appendVarchar(m.incidentId)
      ia.appendVarchar(m.network)
      ia.appendVarchar(m.entity)
      appendNullable(ia, d.role)
      ia.appendVarchar(d.attackType)
      ia.appendTimestamp(timestampUs(m.firstSeen))
      ia.appendTimestamp(timestampUs(m.lastSeen))
      ia.appendUInteger(m.windows)
      ia.appendDouble(m.peakScore)
      ia.appendUTinyInt(m.severity)
      appendNullable(ia, d.confidence)
      appendNullable(ia, d.counterparts === null ? null : JSON.stringify(d.counterparts))
      ia.appendVarchar(d.evidence === null ? JSON.stringify(peakEvidence(m)) : JSON.stringify(d.evidence))
      ia.appendVarchar(m.status)
      if (rid === null) ia.appendNull()
      else ia.appendInteger(rid)
      ia.endRow()
    }
    // one link per merged group: its address's detections from its first to its last window start (a group
    // is every detection of its address in that range: merging splits an address's sorted windows at gaps)
    for (const {incident: m} of rows) {
      const d = decisionOf(m)
      const into = d.kind === 'incident' ? m.incidentId : d.kind === 'folded' && keptIds.has(d.into) ? d.into : null
      let lo = Number.POSITIVE_INFINITY
      let hi = Number.NEGATIVE_INFINITY
      for (const x of m.detections) {
        lo = Math.min(lo, x.windowStart)
        hi = Math.max(hi, x.windowStart)
      }
      la.appendVarchar(m.network)
      la.appendVarchar(m.entity)
      la.appendTimestamp(timestampUs(lo))
      la.appendTimestamp(timestampUs(hi))
      appendNullable(la, into)
      la.endRow()
    }
  } finally {
    ia.closeSync()
    la.closeSync()
  }
  await store.run('INSERT OR REPLACE INTO incidents SELECT * FROM incidents_in')
  await store.run(
    `UPDATE detections SET incident_id = l.incident_id FROM incident_links_in l
      WHERE detections.network = l.network AND detections.address = l.address AND detections.window_start BETWEEN l.lo AND l.hi`,
  )
  await store.run('DROP TABLE IF EXISTS incidents_in')
  await store.run('DROP TABLE IF EXISTS incident_links_in')
  await closeIdle(store, latest, idle)
  const written = kept.map(({incident: m}): WrittenIncident => {
    const d = decisionOf(m) as Extract<IncidentDecision, {kind: 'incident'}>
    return {
      incidentId: m.incidentId,
      network: m.network,
      entity: m.entity,
      attackType: d.attackType,
      role: d.role,
      confidence: d.confidence,
      severity: m.severity,
      firstSeen: m.firstSeen,
      lastSeen: m.lastSeen,
      status: m.status,
    }
  })
  return {incidents: kept.length, open: written.filter((w) => w.status === 'open').length, written}
}

/** The latest flow end of each network, µs. */
async function latestDataTimes(store: FlowStore): Promise<Map<string, number>> {
  const rows = await store.all<{network: string; last_us: bigint | null}>('SELECT network, epoch_us(max(ts_end)) AS last_us FROM flows GROUP BY network')
  return new Map(rows.filter((r) => r.last_us !== null).map((r) => [r.network, Number(r.last_us)]))
}

/** Closes the open incidents whose network's data runs more than the idle time past their last_seen. */
async function closeIdle(store: FlowStore, latest: ReadonlyMap<string, number>, idle: number): Promise<void> {
  for (const [network, last] of latest) {
    await store.run(
      `UPDATE incidents SET status = 'closed' WHERE status = 'open' AND network = $1 AND epoch_us(last_seen) < $2`,
      [network, Math.floor(last - idle)],
    )
  }
}

function detectionKey(network: string, address: string, windowStart: number, model: string, pass: string): string {
  return `${network}\u0000${address}\u0000${Math.floor(windowStart)}\u0000${model}\u0000${pass}`
}

/** A merged incident kept as it is: its detections' type, no role, confidence or counterparts. */
function keptAsMerged(m: MergedIncident): IncidentDecision {
  return {kind: 'incident', attackType: m.attackType, role: null, confidence: null, counterparts: null, evidence: null}
}

function appendNullable(a: {appendVarchar(v: string): void; appendNull(): void}, v: string | null): void {
  if (v === null) a.appendNull()
  else a.appendVarchar(v)
}

/** A detection's features as `top_features` stores them: new detections carry `standardisedError`, stored ones `z`. */
function asStoredFeatures(features: unknown): unknown {
  if (!Array.isArray(features) || !features.every((f) => typeof f === 'object' && f !== null && 'standardisedError' in f)) return features
  return storedFeatures(features as Detection['topFeatures'])
}

/** The peak window of a merged incident as `evidence` records it (ISO times). */
export function peakEvidence(m: MergedIncident): Pick<IncidentEvidenceRecord, 'detectionTypes' | 'peakWindow' | 'model' | 'pass' | 'threshold' | 'topFeatures'> {
  const e = m.evidence
  const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString()
  return {
    detectionTypes: m.detectionTypes,
    peakWindow: {start: iso(e.windowStart), end: iso(e.windowEnd)},
    model: e.model,
    pass: e.pass,
    threshold: e.threshold,
    topFeatures: asStoredFeatures(e.topFeatures),
  }
}
