/**
 * The sampling-rate benchmark (`bench sampling`): rates × packet samplers × seeded trials over one
 * `PacketTable`, each trial's estimates scored against the ground truth of the full table.
 *
 * Metrics per (rate, sampler), over the trials:
 * - packets, bytes, TCP flows: relative bias (with its standard error), relative RMSE, coverage of the
 *   95% intervals, mean reported relative standard error; the TCP flow estimate is scored against TCP
 *   flow records with SYN and, separately, against SYN packets (its own target);
 * - hosts (source hosts, what they sent): weighted relative error of bytes Σ|B̂_h − B_h| / Σ B_h (hosts
 *   never sampled count fully), and the sFlow rule of thumb on packets — share of sampled hosts
 *   (weighted by true packets) whose relative error is within 196·√(1/c_h) %, c_h = the host's sampled
 *   packets, beside the weighted mean of that bound;
 * - top-k talkers by bytes: recall and precision of the estimated top k against the true top k;
 * - KS distance between the true and the estimated flow-size tail (`estimateFlowSizeTail`; sampled
 *   records are the sampled packets of each true flow record);
 * - protocol mix: total-variation distance between estimated and true packet shares by protocol;
 * - distinct hosts: relative error of the observed count and of Chao1.
 *
 * Seeds: trial t of sampler s at rate N uses deriveSeed(seed, N, hash(s), t), recorded per cell, so one
 * cell can be re-run alone and a sweep with more rates keeps the seeds of the others.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'

import {IPPROTO_TCP, TCP_SYN, UsageError} from '../core/index.js'
import {createRng} from '../core/index.js'
import {
  chao1,
  DEFAULT_TAIL_MIN_SAMPLED,
  designEstimate,
  designTotal,
  effectiveRate,
  estimateFlowSizeTail,
  flowSizeKsDistance,
  sampleDesign,
  topOrder,
  type FlowSizeDistribution,
} from './estimators.js'
import {computeGroundTruth, type GroundTruth} from './ground-truth.js'
import {createPacketSampler, PACKET_SAMPLER_NAMES, type PacketSample, type PacketSamplerName} from './packet-samplers.js'
import type {PacketTable} from './packet-table.js'
import {deriveSeed, hashString, normalEstimate, Z95, type Estimate} from './stats.js'
import {workerEntry} from '../core/index.js'

/** big records are packed into 23 bits of a row word (see TrialScorer) */
const MAX_PACKED_RECORDS = 1 << 23

export const DEFAULT_BENCH_RATES = [10, 100, 256, 512, 1000, 2048, 4096] as const
export const DEFAULT_BENCH_TRIALS = 100

export interface SamplingBenchmarkOptions {
  /** N of each 1-in-N rate (default 10, 100, 256, 512, 1000, 2048, 4096) */
  rates?: readonly number[]
  /** packet samplers (default all four) */
  samplers?: readonly PacketSamplerName[]
  /** trials per (rate, sampler), default 100 */
  trials?: number
  /** base seed, default 1 */
  seed?: number
  /** k of the top-k talkers, default 10 */
  topK?: number
  /** ground truth of `table`, when the caller already has it */
  truth?: GroundTruth
  /** trials done so far and in all */
  onProgress?: (done: number, total: number) => void
}

/** How an estimator did over the trials; errors are relative to the truth. */
export interface ErrorSummary {
  /** mean of (estimate − truth) / truth */
  bias: number
  /** standard error of that mean: |bias| within 3 of these is consistent with no bias */
  biasStderr: number
  rmse: number
  /** share of trials whose 95% interval held the truth */
  coverage: number
  /** mean reported standard error / truth */
  meanRelStderr: number
}

