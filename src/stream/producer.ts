/**
 * Putting flow records on a Kinesis stream: flows are encoded (record-codec), packed into Kinesis
 * records per partition key, and sent with PutRecords (≤ 500 records and ≤ 5 MB per request). A
 * partial failure (FailedRecordCount > 0) is retried for the failed entries only, after a jittered
 * backoff; a token bucket paces the flows to `rate` per second.
 *
 * Ordering: the consumer's windows are by event time, so the order of records in a shard matters.
 * Flows are sent in slices of at most `maxSliceMs` of event time (sorted by start within a slice);
 * packing a slice by partition key reorders flows only within the slice. Requests go one at a time by
 * default, so slices arrive in order; a retried entry arrives after the rest of its request. With
 * `concurrency` > 1, requests in flight may land in any order. The consumer's allowed lateness must
 * cover the disorder (a slice, 0.5 s by default).
 */
import {PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry} from '@aws-sdk/client-kinesis'

import type {FlowBatch} from '../core/index.js'
import {ADDR_WORDS} from '../core/index.js'
import {DEFAULT_BACKOFF, backoffDelay, errorName, isStopped, isTransient, sendWithTimeout, sleep, StoppedError, type Backoff} from './aws.js'
import {DEFAULT_MAX_RECORD_BYTES, encodeFlows, type RecordFormat} from './record-codec.js'
import {StreamError} from './stream-error.js'
import {TokenBucket} from './token-bucket.js'

export const PARTITION_KEYS = ['network', 'src'] as const
export type PartitionKeyMode = (typeof PARTITION_KEYS)[number]

/** Source addresses are hashed into this many partition keys, so flows of one source share a shard. */
export const SRC_PARTITION_BUCKETS = 256

/** PutRecords limits. */
export const PUT_MAX_ENTRIES = 500
export const PUT_MAX_BYTES = 5_000_000

export interface PutProgress {
  /** flow records accepted by Kinesis */
  flows: number
  /** Kinesis records accepted */
  kinesisRecords: number
  /** payload bytes accepted */
  bytes: number
  requests: number
  /** entries sent again after a partial failure */
  retriedEntries: number
  /** whole requests that failed and were sent again (throttling, timeouts) */
  retriedRequests: number
  elapsedMs: number
}

export interface PutResult extends PutProgress {
  /** the signal stopped the put before every flow was sent; the counts say what was accepted */
  stopped: boolean
}

export interface PutFlowsOptions {
  /** network (tenant) of the flows */
  network: string
  /** 'network' (default): one key, so one shard, per network; 'src': keyed by source address */
  partitionKey?: PartitionKeyMode
  /** flow records per second (default: as fast as Kinesis takes them) */
  rate?: number
  format?: RecordFormat
  /** payload bytes per Kinesis record (default 25,000; 0: one flow per record) */
  maxRecordBytes?: number
  /** PutRecords requests in flight at once (default 1: slices arrive in event-time order) */
  concurrency?: number
  /** most event time in one slice of flows, ms (default 500) */
  maxSliceMs?: number
  /** attempts per entry before giving up (default 10) */
  maxAttempts?: number
  /** time limit per request, ms (default 10 s) */
  requestTimeoutMs?: number
  backoff?: Backoff
  random?: () => number
  signal?: AbortSignal
  /** called after every request that put records */
  onProgress?: (progress: PutProgress) => void
}

interface Entry {
  data: Uint8Array
  key: string
  flows: number
}

/**
 * Puts every flow of `flows` on `stream`; resolves when all are accepted, or with `stopped` when
 * `signal` aborts (requests already sent are waited for). Rejects with StreamError when a request
 * fails for good (not found, access denied, entries still failing after `maxAttempts`).
 */
