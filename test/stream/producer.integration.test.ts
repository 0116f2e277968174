import type {PutRecordsCommandInput, PutRecordsCommandOutput, PutRecordsResultEntry} from '@aws-sdk/client-kinesis'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {FlowBatch} from '../../src/core/flow-batch.js'
import {FlowBatchBuilder, decodeFlowRecords, listShards, putFlows, readShard, replayCapture, type ShardReadBatch} from '../../src/stream/index.js'
import {FIXTURES} from '../helpers/cli.js'
import {batches, createStream, startAws, syntheticFlows, type TestAws} from './helpers.js'

let aws: TestAws

beforeAll(async () => {
  aws = await startAws()
}, 20_000)

afterAll(async () => {
  await aws?.close()
})

/** Every flow id on the stream (bytes column), read from TRIM_HORIZON on every shard. */
async function idsOnStream(stream: string): Promise<number[]> {
  const ids: number[] = []
  for (const shard of await listShards(aws.kinesis, stream)) {
    const controller = new AbortController()
    const out = new FlowBatchBuilder(1)
    for await (const b of readShard(aws.kinesis, stream, shard.shardId, {start: {type: 'TRIM_HORIZON'}, signal: controller.signal, idlePollMs: 10, minIntervalMs: 0})) {
      for (const r of (b as ShardReadBatch).records) decodeFlowRecords(r.data, out)
      if (b.records.length === 0) controller.abort()
    }
    const v = out.view()
    for (let i = 0; i < v.length; i++) ids.push(v.bytes[i]!)
  }
  return ids.sort((a, b) => a - b)
}

describe('putFlows', () => {
  it('retries only the failed entries of a partial failure, and whole throttled requests', {timeout: 30_000}, async () => {
    await createStream(aws.kinesis, 'put-retry', 2)
    let requests = 0
    let injectedEntries = 0
    let throttled = 0
    // Some entries of each request are withheld from kinesalite and reported back as throttled, the
    // way Kinesis answers a partial failure; the second request fails as a whole.
    aws.kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'PutRecordsCommand') return next(args)
        requests++
        if (requests === 2) {
          throttled++
          throw Object.assign(new Error('Rate exceeded for shard'), {name: 'ProvisionedThroughputExceededException', $metadata: {httpStatusCode: 400}})
        }
        const input = args.input as PutRecordsCommandInput
        const all = input.Records ?? []
        const fail = new Set<number>()
        if (requests <= 6) for (let i = 1; i < all.length; i += 3) fail.add(i)
        injectedEntries += fail.size
        const sent = all.filter((_, i) => !fail.has(i))
        const result = await next({...args, input: {...input, Records: sent}})
        const output = result.output as PutRecordsCommandOutput
        const answers = [...(output.Records ?? [])]
        const merged: PutRecordsResultEntry[] = all.map((_, i) =>
          fail.has(i) ? {ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded'} : answers.shift()!,
        )
        return {...result, output: {...output, Records: merged, FailedRecordCount: fail.size}}
      },
      {step: 'initialize', name: 'injectPutFailures'},
    )
    try {
      const flows = syntheticFlows({count: 3000, sources: 200})
      const result = await putFlows(aws.kinesis, 'put-retry', batches(flows), {
        network: 'net1',
        partitionKey: 'src',
        maxRecordBytes: 0,
        backoff: {baseMs: 5, maxMs: 50},
      })
      expect(throttled).toBe(1)
      expect(injectedEntries).toBeGreaterThan(100)
      expect(result.retriedEntries).toBe(injectedEntries)
      expect(result.retriedRequests).toBe(1)
      expect(result.flows).toBe(3000)
      expect(result.kinesisRecords).toBe(3000)
      // every flow exactly once: failed entries were re-sent, nothing else was
      expect(await idsOnStream('put-retry')).toEqual(Array.from({length: 3000}, (_, i) => i))
    } finally {
      aws.kinesis.middlewareStack.remove('injectPutFailures')
    }
  })

  it('packs flows into fewer Kinesis records and paces them to the rate', {timeout: 30_000}, async () => {
    await createStream(aws.kinesis, 'put-rate', 1)
    const flows = syntheticFlows({count: 2000})
    const started = performance.now()
    const progress: number[] = []
    const result = await putFlows(aws.kinesis, 'put-rate', batches(flows), {
      network: 'net1',
      rate: 4000,
      format: 'binary',
      onProgress: (p) => progress.push(p.flows),
    })
    const elapsed = performance.now() - started
    expect(result.flows).toBe(2000)
    expect(result.kinesisRecords).toBeLessThan(100)
    // 2000 flows at 4000/s with a 0.1 s burst: at least ~0.4 s
    expect(elapsed).toBeGreaterThan(380)
    expect(progress.at(-1)).toBe(2000)
    expect(await idsOnStream('put-rate')).toEqual(Array.from({length: 2000}, (_, i) => i))
  })
})

