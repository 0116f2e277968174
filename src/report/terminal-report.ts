/**
 * The report as people read it in a terminal: sections of aligned tables that fit a fixed width
 * (100 columns by default), a sparkline of the traffic with the detections under it, and colour only
 * when the caller says so (a TTY without NO_COLOR). Every string from the store goes through
 * `visible`, so escape sequences in the data are shown, not executed.
 */
import {displayWidth, pad, truncate, visible} from './escape.js'
import type {DetectionItem, ReportData, RunItem, SamplingCell, TopTalker} from './report-data.js'
import {RUN_COLUMNS, SAMPLING_COLUMNS, TALKER_COLUMNS, TYPE_COLUMNS} from './report-columns.js'
import type {ReportColumn} from './report-columns.js'
import {thinningLines} from './report-format.js'
import {EMPTY, detectionsHeadline, fmtAs, fmtDrivers, fmtDuration, fmtFilter, fmtPopulation, fmtRatio, fmtScore, fmtTime, fmtWindow} from './report-format.js'
import {humanBytes} from './table.js'
import type {IncidentItem, IncidentList} from './incidents-data.js'
import {fmtConfidence, fmtCounterparts, fmtIncidentEntity, fmtIncidentSize, fmtIncidentSpan, fmtIncidentWhy, incidentsHeadline} from './incident-format.js'

export const DEFAULT_TERMINAL_WIDTH = 100

export interface TerminalReportOptions {
  /** ANSI colour; the caller decides (stdout is a TTY and NO_COLOR is not set) */
  color?: boolean
  /** columns to fit, default 100 */
  width?: number
}

type Paint = (text: string, style: keyof typeof SGR) => string

const SGR = {bold: '1', dim: '2', red: '31', yellow: '33', green: '32', cyan: '36'} as const

/** Whether to colour the terminal report: a TTY, and NO_COLOR unset or empty (no-color.org). */
export function shouldColor(stream: {isTTY?: boolean}, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb'
}

export function renderReportText(r: ReportData, options: TerminalReportOptions = {}): string {
  const width = Math.max(60, options.width ?? DEFAULT_TERMINAL_WIDTH)
  const paint: Paint = options.color ? (text, style) => (text === '' ? text : `\u001b[${SGR[style]}m${text}\u001b[0m`) : (text) => text
  const s = r.summary
  const out: string[] = []
  const kv = (k: string, v: string): string =>
    wrapParts(v, width - 10)
      .map((line, i) => (i === 0 ? `${paint(k.padEnd(10), 'dim')}${line}` : `${' '.repeat(10)}${line}`))
      .join('\n')

  out.push(`${paint('flowscope report', 'bold')}  generated ${fmtTime(r.generatedAt)} UTC`)
  out.push(kv('store', `${r.db}  ·  ${s.sources} source${s.sources === 1 ? '' : 's'}  ·  networks: ${s.networks.join(', ') || '-'}`))
  out.push(kv('flows', `${s.flows} flows  ·  ${s.packets} packets  ·  ${humanBytes(s.bytes)}  ·  ${fmtTime(s.tsFirst)} .. ${fmtTime(s.tsLast)} UTC`))
  out.push(kv('filter', fmtFilter(r.filter)))

  out.push('', ...incidentsSection(r.incidents, width, paint))

  out.push('', section('DETECTIONS', paint), ...wrapText(`window detections, for drill-down: ${detectionsHeadline(r)}`, width))
  if (r.detections.rows.length > 0) out.push(detectionTable(r.detections.rows, width, paint))
  if (r.detections.byType.length > 0) {
    out.push(
      '',
      fitTable(
        [{...TYPE_COLUMNS.type, max: 24}, TYPE_COLUMNS.count, TYPE_COLUMNS.addresses, TYPE_COLUMNS.maxScore],
        r.detections.byType,
        width,
      ),
    )
  }

  out.push('', section('TRAFFIC', paint))
  out.push(...timeline(r, width, paint))
  if (r.traffic.topTalkers.length > 0) {
    out.push('', talkerTable(r.traffic.topTalkers, width, paint))
  }

  out.push('', section('RUNS', paint))
  out.push(...(r.runs.length === 0 ? wrapText(EMPTY.runs, width) : [runTable(r.runs, width, paint)]))
  for (const line of thinningLines(r.runs)) out.push(...wrapText(line, width))

  out.push('', section('SAMPLING ACCURACY', paint))
  if (r.sampling.cells.length === 0) out.push(...wrapText(EMPTY.sampling, width))
  else {
    out.push(...wrapText(`relative error of totals against the ground truth; bound √(1/c), c = rate × N, N = ${fmtPopulation(r)} packets`, width))
    out.push(samplingTable(r.sampling.cells, width))
  }
  return `${out.join('\n')}\n`
}

