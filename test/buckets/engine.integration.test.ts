/**
 * The analyze engine end to end on a generated capture with low-and-slow attacks: bucketed and naive
 * paths agree, a dying worker's bucket is retried (or reported, never lost), the inference map serves
 * a second run, and the run is accounted for in `runs`.
 */
import {copyFile} from 'node:fs/promises'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {calibratePost, runAnalyze} from '../../src/buckets/index.js'
import type {AnalyzeOptions, AnalyzeResult, PostScoreRow} from '../../src/buckets/index.js'
import {InferenceMap} from '../../src/buckets/inference-map.js'
import {WORKER_EXIT_HOOK} from '../../src/buckets/worker-messages.js'
import {FlowStore} from '../../src/io/index.js'
import {tempDir} from '../helpers/cli.js'
import {buildWorkerEntry, generateInto, trainModel} from './helpers.js'
import type {GeneratedStore} from './helpers.js'

describe('analyze engine', () => {
  let dir: string
  let entry: string
  let model: string
  let attack: GeneratedStore
  let base: AnalyzeOptions
  let bucketed: AnalyzeResult

  const fresh = async (name: string): Promise<string> => {
    const copy = path.join(dir, `${name}.duckdb`)
    await copyFile(attack.store, copy)
    return copy
  }

  beforeAll(async () => {
    dir = tempDir('flowscope-engine-')
    entry = await buildWorkerEntry()
    const benign = await generateInto(path.join(dir, 'benign.duckdb'), dir, {network: 'base', seed: 301, packets: 20_000, timelineSec: 3600})
    model = path.join(dir, 'model.onnx')
    await trainModel(benign.store, model, 12)
    await calibratePost(benign.store, {model, workers: 2, workerEntry: entry, byAsn: false})
    attack = await generateInto(path.join(dir, 'attack.duckdb'), dir, {
      network: 'lab',
      seed: 302,
      packets: 20_000,
      timelineSec: 3600,
      attacks: ['slow-scan', 'slow-bruteforce', 'slow-beacon'],
    })
    base = {model, workers: 2, workerEntry: entry, byAsn: false, keepScores: true}
    bucketed = await runAnalyze(await fresh('bucketed'), base)
  })

  it('analyses every address the first pass left, in buckets, and accounts for it', async () => {
    const r = bucketed
    expect(r.status).toBe('ok')
    expect(r.mode).toBe('buckets')
    expect(r.addresses.analysed).toBe(r.addresses.total - r.addresses.flaggedFirst)
    expect(r.addresses.failed).toBe(0)
    expect(r.buckets.jobs).toBeGreaterThanOrEqual(2)
    expect(r.buckets.jobs).toBeLessThan(r.addresses.analysed / 10)
    expect(r.map.misses).toBeGreaterThan(0)
    expect(r.map.hits).toBe(0)
    expect(r.processes.filter((p) => p.role === 'worker')).toHaveLength(2)
    for (const p of r.processes) {
      expect(p.cpuUserS).toBeGreaterThan(0)
      expect(p.peakRssMb).toBeGreaterThan(10)
    }
    expect(r.phases.post.addressesPerCpuS).toBeGreaterThan(0)
    expect(r.resources.peakRssTotalMb).toBeGreaterThan(r.resources.peakRssMb)

    const store = await FlowStore.open(path.join(dir, 'bucketed.duckdb'), {readOnly: true})
    try {
      const [run] = await store.all<Record<string, unknown>>('SELECT * FROM runs WHERE run_id = $id', {id: r.runId})
      expect(run).toMatchObject({kind: 'analyze', status: 'ok', buckets: BigInt(r.buckets.planned), failures: 0n, map_misses: BigInt(r.map.misses)})
      for (const col of ['wall_s', 'cpu_user_s', 'cpu_system_s', 'peak_rss_mb', 'peak_rss_total_mb', 'addresses_per_s', 'addresses_per_cpu_s']) {
        expect(Number(run?.[col])).toBeGreaterThan(0)
      }
      const details = JSON.parse(String(run?.details)) as {processes: unknown[]; phases: {post: {addressesPerCpuS: number}}}
      expect(details.processes).toHaveLength(3)
      const passes = await store.all<{pass: string; n: bigint}>('SELECT pass, count(*) AS n FROM detections WHERE run_id = $id GROUP BY pass ORDER BY pass', {id: r.runId})
      expect(passes).toEqual([
        {pass: 'first', n: BigInt(r.detections.first)},
        {pass: 'post', n: BigInt(r.detections.post)},
      ])
    } finally {
      await store.close()
    }
  })

  it('gives the same scores (to 1e-6) and detections on the naive path, one query and one model call per address', async () => {
    const scores = bucketed.postScores!
    // every post-detected address, and a spread of others from every group
    const detected = [...new Set(bucketed.postDetections.map((d) => d.address))]
    const all = [...new Set(scores.map((s) => s.address))].sort()
    const sample = [...new Set([...detected, ...all.filter((_, i) => i % 12 === 0)])]
    expect(detected.length).toBeGreaterThan(0)
    // through the other export format too: the hand-over must not change a score
    const naive = await runAnalyze(await fresh('naive'), {...base, buckets: false, only: sample, handoffFormat: 'parquet'})
    expect(naive.mode).toBe('naive')
    expect(naive.buckets.jobs).toBe(sample.length)
    const key = (s: PostScoreRow): string => `${s.address}|${s.scale}|${s.windowStart}`
    const want = new Map(scores.filter((s) => sample.includes(s.address)).map((s) => [key(s), s.score]))
    const got = new Map(naive.postScores!.map((s) => [key(s), s.score]))
    expect(got.size).toBe(want.size)
    for (const [k, v] of want) expect(Math.abs((got.get(k) ?? Number.NaN) - v)).toBeLessThanOrEqual(1e-6)
    const view = (r: AnalyzeResult): unknown[] =>
      r.postDetections.filter((d) => sample.includes(d.address)).map((d) => [d.address, d.windowStart, d.windowEnd, d.attackType, d.score.toFixed(6)])
    expect(view(naive)).toEqual(view(bucketed))
    expect(naive.phases.post.addressesPerCpuS).toBeLessThan(bucketed.phases.post.addressesPerCpuS)
  })

  it('retries the bucket of a worker that dies on a fresh worker and completes the run', async () => {
    const r = await runAnalyze(await fresh('retry'), {...base, workerEnv: {[WORKER_EXIT_HOOK]: '1'}})
    expect(r.status).toBe('ok')
    expect(r.buckets.retried).toBeGreaterThanOrEqual(1)
    expect(r.buckets.failed).toEqual([])
    expect(r.addresses.analysed).toBe(bucketed.addresses.analysed)
    expect(r.postDetections.map((d) => [d.address, d.windowStart, d.score])).toEqual(bucketed.postDetections.map((d) => [d.address, d.windowStart, d.score]))
    // the dead workers are accounted for with what they last reported
    expect(r.processes.filter((p) => p.role === 'worker').length).toBeGreaterThan(2)
  })

  it('reports a bucket whose retry dies too as failed, and still finishes the rest', async () => {
    // every worker dies on its first job, the fresh ones too: every bucket fails, the run still ends
    const none = await runAnalyze(await fresh('fail-all'), {...base, keepScores: false, workerEnv: {[WORKER_EXIT_HOOK]: '1:always'}})
    expect(none.status).toBe('failed')
    expect(none.buckets.failed).toHaveLength(none.buckets.jobs)
    expect(none.addresses.failed).toBe(bucketed.addresses.analysed)
    // one bucket that always kills its worker: only it fails, with its addresses named
    const victim = none.buckets.failed[0]!
    const r = await runAnalyze(await fresh('fail-one'), {...base, keepScores: false, workerEnv: {[WORKER_EXIT_HOOK]: `key:${victim.bucket}:always`}})
    expect(r.status).toBe('partial')
    expect(r.buckets.failed.map((f) => f.bucket)).toEqual([victim.bucket])
    expect(r.buckets.failed[0]!.attempts).toBe(2)
    expect(r.buckets.failed[0]!.error).toMatch(/exited/)
    expect(r.buckets.failed[0]!.addresses).toEqual(victim.addresses)
    // no address silently lost: analysed + failed = every address the post pass had to look at
    expect(r.addresses.analysed + r.addresses.failed).toBe(bucketed.addresses.analysed)
    expect(r.addresses.failed).toBe(victim.addresses.length)
  })

  it('reuses shared work from the inference map on a second run in the same process', async () => {
    const map = new InferenceMap()
    const store = await fresh('reuse')
    const first = await runAnalyze(store, {...base, map})
    expect(first.map.hits).toBe(0)
    const second = await runAnalyze(store, {...base, map})
    expect(second.map.misses).toBe(0)
    expect(second.map.hits).toBe(first.map.misses)
    expect(second.map.reuseRatio).toBe(1)
    expect(second.postDetections.map((d) => [d.address, d.windowStart, d.score])).toEqual(first.postDetections.map((d) => [d.address, d.windowStart, d.score]))
    // a later window: the long windows it shares with the first run are reused, the rest computed
    const since = Math.min(...first.postScores!.map((s) => s.windowStart)) + 30 * 60e6
    const later = await runAnalyze(store, {...base, map, since: Math.ceil(since / 60e6) * 60e6})
    expect(later.map.hits).toBeGreaterThan(0)
    expect(later.map.reuseRatio).toBeGreaterThan(0.3)
  })

  it('groups public addresses by AS, filling the flows\' ASNs first', async () => {
    const file = await fresh('by-asn')
    const r = await runAnalyze(file, {...base, byAsn: true, keepScores: false})
    expect(r.status).toBe('ok')
    expect(r.addresses.analysed).toBe(bucketed.addresses.analysed)
    const store = await FlowStore.open(file, {readOnly: true})
    try {
      const [row] = await store.all<{missing: bigint; public: bigint}>(
        "SELECT count(*) FILTER (WHERE src_as IS NULL OR dst_as IS NULL) AS missing, count(*) FILTER (WHERE src_as > 0) AS public FROM flows",
      )
      expect(row!.missing).toBe(0n)
      expect(Number(row!.public)).toBeGreaterThan(0)
    } finally {
      await store.close()
    }
  })

  it('refuses a missing post calibration, and runs the first pass alone when asked', async () => {
    await expect(runAnalyze(await fresh('nocal'), {...base, postCalibration: path.join(dir, 'missing.post.json')})).rejects.toThrow(/no post-processing calibration/)
    const r = await runAnalyze(await fresh('first-only'), {...base, post: false})
    expect(r.status).toBe('ok')
    expect(r.addresses.analysed).toBe(0)
    expect(r.detections.first).toBe(bucketed.detections.first)
    expect(r.postDetections).toEqual([])
    // workers that cannot start: the first pass's detections and a failed run row stay behind
    const broken = await fresh('broken')
    await expect(runAnalyze(broken, {...base, workerEntry: path.join(dir, 'no-such-worker.js')})).rejects.toThrow(/does not exist/)
    const store = await FlowStore.open(broken, {readOnly: true})
    try {
      const runs = await store.all<{status: string; details: string}>("SELECT status, details::VARCHAR AS details FROM runs WHERE kind = 'analyze'")
      expect(runs.map((x) => x.status)).toEqual(['failed'])
      expect(JSON.parse(runs[0]!.details).warnings.join(' ')).toMatch(/post pass failed/)
      const [n] = await store.all<{n: bigint}>("SELECT count(*) AS n FROM detections WHERE pass = 'first'")
      expect(Number(n!.n)).toBe(bucketed.detections.first)
    } finally {
      await store.close()
    }
  })
})
