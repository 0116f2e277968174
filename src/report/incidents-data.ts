/**
 * The one reader of the `incidents` table for every renderer (the report's INCIDENTS section, the
 * `incidents` command, `--fail-on incidents`): the incidents passing a filter, most severe first, with
 * their JSON columns parsed into the shapes of incident-record.ts. The columns are read null-safe:
 * rows written before roles, confidence and counterparts were filled (NULL there, evidence holding only
 * the peak window in snake_case keys) read as well as rows in the full shape, and a key is taken in
 * either spelling (`confidenceText` or `confidence_text`), so a reader never depends on which writer
 * made the row.
 */
import {INCIDENT_CONFIDENCES} from '../io/index.js'
import type {CounterpartSample, FlowStore, IncidentConfidence, IncidentCounterparts, IncidentEvidenceRecord, IntervalEstimate} from '../io/index.js'
import {UsageError} from '../core/index.js'

import {featuresOf} from './detection-features.js'
import type {DetectionFeature} from './detection-features.js'
import {epochUs, iso, whereOf} from './sql-where.js'
import type {Where} from './sql-where.js'

/** How many incidents a list shows unless told (all of them count in the totals and types). */
export const DEFAULT_INCIDENTS_TOP = 50
/** How many incidents the report lists before its window detections. */
export const DEFAULT_REPORT_INCIDENTS = 20
/** The severity scale of the `incidents` table (SEVERITY_BANDS): 1 (just over the line) .. 5. */
export const SEVERITY_MIN = 1
export const SEVERITY_MAX = 5

export interface IncidentFilter {
  /** only this network (tenant) */
  network?: string
  /** incidents still active after this instant (last_seen after it) */
  since?: Date
  /** incidents that began before this instant (first_seen before it) */
  until?: Date
  /** only this attack type */
  type?: string
  /** only incidents of at least this severity (1..5) */
  minSeverity?: number
  /** only open incidents */
  open?: boolean
}

/**
 * `incidents.evidence` as read back: every key of `IncidentEvidenceRecord`, null where the row does
 * not have it (an older row has only the peak window, model, pass, threshold and features).
 */
export type IncidentEvidence = {
  [K in Exclude<keyof IncidentEvidenceRecord, 'topFeatures'>]: IncidentEvidenceRecord[K] | null
} & {topFeatures: DetectionFeature[]}

/** A stored incident as the reports and the `incidents` command show it. */
export interface IncidentItem {
  id: string
  network: string
  entity: string
  /** victim | attacker | scanner | …; null on rows written before roles were decided */
  role: string | null
  type: string
  firstSeen: string
  lastSeen: string
  windows: number
  peakScore: number
  /** 1..5 */
  severity: number
  confidence: IncidentConfidence | null
  /** open | closed */
  status: string
  counterparts: IncidentCounterparts | null
  evidence: IncidentEvidence | null
  runId: number | null
}

export interface IncidentTypeCount {
  type: string
  count: number
  open: number
  maxSeverity: number
}

/** The incidents passing a filter: how many, how many open, the top ones and the count by type. */
export interface IncidentList {
  total: number
  open: number
  items: IncidentItem[]
  byType: IncidentTypeCount[]
}

/** Reads the incidents passing `filter`, ordered by severity, then peak score, then first seen; `top` of them listed. */
export async function readIncidents(store: FlowStore, filter: IncidentFilter = {}, top: number = DEFAULT_INCIDENTS_TOP): Promise<IncidentList> {
  if (!Number.isSafeInteger(top) || top < 1) throw new UsageError(`--top must be a whole number ≥ 1, got ${top}`)
  const {where, params} = incidentWhere(filter)
  const [totals] = await store.all<{n: bigint; open: bigint | null}>(
    `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'open') AS open FROM incidents WHERE ${where}`,
    params,
  )
  const rows = await store.all<RawIncident>(
    `SELECT incident_id, network, entity, role, attack_type, ${iso('first_seen')} AS first_seen, ${iso('last_seen')} AS last_seen, windows,
            peak_score, severity, confidence, CAST(counterparts AS VARCHAR) AS counterparts, CAST(evidence AS VARCHAR) AS evidence, status, run_id
       FROM incidents WHERE ${where}
      ORDER BY severity DESC, peak_score DESC, first_seen, incident_id
      LIMIT ${top}`,
    params,
  )
  const byType = await store.all<{type: string; n: bigint; open: bigint; max_severity: number}>(
    `SELECT attack_type AS type, count(*) AS n, count(*) FILTER (WHERE status = 'open') AS open, max(severity) AS max_severity
       FROM incidents WHERE ${where} GROUP BY attack_type ORDER BY n DESC, type`,
    params,
  )
  return {
    total: Number(totals?.n ?? 0),
    open: Number(totals?.open ?? 0),
    items: rows.map(toIncidentItem),
    byType: byType.map((t) => ({type: t.type, count: Number(t.n), open: Number(t.open), maxSeverity: Number(t.max_severity)})),
  }
}

