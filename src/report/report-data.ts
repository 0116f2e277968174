/**
 * What a report says, gathered from the store once and then handed to every renderer (terminal,
 * Markdown, CSV, HTML, and `--json` as is): detections passing the filter, the resource use of recent
 * runs, sampling accuracy from `estimates`, the store summary, traffic and detection timelines, top
 * talkers and detections by type.
 */
import {DETECTION_PASSES, flowRangeSql, summarizeStore} from '../io/index.js'
import type {Detection, DetectionPass, FlowStore, StoreSummary} from '../io/index.js'
import {UsageError} from '../core/index.js'

import {DEFAULT_REPORT_INCIDENTS, readIncidents} from './incidents-data.js'
import type {IncidentList} from './incidents-data.js'
import {epochUs, iso, whereOf} from './sql-where.js'
import {finiteOrNull, parseFeatures} from './detection-features.js'
import type {DetectionFeature} from './detection-features.js'
import type {Where} from './sql-where.js'
import type {ThinningView} from './stream-view.js'

export const DETECTION_PASS_NAMES = DETECTION_PASSES
export type DetectionPassName = DetectionPass

export const DEFAULT_REPORT_TOP = 50
export const DEFAULT_REPORT_TALKERS = 10
export const DEFAULT_REPORT_RUNS = 20

/** At most this many points in a timeline; the bucket is the smallest nice size that keeps under it. */
const MAX_TIMELINE_BUCKETS = 60
const NICE_BUCKETS_S = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400]

export interface ReportOptions {
  /** only this network (tenant) */
  network?: string
  /** detections whose window ends after this instant; flows active at or after it; runs and estimates since */
  since?: Date
  /** detections whose window starts before this instant; flows that started before it */
  until?: Date
  /** only this attack type */
  type?: string
  /** only detections scoring at least this */
  minScore?: number
  /** only detections of this pass */
  pass?: DetectionPassName
  /** only incidents of at least this severity (1..5); detections are not filtered by it */
  minSeverity?: number
  /** how many detections to list (all of them count in totals, types and the timeline); default 50 */
  top?: number
  /** how many incidents to list (all of them count in totals and types); default 20 */
  incidentsTop?: number
  /** how many top talkers; default 10 */
  talkers?: number
  /** how many recent runs; default 20 */
  runs?: number
  /** the clock, for `generatedAt` */
  now?: () => number
}


/**
 * A stored `Detection` as the report shows it: times as ISO text, `attackType` as `type`, the features
 * as stored, with its score over threshold and when it was written.
 */
export interface DetectionItem extends Pick<Detection, 'network' | 'address' | 'model' | 'score' | 'threshold'> {
  asn: number | null
  asName: string | null
  windowStart: string
  windowEnd: string
  pass: string
  /** score / threshold: above 1 is over the line */
  ratio: number | null
  type: Detection['attackType']
  features: DetectionFeature[]
  runId: number | null
  detectedAt: string
  /** the incident it belongs to; null until incidents are built for it */
  incidentId: string | null
}

export interface DetectionTypeCount {
  type: string
  count: number
  addresses: number
  maxScore: number
}

export interface DetectionBucket {
  bucketStart: string
  type: string
  count: number
}

export interface TrafficBucket {
  bucketStart: string
  flows: number
  packets: number
  bytes: number
  /** bytes scaled by each record's sampling rate: an estimate of the traffic before sampling */
  bytesScaled: number
}

export interface TopTalker {
  address: string
  flows: number
  packets: number
  bytes: number
  bytesScaled: number
  /** detections of this address that pass the filter */
  detections: number
}