describe('putFlows stop', () => {
  it('stops on the signal and says how much was accepted', {timeout: 20_000}, async () => {
    await createStream(aws.kinesis, 'put-stop', 1)
    const stop = new AbortController()
    setTimeout(() => stop.abort(), 400)
    const result = await putFlows(aws.kinesis, 'put-stop', batches(syntheticFlows({count: 5000})), {network: 'n', rate: 2000, signal: stop.signal})
    expect(result.stopped).toBe(true)
    expect(result.flows).toBeGreaterThan(0)
    expect(result.flows).toBeLessThan(5000)
    expect((await idsOnStream('put-stop')).length).toBe(result.flows)
  })
})

describe('replayCapture', () => {
  const capture = path.join(FIXTURES, 'small.pcapng')

  async function collect(source: AsyncIterable<FlowBatch>): Promise<Array<[number, number, number]>> {
    const out: Array<[number, number, number]> = []
    for await (const b of source) for (let i = 0; i < b.length; i++) out.push([b.tsStart[i]!, b.tsEnd[i]!, b.bytes[i]!])
    return out
  }

  it('yields the capture\'s flows in start order, paced by the capture\'s own timing sped up', {timeout: 20_000}, async () => {
    const truth = readFileSync(`${capture}.flows.csv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','))
    let now = 0
    const releases: number[] = []
    const flows: Array<[number, number, number]> = []
    for await (const b of replayCapture(capture, {speed: 10, now: () => now, sleep: async (ms) => void (now += ms)})) {
      for (let i = 0; i < b.length; i++) {
        flows.push([b.tsStart[i]!, b.tsEnd[i]!, b.bytes[i]!])
        releases.push(now)
      }
    }
    expect(flows.length).toBe(truth.length)
    expect(flows.map((f) => `${f[0]}/${f[2]}`).sort()).toEqual(truth.map((t) => `${t[0]}/${t[9]}`).sort())
    const starts = flows.map((f) => f[0])
    expect(starts).toEqual([...starts].sort((a, b) => a - b))
    // each flow is released no earlier than (its start − first start) / 10, and not much later
    for (let i = 0; i < flows.length; i++) {
      const due = (starts[i]! - starts[0]!) / 1000 / 10
      expect(releases[i]!).toBeGreaterThanOrEqual(due - 1e-6)
      expect(releases[i]! - due).toBeLessThan(1)
    }
    // in export order, the same flows come sorted by their end within what the assembler hands over
    const byEnd = await collect(replayCapture(capture, {speed: Infinity, order: 'end'}))
    expect(byEnd.map((f) => `${f[0]}/${f[2]}`).sort()).toEqual(flows.map((f) => `${f[0]}/${f[2]}`).sort())
  })

  it('puts a replayed capture on a stream', {timeout: 20_000}, async () => {
    await createStream(aws.kinesis, 'put-replay', 2)
    const result = await putFlows(aws.kinesis, 'put-replay', replayCapture(capture, {speed: Infinity}), {network: 'lab', partitionKey: 'src'})
    expect(result.flows).toBe(133)
    const read = await idsOnStream('put-replay')
    const expected = (await collect(replayCapture(capture, {speed: Infinity}))).map((f) => f[2]).sort((a, b) => a - b)
    expect(read).toEqual(expected)
  })
})
