/**
 * Reading a Kinesis stream: shard discovery with ListShards and reading one shard with GetRecords
 * within the service limits (at most 5 GetRecords per second per shard, a pause when the reader has
 * caught up), with jittered backoff on throttling and a fresh iterator after ExpiredIteratorException.
 * KPL-aggregated records are unpacked here; everything downstream sees user records.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type GetRecordsCommandOutput,
  type KinesisClient,
  type _Record,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis'
import {deaggregateSync} from 'aws-kinesis-agg'

import {
  DEFAULT_BACKOFF,
  backoffDelay,
  errorName,
  isStopped,
  isThrottle,
  isTransient,
  RequestTimeoutError,
  sendWithTimeout,
  sleep,
  StoppedError,
  type Backoff,
} from './aws.js'
import {StreamError} from './stream-error.js'

/** Where to start a shard that has no checkpoint. */
export type StartPosition = {type: 'TRIM_HORIZON'} | {type: 'LATEST'} | {type: 'AT_TIMESTAMP'; timestamp: Date}

/** Where to start reading one shard: a start position, or right after a sequence number. */
export type ShardStart = StartPosition | {type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string}

export interface ShardInfo {
  shardId: string
  /** parent and adjacent parent (merge), when the shard came from resharding */
  parentShardIds: string[]
  startingSequenceNumber: string
  /** set once the shard is closed (split or merged away) */
  endingSequenceNumber: string | undefined
  startingHashKey: string
  endingHashKey: string
}

/** One record as the producer wrote it (a KPL aggregate is unpacked into several). */
export interface UserRecord {
  data: Uint8Array
  partitionKey: string
  sequenceNumber: string
  /** index inside a KPL aggregate; undefined for a plain record */
  subSequenceNumber: number | undefined
  /** ms since the epoch when Kinesis accepted the record */
  arrivalMs: number | undefined
}

export interface ShardReadBatch {
  shardId: string
  records: UserRecord[]
  /** Kinesis records in the response (before deaggregation) */
  kinesisRecords: number
  millisBehindLatest: number | undefined
  /** sequence number of the last record read so far on this shard */
  lastSequenceNumber: string | undefined
  /** the shard is closed and everything in it has been read (NextShardIterator was null) */
  ended: boolean
}

export type ReadEvent =
  | {type: 'throttled'; shardId: string; operation: string; delayMs: number; attempt: number}
  | {type: 'iterator-expired'; shardId: string; restart: ShardStart}
  | {type: 'retry'; shardId: string; operation: string; delayMs: number; attempt: number; error: string}
  | {type: 'timestamp-fallback'; shardId: string}

export interface ReadShardOptions {
  start: ShardStart
  signal?: AbortSignal
  /** records per GetRecords (Kinesis allows 10,000) */
  limit?: number
  /** least time between two GetRecords on the shard, ms (default 200: the 5 calls/s limit) */
  minIntervalMs?: number
  /** pause after an empty read or when caught up (MillisBehindLatest 0), ms (default 250) */
  idlePollMs?: number
  /** time limit of each request, ms (default 5 s) */
  requestTimeoutMs?: number
  backoff?: Backoff
  /** uniform [0, 1) for jitter */
  random?: () => number
  onEvent?: (event: ReadEvent) => void
}

const KINESIS_MAX_LIMIT = 10_000
const KPL_MAGIC = [0xf3, 0x89, 0x9a, 0xc2] as const

/** Every shard of the stream (ListShards, following NextToken). */
export async function listShards(
  client: KinesisClient,
  stream: string,
  options: {signal?: AbortSignal; requestTimeoutMs?: number; backoff?: Backoff; random?: () => number} = {},
): Promise<ShardInfo[]> {
  const shards: Shard[] = []
  let nextToken: string | undefined
  do {
    // NextToken and StreamName must not be sent together
    const input = nextToken === undefined ? {StreamName: stream} : {NextToken: nextToken}
    const page = await withRetries('ListShards', stream, options, (abortSignal) => client.send(new ListShardsCommand(input), {abortSignal}))
    shards.push(...(page.Shards ?? []))
    nextToken = page.NextToken
  } while (nextToken)
  return shards.map((s) => ({
    shardId: s.ShardId ?? '',
    parentShardIds: [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => typeof p === 'string' && p !== ''),
    startingSequenceNumber: s.SequenceNumberRange?.StartingSequenceNumber ?? '',
    endingSequenceNumber: s.SequenceNumberRange?.EndingSequenceNumber,
    startingHashKey: s.HashKeyRange?.StartingHashKey ?? '0',
    endingHashKey: s.HashKeyRange?.EndingHashKey ?? '0',
  }))
}