export interface RunItem {
  runId: number
  kind: string
  status: string
  network: string | null
  startedAt: string
  finishedAt: string | null
  wallS: number | null
  cpuUserS: number | null
  cpuSystemS: number | null
  /** user + system */
  cpuS: number | null
  peakRssMb: number | null
  peakRssTotalMb: number | null
  addresses: number | null
  addressesPerS: number | null
  addressesPerCpuS: number | null
  buckets: number | null
  mapHits: number | null
  mapMisses: number | null
  reuseRatio: number | null
  failures: number | null
  detections: number | null
  /** `stream`/`collect --rate-limit`: per network with a budget, from the run's details ([] without) */
  thinning: ThinningView[]
}

/** Accuracy of one estimator at one rate: the estimates of totals (no key) of a (sampler, metric, rate). */
export interface SamplingCell {
  /** `estimates`: scored here against their truth; `benchmark`: summaries scored by `bench sampling` */
  origin: 'estimates' | 'benchmark'
  sampler: string
  metric: string
  /** sampling probability 1/N */
  rate: number
  /** N of 1-in-N */
  oneInN: number
  /** estimates in the cell, or the trials of a benchmark */
  n: number
  /** of which have a ground truth */
  withTruth: number
  /** √(mean((estimate − truth)/truth)²) over those with a truth */
  relRmse: number | null
  /** mean (estimate − truth)/truth */
  relBias: number | null
  /** share of the 95% intervals that held the truth */
  coverage: number | null
  /** mean reported stderr / estimate */
  meanRelStderr: number | null
  /** √(1/c), c = rate × packets of the sampled population: the relative standard error of a packet total */
  bound: number | null
}

export interface SamplingBoundPoint {
  rate: number
  /** expected number of samples at this rate */
  c: number
  /** √(1/c) */
  relError: number
}

export interface ReportData {
  generatedAt: string
  db: string
  filter: {
    network: string | null
    since: string | null
    until: string | null
    type: string | null
    minScore: number | null
    minSeverity: number | null
    pass: string | null
    top: number
  }
  /** the incidents passing the filter (network, time, type, min severity), most severe first: what a person reads first */
  incidents: IncidentList
  summary: StoreSummary
  /** the window detections behind the incidents, for drill-down */
  detections: {
    /** detections passing the filter */
    total: number
    /** distinct (network, address) among them */
    addresses: number
    maxScore: number | null
    /** the top ones by score */
    rows: DetectionItem[]
    byType: DetectionTypeCount[]
    timeline: DetectionBucket[]
  }
  traffic: {
    bucketSeconds: number
    from: string | null
    to: string | null
    timeline: TrafficBucket[]
    topTalkers: TopTalker[]
  }
  runs: RunItem[]
  sampling: {
    /** estimate rows looked at (totals and per-key) */
    estimates: number
    /** per-key estimates (hosts, ports…), counted but not scored here */
    keyed: number
    /** packets N of the sampled population the bound curve is drawn for (median over the cells) */
    population: number | null
    cells: SamplingCell[]
    bound: SamplingBoundPoint[]
  }
}

/** What `flowscope report` returns (its `--json` result): the report, and the HTML file it wrote. */
export interface ReportResult extends ReportData {
  /** absolute path of the `--html` file, or null */
  htmlFile: string | null
}

