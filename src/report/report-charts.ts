/**
 * The charts of the HTML report as Vega-Lite specifications, rendered to SVG strings in Node by
 * Vega's headless renderer (`renderer: 'none'`, `toSVG()`: no browser, no canvas, no network). The
 * SVG is inlined in the report, which then needs no script at all. Vega escapes text and attributes;
 * labels are also passed through `visible` so control characters never reach the SVG.
 */
import type {TopLevelSpec} from 'vega-lite'

import {visible} from './escape.js'
import type {ReportData} from './report-data.js'
import {EMPTY, fmtDuration, fmtPopulation} from './report-format.js'

export const REPORT_CHARTS = ['timeline', 'types', 'talkers', 'runs', 'sampling'] as const
export type ReportChartName = (typeof REPORT_CHARTS)[number]

export interface ReportChart {
  name: ReportChartName
  /** the SVG, or null when the section has no data */
  svg: string | null
  /** what the report says instead of an empty chart */
  empty: string | null
  /** one sentence on how to read it */
  caption: string
}

const WIDTH = 880
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
const CONFIG = {
  font: FONT,
  background: 'white',
  view: {stroke: null},
  axis: {labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', grid: true, gridColor: '#eee'},
  legend: {labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', labelLimit: 220},
  range: {category: ['#4c78a8', '#e45756', '#f58518', '#54a24b', '#b279a2', '#72b7b2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac']},
} as const

/** Every chart of the report, in the order of `REPORT_CHARTS`. */
export async function renderReportCharts(r: ReportData): Promise<ReportChart[]> {
  const out: ReportChart[] = []
  for (const name of REPORT_CHARTS) {
    const c = chartSpec(r, name)
    out.push({name, caption: c.caption, empty: c.spec === null ? c.empty : null, svg: c.spec === null ? null : await renderSvg(c.spec, `fs-${name}`)})
  }
  return out
}

interface ChartPlan {
  spec: TopLevelSpec | null
  empty: string
  caption: string
}

export function chartSpec(r: ReportData, name: ReportChartName): ChartPlan {
  switch (name) {
    case 'timeline':
      return timelineSpec(r)
    case 'types':
      return typesSpec(r)
    case 'talkers':
      return talkersSpec(r)
    case 'runs':
      return runsSpec(r)
    case 'sampling':
      return samplingSpec(r)
  }
}

function timelineSpec(r: ReportData): ChartPlan {
  const caption = `Estimated bytes per ${fmtDuration(r.traffic.bucketSeconds)} (scaled by each record's sampling rate); detections are marked where their window starts, coloured by type.`
  const traffic = r.traffic.timeline.map((b) => ({t: Date.parse(b.bucketStart), bytes: b.bytesScaled, flows: b.flows}))
  const detections = r.detections.timeline.map((d) => ({t: Date.parse(d.bucketStart), type: visible(d.type), count: d.count}))
  if (traffic.every((b) => b.flows === 0) && detections.length === 0) return {spec: null, empty: EMPTY.traffic, caption}
  // the axis spans the data (report-data.ts timelineSpan), not whatever the marks would stretch it to
  const domain = r.traffic.from !== null && r.traffic.to !== null ? [Date.parse(r.traffic.from), Date.parse(r.traffic.to)] : undefined
  const x = {
    field: 't',
    type: 'temporal',
    scale: {type: 'utc', ...(domain === undefined ? {} : {domain})},
    title: 'time (UTC)',
    axis: {format: timeFormat(domain ?? traffic.map((b) => b.t))},
  }
  const layers: unknown[] = [
    {
      data: {values: traffic},
      mark: {type: 'area', interpolate: 'step-after', line: {color: '#4c78a8'}, color: '#4c78a8', opacity: 0.3},
      encoding: {x, y: {field: 'bytes', type: 'quantitative', title: 'estimated bytes', axis: {format: '~s'}}},
    },
  ]
  if (detections.length > 0) {
    layers.push(
      {
        data: {values: detections},
        mark: {type: 'rule', strokeWidth: 1.5, opacity: 0.7},
        encoding: {x, color: {field: 'type', type: 'nominal', title: 'detections'}},
      },
      {
        data: {values: detections},
        mark: {type: 'point', shape: 'triangle-down', filled: true, opacity: 1, yOffset: 6},
        encoding: {
          x,
          y: {value: 0},
          color: {field: 'type', type: 'nominal', title: 'detections'},
          size: {field: 'count', type: 'quantitative', title: 'detections per bucket', scale: {range: [60, 240]}, legend: null},
        },
      },
    )
  }
  return {spec: top({width: WIDTH - 160, height: 220, layer: layers}), empty: EMPTY.traffic, caption}
}

function typesSpec(r: ReportData): ChartPlan {
  const caption = 'Detections passing the filter, by attack type.'
  if (r.detections.byType.length === 0) return {spec: null, empty: EMPTY.types, caption}
  const values = r.detections.byType.map((t) => ({type: visible(t.type), count: t.count, addresses: t.addresses}))
  return {
    spec: top({
      width: WIDTH - 200,
      height: {step: 22},
      data: {values},
      mark: {type: 'bar', color: '#e45756'},
      encoding: {
        y: {field: 'type', type: 'nominal', sort: '-x', title: null, axis: {labelLimit: 180}},
        x: {field: 'count', type: 'quantitative', title: 'detections', axis: {tickMinStep: 1, format: 'd'}},
      },
    }),
    empty: EMPTY.types,
    caption,
  }
}

function talkersSpec(r: ReportData): ChartPlan {
  const caption = 'Source addresses sending the most (estimated) bytes; red ones have detections.'
  if (r.traffic.topTalkers.length === 0) return {spec: null, empty: EMPTY.talkers, caption}
  const values = r.traffic.topTalkers.map((t) => ({address: visible(t.address), bytes: t.bytesScaled, flagged: t.detections > 0 ? 'with detections' : 'no detections'}))
  return {
    spec: top({
      width: WIDTH - 300,
      height: {step: 20},
      data: {values},
      mark: {type: 'bar'},
      encoding: {
        y: {field: 'address', type: 'nominal', sort: '-x', title: null, axis: {labelLimit: 220}},
        x: {field: 'bytes', type: 'quantitative', title: 'estimated bytes', axis: {format: '~s'}},
        color: {field: 'flagged', type: 'nominal', title: null, scale: {domain: ['no detections', 'with detections'], range: ['#4c78a8', '#e45756']}},
      },
    }),
    empty: EMPTY.talkers,
    caption,
  }
}

const RUN_METRICS = [
  ['wallS', 'wall time (s)'],
  ['cpuS', 'CPU time (s)'],
  ['peakRssMb', 'peak RSS (MB)'],
  ['addressesPerS', 'addresses / s'],
] as const

function runsSpec(r: ReportData): ChartPlan {
  const caption = 'Resource use of recent runs: wall and CPU time, peak memory of the largest process, throughput.'
  const values: {t: number; run: number; kind: string; metric: string; value: number}[] = []
  for (const run of r.runs) {
    for (const [key, label] of RUN_METRICS) {
      const v = run[key]
      if (v !== null) values.push({t: Date.parse(run.startedAt), run: run.runId, kind: visible(run.kind), metric: label, value: v})
    }
  }
  if (values.length === 0) return {spec: null, empty: EMPTY.runs, caption}
  const x = {field: 't', type: 'temporal', scale: {type: 'utc'}, title: 'run started (UTC)', axis: {format: timeFormat(values.map((v) => v.t))}}
  return {
    spec: top({
      data: {values},
      facet: {row: {field: 'metric', type: 'nominal', title: null, sort: RUN_METRICS.map(([, label]) => label), header: {labelAngle: 0, labelAlign: 'left', labelFontSize: 11}}},
      spec: {
        width: WIDTH - 260,
        height: 70,
        layer: [
          {mark: {type: 'line', color: '#bbb'}, encoding: {x, y: {field: 'value', type: 'quantitative', title: null, axis: {format: '~s', tickCount: 3}}}},
          {
            mark: {type: 'point', filled: true, size: 50},
            encoding: {x, y: {field: 'value', type: 'quantitative'}, color: {field: 'kind', type: 'nominal', title: 'run kind'}},
          },
        ],
      },
      resolve: {scale: {y: 'independent'}},
    }),
    empty: EMPTY.runs,
    caption,
  }
}

function samplingSpec(r: ReportData): ChartPlan {
  const caption =
    `Relative RMSE of estimated totals against the ground truth, by sampling rate; lines: the theoretical relative error √(1/c) ` +
    `and its 95% band 1.96·√(1/c), c = rate × N, N = ${fmtPopulation(r)} packets (the expected number of samples).`
  const points = r.sampling.cells
    .filter((c) => c.relRmse !== null && c.relRmse > 0)
    .map((c) => ({rate: c.rate, error: c.relRmse, sampler: visible(c.sampler), metric: visible(c.metric), n: c.n}))
  if (points.length === 0) return {spec: null, empty: r.sampling.cells.length === 0 ? EMPTY.sampling : EMPTY.samplingChart, caption}
  const bound = r.sampling.bound.flatMap((b) => [
    {rate: b.rate, error: b.relError, curve: '√(1/c)'},
    {rate: b.rate, error: 1.96 * b.relError, curve: '1.96·√(1/c)'},
  ])
  const rates = [...new Set(points.map((p) => p.rate))].sort((a, b) => a - b)
  const x = {
    field: 'rate',
    type: 'quantitative',
    // a little room either side, so the points at the extreme rates do not sit on the frame
    scale: {type: 'log', domain: [rates[0]! / 1.6, rates[rates.length - 1]! * 1.6], nice: false},
    title: 'sampling rate (1 in N)',
    axis: {values: rates, labelExpr: "'1/' + format(1 / datum.value, '~r')", grid: true},
  } as const
  const y = {field: 'error', type: 'quantitative', scale: {type: 'log'}, title: 'relative error', axis: {format: '~%'}} as const
  const layers: unknown[] = []
  if (bound.length > 0) {
    layers.push({
      data: {values: bound},
      mark: {type: 'line', color: '#555', strokeWidth: 1.5},
      encoding: {x, y, strokeDash: {field: 'curve', type: 'nominal', title: 'theoretical', scale: {domain: ['√(1/c)', '1.96·√(1/c)'], range: [[1, 0], [5, 4]]}}},
    })
  }
  layers.push({
    data: {values: points},
    mark: {type: 'point', filled: true, size: 70, opacity: 0.85},
    encoding: {x, y, color: {field: 'sampler', type: 'nominal', title: 'sampler'}, shape: {field: 'metric', type: 'nominal', title: 'metric'}},
  })
  return {spec: top({width: WIDTH - 220, height: 260, layer: layers}), empty: EMPTY.samplingChart, caption}
}

/** A 24-hour UTC tick format that says as much as the span needs: times within a day, dates across weeks. */
function timeFormat(ts: number[]): string {
  if (ts.length === 0) return '%H:%M'
  const span = Math.max(...ts) - Math.min(...ts)
  if (span <= 86_400_000) return span < 120_000 ? '%H:%M:%S' : '%H:%M'
  return span <= 14 * 86_400_000 ? '%b %d %H:%M' : '%Y-%m-%d'
}

function top(spec: Record<string, unknown>): TopLevelSpec {
  return {$schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, padding: 8, ...spec} as unknown as TopLevelSpec
}

/**
 * Vega-Lite → Vega → SVG, headless. Element ids (clip paths, gradients) come from a counter shared by
 * every view of the process, so they are renamed per chart to keep them unique within one page and
 * the same from run to run.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  // loaded on demand: a terminal or CSV report does not pay for the charting libraries
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')])
  // warnings of the charting libraries would go to the console: stderr of a cron job, which mails them
  const quiet = vega.logger(vega.None)
  const compiled = vegaLite.compile(spec, {logger: quiet}).spec
  const view = new vega.View(vega.parse(compiled), {renderer: 'none', logger: quiet, logLevel: vega.None})
  try {
    const svg = await view.toSVG()
    return namespaceIds(svg, idPrefix)
  } finally {
    view.finalize()
  }
}

function namespaceIds(svg: string, prefix: string): string {
  const ids = [...svg.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]!)
  let out = svg
  ids.forEach((id, i) => {
    const fresh = `${prefix}-${i + 1}`
    out = out.replaceAll(`id="${id}"`, `id="${fresh}"`).replaceAll(`url(#${id})`, `url(#${fresh})`).replaceAll(`href="#${id}"`, `href="#${fresh}"`)
  })
  return out
}
