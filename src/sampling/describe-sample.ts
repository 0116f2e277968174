/**
 * The extrapolated picture of a packet sample in one JSON-ready object — what `flowscope sample`
 * prints — and, when the full capture's ground truth is given, each estimate beside the truth with its
 * relative error and whether the 95% interval held it.
 */
import {addrToString} from '../core/index.js'
import {
  effectiveRate,
  estimateByKey,
  estimateDistinctHosts,
  estimateMix,
  estimateTcpFlows,
  estimateTopK,
  estimateTotals,
  sampleDesign,
  type DesignOptions,
} from './estimators.js'
import type {GroundTruth} from './ground-truth.js'
import type {PacketSample} from './packet-samplers.js'
import type {PacketTable} from './packet-table.js'
import type {Estimate} from './stats.js'

export interface SamplePicture {
  sampler: string
  rate: number
  /** N the estimates scaled by (pool/samples for sFlow) */
  effectiveRate: number
  /** 'poisson' (independent 1-in-N) or 'pool' (known sample pool) */
  design: 'poisson' | 'pool'
  /** 'packet', or 'flow' for hash flow sampling */
  unit: 'packet' | 'flow'
  sampledPackets: number
  samplePool: number | null
  packets: Estimate
  bytes: Estimate
  tcpFlows: Estimate
  distinctHosts: {observed: number; chao1: Estimate}
  topTalkers: Array<{rank: number; address: string; bytes: Estimate; sampledPackets: number; rankConfidence: number}>
  protocols: Array<{proto: number; share: Estimate}>
  dstPorts: Array<{port: number; share: Estimate}>
  /** present when the ground truth was given */
  truth?: SampleTruthComparison
}

export interface TruthCheck {
  truth: number
  estimate: number
  /** (estimate − truth) / truth */
  relError: number
  /** the 95% interval held the truth */
  covered: boolean
}

export interface SampleTruthComparison {
  packets: TruthCheck
  bytes: TruthCheck
  /** against TCP flow records with SYN */
  tcpFlows: TruthCheck
  distinctHosts: TruthCheck
  /** true top talkers by bytes, and how many of them the estimated top k found */
  topTalkers: Array<{rank: number; address: string; bytes: number}>
  topKRecall: number
}

export interface DescribeOptions extends DesignOptions {
  /** talkers, protocols and ports listed (default 10) */
  top?: number
  truth?: GroundTruth
}

export function describeSample(table: PacketTable, sample: PacketSample, options: DescribeOptions = {}): SamplePicture {
  const top = options.top ?? 10
  const design = sampleDesign(sample, options)
  const totals = estimateTotals(table, sample, options)
  const tcpFlows = estimateTcpFlows(table, sample, options)
  const distinct = estimateDistinctHosts(table, sample)
  const talkers = estimateTopK(estimateByKey(table, sample, {...options, key: 'srcHost', measure: 'bytes'}), top)
  const hostText = (h: number): string => addrToString(table.hosts.addr, h, table.hosts.family[h]!)
  const picture: SamplePicture = {
    sampler: sample.sampler,
    rate: sample.rate,
    effectiveRate: effectiveRate(design),
    design: design.kind,
    unit: sample.unit,
    sampledPackets: totals.sampledPackets,
    samplePool: sample.samplePool ?? null,
    packets: totals.packets,
    bytes: totals.bytes,
    tcpFlows: {estimate: tcpFlows.estimate, stderr: tcpFlows.stderr, ci95: tcpFlows.ci95},
    distinctHosts: {observed: distinct.observed, chao1: distinct.chao1},
    topTalkers: talkers.map((t) => ({
      rank: t.rank,
      address: hostText(t.id),
      bytes: t.volume,
      sampledPackets: t.sampledPackets,
      rankConfidence: t.rankConfidence,
    })),
    protocols: estimateMix(table, sample, {...options, key: 'proto', top}).map((m) => ({proto: m.id, share: m.share})),
    dstPorts: estimateMix(table, sample, {...options, key: 'dstPort', top}).map((m) => ({port: m.id, share: m.share})),
  }
  const truth = options.truth
  if (truth) {
    const trueTop = Array.from(truth.topTalkers.subarray(0, top))
    const found = new Set(talkers.map((t) => t.id))
    picture.truth = {
      packets: check(totals.packets, truth.packets),
      bytes: check(totals.bytes, truth.bytes),
      tcpFlows: check(picture.tcpFlows, truth.tcpFlows),
      distinctHosts: check(distinct.chao1, truth.distinctHosts),
      topTalkers: trueTop.map((h, i) => ({rank: i + 1, address: hostText(h), bytes: truth.hostBytes[h]!})),
      topKRecall: trueTop.length > 0 ? trueTop.filter((h) => found.has(h)).length / trueTop.length : 1,
    }
  }
  return picture
}

function check(e: Estimate, truth: number): TruthCheck {
  return {
    truth,
    estimate: e.estimate,
    relError: truth > 0 ? e.estimate / truth - 1 : e.estimate === 0 ? 0 : Infinity,
    covered: e.ci95[0] <= truth && truth <= e.ci95[1],
  }
}
