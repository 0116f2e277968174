/**
 * Sampling into the store: a sampled copy of a capture (or of stored flow records, by binomial
 * thinning) becomes a new source whose records carry `sampling_rate` N and whose parent is the full
 * source when that is in the store — so every later query extrapolates it, and the estimates beside the
 * truth go to `estimates` for the report. One transaction; the same sample (input, sampler, rate, seed)
 * stored again into the same network is a no-op.
 */
import {createHash} from 'node:crypto'
import {stat} from 'node:fs/promises'
import path from 'node:path'

import type {FlowStore} from '../io/index.js'
import type {FlowBatch} from '../core/index.js'
import {appendFlowBatches, contentHashFile, findDerivedSource, findSource, insertSource, nextSourceId, readFlowBatches} from '../io/index.js'
import type {Rng} from '../core/index.js'
import {describeSample} from './describe-sample.js'
import type {SamplePicture} from './describe-sample.js'
import {estimateFromFlows} from './estimators.js'
import type {FlowExtrapolation} from './estimators.js'
import {computeGroundTruth} from './ground-truth.js'
import {createPacketSampler} from './packet-samplers.js'
import type {PacketSamplerName} from './packet-samplers.js'
import {sampleCapture} from './sample-capture.js'
import type {Estimate} from './stats.js'
import {thinFlows} from './thinning.js'

export interface StoredSample {
  status: 'stored' | 'unchanged' | 'not-stored'
  sourceId: number | null
  parentSourceId: number | null
  records: number
  warnings: string[]
}

interface SourceRow {
  path: string
  sha256: string
  format: string
  content: string
  network: string
  samplingRate: number
  parent: number | null
  packets: number
}

async function storeSampledFlows(store: FlowStore, batches: readonly FlowBatch[], src: SourceRow): Promise<StoredSample> {
  const existing = await findDerivedSource(store, src.sha256, src.network)
  if (existing) {
    return {status: 'unchanged', sourceId: existing.source_id, parentSourceId: src.parent, records: Number(existing.flows), warnings: []}
  }
  return store.transaction(async () => {
    const id = await nextSourceId(store)
    const {flows: records, bytes, first, last} = await appendFlowBatches(store, batches, src.network, id)
    await insertSource(store, {
      sourceId: id,
      path: src.path,
      sha256: src.sha256,
      format: src.format,
      network: src.network,
      packets: src.packets,
      flows: records,
      bytes,
      tsFirstUs: Number.isFinite(first) ? Math.floor(first) : null,
      tsLastUs: Number.isFinite(last) ? Math.floor(last) : null,
      samplingRate: src.samplingRate,
      parentSource: src.parent,
      ingestedAtUs: Date.now() * 1000,
      content: src.content,
    })
    return {status: 'stored' as const, sourceId: id, parentSourceId: src.parent, records, warnings: []}
  })
}

export interface EstimateRow {
  metric: string
  key?: string | null
  estimate: Estimate
  truth?: number | null
}

/** Write estimates (and the truth when known) for the report's sampling-accuracy section. */
export async function writeEstimates(store: FlowStore, ctx: {runId?: number | null; sourceId: number | null; sampler: string; rate: number}, rows: readonly EstimateRow[]): Promise<void> {
  const now = Date.now() * 1000
  for (const r of rows) {
    await store.run(
      `INSERT INTO estimates (run_id, source_id, sampler, rate, metric, key, estimate, stderr, ci_low, ci_high, truth, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, make_timestamp($12::BIGINT))`,
      [ctx.runId ?? null, ctx.sourceId, ctx.sampler, 1 / ctx.rate, r.metric, r.key ?? null, r.estimate.estimate, r.estimate.stderr,
        r.estimate.ci95[0], r.estimate.ci95[1], r.truth ?? null, now],
    )
  }
}

export interface SampleCaptureIntoStoreOptions {
  sampler: PacketSamplerName
  rate: number
  seed: number
  rng: Rng
  /** network label of the stored sample */
  network: string
  /** network the full capture was ingested under (its parent link), default 'default' */
  sourceNetwork?: string
  top?: number
  /** compare with the full capture (default true) */
  truth?: boolean
  /** store the sampled flows (default true) */
  store?: boolean
}

export interface SampleCaptureIntoStoreResult extends StoredSample {
  file: string
  sampler: string
  rate: number
  seed: number
  picture: SamplePicture
}

