/**
 * The report as GitHub-flavoured Markdown (for a ticket, a wiki page or a chat message): the same
 * sections as the terminal, as pipe tables. Every string from the store goes through
 * `escapeMarkdown`, so data cannot end a cell, start a link or inject HTML.
 */
import {escapeMarkdown} from './escape.js'
import type {ReportData} from './report-data.js'
import {
  EMPTY,
  detectionsHeadline,
  fmtAs,
  fmtBytes,
  fmtCpu,
  fmtDrivers,
  fmtDuration,
  fmtFilter,
  fmtMb,
  fmtNum,
  fmtOrigin,
  fmtPopulation,
  fmtPct,
  fmtRate,
  fmtRatio,
  fmtScore,
  fmtSeconds,
  fmtTime,
} from './report-format.js'
import {humanBytes} from './table.js'

interface MdColumn<R> {
  header: string
  value: (row: R) => string
  align?: 'left' | 'right'
}

/** A pipe table of the rows; with no rows, the `empty` sentence instead (given one). */
function mdTable<R>(columns: MdColumn<R>[], rows: readonly R[], empty?: string): string {
  if (rows.length === 0 && empty !== undefined) return empty
  const head = `| ${columns.map((c) => escapeMarkdown(c.header)).join(' | ')} |`
  const rule = `|${columns.map((c) => (c.align === 'right' ? ' ---: ' : ' --- ')).join('|')}|`
  const body = rows.map((r) => `| ${columns.map((c) => escapeMarkdown(c.value(r))).join(' | ')} |`)
  return [head, rule, ...body].join('\n')
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

  out.push('## Detections', '', e(detectionsHeadline(r)), '')
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
        ],
        r.detections.rows,
      ),
      '',
    )
  }
  out.push('### By type', '')
  out.push(
    mdTable(
      [
        {header: 'type', value: (t) => t.type},
        {header: 'detections', value: (t) => String(t.count), align: 'right'},
        {header: 'addresses', value: (t) => String(t.addresses), align: 'right'},
        {header: 'max score', value: (t) => fmtScore(t.maxScore), align: 'right'},
      ],
      r.detections.byType,
      EMPTY.types,
    ),
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
    mdTable(
      [
        {header: 'address', value: (t) => t.address},
        {header: 'flows', value: (t) => String(t.flows), align: 'right'},
        {header: 'packets', value: (t) => String(t.packets), align: 'right'},
        {header: 'est. bytes', value: (t) => fmtBytes(t.bytesScaled), align: 'right'},
        {header: 'detections', value: (t) => String(t.detections), align: 'right'},
      ],
      r.traffic.topTalkers,
      EMPTY.talkers,
    ),
    '',
  )

  out.push('## Runs', '')
  out.push(
    mdTable(
      [
        {header: 'run', value: (x) => String(x.runId), align: 'right'},
        {header: 'kind', value: (x) => x.kind},
        {header: 'status', value: (x) => x.status},
        {header: 'network', value: (x) => x.network ?? 'all'},
        {header: 'started (UTC)', value: (x) => fmtTime(x.startedAt)},
        {header: 'wall', value: (x) => fmtSeconds(x.wallS), align: 'right'},
        {header: 'cpu', value: (x) => fmtCpu(x), align: 'right'},
        {header: 'peak RSS', value: (x) => fmtMb(x.peakRssMb), align: 'right'},
        {header: 'addresses/s', value: (x) => fmtNum(x.addressesPerS), align: 'right'},
        {header: 'reuse', value: (x) => fmtPct(x.reuseRatio), align: 'right'},
        {header: 'failed', value: (x) => fmtNum(x.failures, 0), align: 'right'},
        {header: 'detections', value: (x) => fmtNum(x.detections, 0), align: 'right'},
      ],
      r.runs,
      EMPTY.runs,
    ),
    '',
  )

  out.push('## Sampling accuracy', '')
  if (r.sampling.cells.length === 0) out.push(EMPTY.sampling, '')
  else {
    out.push(
      `Relative error of estimated totals against the ground truth, per sampler and rate; ` +
        `the bound is √(1/c) with c = rate × N, N = ${fmtPopulation(r)} packets (the expected number of samples).`,
      '',
      mdTable(
        [
          {header: 'from', value: (c) => fmtOrigin(c)},
          {header: 'sampler', value: (c) => c.sampler},
          {header: 'metric', value: (c) => c.metric},
          {header: 'rate', value: (c) => fmtRate(c), align: 'right'},
          {header: 'n', value: (c) => String(c.n), align: 'right'},
          {header: 'rel. RMSE', value: (c) => fmtPct(c.relRmse), align: 'right'},
          {header: 'bias', value: (c) => fmtPct(c.relBias), align: 'right'},
          {header: '95% coverage', value: (c) => fmtPct(c.coverage), align: 'right'},
          {header: 'rel. s.e.', value: (c) => fmtPct(c.meanRelStderr), align: 'right'},
          {header: '√(1/c)', value: (c) => fmtPct(c.bound), align: 'right'},
        ],
        r.sampling.cells,
      ),
      '',
    )
  }
  return `${out.join('\n').trimEnd()}\n`
}
