/**
 * A self-contained SVG chart of a sampling benchmark: relative error (RMSE over the trials) against
 * the sampling rate, both axes logarithmic, one line per sampler, and the theoretical √(1/c) relative
 * standard error of a packet total under random 1-in-N sampling (c = packets / N) drawn dashed. No
 * scripts, fonts or external references, so it embeds in HTML reports and opens anywhere.
 */
import type {SamplingBenchmarkCell, SamplingBenchmarkResult} from './bench-sampling.js'

export const CHART_METRICS = ['bytes', 'packets', 'tcpFlows', 'hosts'] as const
export type ChartMetric = (typeof CHART_METRICS)[number]

export interface ChartOptions {
  /** which error to plot (default bytes): RMSE of the totals, or the hosts' weighted relative error */
  metric?: ChartMetric
  width?: number
  height?: number
  title?: string
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#e377c2']
const METRIC_LABEL: Record<ChartMetric, string> = {
  bytes: 'byte total, relative RMSE',
  packets: 'packet total, relative RMSE',
  tcpFlows: 'TCP flow count (SYN), relative RMSE',
  hosts: 'per-host bytes, weighted relative error',
}

function metricValue(cell: SamplingBenchmarkCell, metric: ChartMetric): number {
  switch (metric) {
    case 'bytes':
      return cell.bytes.rmse
    case 'packets':
      return cell.packets.rmse
    case 'tcpFlows':
      return cell.tcpFlows?.rmse ?? Number.NaN
    case 'hosts':
      return cell.hosts.weightedRelError
  }
}

export function renderSamplingChartSvg(result: SamplingBenchmarkResult, options: ChartOptions = {}): string {
  const metric = options.metric ?? 'bytes'
  const width = options.width ?? 720
  const height = options.height ?? 440
  const title = options.title ?? `Sampling error vs rate — ${result.truth.packets.toLocaleString('en-US')} packets, ${result.trials} trials`
  const m = {left: 64, right: 150, top: 40, bottom: 52}
  const pw = width - m.left - m.right
  const ph = height - m.top - m.bottom

  const rates = [...new Set(result.cells.map((c) => c.rate))].sort((a, b) => a - b)
  const bound = (rate: number): number => (result.truth.packets > 0 ? Math.sqrt(rate / result.truth.packets) : Number.NaN)
  const values = result.cells.map((c) => metricValue(c, metric)).filter((v) => v > 0 && Number.isFinite(v))
  for (const r of rates) if (bound(r) > 0) values.push(bound(r))
  const xMin = Math.log10(rates[0] ?? 1)
  const xMax = Math.log10(rates[rates.length - 1] ?? 10)
  const yLo = Math.floor(Math.log10(values.length > 0 ? Math.min(...values) : 1e-3))
  const yHi = Math.ceil(Math.log10(values.length > 0 ? Math.max(...values) : 1))
  const yMin = Math.min(yLo, yHi - 1)
  const yMax = Math.max(yHi, yMin + 1)
  const xSpan = xMax > xMin ? xMax - xMin : 1
  const x = (rate: number): number => m.left + ((Math.log10(rate) - xMin) / xSpan) * pw
  // values at or below the axis floor (an exact estimate has no error) sit on the floor
  const y = (v: number): number => m.top + ph - ((Math.max(Math.log10(Math.max(v, 1e-300)), yMin) - yMin) / (yMax - yMin)) * ph
  const f = (v: number): string => v.toFixed(1)

  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="22" font-size="13" font-weight="bold">${esc(title)}</text>`,
  )
  // grid and y axis: decades as percentages
  for (let d = yMin; d <= yMax; d++) {
    const yy = f(y(10 ** d))
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`)
    parts.push(`<text x="${m.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${esc(percent(10 ** d))}</text>`)
  }
  for (const r of rates) {
    const xx = f(x(r))
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`)
    parts.push(`<text x="${xx}" y="${m.top + ph + 16}" text-anchor="middle">1/${r}</text>`)
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">sampling rate (log scale)</text>`)
  parts.push(
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(METRIC_LABEL[metric])} (log scale)</text>`,
  )

  // theoretical bound
  const bpts = rates.filter((r) => bound(r) > 0).map((r) => `${f(x(r))},${f(y(bound(r)))}`)
  if (bpts.length > 0) parts.push(`<polyline points="${bpts.join(' ')}" fill="none" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`)

  // one line per sampler
  const samplers = result.samplers
  samplers.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    const cells = result.cells.filter((c) => c.sampler === s).sort((a, b) => a.rate - b.rate)
    const pts = cells
      .map((c) => ({r: c.rate, v: metricValue(c, metric)}))
      .filter((p) => Number.isFinite(p.v))
      .map((p) => `${f(x(p.r))},${f(y(p.v))}`)
    if (pts.length > 0) {
      parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`)
      for (const p of pts) {
        const [px, py] = p.split(',')
        parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${color}"/>`)
      }
    }
  })

  // legend
  const lx = m.left + pw + 14
  let ly = m.top + 8
  samplers.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`)
    parts.push(`<text x="${lx + 26}" y="${ly}" dominant-baseline="middle">${esc(s)}</text>`)
    ly += 18
  })
  parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`)
  parts.push(`<text x="${lx + 26}" y="${ly}" dominant-baseline="middle">√(1/c) bound</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

function percent(v: number): string {
  const p = v * 100
  return `${p >= 1 ? p.toFixed(0) : p.toPrecision(1)}%`
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