/** The WHERE clause of a filter, parameters prefixed `i_`. */
function incidentWhere(f: IncidentFilter): Where {
  if (f.since && f.until && f.since.getTime() >= f.until.getTime()) throw new UsageError('--since must be earlier than --until')
  if (f.minSeverity !== undefined && !(Number.isInteger(f.minSeverity) && f.minSeverity >= SEVERITY_MIN && f.minSeverity <= SEVERITY_MAX)) {
    throw new UsageError(`--min-severity must be a whole number from ${SEVERITY_MIN} to ${SEVERITY_MAX}, got ${f.minSeverity}`)
  }
  return whereOf(
    [
      ['network = $i_network', 'i_network', f.network],
      ['last_seen > make_timestamp($i_since::BIGINT)', 'i_since', epochUs(f.since)],
      ['first_seen < make_timestamp($i_until::BIGINT)', 'i_until', epochUs(f.until)],
      ['attack_type = $i_type', 'i_type', f.type],
      ['severity >= $i_min_severity', 'i_min_severity', f.minSeverity],
    ],
    f.open === true ? ["status = 'open'"] : [],
  )
}

interface RawIncident {
  incident_id: string
  network: string
  entity: string
  role: string | null
  attack_type: string
  first_seen: string
  last_seen: string
  windows: number | bigint
  peak_score: number
  severity: number | bigint
  confidence: string | null
  counterparts: string | null
  evidence: string | null
  status: string
  run_id: number | bigint | null
}

function toIncidentItem(r: RawIncident): IncidentItem {
  return {
    id: r.incident_id,
    network: r.network,
    entity: r.entity,
    role: r.role,
    type: r.attack_type,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    windows: Number(r.windows),
    peakScore: r.peak_score,
    severity: Number(r.severity),
    confidence: (INCIDENT_CONFIDENCES as readonly string[]).includes(r.confidence ?? '') ? (r.confidence as IncidentConfidence) : null,
    status: r.status,
    counterparts: parseCounterparts(r.counterparts),
    evidence: parseEvidence(r.evidence),
    runId: r.run_id === null ? null : Number(r.run_id),
  }
}

type Json = Record<string, unknown>

function parseObject(json: string | null): Json | null {
  if (json === null) return null
  try {
    const v: unknown = JSON.parse(json)
    return isObject(v) ? v : null
  } catch {
    return null
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `o[key]`, or `o[key in snake_case]` when the camelCase key is absent. */
function field(o: Json, key: string): unknown {
  if (key in o) return o[key]
  return o[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null
}

/** `counterparts` in the `IncidentCounterparts` shape; null when the column is NULL or has no peer count. */
export function parseCounterparts(json: string | null): IncidentCounterparts | null {
  const o = parseObject(json)
  if (o === null) return null
  const total = num(field(o, 'total'))
  if (total === null) return null
  const sample: CounterpartSample[] = []
  const rawSample = field(o, 'sample')
  for (const s of Array.isArray(rawSample) ? rawSample : []) {
    if (!isObject(s) || typeof s.address !== 'string') continue
    sample.push({
      address: s.address,
      role: str(field(s, 'role')) ?? 'peer',
      records: num(field(s, 'records')) ?? 0,
      packets: num(field(s, 'packets')) ?? 0,
      bytes: num(field(s, 'bytes')) ?? 0,
      share: num(field(s, 'share')) ?? 0,
    })
  }
  const out: IncidentCounterparts = {
    total,
    role: str(field(o, 'role')) ?? 'peers',
    seenOnceShare: num(field(o, 'seenOnceShare')) ?? 0,
    likelySpoofed: field(o, 'likelySpoofed') === true,
    sample,
  }
  const rawServices = field(o, 'services')
  if (Array.isArray(rawServices)) {
    out.services = rawServices
      .filter(isObject)
      .map((s) => ({port: num(s.port) ?? 0, name: str(s.name) ?? '', share: num(s.share) ?? 0}))
  }
  const folded = field(o, 'folded')
  if (Array.isArray(folded)) out.folded = folded.filter((a): a is string => typeof a === 'string')
  return out
}

/** `evidence` with every key of `IncidentEvidenceRecord` (null where absent); null when the column is NULL or not an object. */
export function parseEvidence(json: string | null): IncidentEvidence | null {
  const o = parseObject(json)
  if (o === null) return null
  const peak = field(o, 'peakWindow')
  const active = field(o, 'active')
  const sampled = field(o, 'sampled')
  const estimated = field(o, 'estimated')
  const types = field(o, 'detectionTypes')
  return {
    summary: str(field(o, 'summary')),
    confidenceText: str(field(o, 'confidenceText')),
    samplingRate: num(field(o, 'samplingRate')),
    sampled: isObject(sampled)
      ? {records: num(sampled.records) ?? 0, packets: num(sampled.packets) ?? 0, bytes: num(sampled.bytes) ?? 0}
      : null,
    estimated: isObject(estimated) && interval(estimated.packets) !== null && interval(estimated.bytes) !== null
      ? {packets: interval(estimated.packets)!, bytes: interval(estimated.bytes)!}
      : null,
    detectionTypes: isObject(types)
      ? Object.fromEntries(Object.entries(types).filter((e): e is [string, number] => num(e[1]) !== null))
      : null,
    active: isObject(active) && typeof active.first === 'string' && typeof active.last === 'string' ? {first: active.first, last: active.last} : null,
    peakWindow: isObject(peak) && typeof peak.start === 'string' && typeof peak.end === 'string' ? {start: peak.start, end: peak.end} : null,
    model: str(field(o, 'model')),
    pass: str(field(o, 'pass')),
    threshold: num(field(o, 'threshold')),
    topFeatures: featuresOf(field(o, 'topFeatures')),
  }
}

function interval(v: unknown): IntervalEstimate | null {
  if (!isObject(v)) return null
  const estimate = num(v.estimate)
  const low = num(v.low)
  const high = num(v.high)
  return estimate === null || low === null || high === null ? null : {estimate, low, high}
}


