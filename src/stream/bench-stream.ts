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
import {createDynamoClient, createKinesisClient} from './aws.js'
import {createLocalStream, startLocalDynamo, startLocalKinesis, type LocalServer} from './local.js'
import {putFlows, type PartitionKeyMode} from './producer.js'
import type {RecordFormat} from './record-codec.js'
import type {RaiseIncidents, ScoreWindow} from './results.js'
import {runStreamWorker, type WindowReport} from './worker.js'

/** One worker of the bench: its own store and scorer. */
export interface StreamBenchWorker {
  store: FlowStore
  scoreWindow: ScoreWindow
  raiseIncidents?: RaiseIncidents
}

export interface StreamBenchOptions {
  /** the one worker's store (or give `workers`) */
  store?: FlowStore
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
  /**
   * several workers sharing the stream through a lease table on a dynalite started here (127.0.0.1),
   * each with its own store and scorer; instead of `store` and `scoreWindow`
   */
  workers?: readonly StreamBenchWorker[]
  /** networks the flows are spread over, one producer each at rate / networks (default 1) */
  networks?: number
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
  workers: number
  networks: number
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
  let dynamoServer: LocalServer | undefined
  let dynamo: ReturnType<typeof createDynamoClient> | undefined
  try {
    await createLocalStream(kinesis, stream, shards)
    const commitMs = new Map<string, number>()
    const windows: WindowReport[] = []
    let committed = 0
    const workers: readonly StreamBenchWorker[] =
      options.workers ?? [{store: options.store!, scoreWindow: options.scoreWindow ?? countingScorer(40)}]
    const shared = workers.length > 1
    dynamoServer = shared ? await startLocalDynamo() : undefined
    dynamo = dynamoServer === undefined ? undefined : createDynamoClient({endpoint: dynamoServer.endpoint, requestTimeoutMs: 10_000})
    const stop = new AbortController()
    const running = workers.map((w, i) =>
      runStreamWorker({
        kinesis,
        ...(dynamo === undefined ? {} : {dynamo, leaseTable: `${stream}-leases`}),
        stream,
        workerId: `bench-${i}`,
        store: w.store,
        windowSec,
        latenessSec,
        startPosition: {type: 'TRIM_HORIZON'},
        signal: stop.signal,
        discoveryMs: 2000,
        scoreWindow: w.scoreWindow,
        ...(w.raiseIncidents === undefined ? {} : {raiseIncidents: w.raiseIncidents}),
        onWindow: (r) => {
          committed += r.records
          windows.push(r)
          if (r.straggler === undefined) for (const net of r.networks) commitMs.set(`${net.network}/${r.windowStartUs}`, r.committedAtMs)
        },
      }),
    )
    for (const r of running) r.catch(() => undefined)

    const networks = Math.max(1, options.networks ?? 1)
    const putAtMs = new Float64Array(n)
    const tsUs = new Float64Array(n)
    const networkOf = new Uint16Array(n)
    // network j puts flows j, j + networks, … at rate / networks
    const generate = async function* (j: number): AsyncGenerator<FlowBatch> {
      const rng = createRng((options.seed ?? 1) + j)
      const chunk = Math.max(1, Math.round(rate / networks / 20))
      for (let first = j; first < n; first += chunk * networks) {
        const ids: number[] = []
        for (let id = first; id < n && ids.length < chunk; id += networks) ids.push(id)
        const b = createFlowBatch(ids.length)
        const nowMs = Date.now()
        for (let k = 0; k < ids.length; k++) {
          const id = ids[k]!
          const ts = nowMs * 1000 + k
          putAtMs[id] = nowMs
          tsUs[id] = ts
          networkOf[id] = j
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
    const networkName = (j: number): string => (networks === 1 ? 'bench' : `bench-${j}`)
    const started = Date.now()
    const puts = await Promise.all(
      Array.from({length: networks}, (_, j) => putFlows(kinesis, stream, generate(j), {network: networkName(j), partitionKey, rate: rate / networks, format})),
    )
    const putDone = Date.now()
    const deadline = putDone + (windowSec + latenessSec) * 1000 + 60_000
    while (committed < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const last = Math.max(...windows.map((w) => w.committedAtMs))
    stop.abort()
    const summaries = await Promise.all(running)
    const latencies: number[] = []
    const windowUs = windowSec * 1e6
    for (let i = 0; i < n; i++) {
      const c = commitMs.get(`${networkName(networkOf[i]!)}/${Math.floor(tsUs[i]! / windowUs) * windowUs}`)
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
      kinesisRecords: puts.reduce((x, p) => x + p.kinesisRecords, 0),
      workers: workers.length,
      networks,
      latencyMs: {p50: q(0.5), p90: q(0.9), p99: q(0.99), max: latencies.at(-1) ?? Number.NaN},
      windows: summaries.reduce((x, r) => x + r.windows, 0),
      lateDropped: summaries.reduce((x, r) => x + r.lateDropped, 0),
      maxRatio: Math.max(...summaries.map((r) => r.maxRatio)),
      meanRatio: summaries.reduce((x, r) => x + r.meanRatio, 0) / summaries.length,
    }
  } finally {
    kinesis.destroy()
    dynamo?.destroy()
    await dynamoServer?.close()
    await local?.close()
  }
}