export interface SamplingBenchmarkCell {
  rate: number
  sampler: PacketSamplerName
  trials: number
  /** seed of each trial */
  seeds: number[]
  meanSampledPackets: number
  /** √(1/c), c = packets / rate: relative standard error of a packet total under random 1-in-N sampling */
  theoreticalRelStderr: number
  packets: ErrorSummary
  bytes: ErrorSummary
  /** the SYN estimator against TCP flow records with SYN (what users want counted); null when there are none */
  tcpFlows: ErrorSummary | null
  /**
   * the same estimates against SYN-flagged packets, the estimator's own target: where this is unbiased
   * and `tcpFlows` is not, the gap is SYNs retransmitted (or flooded) within one flow
   */
  synPackets: ErrorSummary | null
  hosts: {
    /** Σ_h |B̂_h − B_h| / Σ_h B_h over source hosts, mean over trials */
    weightedRelError: number
    /** mean over trials of the packet-weighted mean of 1.96·√(1/c_h) over sampled hosts */
    ruleOfThumbBound: number
    /** packet-weighted share of sampled hosts whose packet estimate was within 1.96·√(1/c_h) */
    withinRuleShare: number
  }
  topK: {k: number; recall: number; precision: number}
  /** mean KS distance of the flow-size tail; null when no true flow reaches the tail (≥ 10·N packets) */
  flowSizeKs: number | null
  /** mean total-variation distance of protocol packet shares */
  protoMixTv: number
  distinctHosts: {observedRelError: number; chao1RelError: number}
  millis: number
}

export interface SamplingBenchmarkResult {
  seed: number
  trials: number
  rates: number[]
  samplers: PacketSamplerName[]
  topK: number
  truth: {
    packets: number
    bytes: number
    hosts: number
    flowKeys: number
    flowRecords: number
    tcpFlows: number
    synPackets: number
  }
  cells: SamplingBenchmarkCell[]
  seconds: number
}

/** Seed of one trial (see the module comment). */
export function trialSeed(baseSeed: number, rate: number, sampler: string, trial: number): number {
  return deriveSeed(baseSeed, rate, hashString(sampler), trial)
}

export function runSamplingBenchmark(table: PacketTable, options: SamplingBenchmarkOptions = {}): SamplingBenchmarkResult {
  const started = performance.now()
  const plan = planSweep(table, options)
  let done = 0
  const cells = runSamplingCells(table, plan.truth, plan.cells, plan, () => options.onProgress?.(++done, plan.total))
  return sweepResult(plan, cells, started)
}

/**
 * The same sweep with its cells spread over worker threads (`threads`, default the machine's
 * parallelism): each cell's trials are seeded from the cell alone, so the result is the one
 * `runSamplingBenchmark` gives, cell for cell. This thread runs a share of the cells itself; progress
 * counts its own trials as they go and the workers' when they report.
 */
export async function runSamplingBenchmarkParallel(
  table: PacketTable,
  options: SamplingBenchmarkOptions & {threads?: number} = {},
): Promise<SamplingBenchmarkResult> {
  const entry = samplingWorkerPath()
  const threads = Math.min(options.threads ?? availableParallelism(), plannedCellCount(options))
  if (threads <= 1 || !existsSync(entry)) return runSamplingBenchmark(table, options)
  const started = performance.now()
  const plan = planSweep(table, options)
  let done = 0
  const tick = (): void => options.onProgress?.(++done, plan.total)
  // every thread claims the next cell from one shared counter (the costliest, lowest rates first), so
  // the threads finish together however unequal the cells are
  const next = new Int32Array(new SharedArrayBuffer(4))
  const workers = Array.from({length: threads - 1}, () => {
    const worker = new Worker(entry, {workerData: {table, truth: plan.truth, cells: plan.cells, next, trials: plan.trials, seed: plan.seed, k: plan.k} satisfies SamplingWorkerJob})
    const result = new Promise<Array<[number, SamplingBenchmarkCell]>>((resolve, reject) => {
      worker.on('message', (m: SamplingWorkerMessage) => {
        if (m.type === 'trials') for (let i = 0; i < m.n; i++) tick()
        else resolve(m.cells)
      })
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`a sampling worker exited (${code}) before it finished`)))
    })
    return {worker, result}
  })
  try {
    const cells: SamplingBenchmarkCell[] = new Array<SamplingBenchmarkCell>(plan.cells.length)
    for (const [i, c] of runClaimedCells(table, plan.truth, plan.cells, next, plan, tick)) cells[i] = c
    for (const w of workers) for (const [i, c] of await w.result) cells[i] = c
    return sweepResult(plan, cells, started)
  } finally {
    await Promise.all(workers.map((w) => w.worker.terminate()))
  }
}