/** Gathers a report from the store: read-only, a handful of aggregate queries. */
export async function buildReport(store: FlowStore, options: ReportOptions = {}): Promise<ReportData> {
  const top = positiveInt(options.top ?? DEFAULT_REPORT_TOP, 'top')
  const talkers = positiveInt(options.talkers ?? DEFAULT_REPORT_TALKERS, 'talkers')
  const runLimit = positiveInt(options.runs ?? DEFAULT_REPORT_RUNS, 'runs')
  if (options.since && options.until && options.since.getTime() >= options.until.getTime()) {
    throw new UsageError('--since must be earlier than --until')
  }
  if (options.minScore !== undefined && !Number.isFinite(options.minScore)) throw new UsageError('--min-score must be a number')
  const now = options.now ?? Date.now
  const incidentsTop = positiveInt(options.incidentsTop ?? DEFAULT_REPORT_INCIDENTS, 'incidents-top')
  const incidents = await readIncidents(
    store,
    {
      ...(options.network === undefined ? {} : {network: options.network}),
      ...(options.since === undefined ? {} : {since: options.since}),
      ...(options.until === undefined ? {} : {until: options.until}),
      ...(options.type === undefined ? {} : {type: options.type}),
      ...(options.minSeverity === undefined ? {} : {minSeverity: options.minSeverity}),
    },
    incidentsTop,
  )

  const det = detectionWhere(options)
  const [detTotals] = await store.all<{n: bigint; addresses: bigint; max_score: number | null}>(
    `SELECT count(*) AS n, count(DISTINCT (network, address)) AS addresses, max(score) AS max_score FROM detections WHERE ${det.where}`,
    det.params,
  )
  const detRows = await store.all<RawDetection>(
    `SELECT network, address, asn, as_name, ${iso('window_start')} AS window_start, ${iso('window_end')} AS window_end,
            model, pass, score, threshold, attack_type, CAST(top_features AS VARCHAR) AS top_features, run_id,
            ${iso('detected_at')} AS detected_at, incident_id
       FROM detections WHERE ${det.where}
      ORDER BY score DESC, window_start, network, address, model, pass
      LIMIT ${top}`,
    det.params,
  )
  const byType = await store.all<{type: string; n: bigint; addresses: bigint; max_score: number}>(
    `SELECT attack_type AS type, count(*) AS n, count(DISTINCT (network, address)) AS addresses, max(score) AS max_score
       FROM detections WHERE ${det.where} GROUP BY attack_type ORDER BY n DESC, type`,
    det.params,
  )

  const flows = flowWhere(options)
  const [span] = await store.all<{first_us: bigint | null; last_us: bigint | null}>(
    `SELECT min(epoch_us(ts_start)) AS first_us, max(epoch_us(ts_end)) AS last_us FROM flows WHERE ${flows.where}`,
    flows.params,
  )
  const [detSpan] = await store.all<{first_us: bigint | null; last_us: bigint | null}>(
    `SELECT min(epoch_us(window_start)) AS first_us, max(epoch_us(window_end)) AS last_us FROM detections WHERE ${det.where}`,
    det.params,
  )
  const sinceUs = epochUs(options.since)
  const untilUs = epochUs(options.until)
  const {fromUs, toUs} = timelineSpan(
    {fromUs: nullable(span?.first_us), toUs: nullable(span?.last_us)},
    {fromUs: nullable(detSpan?.first_us), toUs: nullable(detSpan?.last_us)},
    sinceUs,
    untilUs,
  )
  const bucketS = chooseBucketSeconds(fromUs, toUs)
  const bucketUs = BigInt(bucketS) * 1_000_000n

  const trafficRows = await store.all<{b: bigint; flows: bigint; packets: bigint; bytes: bigint; bytes_scaled: bigint}>(
    `SELECT (${clampTo('epoch_us(ts_start)', sinceUs)} // ${bucketUs}) * ${bucketUs} AS b, count(*) AS flows, sum(packets)::HUGEINT AS packets,
            sum(bytes)::HUGEINT AS bytes, sum(bytes::HUGEINT * sampling_rate) AS bytes_scaled
       FROM flows WHERE ${flows.where} GROUP BY b ORDER BY b`,
    flows.params,
  )
  const detBuckets = await store.all<{b: bigint; type: string; n: bigint}>(
    `SELECT (${clampTo('epoch_us(window_start)', fromUs, toUs)} // ${bucketUs}) * ${bucketUs} AS b, attack_type AS type, count(*) AS n
       FROM detections WHERE ${det.where} GROUP BY b, type ORDER BY b, type`,
    det.params,
  )

  const talkerRows = await store.all<{address: string; flows: bigint; packets: bigint; bytes: bigint; bytes_scaled: bigint; detections: bigint | null}>(
    `WITH t AS (
       SELECT src_ip AS address, count(*) AS flows, sum(packets)::HUGEINT AS packets, sum(bytes)::HUGEINT AS bytes,
              sum(bytes::HUGEINT * sampling_rate) AS bytes_scaled
         FROM flows WHERE ${flows.where} GROUP BY src_ip ORDER BY bytes_scaled DESC, address LIMIT ${talkers}),
     d AS (SELECT address, count(*) AS n FROM detections WHERE ${det.where} GROUP BY address)
     SELECT t.*, d.n AS detections FROM t LEFT JOIN d USING (address) ORDER BY t.bytes_scaled DESC, t.address`,
    {...flows.params, ...det.params},
  )

  const runs = await readRuns(store, options, runLimit)
  const sampling = await readSampling(store, options)
  const summary = await summarizeStore(store, {...(options.network === undefined ? {} : {network: options.network}), top: talkers})

  return {
    generatedAt: new Date(now()).toISOString(),
    db: store.path,
    filter: {
      network: options.network ?? null,
      since: options.since ? options.since.toISOString() : null,
      until: options.until ? options.until.toISOString() : null,
      type: options.type ?? null,
      minScore: options.minScore ?? null,
      minSeverity: options.minSeverity ?? null,
      pass: options.pass ?? null,
      top,
    },
    incidents,
    summary,
    detections: {
      total: Number(detTotals?.n ?? 0),
      addresses: Number(detTotals?.addresses ?? 0),
      maxScore: detTotals?.max_score ?? null,
      rows: detRows.map(toDetectionItem),
      byType: byType.map((r) => ({type: r.type, count: Number(r.n), addresses: Number(r.addresses), maxScore: r.max_score})),
      timeline: detBuckets.map((r) => ({bucketStart: usToIso(r.b), type: r.type, count: Number(r.n)})),
    },
    traffic: {
      bucketSeconds: bucketS,
      from: fromUs === undefined ? null : usToIso(fromUs),
      to: toUs === undefined ? null : usToIso(toUs),
      timeline: fillTraffic(trafficRows, fromUs, toUs, bucketUs),
      topTalkers: talkerRows.map((r) => ({
        address: r.address,
        flows: Number(r.flows),
        packets: Number(r.packets),
        bytes: Number(r.bytes),
        bytesScaled: Number(r.bytes_scaled),
        detections: Number(r.detections ?? 0),
      })),
    },
    runs,
    sampling,
  }
}

