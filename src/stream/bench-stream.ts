/**
 * End-to-end stream benchmark: put N flows at a rate (event time = the moment each is generated), a
 * worker windows and scores them and writes detections; per flow, latency = the commit time of its
 * window − the time it was put. Against a local kinesalite unless given an endpoint.
 */
import {DEFAULT_LATENESS_SEC} from './windows.js'

import {appendFlowRecord, createFlowBatch, type FlowBatch} from '../core/index.js'
import {addrToString} from '../core/index.js'
import {createRng} from '../core/index.js'
import type {FlowStore} from '../io/index.js'
import {createKinesisClient} from './aws.js'
import {createLocalStream, startLocalKinesis} from './local.js'
import {putFlows, type PartitionKeyMode} from './producer.js'
import type {RecordFormat} from './record-codec.js'
import type {ScoreWindow} from './results.js'
import {runStreamWorker, type WindowReport} from './worker.js'

export interface StreamBenchOptions {
  store: FlowStore
  /** flows to put (default 100,000) */
  flows?: number
  /** flows per second (default 20,000) */
  rate?: number
  windowSec?: number
  latenessSec?: number
  shards?: number
  format?: RecordFormat
  partitionKey?: PartitionKeyMode
  /** Kinesis endpoint; default: kinesalite started here on 127.0.0.1 */
  endpoint?: string
  /** scorer (default: flag sources with more than 40 flows in a window) */
  scoreWindow?: ScoreWindow
  seed?: number
  /** distinct destination addresses the flows go to (default 65,536; sources are 5,000) */
  destinations?: number
}

export interface StreamBenchResult {
  flows: number
  rate: number
  windowSec: number
  latenessSec: number
  shards: number
  format: RecordFormat
  partitionKey: PartitionKeyMode
  /** flows/s accepted by PutRecords */
  putFlowsPerSec: number
  /** flows / (first put → last window committed) */
  endToEndFlowsPerSec: number
  kinesisRecords: number
  latencyMs: {p50: number; p90: number; p99: number; max: number}
  windows: number
  lateDropped: number
  maxRatio: number
  meanRatio: number
}

function countingScorer(threshold: number): ScoreWindow {
  return async (flows, windowStartUs, windowEndUs) => {
    const counts = new Map<string, number>()
    for (let i = 0; i < flows.length; i++) {
      const a = addrToString(flows.srcAddr, i, flows.family[i]!)
      counts.set(a, (counts.get(a) ?? 0) + 1)
    }
    const detections = [...counts]
      .filter(([, n]) => n > threshold)
      .map(([address, n]) => ({address, windowStart: windowStartUs, windowEnd: windowEndUs, score: n, threshold, attackType: 'unknown'}))
    return {model: 'bench-count', detections, undetermined: []}
  }
}

export async function benchStream(options: StreamBenchOptions): Promise<StreamBenchResult> {
  const n = options.flows ?? 100_000
  const rate = options.rate ?? 20_000
  const windowSec = options.windowSec ?? 5
  const destinations = options.destinations ?? 65_536
  const latenessSec = options.latenessSec ?? DEFAULT_LATENESS_SEC
  const shards = options.shards ?? 4
  const format = options.format ?? 'json'
  const partitionKey = options.partitionKey ?? 'network'
  const local = options.endpoint === undefined ? await startLocalKinesis() : undefined
  const kinesis = createKinesisClient({endpoint: options.endpoint ?? local!.endpoint, requestTimeoutMs: 10_000})
  const stream = `flowscope-bench-${Date.now()}`
  try {
    await createLocalStream(kinesis, stream, shards)
    const commitMs = new Map<number, number>()
    const windows: WindowReport[] = []
    let committed = 0
    const score = options.scoreWindow ?? countingScorer(40)
    const stop = new AbortController()
    const worker = runStreamWorker({
      kinesis,
      stream,
      workerId: 'bench',
      store: options.store,
      windowSec,
      latenessSec,
      startPosition: {type: 'TRIM_HORIZON'},
      signal: stop.signal,
      discoveryMs: 2000,
      scoreWindow: score,
      onWindow: (w) => {
        committed += w.records
        windows.push(w)
        if (w.straggler === undefined) commitMs.set(w.windowStartUs, w.committedAtMs)
      },
    })
    worker.catch(() => undefined)

    const rng = createRng(options.seed ?? 1)
    const putAtMs = new Float64Array(n)
    const tsUs = new Float64Array(n)
    const generate = async function* (): AsyncGenerator<FlowBatch> {
      const chunk = Math.max(1, Math.round(rate / 20))
      for (let id = 0; id < n; id += chunk) {
        const count = Math.min(chunk, n - id)
        const b = createFlowBatch(count)
        const nowMs = Date.now()
        for (let k = 0; k < count; k++) {
          const ts = nowMs * 1000 + k
          putAtMs[id + k] = nowMs
          tsUs[id + k] = ts
          appendFlowRecord(b, {
            tsStart: ts,
            tsEnd: ts + 1000,
            family: 4,
            src: [(10 << 24) | rng.int(5000)],
            dst: [(192 << 24) | rng.int(destinations)],
            srcPort: rng.int(65536),
            dstPort: 443,
            proto: 6,
            tcpFlags: 0x18,
            packets: 1 + rng.int(20),
            bytes: 40 + rng.int(100_000),
          })
        }
        yield b
      }
    }
    const started = Date.now()
    const put = await putFlows(kinesis, stream, generate(), {network: 'bench', partitionKey, rate, format})
    const putDone = Date.now()
    const deadline = putDone + (windowSec + latenessSec) * 1000 + 60_000
    while (committed < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const last = Math.max(...windows.map((w) => w.committedAtMs))
    stop.abort()
    const summary = await worker
    const latencies: number[] = []
    const windowUs = windowSec * 1e6
    for (let i = 0; i < n; i++) {
      const c = commitMs.get(Math.floor(tsUs[i]! / windowUs) * windowUs)
      if (c !== undefined) latencies.push(c - putAtMs[i]!)
    }
    latencies.sort((a, b) => a - b)
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN
    return {
      flows: n,
      rate,
      windowSec,
      latenessSec,
      shards,
      format,
      partitionKey,
      putFlowsPerSec: n / ((putDone - started) / 1000),
      endToEndFlowsPerSec: committed / ((last - started) / 1000),
      kinesisRecords: put.kinesisRecords,
      latencyMs: {p50: q(0.5), p90: q(0.9), p99: q(0.99), max: latencies.at(-1) ?? Number.NaN},
      windows: summary.windows,
      lateDropped: summary.lateDropped,
      maxRatio: summary.maxRatio,
      meanRatio: summary.meanRatio,
    }
  } finally {
    kinesis.destroy()
    await local?.close()
  }
}