export interface SamplingWorkerJob {
  table: PacketTable
  truth: GroundTruth
  cells: SweepCell[]
  /** index of the next unclaimed cell, shared by every thread */
  next: Int32Array
  trials: number
  seed: number
  k: number
}

export type SamplingWorkerMessage = {type: 'trials'; n: number} | {type: 'cells'; cells: Array<[number, SamplingBenchmarkCell]>}

export interface SweepCell {
  rate: number
  sampler: PacketSamplerName
}

interface SweepPlan {
  rates: number[]
  samplers: PacketSamplerName[]
  truth: GroundTruth
  cells: SweepCell[]
  trials: number
  seed: number
  k: number
  total: number
}

function plannedCellCount(options: SamplingBenchmarkOptions): number {
  return (options.rates ?? DEFAULT_BENCH_RATES).length * (options.samplers ?? PACKET_SAMPLER_NAMES).length
}

function planSweep(table: PacketTable, options: SamplingBenchmarkOptions): SweepPlan {
  const rates = [...(options.rates ?? DEFAULT_BENCH_RATES)]
  const samplers = [...(options.samplers ?? PACKET_SAMPLER_NAMES)]
  const trials = Math.max(1, Math.floor(options.trials ?? DEFAULT_BENCH_TRIALS))
  const k = Math.max(1, options.topK ?? 10)
  const cells = rates.flatMap((rate) => samplers.map((sampler) => ({rate, sampler})))
  return {rates, samplers, truth: options.truth ?? computeGroundTruth(table, {topK: k}), cells, trials, seed: options.seed ?? 1, k, total: cells.length * trials}
}

/** Run the trials of some cells of a sweep; `onTrial` after each. */
export function runSamplingCells(
  table: PacketTable,
  truth: GroundTruth,
  cells: readonly SweepCell[],
  o: {trials: number; seed: number; k: number},
  onTrial: () => void,
): SamplingBenchmarkCell[] {
  const out: SamplingBenchmarkCell[] = []
  for (const [i, c] of runClaimedCells(table, truth, cells, new Int32Array(1), o, onTrial)) out[i] = c
  return out
}

/** Claim cells from the shared counter `next` and run them until none is left; returns [index, cell] pairs. */
export function runClaimedCells(
  table: PacketTable,
  truth: GroundTruth,
  cells: readonly SweepCell[],
  next: Int32Array,
  o: {trials: number; seed: number; k: number},
  onTrial: () => void,
): Array<[number, SamplingBenchmarkCell]> {
  const scorer = new TrialScorer(table, truth, o.k)
  const out: Array<[number, SamplingBenchmarkCell]> = []
  // claims go costliest first: the lowest rates keep the most packets (every thread sorts alike)
  const order = cells.map((_, i) => i).sort((a, b) => cells[a]!.rate - cells[b]!.rate || a - b)
  for (let claim = Atomics.add(next, 0, 1); claim < cells.length; claim = Atomics.add(next, 0, 1)) {
    const i = order[claim]!
    const {rate, sampler: name} = cells[i]!
    const cellStart = performance.now()
    const sampler = createPacketSampler(name, rate)
    const acc = new CellAccumulator(truth)
    const seeds: number[] = []
    for (let t = 0; t < o.trials; t++) {
      const s = trialSeed(o.seed, rate, name, t)
      seeds.push(s)
      const sample = sampler.sample(table, createRng(s))
      acc.add(scorer.score(sample))
      onTrial()
    }
    out.push([i, acc.summary(rate, name, seeds, o.k, performance.now() - cellStart)])
  }
  return out
}