/** Detections overlapping [since, until), with the other filters; parameters are prefixed `d_`. */
function detectionWhere(o: ReportOptions): Where {
  return whereOf([
    ['network = $d_network', 'd_network', o.network],
    ['window_end > make_timestamp($d_since::BIGINT)', 'd_since', epochUs(o.since)],
    ['window_start < make_timestamp($d_until::BIGINT)', 'd_until', epochUs(o.until)],
    ['attack_type = $d_type', 'd_type', o.type],
    ['score >= $d_min_score', 'd_min_score', o.minScore],
    ['pass = $d_pass', 'd_pass', o.pass],
  ])
}

/** Flows overlapping [since, until) of the network, as `flows` and `top` select them; prefix `f_`. */
function flowWhere(o: ReportOptions): Where {
  const range = flowRangeSql(
    {
      mode: 'overlapping',
      network: o.network,
      since: epochUs(o.since),
      until: epochUs(o.until),
    },
    {prefix: 'f_'},
  )
  return {where: range.where, params: range.params}
}

interface RawDetection {
  network: string
  address: string
  asn: number | null
  as_name: string | null
  window_start: string
  window_end: string
  model: string
  pass: string
  score: number
  threshold: number
  attack_type: string
  top_features: string | null
  run_id: number | null
  detected_at: string
  incident_id: string | null
}

