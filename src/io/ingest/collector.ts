/**
 * A live flow-export collector: NetFlow v5/v9, IPFIX and sFlow v5 datagrams on a UDP socket are
 * decoded as they arrive and handed on in batches (every `flushRecords` records or `flushIntervalMs`,
 * whichever comes first): `runCollector` writes each batch to the store in its own transaction;
 * `feedCollector` gives them out as an AsyncIterable instead (what `collect --to kinesis://` puts on a
 * stream), through a bounded queue. Stopping (the abort signal: SIGINT/SIGTERM in the CLI) closes the
 * socket, decodes what is left and flushes everything received before it returns.
 *
 * With `rateLimits` (`collect --rate-limit`), each flush's records above the network's budget are
 * thinned (core/thinning.ts) over the wall time since the previous flush, before they are written.
 */
import dgram from 'node:dgram'

import {UsageError} from '../../core/index.js'
import type {FlowBatch, FlowRecordInput} from '../../core/index.js'
import {appendFlowRecord, createFlowBatch, flowBatchCapacity, rateLimitFor, thinFlows, ThinningTally} from '../../core/index.js'
import type {NetworkThinning, RateLimits} from '../../core/index.js'
import {FlowExportDecoder} from '../flowexport/index.js'
import type {FlowExportProblem} from '../flowexport/index.js'
import {addToSource, insertSource} from '../store/index.js'
import type {FlowStore} from '../store/index.js'

export interface ListenAddress {
  host: string
  port: number
}

/** `udp://HOST:PORT`, `udp://[v6]:PORT`, `HOST:PORT` or just `PORT` (0: any free port, printed when bound). */
export function parseListen(spec: string): ListenAddress {
  const m = /^(?:udp:\/\/)?(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]+))?:?(\d{1,5})$/.exec(spec.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || !(port >= 0 && port < 65536)) {
    throw new UsageError(`cannot read listen address '${spec}'`, {hint: 'use udp://HOST:PORT, e.g. udp://127.0.0.1:2055 or udp://[::1]:4739'})
  }
  return {host: m[1] ?? m[2] ?? '0.0.0.0', port}
}

export interface CollectorOptions {
  listen: ListenAddress
  network: string
  flushRecords?: number
  flushIntervalMs?: number
  signal: AbortSignal
  /** called once the socket is bound (with the bound port: useful with port 0) */
  onListening?: (address: ListenAddress) => void
  onFlush?: (info: {records: number; totalRecords: number}) => void
  /** budgets of flow records per second (the one of `network` applies), per flush */
  rateLimits?: RateLimits
  /** seed of the thinning hash (default DEFAULT_THINNING_SEED) */
  thinningSeed?: number
  /** µs since the epoch (default Date.now() × 1000) */
  now?: () => number
}

/** What a collector received and handed on. */
export interface CollectorStats {
  listen: ListenAddress
  datagrams: number
  records: number
  flushes: number
  bytes: number
  packets: number
  undecodableSets: number
  malformed: number
  problems: FlowExportProblem[]
  seconds: number
  /** with a budget for the network: records received, kept, and k over the flushes */
  thinning: NetworkThinning[]
}

export interface CollectorResult extends CollectorStats {
  sourceId: number
}

/** Takes one batch; the next batch waits until it resolves. */
type BatchWriter = (batch: FlowBatch) => Promise<void>

function listenText(listen: ListenAddress): string {
  return `udp://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`
}

/** Collects into the store: one `sources` row, each batch with its counters in one transaction. */
export async function runCollector(store: FlowStore, options: CollectorOptions): Promise<CollectorResult> {
  const nowMicros = options.now ?? (() => Date.now() * 1000)
  const where = listenText(options.listen)
  const id = await insertSource(store, {
    path: where,
    sha256: `collect:${where}:${process.pid}:${Date.now()}`,
    format: 'udp-collector',
    network: options.network,
    ingestedAtUs: nowMicros(),
    content: 'flow-export',
  })
  const {listen, ...rest} = await collect(options, (batch) => writeBatch(store, batch, options.network, id))
  return {listen, sourceId: id, ...rest}
}

export interface CollectorFeed {
  /** the batches in the order received; ends once the collector has stopped and flushed */
  batches: AsyncIterable<FlowBatch>
  /** the collector's figures once it has stopped (`records`: handed to the consumer) */
  done: Promise<CollectorStats>
}

/**
 * Collects into an AsyncIterable of batches instead of the store. At most `maxQueued` batches wait
 * for the consumer (default 4); then the collector's flushes wait, and records received meanwhile
 * gather in the next batch. If the consumer stops iterating, the flushes after that fail and `done`
 * rejects once the collector is stopped (abort its signal).
 */
