/**
 * Shared pieces of the stream tests: local kinesalite/dynalite on 127.0.0.1 (random ports), stream
 * creation, synthetic flows with a unique id per flow (in `bytes`), and a deterministic stand-in
 * scorer ("flag a source address with more than N flows in the window").
 */
import {CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient} from '@aws-sdk/client-kinesis'

import {addrToString} from '../../src/core/ip.js'
import {appendFlowRecord, createFlowBatch, type FlowBatch} from '../../src/core/flow-batch.js'
import {createRng} from '../../src/core/rng.js'
import {createDynamoClient, createKinesisClient, startLocalServers, type LocalServers} from '../../src/stream/index.js'
import type {ScoreWindow, WindowOutcome} from '../../src/stream/index.js'

export interface TestAws {
  servers: LocalServers
  kinesis: KinesisClient
  dynamo: ReturnType<typeof createDynamoClient>
  close(): Promise<void>
}

export async function startAws(): Promise<TestAws> {
  const servers = await startLocalServers()
  const kinesis = createKinesisClient({endpoint: servers.kinesis.endpoint, requestTimeoutMs: 5_000, maxAttempts: 1})
  const dynamo = createDynamoClient({endpoint: servers.dynamo.endpoint, requestTimeoutMs: 5_000, maxAttempts: 1})
  return {
    servers,
    kinesis,
    dynamo,
    close: async () => {
      kinesis.destroy()
      dynamo.destroy()
      await servers.close()
    },
  }
}

export async function createStream(kinesis: KinesisClient, name: string, shards: number): Promise<void> {
  await kinesis.send(new CreateStreamCommand({StreamName: name, ShardCount: shards}))
  await waitActive(kinesis, name)
}

export async function waitActive(kinesis: KinesisClient, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({StreamName: name}))
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`stream ${name} not active`)
}

export interface SyntheticFlows {
  /** first flow's start, µs */
  startUs?: number
  /** flows per second of event time */
  perSecond?: number
  count: number
  /** distinct source addresses (10.0.x.y) */
  sources?: number
  /** first id (in `bytes`) */
  firstId?: number
  seed?: number
}

/** Flows in event-time order, ids firstId.. in `bytes`, sources 10.0.0.0/16, one per flow at random. */
export function syntheticFlows(o: SyntheticFlows): FlowBatch {
  const rng = createRng(o.seed ?? 1)
  const start = o.startUs ?? 1_700_000_000_000_000
  const step = 1e6 / (o.perSecond ?? 1000)
  const sources = o.sources ?? 50
  const b = createFlowBatch(o.count)
  for (let i = 0; i < o.count; i++) {
    const ts = Math.floor(start + i * step)
    // a skewed source mix, so some sources cross the scorer's threshold and others do not
    const s = Math.min(sources - 1, Math.floor(sources * rng.next() ** 2))
    appendFlowRecord(b, {
      tsStart: ts,
      tsEnd: ts + 1000,
      family: 4,
      src: [(10 << 24) | (s + 1)],
      dst: [(192 << 24) | (168 << 16) | rng.int(256)],
      srcPort: 1024 + rng.int(60000),
      dstPort: 443,
      proto: 6,
      tcpFlags: 0x18,
      packets: 1 + rng.int(10),
      bytes: (o.firstId ?? 0) + i,
      samplingRate: 1,
    })
  }
  return b
}

export async function* batches(...list: FlowBatch[]): AsyncGenerator<FlowBatch> {
  for (const b of list) yield b
}

export interface CountingScorer {
  score: ScoreWindow
  /** every flow id seen, with how often */
  seen: Map<number, number>
  windows: number
}

/** Flags every source address with more than `threshold` flows in the window (score = its count). */
export function countingScorer(threshold: number, model = 'count-v1'): CountingScorer {
  const seen = new Map<number, number>()
  const scorer: CountingScorer = {
    seen,
    windows: 0,
    score: async (flows, windowStartUs, windowEndUs): Promise<WindowOutcome> => {
      scorer.windows++
      const counts = new Map<string, number>()
      for (let i = 0; i < flows.length; i++) {
        const id = flows.bytes[i]!
        seen.set(id, (seen.get(id) ?? 0) + 1)
        const a = addrToString(flows.srcAddr, i, flows.family[i]!)
        counts.set(a, (counts.get(a) ?? 0) + 1)
      }
      const detections = [...counts]
        .filter(([, n]) => n > threshold)
        .map(([address, n]) => ({address, windowStart: windowStartUs, windowEnd: windowEndUs, score: n, threshold, attackType: 'volume'}))
      const undetermined = [...counts].filter(([, n]) => n === threshold).map(([a]) => a)
      return {model, detections, undetermined}
    },
  }
  return scorer
}

/** Polls `test` every 50 ms until true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