function sweepResult(plan: SweepPlan, cells: SamplingBenchmarkCell[], started: number): SamplingBenchmarkResult {
  const truth = plan.truth
  return {
    seed: plan.seed,
    trials: plan.trials,
    rates: plan.rates,
    samplers: plan.samplers,
    topK: plan.k,
    truth: {
      packets: truth.packets,
      bytes: truth.bytes,
      hosts: truth.distinctHosts,
      flowKeys: truth.flowKeys,
      flowRecords: truth.flowRecords,
      tcpFlows: truth.tcpFlows,
      synPackets: truth.synPackets,
    },
    cells,
    seconds: (performance.now() - started) / 1000,
  }
}

function samplingWorkerPath(): string {
  return workerEntry('sampling/bench-sampling-worker.js')
}

/** One trial's scores. */
interface TrialScore {
  sampledPackets: number
  packets: Estimate
  bytes: Estimate
  tcpFlows: Estimate
  hostWeightedRelError: number
  ruleBound: number
  withinRule: number
  topRecall: number
  topPrecision: number
  /** NaN when the truth has no flow in the tail */
  flowSizeKs: number
  protoMixTv: number
  observedHosts: number
  chao1Hosts: number
}

/**
 * Scores samples of one table. All sums of a trial come from one pass over the sample (packets, or
 * flow keys for flow units) into scratch arrays that are reset through touched lists, so a trial costs
 * O(samples) whatever the table size; the formulas are the estimators' (`designTotal`, `chao1`, …).
 * Per-host sums are interleaved (one cache line per host) because the pass is bound by random memory
 * access.
 */
class TrialScorer {
  /** per host, 4 slots: sampled packets as source, Σbytes, Σbytes², sampled packets it appears in */
  private readonly host: Float64Array
  private readonly touched: Uint32Array
  private readonly protoCount = new Float64Array(256)
  /**
   * packet units: each table row as four words — source host, destination host, bytes, and
   * proto | SYN << 8 | (big record + 1) << 9 — so a sampled row costs one cache line, not one per
   * column. A big record is one of ≥ TAIL_MIN_SAMPLED packets (only those can reach the size tail).
   */
  private readonly rowPack: Uint32Array
  private readonly bigRecordCount: Uint32Array
  private readonly bigTouched: Uint32Array
  /** flow units: records of each flow key (CSR), by their size's index in `truth.flowSizes` */
  private readonly keyRecordStart: Uint32Array
  private readonly keyRecordSize: Uint32Array
  private readonly keptSizeCounts: Float64Array
  private readonly isTop: Uint8Array
  private readonly trueTop: number
  private estimates: Float64Array

  constructor(
    private readonly table: PacketTable,
    private readonly truth: GroundTruth,
    private readonly k: number,
  ) {
    const hosts = table.hosts.count
    this.host = new Float64Array(hosts * 4)
    this.touched = new Uint32Array(hosts)
    this.estimates = new Float64Array(Math.min(hosts, 1 << 16))
    this.isTop = new Uint8Array(hosts)
    const top = truth.topTalkers.subarray(0, k)
    for (const h of top) this.isTop[h] = 1
    this.trueTop = top.length

    // A record shows in a packet sample's tail only with ≥ TAIL_MIN_SAMPLED sampled packets, so only
    // records at least that large are counted: a small, cache-friendly counter array.
    const records = truth.flowRecords
    const bigId = new Int32Array(records).fill(-1)
    let big = 0
    for (let r = 0; r < records; r++) if (truth.recordPackets[r]! >= DEFAULT_TAIL_MIN_SAMPLED) bigId[r] = big++
    if (big >= MAX_PACKED_RECORDS) {
      throw new UsageError(`the capture has ${big} flow records of ${DEFAULT_TAIL_MIN_SAMPLED}+ packets; the sampling benchmark handles up to ${MAX_PACKED_RECORDS - 1}`, {
        hint: 'benchmark a smaller capture (--max-packets)',
      })
    }
    const pack = new Uint32Array(table.count * 4)
    const {srcHostId, dstHostId, bytes, proto, tcpFlags} = table
    for (let i = 0; i < table.count; i++) {
      const o = i << 2
      const pr = proto[i]!
      const syn = pr === IPPROTO_TCP && (tcpFlags[i]! & TCP_SYN) !== 0 ? 256 : 0
      pack[o] = srcHostId[i]!
      pack[o + 1] = dstHostId[i]!
      pack[o + 2] = bytes[i]!
      pack[o + 3] = (pr | syn | ((bigId[truth.recordOfRow[i]!]! + 1) << 9)) >>> 0
    }
    this.rowPack = pack
    this.bigRecordCount = new Uint32Array(big)
    this.bigTouched = new Uint32Array(big)

    const keys = table.flowKeys.count
    this.keyRecordStart = new Uint32Array(keys + 1)
    for (let r = 0; r < records; r++) this.keyRecordStart[truth.recordFlowKey[r]! + 1]!++
    for (let f = 0; f < keys; f++) this.keyRecordStart[f + 1]! += this.keyRecordStart[f]!
    const fill = this.keyRecordStart.slice(0, keys)
    const sizeIndex = new Map<number, number>()
    truth.flowSizes.sizes.forEach((x, i) => sizeIndex.set(x, i))
    this.keyRecordSize = new Uint32Array(records)
    for (let r = 0; r < records; r++) this.keyRecordSize[fill[truth.recordFlowKey[r]!]!++] = sizeIndex.get(truth.recordPackets[r]!)!
    this.keptSizeCounts = new Float64Array(truth.flowSizes.sizes.length)
  }

