/**
 * The report as GitHub-flavoured Markdown (for a ticket, a wiki page or a chat message): the same
 * sections as the terminal, as pipe tables. Every string from the store goes through
 * `escapeMarkdown`, so data cannot end a cell, start a link or inject HTML.
 */
import {escapeMarkdown} from './escape.js'
import type {ReportData} from './report-data.js'
import {pickColumns, RUN_COLUMNS, SAMPLING_COLUMNS, TALKER_COLUMNS, TYPE_COLUMNS} from './report-columns.js'
import type {ReportColumn} from './report-columns.js'
import {thinningLines} from './report-format.js'
import {EMPTY, detectionsHeadline, fmtAs, fmtDrivers, fmtDuration, fmtFilter, fmtPopulation, fmtRatio, fmtScore, fmtTime} from './report-format.js'
import {humanBytes} from './table.js'
import type {IncidentItem, IncidentList} from './incidents-data.js'
import {fmtConfidenceText, fmtCounterparts, fmtIncidentEntity, fmtIncidentSize, fmtIncidentWhen, fmtIncidentWhy, incidentsHeadline} from './incident-format.js'

/** A pipe table of the rows; with no rows, the `empty` sentence instead (given one). */
function mdTable<R>(columns: ReportColumn<R>[], rows: readonly R[], empty?: string): string {
  if (rows.length === 0 && empty !== undefined) return empty
  const head = `| ${columns.map((c) => escapeMarkdown(c.header)).join(' | ')} |`
  const rule = `|${columns.map((c) => (c.align === 'right' ? ' ---: ' : ' --- ')).join('|')}|`
  const body = rows.map((r) => `| ${columns.map((c) => escapeMarkdown(c.value(r))).join(' | ')} |`)
  return [head, rule, ...body].join('\n')
}

/** The incidents as a Markdown section (`## Incidents`, its headline and one table): the report's first, and `flowscope incidents --format md`. */
export function renderIncidentsMarkdown(l: IncidentList, heading = '## Incidents'): string {
  const e = escapeMarkdown
  const out = [heading, '', e(incidentsHeadline(l)), '']
  if (l.items.length > 0) {
    const columns: ReportColumn<IncidentItem>[] = [
      {header: 'severity', value: (i) => String(i.severity), align: 'right'},
      {header: 'type', value: (i) => i.type},
      {header: 'who', value: (i) => fmtIncidentEntity(i)},
      {header: 'network', value: (i) => i.network},
      {header: 'when (UTC)', value: (i) => fmtIncidentWhen(i)},
      {header: 'how big (95% interval)', value: (i) => fmtIncidentSize(i)},
      {header: 'confidence', value: (i) => fmtConfidenceText(i)},
      {header: 'counterparts', value: (i) => fmtCounterparts(i)},
      {header: 'why', value: (i) => fmtIncidentWhy(i)},
      {header: 'status', value: (i) => i.status},
      {header: 'incident', value: (i) => i.id},
    ]
    out.push(mdTable(columns, l.items), '')
  }
  return `${out.join('\n').trimEnd()}\n`
}

export function renderReportMarkdown(r: ReportData): string {
  const s = r.summary
  const e = escapeMarkdown
  const out: string[] = []
  out.push(`# flowscope report`, '')
  out.push(`Generated ${e(fmtTime(r.generatedAt))} UTC from the store ${e(r.db)}.`, '')
  out.push(
    `- **Store:** ${s.sources} source${s.sources === 1 ? '' : 's'}; networks: ${s.networks.map(e).join(', ') || '-'}`,
    `- **Flows:** ${s.flows} flows, ${s.packets} packets, ${e(humanBytes(s.bytes))}, ${e(fmtTime(s.tsFirst))} .. ${e(fmtTime(s.tsLast))} UTC`,
    `- **Filter:** ${e(fmtFilter(r.filter))}`,
    '',
  )

  out.push(renderIncidentsMarkdown(r.incidents).trimEnd(), '')

  out.push('## Detections', '', `Window detections, for drill-down: ${e(detectionsHeadline(r))}`, '')
  if (r.detections.rows.length > 0) {
    out.push(
      mdTable(
        [
          {header: 'score', value: (d) => fmtScore(d.score), align: 'right'},
          {header: 'threshold', value: (d) => fmtScore(d.threshold), align: 'right'},
          {header: '×thr', value: (d) => fmtRatio(d.ratio), align: 'right'},
          {header: 'network', value: (d) => d.network},
          {header: 'address', value: (d) => d.address},
          {header: 'AS', value: (d) => fmtAs(d)},
          {header: 'window (UTC)', value: (d) => `${fmtTime(d.windowStart, true)} .. ${fmtTime(d.windowEnd, true).slice(11)}`},
          {header: 'type', value: (d) => d.type},
          {header: 'pass', value: (d) => d.pass},
          {header: 'drivers (z)', value: (d) => fmtDrivers(d.features)},
          {header: 'model', value: (d) => d.model},
          {header: 'incident', value: (d) => d.incidentId ?? '-'},
        ],
        r.detections.rows,
      ),
      '',
    )
  }
  out.push('### By type', '')
  out.push(
    mdTable(Object.values(TYPE_COLUMNS), r.detections.byType, EMPTY.types),
    '',
  )

  out.push('## Traffic', '')
  const active = r.traffic.timeline.filter((b) => b.flows > 0)
  if (active.length === 0) out.push(EMPTY.traffic, '')
  else {
    const peak = active.reduce((a, b) => (b.bytesScaled > a.bytesScaled ? b : a))
    out.push(
      `${e(fmtTime(r.traffic.from, true))} .. ${e(fmtTime(r.traffic.to, true))} UTC in ${e(fmtDuration(r.traffic.bucketSeconds))} buckets; ` +
        `busiest bucket ${e(fmtTime(peak.bucketStart, true))} with ${e(humanBytes(peak.bytesScaled))} (estimated) in ${peak.flows} flows.`,
      '',
    )
  }
  out.push('### Top talkers', '')
  out.push(
    mdTable(pickColumns(TALKER_COLUMNS, ['address', 'flows', 'packets', 'bytesScaled', 'detections']), r.traffic.topTalkers, EMPTY.talkers),
    '',
  )

  out.push('## Runs', '')
  out.push(
    mdTable(
      pickColumns(RUN_COLUMNS, ['runId', 'kind', 'status', 'network', 'startedAt', 'wall', 'cpu', 'peakRss', 'addressesPerS', 'reuse', 'failures', 'detections']),
      r.runs,
      EMPTY.runs,
    ),
    '',
  )
  const thinned = thinningLines(r.runs)
  if (thinned.length > 0) out.push(...thinned.map((l) => `- ${escapeMarkdown(l)}`), '')

  out.push('## Sampling accuracy', '')
  if (r.sampling.cells.length === 0) out.push(EMPTY.sampling, '')
  else {
    out.push(
      `Relative error of estimated totals against the ground truth, per sampler and rate; ` +
        `the bound is √(1/c) with c = rate × N, N = ${fmtPopulation(r)} packets (the expected number of samples).`,
      '',
      mdTable(Object.values(SAMPLING_COLUMNS), r.sampling.cells),
      '',
    )
  }
  return `${out.join('\n').trimEnd()}\n`
}
