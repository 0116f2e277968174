/**
 * Sampling a capture into flow records for the store: one decode pass into a `PacketTable`, a packet
 * sampler over it, and flow assembly over the sampled packets only — what a router exporting sampled
 * NetFlow/IPFIX would have sent. Every record carries `samplingRate` = N.
 */
import type {FlowBatch, FlowTimeoutOptions} from '../core/index.js'
import type {Rng} from '../core/index.js'
import {assembleTableFlows, tableFlowsToBatches, type TableFlows} from './flow-records.js'
import type {PacketSample, PacketSampler} from './packet-samplers.js'
import {buildPacketTable, type PacketTable, type PacketTableOptions, type PacketTableStats} from './packet-table.js'

export interface SampledFlowOptions extends FlowTimeoutOptions {
  /** rows per FlowBatch (default 65536) */
  batchSize?: number
}

export interface SampledFlows {
  flows: FlowBatch[]
  records: TableFlows
  /** N stored on every record: the sampler's nominal rate, rounded to a whole number */
  samplingRate: number
  /** things the caller should tell the user */
  warnings: string[]
}

/** Flow records from the sampled rows of a table (rows need not be sorted). */
export function sampleToFlows(table: PacketTable, sample: PacketSample, options: SampledFlowOptions = {}): SampledFlows {
  // flow assembly runs in packet order; hash flow samples come grouped by flow
  const rows = sample.unit === 'packet' ? sample.rows : sample.rows.slice().sort()
  const records = assembleTableFlows(table, {
    rows,
    ...(options.idleTimeoutMicros === undefined ? {} : {idleTimeoutMicros: options.idleTimeoutMicros}),
    ...(options.activeTimeoutMicros === undefined ? {} : {activeTimeoutMicros: options.activeTimeoutMicros}),
  })
  const samplingRate = Math.max(1, Math.round(sample.rate))
  const warnings: string[] = []
  if (sample.unit === 'flow') {
    warnings.push(
      `hash flow sampling keeps whole flows: the stored records say sampling_rate ${samplingRate} like packet-sampled ones, and extrapolating them as packet samples understates the variance`,
    )
  }
  if (samplingRate !== sample.rate) warnings.push(`rate 1/${sample.rate} stored as sampling_rate ${samplingRate} (a whole number)`)
  return {
    flows: tableFlowsToBatches(table, records, {samplingRate, ...(options.batchSize === undefined ? {} : {batchSize: options.batchSize})}),
    records,
    samplingRate,
    warnings,
  }
}

export interface SampleCaptureOptions extends PacketTableOptions, SampledFlowOptions {
  rng: Rng
}

export interface SampleCaptureResult extends SampledFlows {
  sample: PacketSample
  /** the decoded capture, for estimates beside the truth (`computeGroundTruth`) */
  table: PacketTable
  tableStats: PacketTableStats
}

/** Decode `path` once, sample its packets with `sampler`, and assemble the sampled flow records. */
export async function sampleCapture(path: string, sampler: PacketSampler, options: SampleCaptureOptions): Promise<SampleCaptureResult> {
  const {table, stats} = await buildPacketTable(path, options)
  const sample = sampler.sample(table, options.rng)
  return {...sampleToFlows(table, sample, options), sample, table, tableStats: stats}
}
