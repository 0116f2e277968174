import {existsSync} from 'node:fs'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {createRng} from '../../src/core/rng.js'
import {runSamplingBenchmark, runSamplingBenchmarkParallel, trialSeed, type SamplingBenchmarkResult} from '../../src/sampling/bench-sampling.js'
import {renderSamplingChartSvg} from '../../src/sampling/chart-svg.js'
import {estimateByKey, estimateTcpFlows, estimateTotals} from '../../src/sampling/estimators.js'
import {computeGroundTruth, type GroundTruth} from '../../src/sampling/ground-truth.js'
import {createPacketSampler, PACKET_SAMPLER_NAMES} from '../../src/sampling/packet-samplers.js'
import {PacketTableBuilder, type PacketTable} from '../../src/sampling/packet-table.js'
import {ROOT} from '../helpers/cli.js'
import {syntheticTable} from './synthetic.js'

let table: PacketTable
let truth: GroundTruth
let result: SamplingBenchmarkResult
const progress: Array<[number, number]> = []

beforeAll(() => {
  table = syntheticTable({flows: 30000, seed: 41}).table
  truth = computeGroundTruth(table)
  result = runSamplingBenchmark(table, {rates: [10, 100, 1000], trials: 30, seed: 7, truth, onProgress: (d, t) => progress.push([d, t])})
})

describe('runSamplingBenchmark', () => {
  it('spread over three threads, gives the same cells as in one (and counts every trial)', async () => {
    // the threads exist only in the build (npm test builds first); without it this would compare the serial path with itself
    expect(existsSync(path.join(ROOT, 'dist/sampling/bench-sampling-worker.js'))).toBe(true)
    const ticks: number[] = []
    const par = await runSamplingBenchmarkParallel(table, {rates: [10, 100, 1000], trials: 30, seed: 7, truth, threads: 3, onProgress: (d) => ticks.push(d)})
    const strip = (r: SamplingBenchmarkResult) => ({...r, seconds: 0, cells: r.cells.map((c) => ({...c, millis: 0}))})
    expect(strip(par)).toEqual(strip(result))
    expect(ticks.at(-1)).toBe(3 * PACKET_SAMPLER_NAMES.length * 30)
  })

  it('sweeps rates × samplers × trials with recorded, derived seeds', () => {
    expect(result.cells).toHaveLength(3 * PACKET_SAMPLER_NAMES.length)
    expect(result.rates).toEqual([10, 100, 1000])
    expect(result.samplers).toEqual([...PACKET_SAMPLER_NAMES])
    expect(result.truth.packets).toBe(table.count)
    expect(result.truth.tcpFlows).toBe(truth.tcpFlows)
    expect(progress).toHaveLength(3 * 4 * 30)
    expect(progress[progress.length - 1]).toEqual([360, 360])
    for (const cell of result.cells) {
      expect(cell.trials).toBe(30)
      expect(cell.seeds).toEqual(Array.from({length: 30}, (_, t) => trialSeed(7, cell.rate, cell.sampler, t)))
      expect(cell.theoreticalRelStderr).toBeCloseTo(Math.sqrt(cell.rate / table.count), 12)
      for (const v of [cell.packets.coverage, cell.bytes.coverage, cell.topK.recall, cell.topK.precision, cell.hosts.withinRuleShare, cell.protoMixTv]) {
        expect(v).toBeGreaterThanOrEqual(0)
        expect(v).toBeLessThanOrEqual(1)
      }
      if (cell.flowSizeKs !== null) {
        expect(cell.flowSizeKs).toBeGreaterThanOrEqual(0)
        expect(cell.flowSizeKs).toBeLessThanOrEqual(1)
      }
      expect(cell.distinctHosts.chao1RelError).toBeGreaterThanOrEqual(cell.distinctHosts.observedRelError)
      expect(cell.meanSampledPackets).toBeGreaterThan(0)
    }
    // seeds are a function of (base seed, rate, sampler, trial), not of the sweep's shape
    const one = runSamplingBenchmark(table, {rates: [100], samplers: ['sflow'], trials: 30, seed: 7, truth})
    const same = result.cells.find((c) => c.rate === 100 && c.sampler === 'sflow')!
    expect(one.cells[0]!.seeds).toEqual(same.seeds)
    expect({...one.cells[0]!, millis: 0}).toEqual({...same, millis: 0})
  })

  it('scores a trial exactly as the public estimators do', () => {
    for (const name of PACKET_SAMPLER_NAMES) {
      const r = runSamplingBenchmark(table, {rates: [50], samplers: [name], trials: 1, seed: 3, truth})
      const cell = r.cells[0]!
      const sample = createPacketSampler(name, 50).sample(table, createRng(cell.seeds[0]!))
      const totals = estimateTotals(table, sample)
      expect(cell.packets.bias).toBeCloseTo(totals.packets.estimate / truth.packets - 1, 12)
      expect(cell.bytes.bias).toBeCloseTo(totals.bytes.estimate / truth.bytes - 1, 12)
      expect(cell.tcpFlows!.bias).toBeCloseTo(estimateTcpFlows(table, sample).estimate / truth.tcpFlows - 1, 12)
      const hosts = estimateByKey(table, sample, {key: 'srcHost', measure: 'bytes'})
      let err = truth.bytes
      for (let j = 0; j < hosts.ids.length; j++) {
        const h = hosts.ids[j]!
        err += Math.abs(hosts.estimate[j]! - truth.hostBytes[h]!) - truth.hostBytes[h]!
      }
      expect(cell.hosts.weightedRelError).toBeCloseTo(err / truth.bytes, 9)
      expect(cell.meanSampledPackets).toBe(totals.sampledPackets)
    }
  })

  it('errors grow as the rate falls, along the √(1/c) bound for random packet sampling', () => {
    const cell = (rate: number) => result.cells.find((c) => c.rate === rate && c.sampler === 'bernoulli')!
    expect(cell(10).packets.rmse).toBeLessThan(cell(1000).packets.rmse)
    expect(cell(10).hosts.weightedRelError).toBeLessThan(cell(1000).hosts.weightedRelError)
    expect(cell(10).topK.recall).toBeGreaterThanOrEqual(cell(1000).topK.recall)
    for (const rate of [10, 100, 1000]) {
      const c = cell(rate)
      expect(c.packets.rmse / c.theoreticalRelStderr).toBeGreaterThan(0.6)
      expect(c.packets.rmse / c.theoreticalRelStderr).toBeLessThan(1.5)
    }
  })
})