/** The incidents alone (`flowscope incidents`), as the report's INCIDENTS section shows them. */
export function renderIncidentsText(l: IncidentList, options: TerminalReportOptions = {}): string {
  const width = Math.max(60, options.width ?? DEFAULT_TERMINAL_WIDTH)
  const paint: Paint = options.color ? (text, style) => (text === '' ? text : `\u001b[${SGR[style]}m${text}\u001b[0m`) : (text) => text
  return `${incidentsSection(l, width, paint).join('\n')}\n`
}

/**
 * The INCIDENTS section: a line per incident (severity, type, role and entity, when, windows,
 * confidence, status), and under it (indented, dim) how big it was with its intervals, its
 * counterparts, why it was typed so and its id (the key of its window detections below).
 */
function incidentsSection(l: IncidentList, width: number, paint: Paint): string[] {
  const out = [section('INCIDENTS', paint), ...wrapText(incidentsHeadline(l), width)]
  if (l.items.length === 0) return out
  const several = new Set(l.items.map((i) => i.network)).size > 1
  const columns: FitColumn<IncidentItem>[] = [
    {header: 'sev', value: (i) => String(i.severity), align: 'right', paint: (i, t) => paint(t, i.severity >= 4 ? 'red' : i.severity >= 2 ? 'yellow' : 'dim')},
    {header: 'type', value: (i) => i.type, min: 18, max: 18},
    ...(several ? [{header: 'network', value: (i: IncidentItem) => i.network, min: 7, max: 16, shrink: 4}] : []),
    {header: 'who', value: (i) => fmtIncidentEntity(i), min: 24, max: 48, shrink: 1},
    // the year is in the report's header; a span of days keeps its end's date
    {header: 'when (UTC)', value: (i) => fmtIncidentSpan(i).replace(/^\d{4}-/, '').replace(/ \d{4}-/, ' ')},
    {header: 'win', value: (i) => String(i.windows), align: 'right'},
    {header: 'confidence', value: (i) => fmtConfidence(i), drop: 1},
    {header: 'status', value: (i) => i.status, drop: 2},
  ]
  const [header, ...lines] = fitTable(columns, l.items, width).split('\n')
  out.push(header ?? '')
  l.items.forEach((i, k) => {
    out.push(lines[k] ?? '')
    const more = [fmtIncidentSize(i), fmtCounterparts(i), fmtIncidentWhy(i), `incident ${i.id}`].filter((x) => x !== '-')
    for (const [n, line] of wrapParts(more.join(SEP), width - 4).entries()) out.push(paint(`${n === 0 ? '  ↳ ' : '    '}${line}`, 'dim'))
  })
  return out
}

function section(title: string, paint: Paint): string {
  return paint(title, 'bold')
}

/**
 * One line per detection, and under it (indented, dim) the features that drove it and the model: the
 * drivers are the longest field and the one an analyst reads whole, so they get a line of their own.
 */
function detectionTable(rows: DetectionItem[], width: number, paint: Paint): string {
  const several = new Set(rows.map((d) => d.network)).size > 1
  const columns: FitColumn<DetectionItem>[] = [
    {header: 'score', value: (d) => fmtScore(d.score), align: 'right'},
    {header: '×thr', value: (d) => fmtRatio(d.ratio), align: 'right', paint: (d, t) => paint(t, ratioStyle(d.ratio))},
    ...(several ? [{header: 'network', value: (d: DetectionItem) => d.network, min: 7, max: 16, shrink: 4}] : []),
    {header: 'address', value: (d) => d.address, min: 15, max: 39, shrink: 1},
    {header: 'AS', value: (d) => fmtAs(d), min: 12, max: 28, shrink: 3},
    {header: 'window (UTC)', value: (d) => fmtWindow(d)},
    {header: 'type', value: (d) => d.type, min: 9, max: 14, shrink: 1},
  ]
  const [header, ...lines] = fitTable(columns, rows, width).split('\n')
  const out = [header ?? '']
  rows.forEach((d, i) => {
    out.push(lines[i] ?? '')
    const more = `${fmtDrivers(d.features)}  ·  threshold ${fmtScore(d.threshold)}  ·  ${d.pass} pass  ·  model ${d.model}${d.incidentId === null ? '' : `  ·  incident ${d.incidentId}`}`
    for (const [k, line] of wrapParts(more, width - 4).entries()) out.push(paint(`${k === 0 ? '  ↳ ' : '    '}${line}`, 'dim'))
  })
  return out.join('\n')
}

