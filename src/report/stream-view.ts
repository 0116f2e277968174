/*
 * What `flowscope stream` prints. The report layer sits below the stream layer, so the shapes are
 * spelled out here: the stream's WindowReport and its metrics row are built on StreamWindowView, and
 * StreamRunSummary and WindowDetection fit the other two.
 */
import type {NetworkThinning} from '../core/index.js'
import {storedFeatures} from '../io/index.js'
import type {DetectionFeature} from '../io/index.js'

/** A closed stream window, as the stream worker reports it (its metrics row counts the networks instead). */
export interface StreamWindowView {
  windowStartUs: number
  windowEndUs: number
  straggler: string | undefined
  records: number
  networks: readonly unknown[]
  detections: number
  undetermined: number
  /** records dropped as late since the previous window report */
  lateDropped: number
  /** scoring and writing, ms */
  processingMs: number
  /** processingMs / window length */
  ratio: number
  /** mean ratio over the last 10 minutes */
  utilisation: number
  /** the incidents the window's detections raised or extended */
  incidents?: readonly StreamIncidentView[]
}

/** An incident as a stream window raised or extended it. */
export interface StreamIncidentView {
  entity: string
  attackType: string
  role: string | null
  confidence: string | null
  severity: number
}

/** A stream run's totals. */
export interface StreamSummaryView {
  runId: number
  windows: number
  records: number
  lateDropped: number
  badRecords: number
  detections: number
  incidents: number
  undetermined: number
  meanRatio: number
  maxRatio: number
  scaleSignal: string
  /** per network with a budget (`--rate-limit`) */
  thinning?: readonly ThinningView[]
}

/** One network's `--rate-limit` thinning over a run. */
export type ThinningView = Readonly<NetworkThinning>

/** 'core 50000 → 5000 records (k ≤ 10 in 4 of 5 windows, budget 200/s)' per thinned network; '' when nothing was thinned. */
export function renderThinning(thinning: readonly ThinningView[] | undefined, unit = 'windows'): string {
  const thinned = (thinning ?? []).filter((t) => t.thinned > 0)
  if (thinned.length === 0) return ''
  return (
    'thinned to --rate-limit: ' +
    thinned
      .map((t) => {
        const ks = Object.entries(t.kCounts)
          .filter(([k]) => k !== '1')
          .map(([k, n]) => `k=${k}×${n}`)
          .join(' ')
        return `${t.network} ${t.recordsIn} → ${t.recordsKept} records (budget ${t.budget}/s; ${t.thinned} of ${t.intervals} ${unit} thinned: ${ks})`
      })
      .join('; ')
  )
}

/** One detection of a stream window. */
export interface StreamDetectionView {
  address: string
  /** µs since the epoch */
  windowStart: number
  windowEnd: number
  score: number
  threshold: number
  attackType: string
  topFeatures?: readonly DetectionFeature[]
}

const iso = (us: number): string => new Date(us / 1000).toISOString()

/** One stream window as `flowscope stream` reports it on stderr. */
export function renderStreamWindow(w: StreamWindowView): string {
  const span = `${iso(w.windowStartUs).slice(11, 19)}–${iso(w.windowEndUs).slice(11, 19)}`
  return (
    `window ${iso(w.windowStartUs).slice(0, 10)} ${span}${w.straggler === undefined ? '' : ` (straggler ${w.straggler})`}: ${w.records} records, ` +
    `${w.networks.length} network(s), ${w.detections} detections, ${w.undetermined} undetermined, ${w.lateDropped} late; ` +
    `${w.processingMs.toFixed(0)} ms = ${w.ratio.toFixed(3)} of the window` +
    (Number.isFinite(w.utilisation) ? `, utilisation ${w.utilisation.toFixed(3)}` : '') +
    incidentList(w.incidents ?? [])
  )
}

const SHOWN_INCIDENTS = 3

/** `; incidents: syn_flood on 10.0.0.5 (victim, severity 4, high confidence), … +2 more` */
function incidentList(incidents: readonly StreamIncidentView[]): string {
  if (incidents.length === 0) return ''
  const worst = [...incidents].sort((a, b) => b.severity - a.severity)
  const shown = worst.slice(0, SHOWN_INCIDENTS).map((i) => {
    const about = [i.role, `severity ${i.severity}`, i.confidence === null ? null : `${i.confidence} confidence`].filter((x) => x !== null).join(', ')
    return `${i.attackType} on ${i.entity} (${about})`
  })
  const more = incidents.length > SHOWN_INCIDENTS ? ` +${incidents.length - SHOWN_INCIDENTS} more` : ''
  return `; incidents: ${shown.join(', ')}${more}`
}

/** The line that ends a stream run. */
export function renderStreamSummary(summary: StreamSummaryView): string {
  const thinning = renderThinning(summary.thinning)
  return (
    `${summary.windows} windows, ${summary.records} records (${summary.lateDropped} late, ${summary.badRecords} bad), ` +
    `${summary.detections} detections in ${summary.incidents} incident(s), ${summary.undetermined} undetermined; processing/window mean ${summary.meanRatio.toFixed(3)}, max ${summary.maxRatio.toFixed(3)} (${summary.scaleSignal}); run ${summary.runId}` +
    (thinning === '' ? '' : `\n${thinning}`)
  )
}

/** `stream --ndjson`: one JSON line per detection, newline included. */
export function streamDetectionLines(network: string, model: string, detections: readonly StreamDetectionView[]): string[] {
  return detections.map(
    (d) =>
      `${JSON.stringify({
        network,
        address: d.address,
        windowStart: iso(d.windowStart),
        windowEnd: iso(d.windowEnd),
        model,
        pass: 'stream',
        score: d.score,
        threshold: d.threshold,
        attackType: d.attackType,
        topFeatures: storedFeatures(d.topFeatures ?? []),
      })}\n`,
  )
}
