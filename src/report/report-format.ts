/**
 * Value formatting shared by the report renderers, so the terminal, Markdown and HTML say the same
 * thing in the same words. These return plain text; each renderer escapes it for its output.
 */
import type {DetectionFeature} from './detection-features.js'
import type {DetectionItem, ReportData, RunItem, SamplingCell} from './report-data.js'
import {renderThinning} from './stream-view.js'
import {humanBytes, humanCount} from './table.js'

/** `2026-01-05T00:02:00.000Z` → `2026-01-05 00:02:00` (UTC; seconds dropped when zero and `short`). */
export function fmtTime(iso: string | null, short = false): string {
  if (iso === null) return '-'
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})/.exec(iso)
  if (!m) return iso
  return short && m[3] === ':00' ? `${m[1]} ${m[2]}` : `${m[1]} ${m[2]}${m[3]}`
}

/** A span of seconds as `90s`, `5m`, `2h`, `3d` (rounded to its unit). */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-'
  const s = Math.round(seconds)
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 2 * 86400) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}

/** The window of a detection as `MM-DD HH:MM +5m` (compact, UTC). */
export function fmtWindow(d: DetectionItem): string {
  const start = fmtTime(d.windowStart, true)
  const len = (Date.parse(d.windowEnd) - Date.parse(d.windowStart)) / 1000
  return `${start.slice(5)} +${fmtDuration(len)}`
}

export function fmtScore(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : x.toFixed(2)
}

export function fmtRatio(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : `${x.toFixed(1)}×`
}

/** A fraction as a percentage with enough digits for small errors. */
export function fmtPct(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '-'
  const p = x * 100
  const a = Math.abs(p)
  // floating-point noise around zero (a bias of 1e-17) reads as zero, not as "-0.000%"
  if (a < 0.0005) return '0.00%'
  if (a < 0.1) return `${p.toFixed(3)}%`
  return `${p.toFixed(a < 10 ? 2 : 1)}%`
}

export function fmtNum(x: number | null, digits = 1): string {
  if (x === null || !Number.isFinite(x)) return '-'
  return Number.isInteger(x) ? String(x) : x.toFixed(digits)
}

export function fmtCount(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : humanCount(x)
}

export function fmtBytes(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : humanBytes(x)
}

export function fmtAs(d: Pick<DetectionItem, 'asn' | 'asName'>): string {
  if (d.asn === null && !d.asName) return '-'
  if (d.asn === null) return d.asName ?? '-'
  return d.asName ? `AS${d.asn} ${d.asName}` : `AS${d.asn}`
}

/** The features that drove a score, strongest first: `distinct_dst_ports +14.2, syn_only_frac +9.1`. */
export function fmtDrivers(features: readonly DetectionFeature[], n = 3): string {
  const sorted = [...features].sort((a, b) => Math.abs(b.z ?? 0) - Math.abs(a.z ?? 0))
  const shown = sorted.slice(0, n).map((f) => (f.z === null ? f.name : `${f.name} ${f.z >= 0 ? '+' : ''}${f.z.toFixed(1)}`))
  return shown.length === 0 ? '-' : shown.join(', ')
}

/** The filter as `key=value` pairs, or `none`. */
export function fmtFilter(f: ReportData['filter']): string {
  const parts: string[] = []
  if (f.network !== null) parts.push(`network=${f.network}`)
  if (f.since !== null) parts.push(`since=${fmtTime(f.since)}`)
  if (f.until !== null) parts.push(`until=${fmtTime(f.until)}`)
  if (f.type !== null) parts.push(`type=${f.type}`)
  if (f.minScore !== null) parts.push(`min-score=${f.minScore}`)
  if (f.minSeverity !== null) parts.push(`min-severity=${f.minSeverity}`)
  if (f.pass !== null) parts.push(`pass=${f.pass}`)
  return parts.length === 0 ? 'none' : parts.join('  ')
}

export function fmtCpu(r: RunItem): string {
  return r.cpuS === null ? '-' : `${r.cpuS.toFixed(1)}s`
}

export function fmtSeconds(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : `${x.toFixed(1)}s`
}

export function fmtMb(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : `${x.toFixed(0)} MB`
}

/** Where a sampling result comes from: a benchmark's summary, or estimates scored against their truth. */
export function fmtOrigin(c: Pick<SamplingCell, 'origin'>): string {
  return c.origin === 'benchmark' ? 'bench' : 'sample'
}

export function fmtRate(c: Pick<SamplingCell, 'oneInN'>): string {
  return `1/${c.oneInN}`
}

/** N of the bound's c = rate × N, rounded. */
export function fmtPopulation(r: ReportData): string {
  return r.sampling.population === null ? '?' : String(Math.round(r.sampling.population))
}

/** Sentences the renderers print for sections without data. */
export const EMPTY = {
  detections: 'No detections pass the filter.',
  types: 'No detections, so no types.',
  traffic: 'No flows in the selected time range.',
  talkers: 'No flows, so no talkers.',
  runs: 'No analyze, stream or sample runs recorded in this range.',
  sampling: 'No sampling estimates recorded in this range (flowscope bench sampling and sample record them).',
  samplingChart: 'No estimates with a ground truth to chart.',
} as const

/** The one-line headline of the detections section. */
export function detectionsHeadline(r: ReportData): string {
  const d = r.detections
  if (d.total === 0) return EMPTY.detections
  const shown = d.rows.length < d.total ? `; the top ${d.rows.length} by score` : ''
  return `${d.total} detection${d.total === 1 ? '' : 's'} of ${d.addresses} address${d.addresses === 1 ? '' : 'es'} pass the filter (max score ${fmtScore(d.maxScore)})${shown}`
}

/** Sampling cells that can be scored (have a ground truth). */
export function scoredCells(r: ReportData): SamplingCell[] {
  return r.sampling.cells.filter((c) => c.relRmse !== null)
}

/** One line per run whose `--rate-limit` thinned records (the runs section of every report format). */
export function thinningLines(runs: readonly RunItem[]): string[] {
  return runs.flatMap((run) => {
    const line = renderThinning(run.thinning)
    return line === '' ? [] : [`run ${run.runId} (${run.kind}) ${line}`]
  })
}
