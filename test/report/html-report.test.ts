import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/index.js'
import {buildReport, escapeHtml, REPORT_CHARTS, renderReportHtml} from '../../src/report/index.js'
import type {ReportData} from '../../src/report/index.js'
import {chartSpec} from '../../src/report/report-charts.js'
import {HOSTILE, makeFixtureStore, NOW} from './fixture.js'

describe('HTML report', () => {
  let store: FlowStore
  let report: ReportData
  let html: string
  beforeAll(async () => {
    store = await makeFixtureStore()
    report = await buildReport(store, {now: NOW})
    html = await renderReportHtml(report)
  })
  afterAll(async () => {
    await store.close()
  })

  it('is one self-contained page: no script, no external resource, a CSP that forbids both', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'`)
    expect(html.toLowerCase()).not.toContain('<script')
    expect(html).not.toMatch(/<(?:link|iframe|object|embed|img|image|use|foreignObject)\b/i)
    // only in-page anchors; the SVG namespace declarations are names, not fetches
    for (const m of html.matchAll(/\s(?:src|href|xlink:href|action)\s*=\s*"([^"]*)"/gi)) expect(m[1]!.startsWith('#'), m[0]).toBe(true)
    expect(html.replaceAll(/xmlns(?::xlink)?="http:\/\/www\.w3\.org\/[^"]+"/g, '')).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i)
    expect(html).not.toMatch(/url\((?!#)/)
    expect(html).not.toMatch(/@import/)
  })

  it('has every chart as inline SVG, with its data marks', () => {
    for (const name of REPORT_CHARTS) {
      const m = new RegExp(`<figure class="chart" data-chart="${name}"><svg[^]*?</svg>`).exec(html)
      expect(m, name).not.toBeNull()
    }
    const svg = (name: string): string => new RegExp(`data-chart="${name}"><svg[^]*?</svg>`).exec(html)![0]
    expect(svg('timeline')).toMatch(/class="mark-area role-mark/)
    expect(svg('timeline')).toMatch(/class="mark-rule role-mark/)
    const bars = (name: string): number => svg(name).match(/aria-roledescription="bar"/g)?.length ?? 0
    expect(bars('types')).toBe(report.detections.byType.length)
    expect(bars('talkers')).toBe(report.traffic.topTalkers.length)
    expect(svg('sampling')).toMatch(/class="mark-line role-mark/)
    // SVG element ids are namespaced per chart, so several charts on one page do not collide
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((x) => x[1])
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('escapes hostile strings everywhere: text, attributes, tables and chart labels', () => {
    for (const raw of [HOSTILE.network, HOSTILE.asName, HOSTILE.feature, '<img src=x']) expect(html, raw).not.toContain(raw)
    expect(html).toContain(escapeHtml(HOSTILE.network))
    expect(html).toContain(escapeHtml(HOSTILE.feature))
    expect(html).toContain(escapeHtml(HOSTILE.address))
    // eslint-disable-next-line no-control-regex -- control characters must not reach the page
    expect(html).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e]/u)
  })

  it('leads with the incidents: their card, link and section come before the detections, which name their incident', () => {
    const at = (needle: string): number => html.indexOf(needle)
    expect(at('<section id="incidents">')).toBeGreaterThan(0)
    expect(at('<section id="incidents">')).toBeLessThan(at('<section id="detections">'))
    expect(at('href="#incidents"')).toBeLessThan(at('href="#detections"'))
    expect(at('incidents pass the filter')).toBeLessThan(at('window detections'))
    const incidents = html.slice(at('<section id="incidents">'), at('<section id="detections">'))
    expect(incidents).toContain('victim fd00:1::beef')
    expect(incidents).toContain('545 sources, 99% seen once, likely spoofed')
    expect(incidents).toContain('≈120.0 k packets (95%: 96.0 k–150.0 k)')
    expect(incidents).toContain('high: many sampled packets: the rate is well established')
    // the old-shape row shows its drivers where a newer one has its summary
    expect(incidents).toContain('drivers: distinct_dst_ports +14.2')
    const detections = html.slice(at('<section id="detections">'), at('<section id="timeline">'))
    expect(detections).toContain('<td class="id">inc-scan-old</td>')
    // tables scroll inside their box rather than running off the page
    expect(html).toMatch(/\.table-wrap \{ max-width: 100%; overflow-x: auto; \}/)
    expect(detections).toContain('<div class="table-wrap"><table>')
  })

  it("the traffic chart's time axis is the data's span, not the detections' windows", () => {
    const spec = JSON.stringify(chartSpec(report, 'timeline').spec)
    expect(report.traffic.from).toBe('2026-01-05T00:00:00.000Z')
    expect(report.traffic.to).toBe('2026-01-05T00:15:55.000Z')
    expect(spec).toContain(`"domain":[${Date.parse(report.traffic.from!)},${Date.parse(report.traffic.to!)}]`)
    // a span of minutes: ticks in hours and minutes, no dates
    expect(spec).toContain('"format":"%H:%M"')
  })

  it('sections without data say so instead of drawing an empty chart', async () => {
    const blank = await FlowStore.open(':memory:')
    const empty = await renderReportHtml(await buildReport(blank, {now: NOW}))
    await blank.close()
    expect(empty).not.toContain('<svg')
    for (const name of REPORT_CHARTS) expect(empty).toContain(`data-empty-chart="${name}"`)
    expect(empty).toContain('No detections pass the filter.')
    expect(empty).toContain('No incidents pass the filter.')
    expect(empty).toContain('No flows in the selected time range.')
    expect(empty).toContain('No sampling estimates recorded in this range')
  })
})