export async function putFlows(client: KinesisClient, stream: string, flows: AsyncIterable<FlowBatch>, options: PutFlowsOptions): Promise<PutResult> {
  const started = performance.now()
  const mode = options.partitionKey ?? 'network'
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const maxSliceUs = (options.maxSliceMs ?? 500) * 1000
  const maxAttempts = Math.max(1, options.maxAttempts ?? 10)
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const random = options.random ?? Math.random
  const signal = options.signal
  const timeoutMs = options.requestTimeoutMs ?? 10_000
  const encode = {format: options.format ?? 'json', maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES}
  const bucket = options.rate === undefined ? undefined : new TokenBucket({rate: options.rate, burst: Math.max(1, options.rate / 10)})
  // with a rate, a slice is ~100 ms of flows, sent as soon as it is paced
  const slice = options.rate === undefined ? 10_000 : Math.max(1, Math.ceil(options.rate / 10))
  const progress: PutProgress = {flows: 0, kinesisRecords: 0, bytes: 0, requests: 0, retriedEntries: 0, retriedRequests: 0, elapsedMs: 0}
  const report = (): void => {
    progress.elapsedMs = performance.now() - started
    options.onProgress?.({...progress})
  }

  const inflight = new Set<Promise<void>>()
  let failure: unknown
  const dispatch = async (entries: Entry[]): Promise<void> => {
    while (inflight.size >= concurrency) await Promise.race(inflight)
    if (failure !== undefined) throw failure
    const p: Promise<void> = putWithRetry(entries)
      .catch((error: unknown) => {
        failure ??= error
      })
      .finally(() => inflight.delete(p))
    inflight.add(p)
  }

  const putWithRetry = async (entries: Entry[]): Promise<void> => {
    let pending = entries
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (signal?.aborted) throw new StoppedError()
      let failed: Entry[]
      let firstError = ''
      try {
        const records: PutRecordsRequestEntry[] = pending.map((e) => ({Data: e.data, PartitionKey: e.key}))
        const response = await sendWithTimeout('PutRecords', timeoutMs, signal, (abortSignal) =>
          client.send(new PutRecordsCommand({StreamName: stream, Records: records}), {abortSignal}),
        )
        progress.requests++
        const results = response.Records ?? []
        failed = []
        pending.forEach((e, i) => {
          const r = results[i]
          if (r === undefined || r.ErrorCode) {
            failed.push(e)
            firstError ||= r?.ErrorCode ?? 'no result'
          } else {
            progress.flows += e.flows
            progress.kinesisRecords++
            progress.bytes += e.data.length
          }
        })
        report()
        if (failed.length === 0) return
        progress.retriedEntries += failed.length
      } catch (error) {
        if (isStopped(error, signal)) throw new StoppedError()
        if (!isTransient(error)) {
          throw new StreamError(`PutRecords to ${stream}: ${errorName(error) || 'error'}: ${(error as Error).message ?? String(error)}`, {
            cause: error,
            hint: errorName(error) === 'ResourceNotFoundException' ? 'check the stream name, region and endpoint' : undefined,
          })
        }
        failed = pending
        firstError = errorName(error) || String(error)
        progress.retriedRequests++
      }
      if (attempt + 1 >= maxAttempts) {
        throw new StreamError(`PutRecords to ${stream}: ${failed.length} records still failing after ${maxAttempts} attempts (${firstError})`)
      }
      await sleep(backoffDelay(attempt, backoff, random), signal)
      pending = failed
    }
  }

  let request: Entry[] = []
  let requestBytes = 0
  const add = async (entry: Entry): Promise<void> => {
    const size = entry.data.length + Buffer.byteLength(entry.key)
    if (request.length > 0 && (request.length >= PUT_MAX_ENTRIES || requestBytes + size > PUT_MAX_BYTES)) await flush()
    request.push(entry)
    requestBytes += size
  }
  const flush = async (): Promise<void> => {
    if (request.length === 0) return
    const entries = request
    request = []
    requestBytes = 0
    await dispatch(entries)
  }

  let stopped = false
  try {
    for await (const batch of flows) {
      const order = Array.from({length: batch.length}, (_, i) => i).sort((a, b) => batch.tsStart[a]! - batch.tsStart[b]!)
      for (let start = 0; start < batch.length; ) {
        if (signal?.aborted) throw new StoppedError()
        if (failure !== undefined) throw failure
        let end = start + 1
        const limitUs = batch.tsStart[order[start]!]! + maxSliceUs
        while (end < batch.length && end - start < slice && batch.tsStart[order[end]!]! < limitUs) end++
        if (bucket) await bucket.take(end - start, signal)
        for (const [key, rows] of groupRows(batch, order, start, end, mode, options.network)) {
          for (const data of encodeFlows(batch, rows, options.network, encode)) await add({data, key, flows: countFlows(data)})
        }
        if (bucket) await flush()
        start = end
      }
      await flush()
    }
    await flush()
    while (inflight.size > 0) await Promise.race(inflight)
    if (failure !== undefined) throw failure
  } catch (error) {
    if (!(error instanceof StoppedError) && !isStopped(error, signal)) throw error
    stopped = true
  } finally {
    // on an error or stop, let requests already sent finish (they cannot be recalled)
    await Promise.allSettled([...inflight])
  }
  report()
  return {...progress, stopped}
}

/** Flows in one payload: the binary row count, or the JSON lines. */
function countFlows(data: Uint8Array): number {
  if (data[0] === 0xf5) return (data[2]! << 8) | data[3]!
  let n = 1
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) n++
  return n
}

/** Rows order[start..end) by partition key, in that order within each key. */
function groupRows(batch: FlowBatch, order: number[], start: number, end: number, mode: PartitionKeyMode, network: string): Map<string, number[]> {
  const groups = new Map<string, number[]>()
  if (mode === 'network') {
    groups.set(network, order.slice(start, end))
    return groups
  }
  for (let k = start; k < end; k++) {
    const i = order[k]!
    const key = srcPartitionKey(batch.srcAddr, i)
    let rows = groups.get(key)
    if (!rows) groups.set(key, (rows = []))
    rows.push(i)
  }
  return groups
}

/** Partition key of a source address: one of SRC_PARTITION_BUCKETS keys (FNV-1a over its words). */
export function srcPartitionKey(srcAddr: Uint32Array, row: number): string {
  let h = 0x811c9dc5
  const o = row * ADDR_WORDS
  for (let w = 0; w < ADDR_WORDS; w++) {
    const v = srcAddr[o + w] ?? 0
    for (let s = 24; s >= 0; s -= 8) {
      h ^= (v >>> s) & 0xff
      h = Math.imul(h, 0x01000193) >>> 0
    }
  }
  return `src-${h % SRC_PARTITION_BUCKETS}`
}