describe('degenerate inputs', () => {
  it('an empty table gives a sweep without NaN', () => {
    const empty = new PacketTableBuilder().finish()
    const r = runSamplingBenchmark(empty, {rates: [10], trials: 3})
    expect(r.cells).toHaveLength(4)
    // JSON would turn NaN into null silently: look at the numbers themselves
    const nan: string[] = []
    const walk = (v: unknown, at: string): void => {
      if (typeof v === 'number' && Number.isNaN(v)) nan.push(at)
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`)
    }
    walk(r, 'result')
    expect(nan).toEqual([])
    expect(renderSamplingChartSvg(r)).not.toContain('NaN')
  })
})

describe('renderSamplingChartSvg', () => {
  it('draws one line per sampler and the bound, self-contained', () => {
    const svg = renderSamplingChartSvg(result)
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg.match(/<polyline /g)).toHaveLength(PACKET_SAMPLER_NAMES.length + 1)
    expect(svg).toContain('stroke-dasharray')
    for (const s of PACKET_SAMPLER_NAMES) expect(svg).toContain(`>${s}<`)
    for (const r of [10, 100, 1000]) expect(svg).toContain(`>1/${r}<`)
    // no scripts, no external references besides the SVG namespace
    expect(svg).not.toMatch(/<script|href=|url\(/)
    expect(svg.replace('http://www.w3.org/2000/svg', '')).not.toContain('http')
    expect(svg).not.toContain('NaN')
  })

  it('plots other metrics and escapes the title', () => {
    for (const metric of ['packets', 'tcpFlows', 'hosts'] as const) {
      const svg = renderSamplingChartSvg(result, {metric, title: 'a <b> & "c"'})
      expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;')
      expect(svg).not.toContain('NaN')
    }
  })
})