  score(sample: PacketSample): TrialScore {
    const {table, truth, host, touched, protoCount} = this
    const design = sampleDesign(sample)
    let nTouched = 0
    let nRecords = 0
    let p1 = 0
    let p2 = 0
    let b1 = 0
    let b2 = 0
    let syn1 = 0
    let syn2 = 0
    const flowUnits = sample.unit === 'flow' && sample.flowKeys !== undefined
    if (flowUnits) {
      const fk = table.flowKeys
      const keys = sample.flowKeys!
      for (let j = 0; j < keys.length; j++) {
        const f = keys[j]!
        const p = fk.packets[f]!
        const b = fk.bytes[f]!
        const y = fk.synPackets[f]!
        const h = fk.srcHostId[f]!
        const d = fk.dstHostId[f]!
        p1 += p
        p2 += p * p
        b1 += b
        b2 += b * b
        syn1 += y
        syn2 += y * y
        protoCount[fk.proto[f]!]! += p
        const o = h << 2
        if (host[o] === 0 && host[o + 3] === 0) touched[nTouched++] = h
        host[o]! += p
        host[o + 1]! += b
        host[o + 2]! += b * b
        host[o + 3]! += p
        const od = d << 2
        if (host[od] === 0 && host[od + 3] === 0) touched[nTouched++] = d
        host[od + 3]! += p
      }
    } else {
      const {rowPack: pack, bigRecordCount: recCount, bigTouched: recTouched} = this
      const rows = sample.rows
      for (let j = 0; j < rows.length; j++) {
        const w = rows[j]! << 2
        const b = pack[w + 2]!
        const meta = pack[w + 3]!
        b1 += b
        b2 += b * b
        syn1 += (meta >>> 8) & 1
        protoCount[meta & 0xff]!++
        const o = pack[w]! << 2
        if (host[o] === 0 && host[o + 3] === 0) touched[nTouched++] = o >>> 2
        host[o]!++
        host[o + 1]! += b
        host[o + 2]! += b * b
        host[o + 3]!++
        const od = pack[w + 1]! << 2
        if (host[od] === 0 && host[od + 3] === 0) touched[nTouched++] = od >>> 2
        host[od + 3]!++
        const r = (meta >>> 9) - 1
        if (r >= 0 && recCount[r]!++ === 0) recTouched[nRecords++] = r
      }
      p1 = rows.length
      p2 = p1
      syn2 = syn1
    }

    // totals and TCP flows
    const tp = designTotal(design, p1, p2)
    const tb = designTotal(design, b1, b2)
    const ts = designTotal(design, syn1, syn2)

    // hosts: weighted byte error, the rule of thumb on packets, top-k by bytes; distinct hosts
    if (this.estimates.length < nTouched) this.estimates = new Float64Array(nTouched * 2)
    const est = this.estimates
    const estHost = touched // reordered in place below: sources first
    let nSources = 0
    let absErr = 0
    let seenBytes = 0
    let ruleWeight = 0
    let ruleBound = 0
    let within = 0
    let f1 = 0
    let f2 = 0
    for (let j = 0; j < nTouched; j++) {
      const h = touched[j]!
      const o = h << 2
      const seen = host[o + 3]!
      if (seen === 1) f1++
      else if (seen === 2) f2++
      const c = host[o]!
      if (c > 0) {
        const eb = designEstimate(design, host[o + 1]!)
        const trueBytes = truth.hostBytes[h]!
        absErr += Math.abs(eb - trueBytes)
        seenBytes += trueBytes
        const truePackets = truth.hostPackets[h]!
        const ep = designEstimate(design, c)
        const bound = Z95 / Math.sqrt(c)
        ruleWeight += truePackets
        ruleBound += truePackets * bound
        if (Math.abs(ep - truePackets) <= bound * truePackets) within += truePackets
        est[nSources] = eb
        estHost[nSources++] = h // nSources ≤ j: never overwrites an entry still to be read
      }
      host[o] = 0
      host[o + 1] = 0
      host[o + 2] = 0
      host[o + 3] = 0
    }
    absErr += truth.bytes - seenBytes
    const order = topOrder(est.subarray(0, nSources), this.k)
    let hits = 0
    for (const j of order) if (this.isTop[estHost[j]!] === 1) hits++

    // protocol mix: total variation of packet shares
    let tv = 0
    for (let p = 0; p < 256; p++) {
      tv += Math.abs((p1 > 0 ? protoCount[p]! / p1 : 0) - (truth.packets > 0 ? truth.protoPackets[p]! / truth.packets : 0))
      protoCount[p] = 0
    }

    const flowSizeKs = flowUnits
      ? flowSizeKsDistance(truth.flowSizes, this.keptFlowSizes(sample.flowKeys!, sample.rate), 1)
      : flowSizeKsDistance(truth.flowSizes, estimateFlowSizeTail(this.sampledRecordSizes(nRecords), effectiveRate(design), {unit: 'packet'}))

    return {
      sampledPackets: p1,
      packets: normalEstimate(tp.estimate, tp.variance, p1),
      bytes: normalEstimate(tb.estimate, tb.variance, b1),
      tcpFlows: normalEstimate(ts.estimate, ts.variance, syn1),
      hostWeightedRelError: truth.bytes > 0 ? absErr / truth.bytes : 0,
      ruleBound: ruleWeight > 0 ? ruleBound / ruleWeight : 0,
      withinRule: ruleWeight > 0 ? within / ruleWeight : 0,
      topRecall: this.trueTop > 0 ? hits / this.trueTop : 1,
      topPrecision: order.length > 0 ? hits / order.length : 0,
      flowSizeKs,
      protoMixTv: tv / 2,
      observedHosts: nTouched,
      chao1Hosts: chao1(nTouched, f1, f2).estimate,
    }
  }