async function withRetries<T>(
  operation: string,
  what: string,
  options: {signal?: AbortSignal; requestTimeoutMs?: number; backoff?: Backoff; random?: () => number; attempts?: number},
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const attempts = options.attempts ?? 6
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendWithTimeout(operation, options.requestTimeoutMs ?? 5_000, options.signal, send)
    } catch (error) {
      if (isStopped(error, options.signal)) throw new StoppedError()
      if (errorName(error) === 'ResourceNotFoundException') {
        throw new StreamError(`${operation}: ${what}: not found`, {cause: error, hint: 'check the stream name, region and endpoint'})
      }
      if (!isTransient(error) || attempt + 1 >= attempts) {
        throw new StreamError(`${operation}: ${what}: ${(error as Error).message ?? String(error)}`, {cause: error})
      }
      await sleep(backoffDelay(attempt, options.backoff ?? DEFAULT_BACKOFF, options.random ?? Math.random), options.signal)
    }
  }
}

/**
 * Reads one shard from `start` until it ends (the batch with `ended: true` is the last) or `signal`
 * aborts. Pull-based: the next GetRecords is sent only when the caller asks for the next batch.
 */
export async function* readShard(client: KinesisClient, stream: string, shardId: string, options: ReadShardOptions): AsyncGenerator<ShardReadBatch> {
  const signal = options.signal
  const limit = Math.max(1, Math.min(KINESIS_MAX_LIMIT, options.limit ?? KINESIS_MAX_LIMIT))
  const minInterval = options.minIntervalMs ?? 200
  const idlePoll = options.idlePollMs ?? 250
  const timeoutMs = options.requestTimeoutMs ?? 5_000
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const random = options.random ?? Math.random
  const emit = options.onEvent ?? (() => {})
  let lastSequenceNumber: string | undefined
  const startOf = (): ShardStart => (lastSequenceNumber === undefined ? options.start : {type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lastSequenceNumber})

  let iterator: string | undefined
  let failures = 0
  let lastCall = -Infinity
  while (!signal?.aborted) {
    try {
      iterator ??= await shardIterator(client, stream, shardId, startOf(), {timeoutMs, signal, onFallback: () => emit({type: 'timestamp-fallback', shardId})})
      if (iterator === undefined) break
      const wait = lastCall + minInterval - performance.now()
      if (wait > 0) await sleep(wait, signal)
      if (signal?.aborted) break
      lastCall = performance.now()
      const current: string = iterator
      const response: GetRecordsCommandOutput = await sendWithTimeout('GetRecords', timeoutMs, signal, (abortSignal) =>
        client.send(new GetRecordsCommand({ShardIterator: current, Limit: limit}), {abortSignal}),
      )
      failures = 0
      const raw = response.Records ?? []
      const records = deaggregateRecords(raw)
      const last = raw[raw.length - 1]?.SequenceNumber
      if (last !== undefined) lastSequenceNumber = last
      const ended = response.NextShardIterator === undefined || response.NextShardIterator === null
      yield {
        shardId,
        records,
        kinesisRecords: raw.length,
        millisBehindLatest: response.MillisBehindLatest,
        lastSequenceNumber,
        ended,
      }
      if (ended) return
      iterator = response.NextShardIterator
      // caught up: Kinesis has nothing newer, so wait instead of spending the 5 calls/s on empty reads
      const caughtUp = raw.length === 0 || (response.MillisBehindLatest === 0 && raw.length < limit)
      if (caughtUp) await sleep(idlePoll, signal)
    } catch (error) {
      if (isStopped(error, signal)) return
      const name = errorName(error)
      if (name === 'ExpiredIteratorException') {
        iterator = undefined
        emit({type: 'iterator-expired', shardId, restart: startOf()})
        continue
      }
      if (isThrottle(error) || isTransient(error)) {
        const delayMs = backoffDelay(failures, backoff, random)
        emit(
          isThrottle(error)
            ? {type: 'throttled', shardId, operation: 'GetRecords', delayMs, attempt: failures + 1}
            : {type: 'retry', shardId, operation: 'GetRecords', delayMs, attempt: failures + 1, error: name || String(error)},
        )
        failures++
        // a timed-out request may have consumed the iterator's position; a new one from the last
        // sequence number read is always valid
        if (error instanceof RequestTimeoutError) iterator = undefined
        await sleep(delayMs, signal)
        continue
      }
      if (name === 'ResourceNotFoundException') {
        throw new StreamError(`GetRecords: shard ${shardId} of ${stream}: not found`, {cause: error})
      }
      if (error instanceof StreamError) throw error
      throw new StreamError(`GetRecords: shard ${shardId} of ${stream}: ${(error as Error).message ?? String(error)}`, {cause: error})
    }
  }
}

