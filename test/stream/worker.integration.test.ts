import {SplitShardCommand} from '@aws-sdk/client-kinesis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {FlowBatch} from '../../src/core/flow-batch.js'
import {addrToString} from '../../src/core/ip.js'
import {FlowStore} from '../../src/io/store/store.js'
import {putFlows, runStreamWorker, type StreamEvent, type StreamRunSummary, type StreamWorkerOptions} from '../../src/stream/index.js'
import {batches, countingScorer, createStream, startAws, syntheticFlows, waitFor, type TestAws} from './helpers.js'

let aws: TestAws

beforeAll(async () => {
  aws = await startAws()
}, 20_000)

afterAll(async () => {
  await aws?.close()
})

const WINDOW_US = 5_000_000
const fastRead = {idlePollMs: 50, minIntervalMs: 50}

/** What the counting scorer must find: per (window, source) counts above the threshold. */
function expectedDetections(flows: FlowBatch, threshold: number, network = 'n'): string[] {
  const counts = new Map<string, number>()
  for (let i = 0; i < flows.length; i++) {
    const w = Math.floor(flows.tsStart[i]! / WINDOW_US) * WINDOW_US
    const key = `${network}|${addrToString(flows.srcAddr, i, 4)}|${w}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts]
    .filter(([, n]) => n > threshold)
    .map(([k, n]) => `${k}|${n}`)
    .sort()
}

async function detectionRows(store: FlowStore): Promise<string[]> {
  const rows = await store.all<{network: string; address: string; ws: bigint; score: number}>(
    "SELECT network, address, epoch_us(window_start) AS ws, score FROM detections WHERE pass = 'stream' ORDER BY ALL",
  )
  return rows.map((r) => `${r.network}|${r.address}|${Number(r.ws)}|${r.score}`).sort()
}

/** Starts a worker; its promise is observed at once so a failure surfaces where it is awaited, not as an unhandled rejection. */
function worker(o: Partial<StreamWorkerOptions> & Pick<StreamWorkerOptions, 'stream' | 'store' | 'scoreWindow' | 'signal'>): Promise<StreamRunSummary> {
  const running = runStreamWorker({
    kinesis: aws.kinesis,
    workerId: 'w1',
    windowSec: 5,
    latenessSec: 2,
    startPosition: {type: 'TRIM_HORIZON'},
    discoveryMs: 300,
    idleTimeoutMs: 500,
    read: fastRead,
    requestTimeoutMs: 3000,
    ...o,
  })
  running.catch(() => undefined)
  return running
}

const range = (from: number, n: number): number[] => Array.from({length: n}, (_, i) => from + i)

describe('runStreamWorker (local checkpoints)', () => {
  it('scores every window once, writes detections idempotently and resumes from its checkpoints', {timeout: 40_000}, async () => {
    await createStream(aws.kinesis, 'w-local', 2)
    const flows = syntheticFlows({count: 6000, perSecond: 200, sources: 40})
    await putFlows(aws.kinesis, 'w-local', batches(flows), {network: 'n', partitionKey: 'src'})
    const store = await FlowStore.open(':memory:')
    try {
      const scorer = countingScorer(20)
      const stop = new AbortController()
      const windows: number[] = []
      const running = worker({stream: 'w-local', store, scoreWindow: scorer.score, signal: stop.signal, onWindow: (w) => windows.push(w.windowStartUs)})
      await waitFor('every flow scored', () => scorer.seen.size === 6000, 20_000)
      await new Promise((r) => setTimeout(r, 300))
      stop.abort()
      const summary = await running
      expect([...scorer.seen.values()].every((n) => n === 1)).toBe(true)
      expect(summary).toMatchObject({records: 6000, lateDropped: 0, badRecords: 0, shardsRead: ['shardId-000000000000', 'shardId-000000000001']})
      expect(windows).toEqual([...windows].sort((a, b) => a - b))
      expect(new Set(windows).size).toBe(6)
      expect(await detectionRows(store)).toEqual(expectedDetections(flows, 20))
      const metrics = await store.all<{n: bigint; records: bigint}>('SELECT count(*) AS n, sum(records) AS records FROM stream_windows')
      expect(metrics[0]).toEqual({n: 6n, records: 6000n})
      const cps = await store.all<{shard_id: string}>("SELECT shard_id FROM stream_checkpoints WHERE stream = 'w-local' ORDER BY 1")
      expect(cps.map((r) => r.shard_id)).toEqual(['shardId-000000000000', 'shardId-000000000001'])

      // a second run starts from the checkpoints: only the new flows are read
      const more = syntheticFlows({count: 1000, perSecond: 200, sources: 40, startUs: 1_700_000_030_000_000, firstId: 6000, seed: 2})
      await putFlows(aws.kinesis, 'w-local', batches(more), {network: 'n', partitionKey: 'src'})
      const scorer2 = countingScorer(20)
      const stop2 = new AbortController()
      const running2 = worker({stream: 'w-local', store, scoreWindow: scorer2.score, signal: stop2.signal})
      await waitFor('the new flows scored', () => scorer2.seen.size === 1000, 20_000)
      await new Promise((r) => setTimeout(r, 300))
      stop2.abort()
      const summary2 = await running2
      expect([...scorer2.seen.keys()].sort((a, b) => a - b)).toEqual(range(6000, 1000))
      expect(summary2.records).toBe(1000)
    } finally {
      await store.close()
    }
  })

  it('follows a shard split mid-run: children after their parent, nothing lost', {timeout: 40_000}, async () => {
    await createStream(aws.kinesis, 'w-split', 1)
    const store = await FlowStore.open(':memory:')
    const scorer = countingScorer(1000)
    const stop = new AbortController()
    const events: StreamEvent[] = []
    const running = worker({
      stream: 'w-split',
      store,
      scoreWindow: scorer.score,
      signal: stop.signal,
      onEvent: (e) => events.push(e),
      maxFutureSec: 60,
    })
    // a live producer: 100 flows every 50 ms with the current time, for ~3 s; split after ~1.2 s
    let id = 0
    const live = async function* (): AsyncGenerator<FlowBatch> {
      for (let k = 0; k < 60; k++) {
        yield syntheticFlows({count: 100, perSecond: 2000, sources: 500, startUs: Date.now() * 1000, firstId: id, seed: k + 1})
        id += 100
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    const producing = putFlows(aws.kinesis, 'w-split', live(), {network: 'n', partitionKey: 'src', maxRecordBytes: 2000})
    await waitFor('some flows scored', () => id > 2000, 10_000)
    await aws.kinesis.send(new SplitShardCommand({StreamName: 'w-split', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 127n).toString()}))
    await producing
    try {
      await waitFor('every flow scored', () => scorer.seen.size === id, 25_000)
    } finally {
      stop.abort()
      await running.catch(() => undefined)
      await store.close()
    }
    const summary = await running
    expect(id).toBe(6000)
    expect(summary.lateDropped).toBe(0)
    expect(summary.shardsRead).toEqual(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002'])
    const order = events.filter((e) => e.type === 'shard-ended' || e.type === 'shard-started').map((e) => `${e.type}:${(e as {shardId: string}).shardId.slice(-1)}`)
    // both children start only after the parent ended
    expect(order.indexOf('shard-ended:0')).toBeGreaterThan(-1)
    expect(order.indexOf('shard-started:1')).toBeGreaterThan(order.indexOf('shard-ended:0'))
    expect(order.indexOf('shard-started:2')).toBeGreaterThan(order.indexOf('shard-ended:0'))
  })

  it('starts at LATEST (older records are not read) and, asked to drain on stop, commits its open windows', {timeout: 30_000}, async () => {
    await createStream(aws.kinesis, 'w-latest', 1)
    await putFlows(aws.kinesis, 'w-latest', batches(syntheticFlows({count: 100, startUs: Date.now() * 1000 - 60e6})), {network: 'n'})
    const store = await FlowStore.open(':memory:')
    const scorer = countingScorer(1000)
    const stop = new AbortController()
    const events: StreamEvent[] = []
    const running = worker({
      stream: 'w-latest',
      store,
      scoreWindow: scorer.score,
      signal: stop.signal,
      startPosition: {type: 'LATEST'},
      // windows stay open: only the drain closes them
      idleTimeoutMs: 600_000,
      drainOnStop: true,
      onEvent: (e) => events.push(e),
    })
    // the new flows must come after the LATEST iterator: wait for the first GetRecords to answer
    let reads = 0
    aws.kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args)
        if (context.commandName === 'GetRecordsCommand') reads++
        return result
      },
      {step: 'initialize', name: 'countReads'},
    )
    try {
      await waitFor('the first read', () => reads > 0, 10_000)
      await putFlows(aws.kinesis, 'w-latest', batches(syntheticFlows({count: 200, startUs: Date.now() * 1000, firstId: 1000})), {network: 'n'})
      const after = reads
      await waitFor('two more reads', () => reads > after + 2, 10_000)
      expect(scorer.windows).toBe(0)
    } finally {
      aws.kinesis.middlewareStack.remove('countReads')
      stop.abort()
    }
    const summary = await running
    expect(events.find((e) => e.type === 'shard-started')).toMatchObject({start: {type: 'LATEST'}})
    expect([...scorer.seen.keys()].sort((a, b) => a - b)).toEqual(range(1000, 200))
    expect(summary.records).toBe(200)
    const closedBy = await store.all<{closed_by: string}>('SELECT DISTINCT closed_by FROM stream_windows')
    expect(closedBy).toEqual([{closed_by: 'drain'}])
    const runs = await store.all<{kind: string; status: string}>('SELECT kind, status FROM runs')
    expect(runs).toEqual([{kind: 'stream', status: 'ok'}])
    const cps = await store.all<{n: bigint}>("SELECT count(*) AS n FROM stream_checkpoints WHERE stream = 'w-latest'")
    expect(cps[0]!.n).toBe(1n)
    await store.close()
  })
})