  /** Sampled packets of the big records the pass touched (and reset their counters). */
  private sampledRecordSizes(n: number): Float64Array {
    const {bigRecordCount: count, bigTouched: touched} = this
    const sizes = new Float64Array(n)
    for (let j = 0; j < n; j++) {
      const r = touched[j]!
      sizes[j] = count[r]!
      count[r] = 0
    }
    return sizes
  }

  /**
   * Flow units: every record of a kept flow key is whole and stands for N flows — the estimated
   * distribution on the truth's own size support (no sorting).
   */
  private keptFlowSizes(keys: Uint32Array, rate: number): FlowSizeDistribution {
    const {keyRecordStart: start, keyRecordSize: sizeOf, keptSizeCounts: counts} = this
    counts.fill(0)
    for (let j = 0; j < keys.length; j++) {
      const f = keys[j]!
      for (let r = start[f]!, e = start[f + 1]!; r < e; r++) counts[sizeOf[r]!]! += rate
    }
    return {sizes: this.truth.flowSizes.sizes, counts}
  }
}

class ErrorAccumulator {
  private n = 0
  private sum = 0
  private sumSq = 0
  private covered = 0
  private relSe = 0

  add(e: Estimate, truth: number): void {
    if (!(truth > 0)) return
    const rel = (e.estimate - truth) / truth
    this.n++
    this.sum += rel
    this.sumSq += rel * rel
    if (e.ci95[0] <= truth && truth <= e.ci95[1]) this.covered++
    this.relSe += e.stderr / truth
  }

