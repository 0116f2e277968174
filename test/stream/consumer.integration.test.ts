import {PutRecordsCommand, type ListShardsCommandInput, type ListShardsCommandOutput} from '@aws-sdk/client-kinesis'
import {aggregate} from 'aws-kinesis-agg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  FlowBatchBuilder,
  decodeFlowRecords,
  encodeFlows,
  listShards,
  putFlows,
  readShard,
  type ReadEvent,
  type ReadShardOptions,
} from '../../src/stream/index.js'
import {batches, createStream, startAws, syntheticFlows, type TestAws} from './helpers.js'

let aws: TestAws

beforeAll(async () => {
  aws = await startAws()
}, 20_000)

afterAll(async () => {
  await aws?.close()
})

const fast = {idlePollMs: 10, minIntervalMs: 0}

/** Reads one shard until the first empty read; returns the flow ids (bytes column) and the user record count. */
async function drain(stream: string, shardId: string, options: Omit<ReadShardOptions, 'signal'>): Promise<{ids: number[]; userRecords: number}> {
  const controller = new AbortController()
  const out = new FlowBatchBuilder(1)
  let userRecords = 0
  const timer = setTimeout(() => controller.abort(), 20_000)
  try {
    for await (const b of readShard(aws.kinesis, stream, shardId, {...fast, ...options, signal: controller.signal})) {
      userRecords += b.records.length
      for (const r of b.records) decodeFlowRecords(r.data, out)
      if (b.records.length === 0) break
    }
  } finally {
    clearTimeout(timer)
  }
  const v = out.view()
  return {ids: Array.from(v.bytes), userRecords}
}

const range = (n: number): number[] => Array.from({length: n}, (_, i) => i)

