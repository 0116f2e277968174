/**
 * The report as one self-contained HTML file: inline CSS, charts as inline SVG (rendered in Node by
 * Vega), no script, no external resource. A Content-Security-Policy of `default-src 'none'` makes
 * the browser refuse any fetch or script even if something slipped into the data; every string from
 * the store is escaped with `escapeHtml` on top of that.
 */
import {escapeHtml} from './escape.js'
import type {ReportData} from './report-data.js'
import {renderReportCharts} from './report-charts.js'
import type {ReportChart, ReportChartName} from './report-charts.js'
import {RUN_COLUMNS, SAMPLING_COLUMNS, TALKER_COLUMNS, TYPE_COLUMNS} from './report-columns.js'
import type {ReportColumn} from './report-columns.js'
import {detectionsHeadline, fmtAs, fmtDuration, fmtFilter, fmtRatio, fmtScore, fmtTime, thinningLines} from './report-format.js'
import {humanBytes} from './table.js'
import type {IncidentItem} from './incidents-data.js'
import {fmtConfidenceText, fmtCounterparts, fmtIncidentEntity, fmtIncidentSize, fmtIncidentWhen, fmtIncidentWhy, incidentsHeadline} from './incident-format.js'

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

const CSS = `
:root { color-scheme: light; --fg: #1d2329; --muted: #5b6570; --line: #e3e7eb; --bad: #c62828; --warn: #b26a00; --accent: #4c78a8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f6f7f9; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 8px; }
.card { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
.card.alert b { color: var(--bad); }
nav { margin: 8px 0 0; font-size: 13px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
section { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 16px 0; overflow-x: auto; }
figure { margin: 8px 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
section { min-width: 0; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.addr, td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
td.addr { white-space: nowrap; }
td.wrap { overflow-wrap: anywhere; min-width: 6em; }
td.mono { overflow-wrap: anywhere; word-break: break-all; min-width: 6em; }
td.drivers { min-width: 11em; }
td.txt { overflow-wrap: anywhere; }
td.kind { overflow-wrap: break-word; }
td.span { min-width: 9em; }
td.why { overflow-wrap: break-word; min-width: 15em; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; overflow-wrap: anywhere; min-width: 5em; }
tr.high td.sev { color: var(--bad); font-weight: 600; }
tr.mid td.sev { color: var(--warn); font-weight: 600; }
td.when { white-space: nowrap; }
tr.high td.ratio { color: var(--bad); font-weight: 600; }
tr.mid td.ratio { color: var(--warn); font-weight: 600; }
ul.drivers { margin: 0; padding: 0; list-style: none; }
ul.drivers li { overflow-wrap: anywhere; }
.z { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding-bottom: 24px; }
`

