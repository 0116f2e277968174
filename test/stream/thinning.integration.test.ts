/**
 * `--rate-limit` through the stream worker and the model scorer on kinesalite: a network at 10× its
 * budget is thinned (stored with sampling_rate × 10, about the budget kept), a network under its budget
 * is stored untouched, the thinning is in the run summary and the `runs` row, and reading the stream
 * again into the same store adds nothing (the same records kept, with the same sampling rate).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {bundledModelPath, closeModel, loadModel, type LoadedModel} from '../../src/infer/index.js'
import {FlowStore} from '../../src/io/store/store.js'
import {buildReport, renderReportText, renderStreamSummary} from '../../src/report/index.js'
import {
  createKinesisClient,
  createModelScorer,
  putFlows,
  runStreamWorker,
  startLocalKinesis,
  type LocalServer,
  type StreamRunSummary,
  type WindowReport,
} from '../../src/stream/index.js'
import {batches, createStream, syntheticFlows, waitFor} from './helpers.js'

let kinesalite: LocalServer
let kinesis: ReturnType<typeof createKinesisClient>
let model: LoadedModel

beforeAll(async () => {
  kinesalite = await startLocalKinesis()
  kinesis = createKinesisClient({endpoint: kinesalite.endpoint, requestTimeoutMs: 5_000, maxAttempts: 1})
  model = await loadModel(bundledModelPath())
}, 30_000)

afterAll(async () => {
  kinesis?.destroy()
  await kinesalite?.close()
  if (model) await closeModel(model)
})

const BUDGET = 100
const SECONDS = 20
const WINDOWS = SECONDS / 5

/** A worker over the whole stream from its start (or checkpoints) until `WINDOWS` windows are committed. */
async function streamOnce(store: FlowStore, stream: string): Promise<{summary: StreamRunSummary; windows: WindowReport[]; scorer: Awaited<ReturnType<typeof createModelScorer>>}> {
  const scorer = await createModelScorer(store, model, {stream, workerId: 'test'})
  const stop = new AbortController()
  const windows: WindowReport[] = []
  const running = runStreamWorker({
    kinesis,
    stream,
    workerId: 'test',
    store: scorer.store,
    scoreWindow: scorer.scoreWindow,
    windowSec: 5,
    latenessSec: 2,
    startPosition: {type: 'TRIM_HORIZON'},
    signal: stop.signal,
    discoveryMs: 500,
    idleTimeoutMs: 300,
    read: {idlePollMs: 50, minIntervalMs: 50},
    requestTimeoutMs: 3_000,
    rateLimits: {default: BUDGET * 100, networks: {big: BUDGET, small: BUDGET}},
    onWindow: (w) => windows.push(w),
  })
  running.catch(() => undefined)
  await waitFor('every window committed', () => new Set(windows.map((w) => w.windowStartUs)).size >= WINDOWS, 30_000)
  stop.abort()
  return {summary: await running, windows, scorer}
}

