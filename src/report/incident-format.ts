/**
 * How an incident is said, in the same words by the terminal, Markdown, CSV-free text and HTML: who
 * (role and entity), when, how big (the extrapolated packets and bytes with their 95% intervals), how
 * sure (the confidence word and its reason), and who else was involved (the counterparts: "545 sources,
 * 99% seen once, likely spoofed"; reflectors with their services). Plain text; each renderer escapes it.
 * A row written before roles, confidence and counterparts were filled shows `-` for them.
 */
import type {IntervalEstimate} from '../io/index.js'

import type {IncidentItem, IncidentList} from './incidents-data.js'
import {fmtDrivers, fmtTime} from './report-format.js'
import {humanBytes, humanCount} from './table.js'

/** `victim 10.1.2.3`, or the entity alone when no role is stored. */
export function fmtIncidentEntity(i: Pick<IncidentItem, 'role' | 'entity'>): string {
  return i.role === null ? i.entity : `${i.role} ${i.entity}`
}

/**
 * `2026-01-05 00:00 .. 00:09` (the end's date only when it differs), UTC: when the entity was active
 * (`evidence.active`), else the span of its windows.
 */
export function fmtIncidentSpan(i: Pick<IncidentItem, 'firstSeen' | 'lastSeen'> & {evidence?: IncidentItem['evidence']}): string {
  const active = i.evidence?.active ?? null
  const a = fmtTime(active?.first ?? i.firstSeen, true)
  const b = fmtTime(active?.last ?? i.lastSeen, true)
  return `${a} .. ${a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b}`
}

/** The span and how many windows it took: `2026-01-05 00:00 .. 00:09, 6 windows`. */
export function fmtIncidentWhen(i: Pick<IncidentItem, 'firstSeen' | 'lastSeen' | 'windows'> & {evidence?: IncidentItem['evidence']}): string {
  return `${fmtIncidentSpan(i)}, ${i.windows} window${i.windows === 1 ? '' : 's'}`
}

/** A share 0..1 as a whole percentage (`<1%` for a small non-zero one). */
export function fmtShare(x: number): string {
  if (!Number.isFinite(x)) return '-'
  if (x > 0 && x < 0.005) return '<1%'
  return `${Math.round(x * 100)}%`
}

function count(x: number): string {
  return humanCount(Math.round(x))
}

/** `≈120.0 k packets (95%: 96.0 k–150.0 k)` */
export function fmtPacketsInterval(e: IntervalEstimate): string {
  return `≈${count(e.estimate)} packets (95%: ${count(e.low)}–${count(e.high)})`
}

/** `≈4.8 MB (95%: 3.8 MB–6.0 MB)` */
export function fmtBytesInterval(e: IntervalEstimate): string {
  return `≈${humanBytes(Math.round(e.estimate))} (95%: ${humanBytes(Math.round(e.low))}–${humanBytes(Math.round(e.high))})`
}

/**
 * How big: the extrapolated packets and bytes with their 95% intervals when the evidence has them,
 * else what was sampled, else `-`.
 */
export function fmtIncidentSize(i: Pick<IncidentItem, 'evidence'>): string {
  const e = i.evidence
  if (e?.estimated) {
    if (e.samplingRate === null || e.samplingRate <= 1) {
      return `${count(e.estimated.packets.estimate)} packets, ${humanBytes(Math.round(e.estimated.bytes.estimate))} (unsampled: exact)`
    }
    return `${fmtPacketsInterval(e.estimated.packets)}, ${fmtBytesInterval(e.estimated.bytes)} at 1/${e.samplingRate}`
  }
  if (e?.sampled) return `${count(e.sampled.packets)} sampled packets, ${humanBytes(e.sampled.bytes)}`
  return '-'
}

/** The confidence word, `-` when not assessed. */
export function fmtConfidence(i: Pick<IncidentItem, 'confidence'>): string {
  return i.confidence ?? '-'
}

/** The confidence word and why: `high: many sampled packets…`; the reason alone, or `-`. */
export function fmtConfidenceText(i: Pick<IncidentItem, 'confidence' | 'evidence'>): string {
  const why = i.evidence?.confidenceText ?? null
  if (i.confidence === null) return why ?? '-'
  if (why === null) return i.confidence
  // the stored sentence already opens with its level ("high: 306 packets seen, …")
  return why.startsWith(`${i.confidence}:`) ? why : `${i.confidence}: ${why}`
}

/**
 * The peers: `545 sources, 99% seen once, likely spoofed`; reflectors with their services
 * (`12 reflectors: dns/53 80%, ntp/123 20%`); up to three named (`1 target: 10.1.10.176`); `-` when none are stored.
 */
export function fmtCounterparts(i: Pick<IncidentItem, 'counterparts'>): string {
  const c = i.counterparts
  if (c === null) return '-'
  const role = c.total === 1 && c.role.endsWith('s') ? c.role.slice(0, -1) : c.role
  const parts = [`${c.total} ${role}`]
  if (c.seenOnceShare > 0 && c.total > 1) parts.push(`${fmtShare(c.seenOnceShare)} seen once`)
  if (c.likelySpoofed) parts.push('likely spoofed')
  let text = parts.join(', ')
  if (c.services !== undefined && c.services.length > 0) {
    text += `: ${c.services.map((s) => `${s.name === '' || s.name.startsWith('port ') ? 'port' : s.name}/${s.port} ${fmtShare(s.share)}`).join(', ')}`
  } else if (c.total <= FEW_COUNTERPARTS && c.sample.length > 0) {
    // a few: name them
    text += `: ${c.sample.map((p) => p.address).join(', ')}`
  }
  return text
}

/** Up to this many counterparts are named in the line. */
const FEW_COUNTERPARTS = 3

/** Why it is an incident of its type: the evidence's summary, else the features that drove its peak window. */
export function fmtIncidentWhy(i: Pick<IncidentItem, 'evidence'>): string {
  const e = i.evidence
  if (e === null) return '-'
  if (e.summary !== null && e.summary !== '') return e.summary
  return e.topFeatures.length === 0 ? '-' : `drivers: ${fmtDrivers(e.topFeatures)}`
}

/** Sentences the renderers print for an empty incidents section. */
export const EMPTY_INCIDENTS = 'No incidents pass the filter.'

/** The one-line headline of an incidents section. */
export function incidentsHeadline(l: IncidentList): string {
  if (l.total === 0) return EMPTY_INCIDENTS
  const shown = l.items.length < l.total ? `; the top ${l.items.length} by severity` : ''
  const types = l.byType
    .slice(0, 6)
    .map((t) => `${t.count} ${t.type}`)
    .join(', ')
  return `${l.total} incident${l.total === 1 ? '' : 's'} pass the filter, ${l.open} open (${types}${l.byType.length > 6 ? ', …' : ''})${shown}`
}
