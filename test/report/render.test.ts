import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/index.js'
import {
  buildReport,
  csvCell,
  displayWidth,
  escapeMarkdown,
  renderReportCsv,
  renderReportMarkdown,
  renderReportText,
  REPORT_CSV_TABLES,
  shouldColor,
  visible,
} from '../../src/report/index.js'
import type {ReportData} from '../../src/report/index.js'
import {parseCsv} from './csv-reader.js'
import {DETECTIONS, HOSTILE, makeFixtureStore, NOW} from './fixture.js'

// eslint-disable-next-line no-control-regex -- looking for control characters
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u

describe('report renderers', () => {
  let store: FlowStore
  let report: ReportData
  let empty: ReportData
  beforeAll(async () => {
    store = await makeFixtureStore()
    report = await buildReport(store, {now: NOW})
    const blank = await FlowStore.open(':memory:')
    empty = await buildReport(blank, {now: NOW})
    await blank.close()
  })
  afterAll(async () => {
    await store.close()
  })

  it('terminal: the snapshot, within 100 columns, no control characters from the data', async () => {
    const text = renderReportText(report, {color: false})
    await expect(text).toMatchFileSnapshot('./__snapshots__/report.txt')
    for (const line of text.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(100)
    expect(text).not.toMatch(CONTROL)
    // the hostile AS name is shown with its escapes written out, and its newline cannot start a row
    expect(text.split('\n').some((l) => l.startsWith('INJECTED'))).toBe(false)
    expect(text).toContain('model|pipe*bold*\\u202eevil')
    expect(visible(HOSTILE.asName)).toBe('Evil "AS" <img src=x onerror=alert(2)>\\x1b[31mRED\\x1b[0m\\nINJECTED,row')
    expect(renderReportText(report, {width: 400})).not.toMatch(CONTROL)
  })

  it('terminal: narrower widths still fit', () => {
    for (const width of [80, 120]) {
      for (const line of renderReportText(report, {width}).split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(width)
    }
  })

  it('terminal: colour only when asked, and only our own SGR codes', () => {
    const coloured = renderReportText(report, {color: true})
    // eslint-disable-next-line no-control-regex -- SGR sequences
    const ours = /\u001b\[(?:0|1|2|31|32|33|36)m/g
    expect(coloured).toMatch(ours)
    expect(coloured.replace(ours, '')).toBe(renderReportText(report, {color: false}))
    expect(renderReportText(report, {color: false})).not.toContain('\u001b')
  })

  it('colour needs a TTY and no NO_COLOR (no-color.org: set and not empty)', () => {
    expect(shouldColor({isTTY: true}, {})).toBe(true)
    expect(shouldColor({isTTY: true}, {NO_COLOR: '1'})).toBe(false)
    expect(shouldColor({isTTY: true}, {NO_COLOR: ''})).toBe(true)
    expect(shouldColor({isTTY: true}, {TERM: 'dumb'})).toBe(false)
    expect(shouldColor({isTTY: false}, {})).toBe(false)
    expect(shouldColor({}, {})).toBe(false)
  })

  it('markdown: the snapshot; tables keep their shape and data cannot inject markup', async () => {
    const md = renderReportMarkdown(report)
    await expect(md).toMatchFileSnapshot('./__snapshots__/report.md')
    expect(md).not.toMatch(CONTROL)
    expect(md).not.toContain('<script')
    expect(md).not.toContain('<img')
    expect(md).toContain('lab&lt;script&gt;alert(1)&lt;/script&gt;')
    // every row of a table has as many cell separators (unescaped pipes) as its header
    const lines = md.split('\n')
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('| ') || lines[i - 1]?.startsWith('|')) continue
      const cells = (l: string): number => l.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length
      const n = cells(lines[i]!)
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) expect(cells(lines[j]!), lines[j]).toBe(n)
    }
  })

  it('csv: every table reads back, one record per row, with the values of the report', () => {
    for (const table of REPORT_CSV_TABLES) {
      const rows = parseCsv(renderReportCsv(report, table))
      const width = rows[0]!.length
      for (const r of rows) expect(r).toHaveLength(width)
    }
    const [header, ...rows] = parseCsv(renderReportCsv(report, 'detections'))
    expect(rows).toHaveLength(DETECTIONS.length)
    const col = (name: string): number => header!.indexOf(name)
    const get = (r: string[], name: string): string => r[col(name)]!
    expect(rows.map((r) => Number(get(r, 'score')))).toEqual(report.detections.rows.map((d) => d.score))
    expect(rows.map((r) => get(r, 'window_start'))).toEqual(report.detections.rows.map((d) => d.windowStart))
    const hostile = rows.find((r) => get(r, 'asn') === '666')!
    // formulas are neutralised with a leading quote; the rest reads back as it was (escapes visible)
    expect(get(hostile, 'address')).toBe(`'${HOSTILE.address}`)
    expect(get(hostile, 'type')).toBe(`'${HOSTILE.type}`)
    expect(get(hostile, 'as_name')).toBe(visible(HOSTILE.asName).replace('\\n', '\n'))
    expect(get(hostile, 'as_name')).toContain('\n')
    expect(get(hostile, 'model')).toBe(visible(HOSTILE.model))
    const top = rows[0]!
    expect(get(top, 'features')).toBe('distinct_dst_ports=14.2;syn_only_frac=9.1;peer_entropy=-3.3')
    // numbers stay numbers: a negative value is not mistaken for a formula
    const runs = parseCsv(renderReportCsv(report, 'runs'))
    expect(runs[0]).toContain('peak_rss_mb')
    const sampling = parseCsv(renderReportCsv(report, 'sampling'))
    const bias = sampling[0]!.indexOf('rel_bias')
    expect(sampling.slice(1).some((r) => r[bias]!.startsWith('-'))).toBe(true)
    expect(sampling.slice(1).some((r) => r[1] === `'${visible(HOSTILE.sampler)}`)).toBe(true)
  })

  it('every format leads with the incidents; the window detections follow, each with its incident id', () => {
    const text = renderReportText(report, {color: false})
    expect(text.indexOf('\nINCIDENTS\n')).toBeGreaterThan(0)
    expect(text.indexOf('\nINCIDENTS\n')).toBeLessThan(text.indexOf('\nDETECTIONS\n'))
    expect(text).toContain('545 sources, 99% seen once, likely spoofed')
    expect(text).toContain('incident inc-scan-old')
    const md = renderReportMarkdown(report)
    expect(md.indexOf('\n## Incidents\n')).toBeGreaterThan(0)
    expect(md.indexOf('\n## Incidents\n')).toBeLessThan(md.indexOf('\n## Detections\n'))
    expect(md).toContain('12 reflectors, 25% seen once: DNS/53 80%, NTP/123 20%')
    // CSV: the incidents are the default table and the first of the list; detections carry their incident id
    expect(REPORT_CSV_TABLES[0]).toBe('incidents')
    const [header, ...rows] = parseCsv(renderReportCsv(report))
    expect(header![0]).toBe('incident_id')
    expect(rows.map((r) => r[0])).toEqual(report.incidents.items.map((i) => i.id))
    const [dh, ...dr] = parseCsv(renderReportCsv(report, 'detections'))
    expect(dr.map((r) => r[dh!.indexOf('incident_id')])).toEqual(report.detections.rows.map((d) => d.incidentId ?? ''))
  })

  it('old-shape incidents (NULL role, confidence, counterparts; evidence only the peak window) render in every format', () => {
    const old = report.incidents.items.find((i) => i.id === 'inc-scan-old')!
    expect(old).toMatchObject({role: null, confidence: null, counterparts: null})
    const only: ReportData = {...report, incidents: {total: 1, open: 0, items: [old], byType: [{type: 'scan', count: 1, open: 0, maxSeverity: 5}]}}
    const text = renderReportText(only, {color: false})
    expect(text).toMatch(/ {2}5 {2}scan +10\.1\.0\.66 +01-05 00:02 \.\. 00:12 +2 {2}- +closed/)
    expect(text).toContain('drivers: distinct_dst_ports +14.2')
    expect(renderReportMarkdown(only)).toContain('| 5 | scan | 10.1.0.66 | lab | 2026-01-05 00:02 .. 00:12, 2 windows | - | - | - | drivers: distinct\\_dst\\_ports +14.2 | closed | inc-scan-old |')
    const [, row] = parseCsv(renderReportCsv(only))
    expect(row!.slice(0, 5)).toEqual(['inc-scan-old', 'lab', '10.1.0.66', '', 'scan'])
  })

  it('csv cells: quoting, formula prefixes, control characters', () => {
    expect(csvCell('plain')).toBe('plain')
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    for (const f of ['=1+2', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(f).replace(/^"/, '').startsWith("'")).toBe(true)
    expect(csvCell(-1.5)).toBe('-1.5')
    expect(csvCell(null)).toBe('')
    expect(csvCell('a\u001b[2Jb')).toBe('a\\x1b[2Jb')
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"')
  })

  it('markdown cells escape what would end a cell, emphasise, link or embed HTML', () => {
    expect(escapeMarkdown('a|b')).toBe('a\\|b')
    expect(escapeMarkdown('*x* _y_ [l](u) `c` ~s~ $m$')).toBe('\\*x\\* \\_y\\_ \\[l\\](u) \\`c\\` \\~s\\~ \\$m\\$')
    expect(escapeMarkdown('<b>&')).toBe('&lt;b&gt;&amp;')
    expect(escapeMarkdown('back\\slash')).toBe('back\\\\slash')
  })

  it('an empty store says so in every section', () => {
    const text = renderReportText(empty)
    expect(text).toContain('No detections pass the filter.')
    expect(text).toContain('No flows in the selected time range.')
    expect(text).toContain('No analyze, stream or sample runs recorded in this range.')
    expect(text).toContain('No sampling estimates recorded in this range')
    const md = renderReportMarkdown(empty)
    expect(md).toContain('No detections pass the filter.')
    expect(md).toContain('No flows, so no talkers.')
    expect(parseCsv(renderReportCsv(empty))).toHaveLength(1)
  })
})
