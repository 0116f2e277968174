/** What `flowscope sample` prints: the extrapolation beside the truth, and the top talkers. */
import {renderTable} from './table.js'

// The report layer sits below sampling, so the shapes are spelled out here; sampling's
// ThinStoredResult and SampleCaptureIntoStoreResult fit them.
interface Estimate {
  estimate: number
  ci95: [number, number]
}

interface TruthCheck {
  truth: number
  relError: number
  covered: boolean
}

/** Stored flows thinned binomially, with the stored truth. */
export interface ThinnedFlowsView {
  rate: number
  inputFlows: number
  droppedFlows: number
  sourceId: number | null
  status: string
  extrapolation: {packets: Estimate; bytes: Estimate; tcpFlows: Estimate}
  truth: {packets: number; bytes: number; tcpFlows: number}
}

/** A capture sampled into the store, with the full capture's truth when known. */
export interface SampledCaptureView {
  rate: number
  records: number
  sourceId: number | null
  status: string
  picture: {
    sampler: string
    sampledPackets: number
    effectiveRate: number
    packets: Estimate
    bytes: Estimate
    tcpFlows: Estimate
    distinctHosts: {chao1: Estimate}
    topTalkers: Array<{rank: number; address: string; bytes: Estimate; rankConfidence: number}>
    truth?: {packets: TruthCheck; bytes: TruthCheck; tcpFlows: TruthCheck; distinctHosts: TruthCheck; topKRecall: number}
  }
}

/** Thinned stored flows: the kept share and the estimates beside the stored truth. */
export function renderThinnedFlows(r: ThinnedFlowsView): string {
  const x = r.extrapolation
  return (
    `1/${r.rate} binomial thinning of ${r.inputFlows} flow records: ${r.inputFlows - r.droppedFlows} kept${r.sourceId === null ? '' : `, stored as source ${r.sourceId} (${r.status})`}\n` +
    renderTable(
      [
        {header: 'quantity', value: (row: [string, {estimate: number; ci95: [number, number]}, number]) => row[0]},
        {header: 'estimate', value: (row) => Math.round(row[1].estimate), align: 'right'},
        {header: '95% interval', value: (row) => `[${Math.round(row[1].ci95[0])}, ${Math.round(row[1].ci95[1])}]`, align: 'right'},
        {header: 'truth', value: (row) => row[2], align: 'right'},
        {header: 'error', value: (row) => pct((row[1].estimate - row[2]) / row[2]), align: 'right'},
      ],
      [
        ['packets', x.packets, r.truth.packets],
        ['bytes', x.bytes, r.truth.bytes],
        ['TCP flows', x.tcpFlows, r.truth.tcpFlows],
      ],
    )
  )
}

/** A sampled capture: what was kept, the estimates beside the full capture's truth, the top talkers. */
export function renderSampledCapture(file: string, r: SampledCaptureView): string {
  const p = r.picture
  const t = p.truth
  const parts: string[] = []
  parts.push(
    `${file}: ${p.sampler} 1/${r.rate}: ${p.sampledPackets} packets sampled (effective 1/${p.effectiveRate.toFixed(1)})` +
      `${r.sourceId === null ? '' : `, ${r.records} flow records stored as source ${r.sourceId} (${r.status})`}\n`,
  )
  const rows: [string, {estimate: number; ci95: [number, number]}, {truth: number; relError: number; covered: boolean} | undefined][] = [
    ['packets', p.packets, t?.packets],
    ['bytes', p.bytes, t?.bytes],
    ['TCP flows (SYN)', p.tcpFlows, t?.tcpFlows],
    ['distinct hosts (Chao1)', p.distinctHosts.chao1, t?.distinctHosts],
  ]
  parts.push(
    renderTable(
      [
        {header: 'quantity', value: (row: (typeof rows)[number]) => row[0]},
        {header: 'estimate', value: (row) => Math.round(row[1].estimate), align: 'right'},
        {header: '95% interval', value: (row) => `[${Math.round(row[1].ci95[0])}, ${Math.round(row[1].ci95[1])}]`, align: 'right'},
        {header: 'truth', value: (row) => row[2]?.truth ?? '-', align: 'right'},
        {header: 'error', value: (row) => (row[2] ? pct(row[2].relError) : '-'), align: 'right'},
        {header: 'in CI', value: (row) => (row[2] ? (row[2].covered ? 'yes' : 'no') : '-')},
      ],
      rows,
    ),
  )
  parts.push('\ntop talkers by bytes (estimated)')
  parts.push(
    renderTable(
      [
        {header: 'rank', value: (x: SampledCaptureView['picture']['topTalkers'][number]) => x.rank},
        {header: 'address', value: (x) => x.address},
        {header: 'bytes', value: (x) => Math.round(x.bytes.estimate), align: 'right'},
        {header: '95% interval', value: (x) => `[${Math.round(x.bytes.ci95[0])}, ${Math.round(x.bytes.ci95[1])}]`, align: 'right'},
        {header: 'rank conf.', value: (x) => x.rankConfidence.toFixed(2), align: 'right'},
      ],
      p.topTalkers,
    ),
  )
  if (t) parts.push(`\ntop-${p.topTalkers.length} recall against the full capture: ${(t.topKRecall * 100).toFixed(0)}%`)
  return parts.map((x) => (x.endsWith('\n') ? x : `${x}\n`)).join('')
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%` : '-'
}