function ratioStyle(ratio: number | null): keyof typeof SGR {
  if (ratio === null) return 'dim'
  if (ratio >= 2) return 'red'
  if (ratio >= 1) return 'yellow'
  return 'green'
}

const SPARK = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

/** The traffic as a sparkline of bytes per bucket, and under it the detections starting in each bucket. */
function timeline(r: ReportData, width: number, paint: Paint): string[] {
  const t = r.traffic.timeline
  if (t.length === 0 || t.every((b) => b.flows === 0)) {
    return r.detections.timeline.length === 0 ? [EMPTY.traffic] : [EMPTY.traffic, `${r.detections.total} detections in the range`]
  }
  const label = 12
  // one character per bucket; neighbouring buckets are merged when there are more than fit
  const cols = Math.max(1, Math.min(t.length, width - label))
  const per = Math.ceil(t.length / cols)
  const bytes: number[] = []
  const dets: number[] = []
  const index = new Map(t.map((b, i) => [b.bucketStart, i]))
  const detByBucket = new Array<number>(t.length).fill(0)
  for (const d of r.detections.timeline) {
    const i = index.get(d.bucketStart)
    if (i !== undefined) detByBucket[i] = (detByBucket[i] ?? 0) + d.count
  }
  for (let i = 0; i < t.length; i += per) {
    bytes.push(t.slice(i, i + per).reduce((a, b) => a + b.bytesScaled, 0))
    dets.push(detByBucket.slice(i, i + per).reduce((a, b) => a + b, 0))
  }
  const max = Math.max(...bytes)
  const spark = bytes.map((b) => (b === 0 ? ' ' : (SPARK[Math.min(7, Math.floor((b / max) * 8))] ?? '█'))).join('')
  const marks = dets.map((n) => (n === 0 ? '·' : n > 9 ? '+' : String(n))).join('')
  const bucket = fmtDuration(r.traffic.bucketSeconds * per)
  return [
    ...wrapText(`${fmtTime(r.traffic.from, true)} .. ${fmtTime(r.traffic.to, true)} UTC, one column per ${bucket}, highest ${humanBytes(max)}`, width),
    `${paint('bytes'.padEnd(label), 'dim')}${paint(spark, 'cyan')}`,
    `${paint('detections'.padEnd(label), 'dim')}${dets.some((n) => n > 0) ? marks.replace(/[1-9+]/g, (c) => paint(c, 'red')) : marks}`,
  ]
}

function talkerTable(rows: TopTalker[], width: number, paint: Paint): string {
  const c = TALKER_COLUMNS
  return fitTable<TopTalker>(
    [
      {...c.address, header: 'top talker', min: 12, max: 39, shrink: 1},
      c.flows,
      c.packets,
      c.bytesScaled,
      {...c.detections, paint: (t, s) => (t.detections > 0 ? paint(s, 'red') : s)},
    ],
    rows,
    width,
  )
}

function runTable(rows: RunItem[], width: number, paint: Paint): string {
  const c = RUN_COLUMNS
  return fitTable<RunItem>(
    [
      c.runId,
      {...c.kind, min: 8, max: 14, shrink: 1},
      {...c.status, min: 7, max: 8, shrink: 1, paint: (x, s) => (x.status === 'ok' ? s : paint(s, x.status === 'failed' ? 'red' : 'yellow'))},
      c.startedAt,
      c.wall,
      c.cpu,
      c.peakRss,
      {...c.addressesPerS, header: 'addr/s', drop: 1},
      {...c.reuse, drop: 2},
      {...c.failures, drop: 4},
      {...c.detections, header: 'det.', drop: 3},
    ],
    rows,
    width,
  )
}

function samplingTable(rows: SamplingCell[], width: number): string {
  const c = SAMPLING_COLUMNS
  return fitTable<SamplingCell>(
    [
      {...c.origin, drop: 1},
      {...c.sampler, min: 10, max: 20, shrink: 2},
      {...c.metric, min: 13, max: 22, shrink: 1},
      c.rate,
      c.n,
      c.relRmse,
      {...c.bias, drop: 2},
      {...c.coverage, header: '95% cover'},
      {...c.relStderr, drop: 3},
      c.bound,
    ],
    rows,
    width,
  )
}

