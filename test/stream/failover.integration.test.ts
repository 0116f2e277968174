import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/store/store.js'
import {putFlows, runStreamWorker, type StreamEvent, type StreamRunSummary, type StreamWorkerOptions} from '../../src/stream/index.js'
import {batches, countingScorer, createStream, startAws, syntheticFlows, waitFor, type CountingScorer, type TestAws} from './helpers.js'

let aws: TestAws

beforeAll(async () => {
  aws = await startAws()
}, 20_000)

afterAll(async () => {
  await aws?.close()
})

const FLOWS = 8000
const THRESHOLD = 15

async function detectionRows(store: FlowStore): Promise<string[]> {
  const rows = await store.all<{network: string; address: string; ws: bigint; model: string; score: number; threshold: number; attack_type: string}>(
    "SELECT network, address, epoch_us(window_start) AS ws, model, score, threshold, attack_type FROM detections WHERE pass = 'stream'",
  )
  return rows.map((r) => `${r.network}|${r.address}|${Number(r.ws)}|${r.model}|${r.score}|${r.threshold}|${r.attack_type}`)
}

function start(o: Partial<StreamWorkerOptions> & Pick<StreamWorkerOptions, 'workerId' | 'leaseTable' | 'store' | 'scoreWindow' | 'signal'>): Promise<StreamRunSummary> {
  const running = runStreamWorker({
    kinesis: aws.kinesis,
    dynamo: aws.dynamo,
    stream: 'ha',
    windowSec: 5,
    latenessSec: 2,
    startPosition: {type: 'TRIM_HORIZON'},
    discoveryMs: 1000,
    failoverMs: 1500,
    renewMs: 300,
    takeIntervalMs: 400,
    idleTimeoutMs: 500,
    // small reads, so the run lasts long enough to be cut in the middle
    read: {limit: 100, minIntervalMs: 50, idlePollMs: 50},
    requestTimeoutMs: 3000,
    ...o,
  })
  running.catch(() => undefined)
  return running
}

const allSeen = (...scorers: CountingScorer[]): boolean => {
  const ids = new Set<number>()
  for (const s of scorers) for (const id of s.seen.keys()) ids.add(id)
  return ids.size === FLOWS
}

describe('two workers sharing a stream through leases', () => {
  it('after one is killed mid-window, the other takes its leases and the detections equal a clean run', {timeout: 60_000}, async () => {
    await createStream(aws.kinesis, 'ha', 4)
    const flows = syntheticFlows({count: FLOWS, perSecond: 200, sources: 60})
    await putFlows(aws.kinesis, 'ha', batches(flows), {network: 'n', partitionKey: 'src', maxRecordBytes: 0})

    // clean run: one worker alone
    const clean = await FlowStore.open(':memory:')
    const cleanScorer = countingScorer(THRESHOLD)
    const stopClean = new AbortController()
    const cleanRun = start({workerId: 'solo', leaseTable: 'leases-clean', store: clean, scoreWindow: cleanScorer.score, signal: stopClean.signal})
    await waitFor('the clean run to score every flow', () => allSeen(cleanScorer), 30_000)
    await new Promise((r) => setTimeout(r, 200))
    stopClean.abort()
    const cleanSummary = await cleanRun
    expect(cleanSummary.lateDropped).toBe(0)
    const expected = (await detectionRows(clean)).sort()
    expect(expected.length).toBeGreaterThan(20)
    await clean.close()

    // two workers; A is killed (no lease release, no drain) right after its first committed window
    const storeA = await FlowStore.open(':memory:')
    const storeB = await FlowStore.open(':memory:')
    const scorerA = countingScorer(THRESHOLD)
    const scorerB = countingScorer(THRESHOLD)
    const killA = new AbortController()
    const stopB = new AbortController()
    const eventsB: StreamEvent[] = []
    let aWindows = 0
    let aOpenAtKill = 0
    const runA = start({
      workerId: 'A',
      leaseTable: 'leases-ha',
      store: storeA,
      scoreWindow: scorerA.score,
      signal: killA.signal,
      releaseLeasesOnStop: false,
      onWindow: () => {
        aWindows++
        if (aWindows === 1) {
          aOpenAtKill = scorerA.seen.size
          killA.abort()
        }
      },
    })
    const runB = start({workerId: 'B', leaseTable: 'leases-ha', store: storeB, scoreWindow: scorerB.score, signal: stopB.signal, onEvent: (e) => eventsB.push(e)})
    try {
      const summaryA = await runA
      expect(aWindows).toBeGreaterThanOrEqual(1)
      expect(summaryA.shardsRead.length).toBeGreaterThan(0)
      // A had read more than it committed: it died mid-window
      expect(summaryA.records).toBeLessThan(FLOWS)
      expect(aOpenAtKill).toBeGreaterThan(0)
      await waitFor('B to finish every flow', () => allSeen(scorerA, scorerB), 30_000)
      await new Promise((r) => setTimeout(r, 300))
    } finally {
      stopB.abort()
      killA.abort()
    }
    const summaryB = await runB
    expect(summaryB.lateDropped).toBe(0)
    const expiredTakes = eventsB.filter((e) => e.type === 'lease-taken' && e.reason === 'expired')
    expect(expiredTakes.length).toBeGreaterThan(0)

    // the union of both stores' detections is the clean run's, with no disagreement on any key
    const rows = [...(await detectionRows(storeA)), ...(await detectionRows(storeB))]
    const byKey = new Map<string, string>()
    for (const r of rows) {
      const key = r.split('|').slice(0, 4).join('|')
      const prior = byKey.get(key)
      if (prior !== undefined) expect(r).toBe(prior)
      byKey.set(key, r)
    }
    expect([...byKey.values()].sort()).toEqual(expected)
    await storeA.close()
    await storeB.close()
  })
})
