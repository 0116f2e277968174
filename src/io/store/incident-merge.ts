/**
 * The merging rule of incidents (issue #16), pure: no DuckDB here (incidents.ts reads and writes them).
 *
 * Window detections of the same (network, entity) form one incident when their windows overlap or
 * follow each other with a gap of at most the idle time (default one window length of the default
 * model, 5 minutes): sorted by window start, a detection joins the incident before it when its window
 * starts no later than the incident's last_seen (latest window end) plus the idle time. The window
 * types of its detections do not split it: one entity's overlapping windows are one episode, whose
 * type is decided for the whole from its flows (src/infer/incident-rules.ts); until then it carries
 * its detections' most frequent type other than `unknown` (`unknown` when all are).
 * An incident is `closed` when its network's latest data time is more than the idle time past its
 * last_seen (nothing more can join it without a gap), else `open`.
 *
 * Severity (1..5) is the peak window's score over its own threshold (`ratio`), in bands:
 *   ratio < 1.5 → 1 · < 2 → 2 · < 4 → 3 · < 8 → 4 · ≥ 8 → 5
 * (a threshold is the benign false-positive budget's score, so 1 is "just over it").
 */
import {createHash} from 'node:crypto'

/** Idle time when none is given: one 5-minute model window, in µs. */
export const DEFAULT_INCIDENT_IDLE_US = 300 * 1e6

/** Upper bounds (exclusive) of severities 1..4 on peak score / threshold; above the last is 5. */
export const SEVERITY_BANDS = [1.5, 2, 4, 8] as const

export const INCIDENT_STATUSES = ['open', 'closed'] as const
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number]

/** What the merging needs of a window detection. Times are µs since the epoch. */
export interface MergeDetection {
  network: string
  address: string
  attackType: string
  windowStart: number
  windowEnd: number
  model: string
  pass: string
  score: number
  threshold: number
  /** as stored in `top_features` */
  topFeatures: unknown
}

/** An incident as the merging builds it (the `incidents` row, less its store-only columns). */
export interface MergedIncident {
  incidentId: string
  network: string
  entity: string
  /** its detections' most frequent window type other than `unknown` (the rules refine it from the flows) */
  attackType: string
  /** how many of its detections have each window type */
  detectionTypes: Record<string, number>
  firstSeen: number
  lastSeen: number
  /** distinct (window start, window end) among its detections */
  windows: number
  peakScore: number
  peakThreshold: number
  severity: number
  status: IncidentStatus
  /** the peak window: its times, model, pass, threshold and the features that drove it */
  evidence: {windowStart: number; windowEnd: number; model: string; pass: string; threshold: number; topFeatures: unknown}
  detections: MergeDetection[]
}

export interface MergeOptions {
  /** largest gap between windows of one incident, and the idle time that closes it (µs) */
  idleUs?: number
  /** latest data time of each network (µs): an incident idle for longer than `idleUs` before it is closed */
  latestDataUs?: ReadonlyMap<string, number>
}

/** Severity 1..5 of a peak score over its threshold (bands: SEVERITY_BANDS). */
export function severityOf(score: number, threshold: number): number {
  const ratio = threshold > 0 ? score / threshold : Number.POSITIVE_INFINITY
  let s = 1
  for (const bound of SEVERITY_BANDS) if (ratio >= bound) s++
  return s
}

/** The deterministic id of an incident: a hash of network|entity|first window start (µs). */
export function incidentIdOf(network: string, entity: string, firstSeen: number): string {
  return createHash('sha256').update(`${network}|${entity}|${Math.floor(firstSeen)}`).digest('hex').slice(0, 16)
}

/** Merges window detections into incidents (see the module comment); sorted by network, entity, first_seen. */
export function mergeIncidents(detections: Iterable<MergeDetection>, options: MergeOptions = {}): MergedIncident[] {
  const idle = options.idleUs ?? DEFAULT_INCIDENT_IDLE_US
  const byKey = new Map<string, MergeDetection[]>()
  for (const d of detections) {
    const key = `${d.network}\u0000${d.address}`
    const list = byKey.get(key)
    if (list === undefined) byKey.set(key, [d])
    else list.push(d)
  }
  const out: MergedIncident[] = []
  for (const key of [...byKey.keys()].sort()) {
    const list = (byKey.get(key) as MergeDetection[]).sort((a, b) => a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || cmp(a.model, b.model) || cmp(a.pass, b.pass))
    let group: MergeDetection[] = []
    let lastSeen = Number.NEGATIVE_INFINITY
    for (const d of list) {
      if (group.length > 0 && d.windowStart > lastSeen + idle) {
        out.push(incidentOf(group, idle, options.latestDataUs))
        group = []
        lastSeen = Number.NEGATIVE_INFINITY
      }
      group.push(d)
      lastSeen = Math.max(lastSeen, d.windowEnd)
    }
    if (group.length > 0) out.push(incidentOf(group, idle, options.latestDataUs))
  }
  return out
}

function incidentOf(group: MergeDetection[], idle: number, latest: ReadonlyMap<string, number> | undefined): MergedIncident {
  const first = group[0] as MergeDetection
  let firstSeen = Number.POSITIVE_INFINITY
  let lastSeen = Number.NEGATIVE_INFINITY
  let peak = first
  const windows = new Set<string>()
  for (const d of group) {
    firstSeen = Math.min(firstSeen, d.windowStart)
    lastSeen = Math.max(lastSeen, d.windowEnd)
    windows.add(`${d.windowStart}|${d.windowEnd}`)
    // the peak is the highest score over its threshold; ties go to the earlier window (deterministic)
    if (ratioOf(d) > ratioOf(peak)) peak = d
  }
  const types = new Map<string, number>()
  for (const d of group) types.set(d.attackType, (types.get(d.attackType) ?? 0) + 1)
  let attackType = 'unknown'
  for (const [t] of [...types].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))) {
    if (t !== 'unknown') {
      attackType = t
      break
    }
  }
  const latestData = latest?.get(first.network)
  const status: IncidentStatus = latestData !== undefined && latestData - lastSeen > idle ? 'closed' : 'open'
  return {
    incidentId: incidentIdOf(first.network, first.address, firstSeen),
    network: first.network,
    entity: first.address,
    attackType,
    detectionTypes: Object.fromEntries([...types].sort((a, b) => cmp(a[0], b[0]))),
    firstSeen,
    lastSeen,
    windows: windows.size,
    peakScore: peak.score,
    peakThreshold: peak.threshold,
    severity: severityOf(peak.score, peak.threshold),
    status,
    evidence: {windowStart: peak.windowStart, windowEnd: peak.windowEnd, model: peak.model, pass: peak.pass, threshold: peak.threshold, topFeatures: peak.topFeatures},
    detections: group,
  }
}

function ratioOf(d: MergeDetection): number {
  return d.threshold > 0 ? d.score / d.threshold : Number.POSITIVE_INFINITY
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