describe('consumer', () => {
  it('backs off on throttling and re-acquires an expired iterator after the last sequence number', {timeout: 30_000}, async () => {
    await createStream(aws.kinesis, 'read-errors', 1)
    await putFlows(aws.kinesis, 'read-errors', batches(syntheticFlows({count: 1000})), {network: 'n', maxRecordBytes: 0})
    const [shard] = await listShards(aws.kinesis, 'read-errors')
    let calls = 0
    aws.kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'GetRecordsCommand') return next(args)
        calls++
        if (calls <= 3) throw Object.assign(new Error('Rate exceeded'), {name: 'ProvisionedThroughputExceededException', $metadata: {httpStatusCode: 400}})
        if (calls === 5 || calls === 8) throw Object.assign(new Error('Iterator expired'), {name: 'ExpiredIteratorException', $metadata: {httpStatusCode: 400}})
        return next(args)
      },
      {step: 'initialize', name: 'injectReadErrors'},
    )
    const events: ReadEvent[] = []
    try {
      const {ids} = await drain('read-errors', shard!.shardId, {
        start: {type: 'TRIM_HORIZON'},
        limit: 150,
        backoff: {baseMs: 5, maxMs: 40},
        onEvent: (e) => events.push(e),
      })
      // nothing lost, nothing read twice
      expect(ids).toEqual(range(1000))
    } finally {
      aws.kinesis.middlewareStack.remove('injectReadErrors')
    }
    expect(events.filter((e) => e.type === 'throttled').map((e) => (e as {attempt: number}).attempt)).toEqual([1, 2, 3])
    const expired = events.filter((e) => e.type === 'iterator-expired')
    expect(expired).toHaveLength(2)
    // the first expiry came after one read of 150 records: restart after its last sequence number
    expect(expired[0]).toMatchObject({restart: {type: 'AFTER_SEQUENCE_NUMBER'}})
  })

  it('deaggregates KPL records into the right count and passes plain records through', {timeout: 30_000}, async () => {
    await createStream(aws.kinesis, 'read-kpl', 1)
    const flows = syntheticFlows({count: 300})
    // 300 user records (one flow each), aggregated by the KPL format into few Kinesis records
    const users = encodeFlows(flows, range(300), 'n', {maxRecordBytes: 0}).map((data, i) => ({partitionKey: `pk-${i % 7}`, data: Buffer.from(data)}))
    const aggregated: Buffer[] = []
    await new Promise<void>((resolve, reject) => {
      aggregate(
        users,
        (encoded, done) => {
          aggregated.push(encoded.data)
          done()
        },
        () => resolve(),
        (error) => reject(error),
      )
    })
    // the aggregator emits 1 MB records; cut the user list into ~10 aggregates to have several
    const parts: Buffer[] = []
    for (let k = 0; k < 300; k += 30) {
      await new Promise<void>((resolve, reject) => {
        aggregate(
          users.slice(k, k + 30),
          (encoded, done) => {
            parts.push(encoded.data)
            done()
          },
          () => resolve(),
          (error) => reject(error),
        )
      })
    }
    expect(aggregated.length).toBe(1)
    expect(parts.length).toBe(10)
    // 10 aggregated records plus 5 plain ones (flows 300..304)
    const plain = encodeFlows(syntheticFlows({count: 5, firstId: 300}), range(5), 'n', {maxRecordBytes: 0})
    await aws.kinesis.send(
      new PutRecordsCommand({
        StreamName: 'read-kpl',
        Records: [...parts.map((Data) => ({Data, PartitionKey: 'agg'})), ...plain.map((Data) => ({Data, PartitionKey: 'plain'}))],
      }),
    )
    const [shard] = await listShards(aws.kinesis, 'read-kpl')
    const {ids, userRecords} = await drain('read-kpl', shard!.shardId, {start: {type: 'TRIM_HORIZON'}})
    expect(userRecords).toBe(305)
    expect(ids).toEqual(range(305))
  })

  it('follows ListShards pages', {timeout: 15_000}, async () => {
    await createStream(aws.kinesis, 'list-pages', 5)
    // kinesalite answers in one page: split its answer into pages of two shards
    let pages = 0
    aws.kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ListShardsCommand') return next(args)
        pages++
        const input = args.input as ListShardsCommandInput
        const offset = input.NextToken ? Number(input.NextToken.slice('page:'.length)) : 0
        if (input.NextToken && input.StreamName) throw new Error('NextToken and StreamName sent together')
        const full = await next({...args, input: {StreamName: 'list-pages'}})
        const output = full.output as ListShardsCommandOutput
        const all = output.Shards ?? []
        const page = all.slice(offset, offset + 2)
        return {...full, output: {...output, Shards: page, NextToken: offset + 2 < all.length ? `page:${offset + 2}` : undefined}}
      },
      {step: 'initialize', name: 'pageListShards'},
    )
    try {
      const shards = await listShards(aws.kinesis, 'list-pages')
      expect(shards.map((s) => s.shardId)).toEqual(range(5).map((i) => `shardId-${String(i).padStart(12, '0')}`))
      expect(pages).toBe(3)
    } finally {
      aws.kinesis.middlewareStack.remove('pageListShards')
    }
  })

  it('starts AT_TIMESTAMP past the last record (kinesalite never answers) and still reads new records', {timeout: 20_000}, async () => {
    await createStream(aws.kinesis, 'read-ts', 1)
    await putFlows(aws.kinesis, 'read-ts', batches(syntheticFlows({count: 10})), {network: 'n'})
    await new Promise((r) => setTimeout(r, 20))
    const [shard] = await listShards(aws.kinesis, 'read-ts')
    const controller = new AbortController()
    const events: ReadEvent[] = []
    const out = new FlowBatchBuilder(1)
    const reading = (async () => {
      for await (const b of readShard(aws.kinesis, 'read-ts', shard!.shardId, {
        ...fast,
        start: {type: 'AT_TIMESTAMP', timestamp: new Date()},
        requestTimeoutMs: 1000,
        signal: controller.signal,
        onEvent: (e) => events.push(e),
      })) {
        for (const r of b.records) decodeFlowRecords(r.data, out)
        if (out.length > 0) controller.abort()
      }
    })()
    // the fallback takes the AT_TIMESTAMP timeout (1 s here); put once it is reading
    await new Promise((r) => setTimeout(r, 1500))
    await putFlows(aws.kinesis, 'read-ts', batches(syntheticFlows({count: 3, firstId: 100})), {network: 'n'})
    const guard = setTimeout(() => controller.abort(), 10_000)
    await reading
    clearTimeout(guard)
    expect(events.map((e) => e.type)).toContain('timestamp-fallback')
    expect(Array.from(out.view().bytes)).toEqual([100, 101, 102])
  })
})