/**
 * A shard iterator for `start`. Kinesis answers AT_TIMESTAMP past the last record with an iterator at
 * the tip, but kinesalite never answers; when that request times out, a LATEST iterator taken just
 * before it is used — equivalent, since any record arriving later is at or after the timestamp.
 */
async function shardIterator(
  client: KinesisClient,
  stream: string,
  shardId: string,
  start: ShardStart,
  options: {timeoutMs: number; signal: AbortSignal | undefined; onFallback: () => void},
): Promise<string | undefined> {
  const get = async (type: ShardIteratorType, extra: {StartingSequenceNumber?: string; Timestamp?: Date}, timeoutMs: number) =>
    (
      await sendWithTimeout('GetShardIterator', timeoutMs, options.signal, (abortSignal) =>
        client.send(new GetShardIteratorCommand({StreamName: stream, ShardId: shardId, ShardIteratorType: type, ...extra}), {abortSignal}),
      )
    ).ShardIterator
  switch (start.type) {
    case 'TRIM_HORIZON':
    case 'LATEST':
      return get(start.type, {}, options.timeoutMs)
    case 'AFTER_SEQUENCE_NUMBER':
      return get('AFTER_SEQUENCE_NUMBER', {StartingSequenceNumber: start.sequenceNumber}, options.timeoutMs)
    case 'AT_TIMESTAMP': {
      const latest = await get('LATEST', {}, options.timeoutMs)
      try {
        return await get('AT_TIMESTAMP', {Timestamp: start.timestamp}, Math.min(options.timeoutMs, 2_000))
      } catch (error) {
        if (!(error instanceof RequestTimeoutError)) throw error
        options.onFallback()
        return latest
      }
    }
  }
}

/**
 * User records of a GetRecords response: KPL aggregates (magic 0xF3899AC2) are unpacked with
 * aws-kinesis-agg and their base64 payloads turned back into bytes; plain records pass through.
 */
export function deaggregateRecords(records: readonly _Record[]): UserRecord[] {
  const out: UserRecord[] = []
  for (const r of records) {
    const data = r.Data ?? new Uint8Array(0)
    const arrivalMs = r.ApproximateArrivalTimestamp?.getTime()
    const sequenceNumber = r.SequenceNumber ?? ''
    if (!isAggregated(data)) {
      out.push({data, partitionKey: r.PartitionKey ?? '', sequenceNumber, subSequenceNumber: undefined, arrivalMs})
      continue
    }
    let failure = false
    let users: Array<{Data?: string; PartitionKey?: string; SubSequenceNumber?: number}> = []
    // the callback runs once per damaged user record and once at the end (with what was unpacked)
    deaggregateSync(
      {Data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), PartitionKey: r.PartitionKey, SequenceNumber: sequenceNumber},
      true,
      (error: Error | null, unpacked?: readonly unknown[]) => {
        if (error) failure = true
        else users = (unpacked ?? []) as typeof users
      },
    )
    if (failure) {
      // a damaged aggregate is passed on whole; the record decoder counts it as a bad record
      out.push({data, partitionKey: r.PartitionKey ?? '', sequenceNumber, subSequenceNumber: undefined, arrivalMs})
      continue
    }
    for (const u of users) {
      out.push({
        data: Buffer.from(u.Data ?? '', 'base64'),
        partitionKey: u.PartitionKey ?? r.PartitionKey ?? '',
        sequenceNumber,
        subSequenceNumber: u.SubSequenceNumber,
        arrivalMs,
      })
    }
  }
  return out
}

function isAggregated(data: Uint8Array): boolean {
  return data.length > 20 && data[0] === KPL_MAGIC[0] && data[1] === KPL_MAGIC[1] && data[2] === KPL_MAGIC[2] && data[3] === KPL_MAGIC[3]
}