function toDetectionItem(r: RawDetection): DetectionItem {
  return {
    network: r.network,
    address: r.address,
    asn: r.asn === null ? null : Number(r.asn),
    asName: r.as_name,
    windowStart: r.window_start,
    windowEnd: r.window_end,
    model: r.model,
    pass: r.pass,
    score: r.score,
    threshold: r.threshold,
    ratio: r.threshold > 0 ? r.score / r.threshold : null,
    type: r.attack_type,
    features: parseFeatures(r.top_features),
    runId: r.run_id === null ? null : Number(r.run_id),
    detectedAt: r.detected_at,
    incidentId: r.incident_id,
  }
}

async function readRuns(store: FlowStore, o: ReportOptions, limit: number): Promise<RunItem[]> {
  const {where, params} = whereOf([
    // a run over every network (network NULL) is part of every network's history
    ['(network = $r_network OR network IS NULL)', 'r_network', o.network],
    ['coalesce(finished_at, started_at) >= make_timestamp($r_since::BIGINT)', 'r_since', epochUs(o.since)],
    ['started_at < make_timestamp($r_until::BIGINT)', 'r_until', epochUs(o.until)],
  ])
  const rows = await store.all<Record<string, unknown>>(
    `SELECT run_id, kind, status, network, ${iso('started_at')} AS started_at, ${iso('finished_at')} AS finished_at,
            wall_s, cpu_user_s, cpu_system_s, peak_rss_mb, peak_rss_total_mb, addresses, addresses_per_s,
            addresses_per_cpu_s, buckets, map_hits, map_misses, reuse_ratio, failures, detections,
            json_extract(details, '$.thinning')::VARCHAR AS thinning
       FROM runs WHERE ${where}
      ORDER BY started_at DESC, run_id DESC LIMIT ${limit}`,
    params,
  )
  return rows.map((r) => {
    const user = finiteOrNull(r.cpu_user_s)
    const system = finiteOrNull(r.cpu_system_s)
    return {
      runId: Number(r.run_id),
      kind: String(r.kind),
      status: String(r.status),
      network: r.network === null ? null : String(r.network),
      startedAt: String(r.started_at),
      finishedAt: r.finished_at === null ? null : String(r.finished_at),
      wallS: finiteOrNull(r.wall_s),
      cpuUserS: user,
      cpuSystemS: system,
      cpuS: user === null && system === null ? null : (user ?? 0) + (system ?? 0),
      peakRssMb: finiteOrNull(r.peak_rss_mb),
      peakRssTotalMb: finiteOrNull(r.peak_rss_total_mb),
      addresses: finiteOrNull(r.addresses),
      addressesPerS: finiteOrNull(r.addresses_per_s),
      addressesPerCpuS: finiteOrNull(r.addresses_per_cpu_s),
      buckets: finiteOrNull(r.buckets),
      mapHits: finiteOrNull(r.map_hits),
      mapMisses: finiteOrNull(r.map_misses),
      reuseRatio: finiteOrNull(r.reuse_ratio),
      failures: finiteOrNull(r.failures),
      detections: finiteOrNull(r.detections),
      thinning: thinningOf(r.thinning),
    }
  })
}

/** The `thinning` list a stream run's details hold; anything else (older runs, other kinds) is none. */
function thinningOf(v: unknown): ThinningView[] {
  if (typeof v !== 'string') return []
  try {
    const list: unknown = JSON.parse(v)
    return Array.isArray(list) ? list.filter((t): t is ThinningView => typeof t === 'object' && t !== null && typeof (t as ThinningView).network === 'string') : []
  } catch {
    return []
  }
}