  summary(): ErrorSummary | null {
    const n = this.n
    if (n === 0) return null
    const bias = this.sum / n
    const variance = n > 1 ? Math.max(0, (this.sumSq - n * bias * bias) / (n - 1)) : 0
    return {
      bias,
      biasStderr: Math.sqrt(variance / n),
      rmse: Math.sqrt(this.sumSq / n),
      coverage: this.covered / n,
      meanRelStderr: this.relSe / n,
    }
  }
}

class CellAccumulator {
  private readonly packets = new ErrorAccumulator()
  private readonly bytes = new ErrorAccumulator()
  private readonly tcp = new ErrorAccumulator()
  private readonly syn = new ErrorAccumulator()
  private n = 0
  private sampled = 0
  private hostErr = 0
  private ruleBound = 0
  private within = 0
  private recall = 0
  private precision = 0
  private ks = 0
  private ksTrials = 0
  private tv = 0
  private observed = 0
  private chao1 = 0

  constructor(private readonly truth: GroundTruth) {}

  add(s: TrialScore): void {
    const truth = this.truth
    this.n++
    this.packets.add(s.packets, truth.packets)
    this.bytes.add(s.bytes, truth.bytes)
    this.tcp.add(s.tcpFlows, truth.tcpFlows)
    this.syn.add(s.tcpFlows, truth.synPackets)
    this.sampled += s.sampledPackets
    this.hostErr += s.hostWeightedRelError
    this.ruleBound += s.ruleBound
    this.within += s.withinRule
    this.recall += s.topRecall
    this.precision += s.topPrecision
    if (Number.isFinite(s.flowSizeKs)) {
      this.ks += s.flowSizeKs
      this.ksTrials++
    }
    this.tv += s.protoMixTv
    this.observed += s.observedHosts
    this.chao1 += s.chao1Hosts
  }

  summary(rate: number, sampler: PacketSamplerName, seeds: number[], k: number, millis: number): SamplingBenchmarkCell {
    const truth = this.truth
    const n = Math.max(1, this.n)
    const hosts = truth.distinctHosts
    return {
      rate,
      sampler,
      trials: this.n,
      seeds,
      meanSampledPackets: this.sampled / n,
      theoreticalRelStderr: truth.packets > 0 ? Math.sqrt(rate / truth.packets) : 0,
      packets: this.packets.summary() ?? zeroSummary(),
      bytes: this.bytes.summary() ?? zeroSummary(),
      tcpFlows: this.tcp.summary(),
      synPackets: this.syn.summary(),
      hosts: {weightedRelError: this.hostErr / n, ruleOfThumbBound: this.ruleBound / n, withinRuleShare: this.within / n},
      topK: {k, recall: this.recall / n, precision: this.precision / n},
      flowSizeKs: this.ksTrials > 0 ? this.ks / this.ksTrials : null,
      protoMixTv: this.tv / n,
      distinctHosts: {
        observedRelError: hosts > 0 ? this.observed / n / hosts - 1 : 0,
        chao1RelError: hosts > 0 ? this.chao1 / n / hosts - 1 : 0,
      },
      millis,
    }
  }
}

function zeroSummary(): ErrorSummary {
  return {bias: 0, biasStderr: 0, rmse: 0, coverage: 1, meanRelStderr: 0}
}