/** A column of a width-fitted table. */
export interface FitColumn<R> extends ReportColumn<R> {
  /** narrowest the column may become when the table must shrink (default: its header width) */
  min?: number
  /** widest it may be, whatever its content */
  max?: number
  /** which columns give up width first when the table is too wide: higher first; 0 (default) never */
  shrink?: number
  /** when shrinking is not enough, columns with a `drop` are left out, highest first; 0 (default) never */
  drop?: number
  /** colour for a cell, given the padded text (applied after alignment, so widths hold) */
  paint?: (row: R, padded: string) => string
}

/**
 * An aligned table no wider than `width` display columns: cells are made visible (control characters
 * escaped), columns are capped at their `max`, and when the table is still too wide the shrinkable
 * columns give up width (highest `shrink` first) down to their `min` (cut cells end in `…`), and then
 * the optional columns are left out (highest `drop` first).
 */
export function fitTable<R>(allColumns: FitColumn<R>[], rows: readonly R[], width: number): string {
  let columns = allColumns
  for (;;) {
    const fitted = layout(columns, rows, width)
    const droppable = columns.filter((c) => (c.drop ?? 0) > 0)
    if (fitted.fits || droppable.length === 0) return fitted.text
    const first = droppable.reduce((a, b) => ((b.drop ?? 0) > (a.drop ?? 0) ? b : a))
    columns = columns.filter((c) => c !== first)
  }
}

function layout<R>(columns: FitColumn<R>[], rows: readonly R[], width: number): {text: string; fits: boolean} {
  const cells = rows.map((r) => columns.map((c) => visible(c.value(r))))
  const widths = columns.map((c, i) => {
    const natural = Math.max(displayWidth(c.header), ...cells.map((row) => displayWidth(row[i] ?? '')))
    return c.max === undefined ? natural : Math.min(natural, Math.max(c.max, 1))
  })
  let excess = widths.reduce((a, b) => a + b, 0) + 2 * (columns.length - 1) - width
  const order = columns
    .map((c, i) => ({i, shrink: c.shrink ?? 0}))
    .filter((x) => x.shrink > 0)
    .sort((a, b) => b.shrink - a.shrink || a.i - b.i)
  for (const {i} of order) {
    if (excess <= 0) break
    const c = columns[i]!
    const floor = Math.max(1, c.min ?? displayWidth(c.header))
    const give = Math.min(excess, Math.max(0, (widths[i] ?? 0) - floor))
    widths[i] = (widths[i] ?? 0) - give
    excess -= give
  }
  const line = (values: string[], row: R | undefined): string =>
    values
      .map((v, i) => {
        const c = columns[i]!
        const w = widths[i] ?? 0
        const text = pad(truncate(v, w), w, c.align ?? 'left')
        return row !== undefined && c.paint ? c.paint(row, text) : text
      })
      .join('  ')
      .trimEnd()
  const text = [line(columns.map((c) => c.header), undefined), ...cells.map((row, k) => line(row, rows[k]))].join('\n')
  return {text, fits: excess <= 0}
}

const SEP = '  ·  '

/**
 * Like `wrapText`, but keeps each `  ·  `-separated part of `text` whole on one line when it fits, so
 * a line break falls between "threshold 2.50" and "post pass", not inside either.
 */
export function wrapParts(text: string, width: number): string[] {
  const lines: string[] = []
  let current = ''
  for (const part of text.split(SEP)) {
    const candidate = current === '' ? part : `${current}${SEP}${part}`
    if (displayWidth(visible(candidate)) <= width) current = candidate
    else {
      if (current !== '') lines.push(...wrapText(current, width))
      current = part
    }
  }
  lines.push(...wrapText(current, width))
  return lines
}

/** Words of `text` (made visible) in lines of at most `width` columns; a word longer than that is cut. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = []
  let current = ''
  for (const word of visible(text).split(' ')) {
    const candidate = current === '' ? word : `${current} ${word}`
    if (displayWidth(candidate) <= width) current = candidate
    else {
      if (current !== '') lines.push(current)
      current = truncate(word, width)
    }
  }
  if (current !== '' || lines.length === 0) lines.push(current)
  return lines
}
