import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {finishRun, nextRunId, recordRun} from '../../../src/io/store/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'

const T0 = 1_767_571_200_000_000

describe('runs', () => {
  let store: FlowStore
  beforeEach(async () => {
    store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
  })
  afterEach(async () => {
    await store.close()
  })

  const row = async (id: number): Promise<Record<string, unknown> | undefined> =>
    (
      await store.all(
        `SELECT run_id, kind, status, network, epoch_us(started_at) AS started, epoch_us(finished_at) AS finished, wall_s, cpu_user_s,
                cpu_system_s, peak_rss_mb, peak_rss_total_mb, addresses, addresses_per_s, addresses_per_cpu_s, buckets, map_hits,
                map_misses, reuse_ratio, failures, detections, details::VARCHAR AS details
         FROM runs WHERE run_id = $1`,
        [id],
      )
    )[0]

  it('records a finished run with every figure', async () => {
    const runId = await nextRunId(store)
    const id = await recordRun(store, {
      runId, kind: 'analyze', status: 'ok', network: 'lab', startedAtUs: T0, finishedAtUs: T0 + 2.5e6,
      wallS: 2.5, cpuUserS: 3, cpuSystemS: 0.25, peakRssMb: 210.5, peakRssTotalMb: 400, addresses: 1000, addressesPerS: 400,
      addressesPerCpuS: 307.69, buckets: 12, mapHits: 30, mapMisses: 6, reuseRatio: 0.8333, failures: 0, detections: 17,
      details: {mode: 'local', workers: 2, ratio: Number.NaN},
    })
    expect(id).toBe(runId)
    expect(await row(id)).toEqual({
      run_id: runId, kind: 'analyze', status: 'ok', network: 'lab', started: BigInt(T0), finished: BigInt(T0 + 2.5e6), wall_s: 2.5,
      cpu_user_s: 3, cpu_system_s: 0.25, peak_rss_mb: 210.5, peak_rss_total_mb: 400, addresses: 1000n, addresses_per_s: 400,
      addresses_per_cpu_s: 307.69, buckets: 12n, map_hits: 30n, map_misses: 6n, reuse_ratio: 0.8333, failures: 0n, detections: 17n,
      details: '{"mode":"local","workers":2,"ratio":null}',
    })
  })

  it('leaves the figures it is not given NULL', async () => {
    const id = await recordRun(store, {kind: 'bench-sampling', status: 'ok', startedAtUs: T0, finishedAtUs: T0 + 1e6, wallS: 1, details: {file: 'a.pcap'}})
    expect(await row(id)).toEqual({
      run_id: id, kind: 'bench-sampling', status: 'ok', network: null, started: BigInt(T0), finished: BigInt(T0 + 1e6), wall_s: 1,
      cpu_user_s: null, cpu_system_s: null, peak_rss_mb: null, peak_rss_total_mb: null, addresses: null, addresses_per_s: null,
      addresses_per_cpu_s: null, buckets: null, map_hits: null, map_misses: null, reuse_ratio: null, failures: null, detections: null,
      details: '{"file":"a.pcap"}',
    })
    expect(await recordRun(store, {kind: 'train', status: 'ok', startedAtUs: T0})).toBe(id + 1)
  })

  it('starts a run as partial and finishes it with its outcome', async () => {
    const id = await recordRun(store, {kind: 'stream', status: 'partial', startedAtUs: T0, details: {stream: 's'}})
    expect(await row(id)).toMatchObject({status: 'partial', finished: null, wall_s: null, details: '{"stream":"s"}'})
    await finishRun(store, id, {
      status: 'ok', finishedAtUs: T0 + 60e6, wallS: 60, cpuUserS: 1.5, cpuSystemS: 0.5, peakRssMb: 150, peakRssTotalMb: 150,
      detections: 4, details: {stream: 's', windows: 12, lag: Number.POSITIVE_INFINITY},
    })
    expect(await row(id)).toMatchObject({
      kind: 'stream', status: 'ok', started: BigInt(T0), finished: BigInt(T0 + 60e6), wall_s: 60, cpu_user_s: 1.5, cpu_system_s: 0.5,
      peak_rss_mb: 150, peak_rss_total_mb: 150, detections: 4n, addresses: null, details: '{"stream":"s","windows":12,"lag":null}',
    })
  })

  it('changes only what finishing a run says', async () => {
    const id = await recordRun(store, {kind: 'stream', status: 'partial', startedAtUs: T0, details: {stream: 's'}})
    await finishRun(store, id, {status: 'failed'})
    expect(await row(id)).toMatchObject({status: 'failed', started: BigInt(T0), finished: null, details: '{"stream":"s"}'})
    await finishRun(store, id, {status: 'failed', detections: 0, details: {error: 'boom'}})
    expect(await row(id)).toMatchObject({status: 'failed', finished: null, detections: 0n, details: '{"error":"boom"}'})
  })
})