/**
 * Sampling accuracy per (sampler, metric, rate), from the two kinds of rows in `estimates`:
 * - estimates of totals beside their ground truth (`flowscope sample`): the relative error of each is
 *   scored here (RMSE, bias, interval coverage);
 * - summaries already scored by `flowscope bench sampling` (`rmse_bytes`, `bias_bytes`,
 *   `coverage_bytes`, `theoretical_rel_stderr`…, no truth): read as they are, metric `total_<what>`.
 * `rate` is stored as 1/N; a value above 1 is read as N itself. The bound √(1/c) needs the packets N
 * of the sampled population (c = rate × N): the truth of the packet total of the same sample, else the
 * packets of the sample's parent source, else the sample's own packets × its rate; a benchmark gives
 * the bound itself. Estimates not tied to a source (benchmarks) are kept under a network filter.
 */
async function readSampling(store: FlowStore, o: ReportOptions): Promise<ReportData['sampling']> {
  const {where, params} = whereOf([
    ['(e.source_id IS NULL OR s.network = $s_network OR ps.network = $s_network)', 's_network', o.network],
    ['e.created_at >= make_timestamp($s_since::BIGINT)', 's_since', epochUs(o.since)],
    ['e.created_at < make_timestamp($s_until::BIGINT)', 's_until', epochUs(o.until)],
  ])
  const rows = await store.all<EstimateRow>(
    `SELECT e.run_id, e.source_id, e.sampler, CASE WHEN e.rate > 1 THEN 1 / e.rate ELSE e.rate END AS rate, e.metric, e.key,
            e.estimate, e.stderr, e.ci_low, e.ci_high, e.truth,
            s.packets::DOUBLE AS src_packets, s.sampling_rate::DOUBLE AS src_rate, ps.packets::DOUBLE AS parent_packets,
            TRY_CAST(json_extract_string(r.details, '$.trials') AS INTEGER) AS trials
       FROM estimates e
       LEFT JOIN sources s ON s.source_id = e.source_id
       LEFT JOIN sources ps ON ps.source_id = s.parent_source
       LEFT JOIN runs r ON r.run_id = e.run_id
      WHERE e.rate > 0 AND ${where}
      ORDER BY e.created_at, e.run_id, e.source_id, e.metric`,
    params,
  )
  return scoreSampling(rows)
}

export interface EstimateRow {
  run_id: number | null
  source_id: number | null
  sampler: string
  rate: number
  metric: string
  key: string | null
  estimate: number | null
  stderr: number | null
  ci_low: number | null
  ci_high: number | null
  truth: number | null
  src_packets: number | null
  src_rate: number | null
  parent_packets: number | null
  trials: number | null
}

const BENCH_METRIC = /^(rmse|bias|coverage)_(.+)$/
const BENCH_BOUND = 'theoretical_rel_stderr'

interface CellAcc {
  sampler: string
  metric: string
  rate: number
  origin: SamplingCell['origin']
  n: number
  errors: number[]
  covered: number[]
  relStderr: number[]
  populations: number[]
  bench: {rmse?: number; bias?: number; coverage?: number}
}