export async function sampleCaptureIntoStore(store: FlowStore, file: string, o: SampleCaptureIntoStoreOptions): Promise<SampleCaptureIntoStoreResult> {
  const sampler = createPacketSampler(o.sampler, o.rate)
  const s = await sampleCapture(file, sampler, {rng: o.rng})
  const truth = o.truth === false ? undefined : computeGroundTruth(s.table)
  const picture = describeSample(s.table, s.sample, {top: o.top ?? 10, ...(truth ? {truth} : {})})
  const fileHash = await contentHashFile(file)
  const parent = await findSource<{source_id: number}>(store, file, (await stat(file)).size, fileHash, o.sourceNetwork ?? 'default', 'source_id')
  let stored: StoredSample = {status: 'not-stored', sourceId: null, parentSourceId: parent?.source_id ?? null, records: s.records.length, warnings: []}
  if (o.store !== false) {
    stored = await storeSampledFlows(store, s.flows, {
      path: `${path.resolve(file)}#sample=${o.sampler}:1/${o.rate}:seed=${o.seed}`,
      sha256: createHash('sha256').update(`sample|${fileHash}|${o.sampler}|${o.rate}|${o.seed}`).digest('hex'),
      format: 'sample',
      content: 'packets',
      network: o.network,
      samplingRate: s.samplingRate,
      parent: parent?.source_id ?? null,
      packets: s.sample.rows.length,
    })
    if (stored.status === 'stored') {
      const t = picture.truth
      await writeEstimates(store, {sourceId: stored.sourceId, sampler: o.sampler, rate: o.rate}, [
        {metric: 'total_packets', estimate: picture.packets, truth: t?.packets.truth ?? null},
        {metric: 'total_bytes', estimate: picture.bytes, truth: t?.bytes.truth ?? null},
        {metric: 'tcp_flows', estimate: picture.tcpFlows, truth: t?.tcpFlows.truth ?? null},
        {metric: 'distinct_hosts', estimate: picture.distinctHosts.chao1, truth: t?.distinctHosts.truth ?? null},
      ])
    }
  }
  return {...stored, warnings: [...s.warnings, ...stored.warnings], file, sampler: o.sampler, rate: o.rate, seed: o.seed, picture}
}

export interface ThinStoredOptions {
  rate: number
  seed: number
  rng: Rng
  /** flows to thin */
  from: {network?: string; sourceId?: number}
  /** network label of the thinned copy */
  network: string
  store?: boolean
}

export interface ThinStoredResult extends StoredSample {
  simulated: 'binomial-thinning'
  rate: number
  seed: number
  inputFlows: number
  droppedFlows: number
  extrapolation: FlowExtrapolation
  truth: {packets: number; bytes: number; tcpFlows: number}
}

/** Packet sampling simulated on stored flow records by binomial thinning of each record. */
export async function thinStoredFlows(store: FlowStore, o: ThinStoredOptions): Promise<ThinStoredResult> {
  const out: FlowBatch[] = []
  const truth = {packets: 0, bytes: 0, tcpFlows: 0}
  let inputFlows = 0
  let droppedFlows = 0
  for await (const b of readFlowBatches(store, o.from)) {
    for (let i = 0; i < b.length; i++) {
      truth.packets += (b.packets[i] ?? 0) * (b.samplingRate[i] || 1)
      truth.bytes += (b.bytes[i] ?? 0) * (b.samplingRate[i] || 1)
      if (b.proto[i] === 6 && ((b.tcpFlags[i] ?? 0) & 0x02) !== 0) truth.tcpFlows += b.samplingRate[i] || 1
    }
    const t = thinFlows(b, o.rate, o.rng)
    inputFlows += t.inputFlows
    droppedFlows += t.droppedFlows
    out.push(t.flows)
  }
  const extrapolation = estimateFromFlows(out, {simulated: 'binomial-thinning'})
  const fromText = o.from.sourceId === undefined ? `network=${o.from.network ?? '*'}` : `source=${o.from.sourceId}`
  let stored: StoredSample = {status: 'not-stored', sourceId: null, parentSourceId: o.from.sourceId ?? null, records: inputFlows - droppedFlows, warnings: []}
  if (o.store !== false) {
    stored = await storeSampledFlows(store, out, {
      path: `store:${fromText}#thin=1/${o.rate}:seed=${o.seed}`,
      sha256: createHash('sha256').update(`thin|${store.path}|${fromText}|${o.rate}|${o.seed}`).digest('hex'),
      format: 'thinned',
      content: 'flow-records',
      network: o.network,
      samplingRate: Math.round(o.rate),
      parent: o.from.sourceId ?? null,
      packets: 0,
    })
    if (stored.status === 'stored') {
      await writeEstimates(store, {sourceId: stored.sourceId, sampler: 'binomial-thinning', rate: o.rate}, [
        {metric: 'total_packets', estimate: extrapolation.packets, truth: truth.packets},
        {metric: 'total_bytes', estimate: extrapolation.bytes, truth: truth.bytes},
        {metric: 'tcp_flows', estimate: extrapolation.tcpFlows, truth: truth.tcpFlows},
      ])
    }
  }
  return {...stored, simulated: 'binomial-thinning', rate: o.rate, seed: o.seed, inputFlows, droppedFlows, extrapolation, truth}
}
