/**
 * The sampling layer on real captures from ../shared/data: the packet table and its flow records agree
 * with ingest's FlowAssembler record for record, and sampling a capture into flows works end to end.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {readCapture} from '../../src/io/capture/capture-reader.js'
import {FlowAssembler} from '../../src/io/capture/flow-assembler.js'
import type {FlowBatch} from '../../src/core/flow-batch.js'
import {createRng} from '../../src/core/rng.js'
import {runSamplingBenchmark} from '../../src/sampling/bench-sampling.js'
import {estimateFromFlows, estimateTotals} from '../../src/sampling/estimators.js'
import {assembleTableFlows} from '../../src/sampling/flow-records.js'
import {computeGroundTruth} from '../../src/sampling/ground-truth.js'
import {BernoulliSampler, HashFlowSampler} from '../../src/sampling/packet-samplers.js'
import {buildPacketTable, type PacketTable} from '../../src/sampling/packet-table.js'
import {sampleCapture} from '../../src/sampling/sample-capture.js'
import {SHARED_DATA} from '../helpers/cli.js'

const CAPTURES = [
  path.join(SHARED_DATA, 'bench-ndpi-concat/DERIVED_ndpi_benign_concat.pcap'),
  path.join(SHARED_DATA, 'ddosgrid/portscan.pcap'),
].filter((f) => existsSync(f))
const NAMED = CAPTURES.map((f) => [path.basename(f), f] as const)

/** a record as text: 5-tuple, packets, bytes, flags, first/last seen */
function ingestRecords(batches: FlowBatch[]): string[] {
  const out: string[] = []
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      const a = Array.from(b.srcAddr.subarray(i * 4, i * 4 + 4)).join('.')
      const d = Array.from(b.dstAddr.subarray(i * 4, i * 4 + 4)).join('.')
      out.push(`${b.family[i]} ${a} ${d} ${b.srcPort[i]} ${b.dstPort[i]} ${b.proto[i]} ${b.packets[i]} ${b.bytes[i]} ${b.tcpFlags[i]} ${b.tsStart[i]} ${b.tsEnd[i]}`)
    }
  }
  return out.sort()
}

function tableRecords(table: PacketTable): string[] {
  const flows = assembleTableFlows(table)
  const out: string[] = []
  for (let r = 0; r < flows.length; r++) {
    const f = flows.flowKeyId[r]!
    const s = table.flowKeys.srcHostId[f]!
    const d = table.flowKeys.dstHostId[f]!
    const a = Array.from(table.hosts.addr.subarray(s * 4, s * 4 + 4)).join('.')
    const b = Array.from(table.hosts.addr.subarray(d * 4, d * 4 + 4)).join('.')
    out.push(
      `${table.hosts.family[s]} ${a} ${b} ${table.flowKeys.srcPort[f]} ${table.flowKeys.dstPort[f]} ${table.flowKeys.proto[f]} ${flows.packets[r]} ${flows.bytes[r]} ${flows.tcpFlags[r]} ${flows.tsStart[r]} ${flows.tsEnd[r]}`,
    )
  }
  return out.sort()
}

describe.skipIf(CAPTURES.length === 0)('sampling on real captures', () => {
  it.each(NAMED)('%s: the table and its flows match ingest record for record', async (_name, file) => {
    const {table, stats} = await buildPacketTable(file)
    const assembler = new FlowAssembler()
    const batches: FlowBatch[] = []
    for await (const batch of readCapture(file)) {
      assembler.push(batch)
      batches.push(...assembler.takeReady())
    }
    batches.push(...assembler.flush())
    const a = assembler.stats
    expect(stats.records).toBe(a.packets)
    expect(stats.nonIp).toBe(a.nonIp)
    expect(stats.undecodable).toBe(a.undecodable)
    expect(stats.fragments).toBe(a.fragments)
    expect(table.count).toBe(a.packets - a.nonIp - a.undecodable)
    expect(tableRecords(table)).toEqual(ingestRecords(batches))
  })

  it.each(NAMED)('%s: sampled into flow records with sampling_rate, extrapolated back', async (_name, file) => {
    const result = await sampleCapture(file, new BernoulliSampler(10), {rng: createRng(1)})
    const {table, sample, flows} = result
    expect(result.samplingRate).toBe(10)
    expect(result.warnings).toEqual([])
    let packets = 0
    for (const b of flows) {
      for (let i = 0; i < b.length; i++) {
        expect(b.samplingRate[i]).toBe(10)
        packets += b.packets[i]!
      }
    }
    expect(packets).toBe(sample.rows.length)
    const fromFlows = estimateFromFlows(flows)
    const fromTable = estimateTotals(table, sample)
    expect(fromFlows.packets.estimate).toBe(fromTable.packets.estimate)
    expect(fromFlows.bytes.estimate).toBe(fromTable.bytes.estimate)
    const truth = computeGroundTruth(table)
    expect(Math.abs(fromTable.packets.estimate - truth.packets)).toBeLessThan(4 * fromTable.packets.stderr)

    const hashed = await sampleCapture(file, new HashFlowSampler(4), {rng: createRng(2)})
    expect(hashed.warnings.join(' ')).toMatch(/whole flows/)
    let hashedPackets = 0
    for (const b of hashed.flows) for (let i = 0; i < b.length; i++) hashedPackets += b.packets[i]!
    expect(hashedPackets).toBe(hashed.sample.rows.length)
  })

  it('benchmarks a real capture', async () => {
    const {table} = await buildPacketTable(CAPTURES[0]!)
    const r = runSamplingBenchmark(table, {rates: [10, 100], trials: 10, seed: 1})
    expect(r.cells).toHaveLength(8)
    expect(r.truth.packets).toBe(table.count)
    for (const c of r.cells) expect(Number.isFinite(c.bytes.rmse)).toBe(true)
  })

  it('refuses captures larger than --max-packets', async () => {
    await expect(buildPacketTable(CAPTURES[0]!, {maxPackets: 100})).rejects.toThrow(/more than 100 IP packets/)
  })
})