/** The scoring of `readSampling`, on plain rows. */
export function scoreSampling(rows: readonly EstimateRow[]): ReportData['sampling'] {
  const cells = new Map<string, CellAcc>()
  const cell = (sampler: string, metric: string, rate: number, origin: SamplingCell['origin']): CellAcc => {
    const k = JSON.stringify([origin, sampler, metric, rate])
    let c = cells.get(k)
    if (!c) {
      c = {sampler, metric, rate, origin, n: 0, errors: [], covered: [], relStderr: [], populations: [], bench: {}}
      cells.set(k, c)
    }
    return c
  }
  // packets of the sampled population of each (run, source): the truth of its packet total when known
  const truthPackets = new Map<string, number>()
  for (const r of rows) {
    if (r.key === null && (r.metric === 'total_packets' || r.metric === 'packets') && r.truth !== null && r.truth > 0) {
      truthPackets.set(`${r.run_id}/${r.source_id}`, r.truth)
    }
  }
  const benchBounds = new Map<string, number>()
  let keyed = 0
  for (const r of rows) {
    if (r.key !== null) {
      keyed++
      continue
    }
    // a row of no source and no truth is a benchmark's summary; those not read here (top-k recall…) are only counted
    if (r.truth === null && r.source_id === null) {
      const bench = BENCH_METRIC.exec(r.metric)
      if (r.metric === BENCH_BOUND && r.estimate !== null && r.estimate > 0) benchBounds.set(JSON.stringify([r.sampler, r.rate]), r.estimate)
      else if (bench) {
        const c = cell(r.sampler, `total_${bench[2]}`, r.rate, 'benchmark')
        c.n = Math.max(c.n, r.trials ?? 1)
        if (r.estimate !== null && Number.isFinite(r.estimate)) c.bench[bench[1] as 'rmse' | 'bias' | 'coverage'] = r.estimate
      }
      continue
    }
    const c = cell(r.sampler, r.metric, r.rate, 'estimates')
    c.n++
    if (r.estimate !== null && r.truth !== null && r.truth !== 0) {
      c.errors.push((r.estimate - r.truth) / r.truth)
      if (r.ci_low !== null && r.ci_high !== null) c.covered.push(r.truth >= r.ci_low && r.truth <= r.ci_high ? 1 : 0)
    }
    if (r.estimate !== null && r.estimate !== 0 && r.stderr !== null) c.relStderr.push(r.stderr / Math.abs(r.estimate))
    const population =
      truthPackets.get(`${r.run_id}/${r.source_id}`) ??
      r.parent_packets ??
      (r.src_packets !== null ? r.src_packets * Math.max(1, r.src_rate ?? 1) : null)
    if (population !== null && population > 0) c.populations.push(population)
  }

  const out: SamplingCell[] = [...cells.values()].map((c) => {
    const benchBound = c.origin === 'benchmark' ? benchBounds.get(JSON.stringify([c.sampler, c.rate])) : undefined
    const population = c.populations.length > 0 ? mean(c.populations) : null
    return {
      origin: c.origin,
      sampler: c.sampler,
      metric: c.metric,
      rate: c.rate,
      oneInN: Math.round(1 / c.rate),
      n: c.n,
      withTruth: c.origin === 'benchmark' ? c.n : c.errors.length,
      relRmse: c.origin === 'benchmark' ? (c.bench.rmse ?? null) : c.errors.length > 0 ? Math.sqrt(mean(c.errors.map((e) => e * e))) : null,
      relBias: c.origin === 'benchmark' ? (c.bench.bias ?? null) : c.errors.length > 0 ? mean(c.errors) : null,
      coverage: c.origin === 'benchmark' ? (c.bench.coverage ?? null) : c.covered.length > 0 ? mean(c.covered) : null,
      meanRelStderr: c.relStderr.length > 0 ? mean(c.relStderr) : null,
      bound: benchBound ?? (population !== null ? Math.sqrt(1 / (c.rate * population)) : null),
    }
  })
  out.sort((a, b) => cmp(a.metric, b.metric) || cmp(a.origin, b.origin) || cmp(a.sampler, b.sampler) || b.rate - a.rate)

  // one curve for the chart: N implied by each cell's bound (N = 1 / (rate · bound²)), their median
  const implied = out.filter((c) => c.bound !== null && c.bound > 0).map((c) => 1 / (c.rate * c.bound! * c.bound!))
  const population = implied.length === 0 ? null : median(implied)
  const rates = [...new Set(out.map((c) => c.rate))].sort((a, b) => a - b)
  const bound: SamplingBoundPoint[] =
    population === null ? [] : rates.map((rate) => ({rate, c: rate * population, relError: Math.sqrt(1 / (rate * population))}))
  return {estimates: rows.length, keyed, population, cells: out, bound}
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The smallest nice bucket that keeps the timeline under MAX_TIMELINE_BUCKETS points. */
export function chooseBucketSeconds(fromUs: bigint | undefined, toUs: bigint | undefined): number {
  if (fromUs === undefined || toUs === undefined || toUs <= fromUs) return 60
  const spanS = Number(toUs - fromUs) / 1e6
  return NICE_BUCKETS_S.find((b) => spanS / b <= MAX_TIMELINE_BUCKETS) ?? NICE_BUCKETS_S[NICE_BUCKETS_S.length - 1]!
}

/** Every bucket from `from` to `to`, with zeros where no flow started: a regular series to chart. */
function fillTraffic(
  rows: {b: bigint; flows: bigint; packets: bigint; bytes: bigint; bytes_scaled: bigint}[],
  fromUs: bigint | undefined,
  toUs: bigint | undefined,
  bucketUs: bigint,
): TrafficBucket[] {
  const byBucket = new Map(rows.map((r) => [r.b, r]))
  const first = rows[0]?.b
  const last = rows[rows.length - 1]?.b
  const start = fromUs === undefined ? first : floorTo(fromUs, bucketUs)
  const end = toUs === undefined ? last : floorTo(toUs - 1n, bucketUs)
  if (start === undefined || end === undefined || end < start) return rows.map(toTrafficBucket)
  const out: TrafficBucket[] = []
  for (let b = start; b <= end && out.length <= MAX_TIMELINE_BUCKETS + 1; b += bucketUs) {
    const r = byBucket.get(b)
    out.push(r ? toTrafficBucket(r) : {bucketStart: usToIso(b), flows: 0, packets: 0, bytes: 0, bytesScaled: 0})
  }
  return out
}

function toTrafficBucket(r: {b: bigint; flows: bigint; packets: bigint; bytes: bigint; bytes_scaled: bigint}): TrafficBucket {
  return {bucketStart: usToIso(r.b), flows: Number(r.flows), packets: Number(r.packets), bytes: Number(r.bytes), bytesScaled: Number(r.bytes_scaled)}
}

function floorTo(us: bigint, step: bigint): bigint {
  const q = us / step
  return (us < 0n && q * step !== us ? q - 1n : q) * step
}

function usToIso(us: bigint): string {
  return new Date(Number(us / 1000n)).toISOString()
}

/**
 * `expr`, or `since` when it is earlier (a flow or window that began before `since` counts in the first
 * bucket), or the last µs before `until` when it is later (in the last bucket).
 */
function clampTo(expr: string, sinceUs: bigint | undefined, untilUs?: bigint): string {
  const low = sinceUs === undefined ? expr : `greatest(${expr}, ${sinceUs}::BIGINT)`
  return untilUs === undefined ? low : `least(${low}, ${untilUs - 1n}::BIGINT)`
}

/** A span of time in µs since the epoch; undefined ends are unknown. */
export interface SpanUs {
  fromUs: bigint | undefined
  toUs: bigint | undefined
}

/**
 * The span the traffic timeline covers: the flows' own span, inside [since, until). A detection's
 * window is not data: an analysis window starts before the first flow it holds and a beaconing
 * window of an hour or a day ends long after the last, so taking the detections' span stretched 16
 * minutes of flows over a whole day. Their span is used only when there are no flows to show; the
 * detections are then marked in the bucket their window starts in, clamped into this span.
 */
export function timelineSpan(flows: SpanUs, detections: SpanUs, sinceUs: bigint | undefined, untilUs: bigint | undefined): SpanUs {
  const data = flows.fromUs !== undefined && flows.toUs !== undefined ? flows : detections
  const fromUs = data.fromUs === undefined ? sinceUs : maxDefined(data.fromUs, sinceUs)
  const toUs = data.toUs === undefined ? untilUs : minDefined(data.toUs, untilUs)
  return {fromUs, toUs}
}


function nullable(v: bigint | null | undefined): bigint | undefined {
  return v === null ? undefined : v
}

function minDefined(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a < b ? a : b
}

function maxDefined(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a > b ? a : b
}


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function positiveInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`--${what} must be a whole number ≥ 1, got ${v}`)
  return v
}