export function feedCollector(options: CollectorOptions & {maxQueued?: number}): CollectorFeed {
  const maxQueued = Math.max(1, options.maxQueued ?? 4)
  const queue: FlowBatch[] = []
  let ended = false
  let consumerGone = false
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined
  const wake = (which: 'consumer' | 'producer'): void => {
    const fn = which === 'consumer' ? wakeConsumer : wakeProducer
    if (which === 'consumer') wakeConsumer = undefined
    else wakeProducer = undefined
    fn?.()
  }
  const write: BatchWriter = async (batch) => {
    while (queue.length >= maxQueued && !consumerGone) await new Promise<void>((resolve) => (wakeProducer = resolve))
    if (consumerGone) throw new UsageError('the consumer of the collected flows stopped')
    queue.push(batch)
    wake('consumer')
  }
  const done = collect(options, write).finally(() => {
    ended = true
    wake('consumer')
  })
  // the caller awaits `done` after iterating; a failure must not surface as an unhandled rejection first
  done.catch(() => undefined)
  const batches: AsyncIterable<FlowBatch> = {
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const next = queue.shift()
          if (next !== undefined) {
            wake('producer')
            yield next
            continue
          }
          if (ended) return
          await new Promise<void>((resolve) => (wakeConsumer = resolve))
        }
      } finally {
        consumerGone = true
        wake('producer')
      }
    },
  }
  return {batches, done}
}

async function collect(options: CollectorOptions, write: BatchWriter): Promise<CollectorStats> {
  const started = performance.now()
  const flushRecords = options.flushRecords ?? 50_000
  const nowMicros = options.now ?? (() => Date.now() * 1000)
  const decoder = new FlowExportDecoder()
  const where = listenText(options.listen)

  let current: FlowBatch = createFlowBatch(flushRecords)
  const totals = {records: 0, flushes: 0, bytes: 0, packets: 0, datagrams: 0}
  const sink = (r: FlowRecordInput): void => {
    if (current.length >= flowBatchCapacity(current)) void scheduleFlush()
    appendFlowRecord(current, r)
  }

  // flushes run one after another (in the store, each is one transaction: flows + the source's counters)
  let chain: Promise<void> = Promise.resolve()
  let failure: unknown
  const budget = rateLimitFor(options.rateLimits, options.network)
  const tally = new ThinningTally()
  let lastCutUs = nowMicros()
  const scheduleFlush = (): Promise<void> => {
    if (current.length === 0) return chain
    let batch = current
    current = createFlowBatch(flushRecords)
    const cutUs = nowMicros()
    if (budget !== undefined) {
      const thinned = thinFlows(batch, {budgetPerSec: budget, seconds: Math.max(1e-3, (cutUs - lastCutUs) / 1e6), network: options.network, ...(options.thinningSeed === undefined ? {} : {seed: options.thinningSeed})})
      tally.add(options.network, budget, thinned)
      batch = thinned.batch
    }
    lastCutUs = cutUs
    const kept = batch
    chain = chain.then(async () => {
      if (failure || kept.length === 0) return
      const batch = kept
      try {
        await write(batch)
        let b = 0
        let p = 0
        for (let i = 0; i < batch.length; i++) {
          b += batch.bytes[i] ?? 0
          p += batch.packets[i] ?? 0
        }
        totals.records += batch.length
        totals.bytes += b
        totals.packets += p
        totals.flushes++
        options.onFlush?.({records: batch.length, totalRecords: totals.records})
      } catch (error) {
        failure = error
      }
    })
    return chain
  }

  const socket = dgram.createSocket({type: options.listen.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 8 << 20})
  socket.on('message', (msg, rinfo) => {
    totals.datagrams++
    decoder.decodeDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), rinfo.address, nowMicros(), sink)
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (e) => reject(new UsageError(`cannot listen on ${where}: ${e.message}`, {cause: e})))
    socket.bind(options.listen.port, options.listen.host, () => resolve())
  })
  const bound = socket.address()
  options.onListening?.({host: bound.address, port: bound.port})

  const timer = setInterval(() => void scheduleFlush(), options.flushIntervalMs ?? 5000)
  await new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve()
    else options.signal.addEventListener('abort', () => resolve(), {once: true})
  })
  clearInterval(timer)
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  decoder.finish()
  await scheduleFlush()
  if (failure) throw failure
  const x = decoder.stats
  return {
    listen: {host: bound.address, port: bound.port},
    datagrams: totals.datagrams,
    records: totals.records,
    flushes: totals.flushes,
    bytes: totals.bytes,
    packets: totals.packets,
    undecodableSets: x.undecodableSets,
    malformed: x.malformed,
    problems: x.problems.slice(0, 10),
    seconds: (performance.now() - started) / 1000,
    thinning: tally.networks(),
  }
}

async function writeBatch(store: FlowStore, batch: FlowBatch, network: string, sourceId: number): Promise<void> {
  let first = Infinity
  let last = -Infinity
  let bytes = 0
  let packets = 0
  let maxRate = 1
  for (let i = 0; i < batch.length; i++) {
    first = Math.min(first, batch.tsStart[i] ?? Infinity)
    last = Math.max(last, batch.tsEnd[i] ?? -Infinity)
    bytes += batch.bytes[i] ?? 0
    packets += batch.packets[i] ?? 0
    maxRate = Math.max(maxRate, batch.samplingRate[i] ?? 1)
  }
  await store.transaction(async () => {
    const appender = await store.createFlowAppender()
    try {
      appender.append(batch, network, sourceId)
    } finally {
      appender.close()
    }
    await addToSource(store, sourceId, {flows: batch.length, packets, bytes, firstUs: first, lastUs: last, samplingRate: maxRate})
  })
}
