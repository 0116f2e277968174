/**
 * The columns of the report's tables of types, talkers, runs and sampling cells: for each, its
 * header, the plain text of its cell (report-format.ts) and its alignment, owned here once so the
 * terminal, Markdown and HTML tables show the same values. Each renderer picks the columns it has
 * room for, adds its own layout (width limits, cell classes) and escapes the text for its output.
 */
import type {DetectionTypeCount, RunItem, SamplingCell, TopTalker} from './report-data.js'
import {fmtBytes, fmtCpu, fmtMb, fmtNum, fmtOrigin, fmtPct, fmtRate, fmtScore, fmtSeconds, fmtTime} from './report-format.js'

/** A column of a report table: header, cell text, alignment. */
export interface ReportColumn<R> {
  header: string
  value: (row: R) => string
  align?: 'left' | 'right'
}

type ColumnSet<R> = Record<string, ReportColumn<R>>

export const TYPE_COLUMNS = {
  type: {header: 'type', value: (t) => t.type},
  count: {header: 'detections', value: (t) => String(t.count), align: 'right'},
  addresses: {header: 'addresses', value: (t) => String(t.addresses), align: 'right'},
  maxScore: {header: 'max score', value: (t) => fmtScore(t.maxScore), align: 'right'},
} satisfies ColumnSet<DetectionTypeCount>

export const TALKER_COLUMNS = {
  address: {header: 'address', value: (t) => t.address},
  flows: {header: 'flows', value: (t) => String(t.flows), align: 'right'},
  packets: {header: 'packets', value: (t) => String(t.packets), align: 'right'},
  bytes: {header: 'bytes', value: (t) => fmtBytes(t.bytes), align: 'right'},
  bytesScaled: {header: 'est. bytes', value: (t) => fmtBytes(t.bytesScaled), align: 'right'},
  detections: {header: 'detections', value: (t) => String(t.detections), align: 'right'},
} satisfies ColumnSet<TopTalker>

export const RUN_COLUMNS = {
  runId: {header: 'run', value: (x) => String(x.runId), align: 'right'},
  kind: {header: 'kind', value: (x) => x.kind},
  status: {header: 'status', value: (x) => x.status},
  network: {header: 'network', value: (x) => x.network ?? 'all'},
  startedAt: {header: 'started (UTC)', value: (x) => fmtTime(x.startedAt)},
  wall: {header: 'wall', value: (x) => fmtSeconds(x.wallS), align: 'right'},
  cpu: {header: 'cpu', value: (x) => fmtCpu(x), align: 'right'},
  peakRss: {header: 'peak RSS', value: (x) => fmtMb(x.peakRssMb), align: 'right'},
  peakRssTotal: {header: 'RSS all procs', value: (x) => fmtMb(x.peakRssTotalMb), align: 'right'},
  addresses: {header: 'addresses', value: (x) => fmtNum(x.addresses, 0), align: 'right'},
  addressesPerS: {header: 'addresses/s', value: (x) => fmtNum(x.addressesPerS), align: 'right'},
  buckets: {header: 'buckets', value: (x) => fmtNum(x.buckets, 0), align: 'right'},
  reuse: {header: 'reuse', value: (x) => fmtPct(x.reuseRatio), align: 'right'},
  failures: {header: 'failed', value: (x) => fmtNum(x.failures, 0), align: 'right'},
  detections: {header: 'detections', value: (x) => fmtNum(x.detections, 0), align: 'right'},
} satisfies ColumnSet<RunItem>

export const SAMPLING_COLUMNS = {
  origin: {header: 'from', value: (c) => fmtOrigin(c)},
  sampler: {header: 'sampler', value: (c) => c.sampler},
  metric: {header: 'metric', value: (c) => c.metric},
  rate: {header: 'rate', value: (c) => fmtRate(c), align: 'right'},
  n: {header: 'n', value: (c) => String(c.n), align: 'right'},
  relRmse: {header: 'rel. RMSE', value: (c) => fmtPct(c.relRmse), align: 'right'},
  bias: {header: 'bias', value: (c) => fmtPct(c.relBias), align: 'right'},
  coverage: {header: '95% coverage', value: (c) => fmtPct(c.coverage), align: 'right'},
  relStderr: {header: 'rel. s.e.', value: (c) => fmtPct(c.meanRelStderr), align: 'right'},
  bound: {header: '√(1/c)', value: (c) => fmtPct(c.bound), align: 'right'},
} satisfies ColumnSet<SamplingCell>

/** The named columns of a set, in the order given. */
export function pickColumns<R, K extends string>(set: Record<K, ReportColumn<R>>, keys: readonly K[]): ReportColumn<R>[] {
  return keys.map((k) => set[k])
}