export async function renderReportHtml(r: ReportData): Promise<string> {
  const charts = new Map((await renderReportCharts(r)).map((c) => [c.name, c]))
  const chart = (name: ReportChartName): string => figure(charts.get(name))
  const e = escapeHtml
  const s = r.summary
  const d = r.detections
  const parts: string[] = []
  parts.push(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="flowscope">
<title>flowscope report ${e(fmtTime(r.generatedAt))} UTC</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>flowscope report</h1>
<p class="meta">Generated ${e(fmtTime(r.generatedAt))} UTC from the store <code>${e(r.db)}</code> · filter: ${e(fmtFilter(r.filter))}</p>
<div class="cards">
${card(String(r.incidents.total), `incidents pass the filter · ${r.incidents.open} open`, r.incidents.total > 0)}
${card(String(d.total), 'window detections', d.total > 0)}
${card(String(d.addresses), 'addresses with detections', d.addresses > 0)}
${card(String(s.flows), `flows · ${humanBytes(s.bytes)}`)}
${card(String(s.sources), `sources · ${s.networks.length} network${s.networks.length === 1 ? '' : 's'}`)}
${card(String(r.runs.length), 'recent runs')}
</div>
<p class="meta">Networks: ${s.networks.map(e).join(', ') || '-'} · flows from ${e(fmtTime(s.tsFirst))} to ${e(fmtTime(s.tsLast))} UTC</p>
<nav><a href="#incidents">Incidents</a><a href="#detections">Detections</a><a href="#timeline">Timeline</a><a href="#types">By type</a><a href="#talkers">Top talkers</a><a href="#runs">Resource use</a><a href="#sampling">Sampling accuracy</a></nav>
</header>
<main>`)

  parts.push(section('incidents', 'Incidents', `<p>${e(incidentsHeadline(r.incidents))}</p>`, incidentsTable(r.incidents.items)))

  parts.push(
    section(
      'detections',
      'Detections',
      `<p>The window detections behind the incidents, for drill-down: ${e(detectionsHeadline(r))}</p>`,
      detectionsTable(r),
    ),
  )

  parts.push(section('timeline', 'Traffic and detections over time', chart('timeline')))

  parts.push(
    section(
      'types',
      'Detections by type',
      chart('types'),
      columnTable(Object.values(TYPE_COLUMNS), d.byType),
    ),
  )

  parts.push(
    section(
      'talkers',
      'Top talkers',
      chart('talkers'),
      columnTable(Object.values({...TALKER_COLUMNS, address: {...TALKER_COLUMNS.address, cls: 'addr'}}), r.traffic.topTalkers),
    ),
  )

  parts.push(
    section(
      'runs',
      'Resource use of recent runs',
      chart('runs'),
      columnTable(Object.values({...RUN_COLUMNS, cpu: {...RUN_COLUMNS.cpu, header: 'CPU'}}), r.runs),
      ...thinningLines(r.runs).map((l) => `<p>${escapeHtml(l)}</p>`),
    ),
  )

  parts.push(
    section(
      'sampling',
      'Sampling accuracy',
      chart('sampling'),
      columnTable(Object.values(SAMPLING_COLUMNS), r.sampling.cells),
      r.sampling.keyed > 0 ? `<p class="meta">${r.sampling.keyed} per-key estimates (hosts, ports…) are in the store and not scored here.</p>` : '',
    ),
  )

  parts.push(`</main>
<footer>flowscope · one self-contained file: no scripts, no external resources · times in UTC · traffic bucket ${e(fmtDuration(r.traffic.bucketSeconds))}</footer>
</body>
</html>
`)
  return parts.join('\n')
}

/** A section of the page: its anchor, its heading (markup) and its parts, one a line. */
function section(id: string, title: string, ...body: string[]): string {
  return `<section id="${id}">\n<h2>${title}</h2>\n${body.join('\n')}\n</section>`
}

function card(value: string, label: string, alert = false): string {
  return `<div class="card${alert ? ' alert' : ''}"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`
}

function figure(c: ReportChart | undefined): string {
  if (!c) return ''
  if (c.svg === null) return `<p class="empty" data-empty-chart="${c.name}">${escapeHtml(c.empty ?? 'No data.')}</p>`
  // the SVG comes from Vega's string renderer, which escapes the text and attributes it writes
  return `<figure class="chart" data-chart="${c.name}">${c.svg}<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`
}

/** A table cell: markup that is already escaped, and its class. */
interface Cell {
  html: string
  cls?: string
}

function cell(text: string, cls?: string): Cell {
  return cls === undefined ? {html: escapeHtml(text)} : {html: escapeHtml(text), cls}
}

function num(text: string): Cell {
  return {html: escapeHtml(text), cls: 'num'}
}

/** A table of the rows, or nothing when there are none. */
function table(headers: string[], rows: Cell[][], numeric: boolean[], rowClass?: (i: number) => string): string {
  if (rows.length === 0) return ''
  const head = headers.map((h, i) => `<th${numeric[i] ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')
  const body = rows
    .map((row, i) => {
      const cls = rowClass?.(i)
      return `<tr${cls ? ` class="${cls}"` : ''}>${row.map((c) => `<td${c.cls ? ` class="${c.cls}"` : ''}>${c.html}</td>`).join('')}</tr>`
    })
    .join('\n')
  return `<div class="table-wrap"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`
}

/** A table of the rows in these columns: right-aligned ones are numbers, the others text (with their class). */
function columnTable<R>(columns: (ReportColumn<R> & {cls?: string})[], rows: readonly R[]): string {
  return table(
    columns.map((c) => c.header),
    rows.map((row) => columns.map((c) => (c.align === 'right' ? num(c.value(row)) : cell(c.value(row), c.cls)))),
    columns.map((c) => c.align === 'right'),
  )
}

function incidentsTable(items: readonly IncidentItem[]): string {
  // the network only when there are several; the status with the time: the table has to fit a page
  const several = new Set(items.map((i) => i.network)).size > 1
  const headers = ['severity', 'type', 'who', ...(several ? ['network'] : []), 'when (UTC)', 'how big (95% interval)', 'confidence', 'counterparts', 'why', 'incident']
  return table(
    headers,
    items.map((i) => [
      {html: escapeHtml(String(i.severity)), cls: 'num sev'},
      cell(i.type, 'kind'),
      cell(fmtIncidentEntity(i), 'addr'),
      ...(several ? [cell(i.network, 'txt')] : []),
      cell(`${fmtIncidentWhen(i)}, ${i.status}`, 'span'),
      cell(fmtIncidentSize(i), 'txt'),
      cell(fmtConfidenceText(i), 'txt'),
      cell(fmtCounterparts(i), 'txt'),
      cell(fmtIncidentWhy(i), 'why'),
      cell(i.id, 'id'),
    ]),
    headers.map((_, k) => k === 0),
    (k) => {
      const sev = items[k]?.severity ?? 0
      return sev >= 4 ? 'high' : sev >= 2 ? 'mid' : ''
    },
  )
}

function detectionsTable(r: ReportData): string {
  const rows = r.detections.rows
  return table(
    ['score / threshold', '×thr', 'network', 'address', 'AS', 'window (UTC)', 'type', 'pass', 'drivers (z)', 'model', 'incident'],
    rows.map((d) => [
      num(`${fmtScore(d.score)} / ${fmtScore(d.threshold)}`),
      {html: escapeHtml(fmtRatio(d.ratio)), cls: 'num ratio'},
      cell(d.network, 'wrap'),
      cell(d.address, 'addr'),
      cell(fmtAs(d), 'wrap'),
      cell(`${fmtTime(d.windowStart, true)} – ${fmtTime(d.windowEnd, true).slice(11)}`, 'when'),
      cell(d.type),
      cell(d.pass),
      {
        cls: 'wrap drivers',
        html:
          d.features.length === 0
            ? '-'
            : `<ul class="drivers">${[...d.features]
                .sort((a, b) => Math.abs(b.z ?? 0) - Math.abs(a.z ?? 0))
                .map((f) => `<li>${escapeHtml(f.name)} <span class="z">${f.z === null ? '' : escapeHtml(`${f.z >= 0 ? '+' : ''}${f.z.toFixed(1)}`)}</span></li>`)
                .join('')}</ul>`,
      },
      cell(d.model, 'mono'),
      cell(d.incidentId ?? '-', 'id'),
    ]),
    [true, true, false, false, false, false, false, false, false, false, false],
    (i) => {
      const ratio = rows[i]?.ratio ?? null
      return ratio === null ? '' : ratio >= 2 ? 'high' : ratio >= 1 ? 'mid' : ''
    },
  )
}