describe('stream --rate-limit', () => {
  it('thins a network at 10× its budget, leaves one under it untouched, and a replay adds nothing', {timeout: 90_000}, async () => {
    await createStream(kinesis, 'thin', 2)
    // 'big': 1,000 flows/s for 20 s (10× its budget of 100/s); 'small': 50 flows/s; put second by
    // second, both networks, so that neither arrives late for the other's windows
    const start = 1_700_000_000_000_000
    const trueTotals = {packets: 0, bytes: 0, smallPackets: 0}
    const counts = {big: 0, small: 0}
    for (let sec = 0; sec < SECONDS; sec++) {
      const big = syntheticFlows({count: 1000, perSecond: 1000, sources: 200, startUs: start + sec * 1e6, firstId: sec * 1000, seed: 100 + sec})
      const small = syntheticFlows({count: 50, perSecond: 50, sources: 20, startUs: start + sec * 1e6, firstId: 1e6 + sec * 50, seed: 200 + sec})
      await putFlows(kinesis, 'thin', batches(big), {network: 'big', partitionKey: 'src'})
      await putFlows(kinesis, 'thin', batches(small), {network: 'small', partitionKey: 'src'})
      counts.big += big.length
      counts.small += small.length
      for (let i = 0; i < big.length; i++) {
        trueTotals.packets += big.packets[i]!
        trueTotals.bytes += big.bytes[i]!
      }
      for (let i = 0; i < small.length; i++) trueTotals.smallPackets += small.packets[i]!
    }
    const store = await FlowStore.open(':memory:')
    try {
      const {summary, scorer} = await streamOnce(store, 'thin')
      const [bigT, smallT] = summary.thinning
      expect(bigT).toMatchObject({network: 'big', budget: BUDGET, recordsIn: counts.big, intervals: WINDOWS, thinned: WINDOWS, maxK: 10, kCounts: {'10': WINDOWS}})
      expect(Math.abs(bigT!.recordsKept / SECONDS - BUDGET) / BUDGET).toBeLessThan(0.05)
      expect(smallT).toEqual({network: 'small', budget: BUDGET, recordsIn: counts.small, recordsKept: counts.small, intervals: WINDOWS, thinned: 0, maxK: 1, kCounts: {'1': WINDOWS}})
      expect(summary.records).toBe(bigT!.recordsKept + counts.small)
      expect(scorer.stats.flowsStored).toBe(summary.records)

      const stored = await store.all<{network: string; n: bigint; rmin: number; rmax: number; packets: number; bytes: number}>(
        `SELECT network, count(*) AS n, min(sampling_rate) AS rmin, max(sampling_rate) AS rmax,
                sum(packets * sampling_rate)::DOUBLE AS packets, sum(bytes * sampling_rate)::DOUBLE AS bytes
           FROM flows GROUP BY network ORDER BY network`,
      )
      expect(stored.map((r) => [r.network, Number(r.n), Number(r.rmin), Number(r.rmax)])).toEqual([
        ['big', bigT!.recordsKept, 10, 10],
        ['small', counts.small, 1, 1],
      ])
      // the extrapolated packet and byte totals of 'big' within about 3 of their standard errors (2.4% of the total each)
      const relPackets = (stored[0]!.packets - trueTotals.packets) / trueTotals.packets
      const relBytes = (stored[0]!.bytes - trueTotals.bytes) / trueTotals.bytes
      expect(Math.abs(relPackets)).toBeLessThan(0.08)
      expect(Math.abs(relBytes)).toBeLessThan(0.08)
      expect(stored[1]!.packets).toBe(trueTotals.smallPackets)

      // the runs row keeps the thinning with the rest of the summary
      const [run] = await store.all<{t: string}>(`SELECT json_extract(details, '$.thinning')::VARCHAR AS t FROM runs WHERE kind = 'stream'`)
      expect(JSON.parse(run!.t)).toEqual(summary.thinning)
      // one line of the stream's summary and of `flowscope report`'s runs
      const line = `big ${counts.big} → ${bigT!.recordsKept} records (budget ${BUDGET}/s; ${WINDOWS} of ${WINDOWS} windows thinned: k=10×${WINDOWS})`
      expect(renderStreamSummary(summary).split('\n')[1]).toBe(`thinned to --rate-limit: ${line}`)
      const report = await buildReport(store, {})
      expect(report.runs[0]!.thinning).toEqual(summary.thinning)
      expect(renderReportText(report, {width: 400})).toContain(`run ${summary.runId} (stream) thinned to --rate-limit: ${line}`)

      // read everything again (checkpoints forgotten): the same records kept, all found stored
      await store.run("DELETE FROM stream_checkpoints WHERE stream = 'thin'")
      const again = await streamOnce(store, 'thin')
      expect(again.summary.thinning).toEqual(summary.thinning)
      expect(again.scorer.stats).toMatchObject({flowsStored: 0, flowsReplayed: summary.records})
      const [{n}] = (await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')) as [{n: bigint}]
      expect(Number(n)).toBe(summary.records)
    } finally {
      await store.close()
    }
  })
})
