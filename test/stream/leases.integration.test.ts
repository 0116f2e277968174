import {SplitShardCommand} from '@aws-sdk/client-kinesis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LeaseCoordinator} from '../../src/stream/coordinator.js'
import {LeaseManager, planLeaseTaking, SHARD_END, type Lease} from '../../src/stream/index.js'
import {createStream, startAws, type TestAws} from './helpers.js'

let aws: TestAws

beforeAll(async () => {
  aws = await startAws()
}, 20_000)

afterAll(async () => {
  await aws?.close()
})

/** A clock the test moves by hand. */
function fakeClock(): {now: () => number; advance: (ms: number) => void} {
  let t = 1_000_000
  return {now: () => t, advance: (ms) => (t += ms)}
}

async function takeRound(m: LeaseManager): Promise<string[]> {
  const all = await m.listLeases()
  const active = all.filter((l) => l.checkpoint !== SHARD_END)
  const plan = planLeaseTaking(active, m.workerId, new Set(m.heldLeases()), (l) => m.isExpired(l))
  const taken: string[] = []
  for (const p of plan) if (await m.takeLease(p.lease)) taken.push(`${p.lease.leaseKey}:${p.reason}`)
  return taken
}

const owners = async (m: LeaseManager): Promise<Record<string, string | undefined>> =>
  Object.fromEntries((await m.listLeases()).map((l) => [l.leaseKey, l.leaseOwner]))

describe('LeaseManager', () => {
  it('takes free leases, balances one per round, renews, and takes expired leases after failover', {timeout: 20_000}, async () => {
    const clock = fakeClock()
    const make = (workerId: string): LeaseManager => new LeaseManager({dynamo: aws.dynamo, table: 'leases-basic', workerId, failoverMs: 10_000, now: clock.now})
    const a = make('A')
    const b = make('B')
    await a.ensureTable()
    await b.ensureTable()
    for (const s of ['s0', 's1', 's2', 's3']) expect(await a.createLease(s, [], 'TRIM_HORIZON')).toBe(true)
    expect(await b.createLease('s0', [], 'TRIM_HORIZON')).toBe(false)

    // alone, A takes everything free
    expect(await takeRound(a)).toEqual(['s0:unowned', 's1:unowned', 's2:unowned', 's3:unowned'])
    // B joins: nothing is free or expired, so it takes one lease per round from A up to its share
    expect(await takeRound(b)).toEqual(['s0:balance'])
    expect(await takeRound(b)).toEqual(['s1:balance'])
    expect(await takeRound(b)).toEqual([])
    // A learns it lost them when renewing
    expect((await a.renew()).sort()).toEqual(['s0', 's1'])
    expect(a.heldLeases().sort()).toEqual(['s2', 's3'])
    expect(await owners(a)).toEqual({s0: 'B', s1: 'B', s2: 'A', s3: 'A'})

    // a checkpoint under a lost lease is refused
    expect(await a.checkpoint('s0', {sequenceNumber: '123'})).toBe(false)
    expect(await b.checkpoint('s0', {sequenceNumber: '123', frontierUs: 5_000_000, maxEventUs: 6_000_000})).toBe(true)
    const s0 = (await b.listLeases()).find((l) => l.leaseKey === 's0')!
    expect(s0).toMatchObject({checkpoint: '123', checkpointFrontierUs: 5_000_000, checkpointMaxEventUs: 6_000_000, ownerSwitchesSinceCheckpoint: 0})

    // A stops renewing (crash). B renews its own; after failoverMs of B's clock A's leases are expired
    await b.listLeases()
    clock.advance(6_000)
    expect(await b.renew()).toEqual([])
    expect(await takeRound(b)).toEqual([])
    clock.advance(4_001)
    expect(await b.renew()).toEqual([])
    expect(await takeRound(b)).toEqual(['s2:expired', 's3:expired'])
    expect(await owners(b)).toEqual({s0: 'B', s1: 'B', s2: 'B', s3: 'B'})
    const s2 = (await b.listLeases()).find((l) => l.leaseKey === 's2')!
    expect(s2.ownerSwitchesSinceCheckpoint).toBe(2)
  })

  it('lets exactly one of two workers take a lease seen with the same counter', {timeout: 20_000}, async () => {
    const a = new LeaseManager({dynamo: aws.dynamo, table: 'leases-race', workerId: 'A'})
    const b = new LeaseManager({dynamo: aws.dynamo, table: 'leases-race', workerId: 'B'})
    await a.ensureTable()
    await a.createLease('s0', [], 'LATEST')
    const [seenA] = await a.listLeases()
    const [seenB] = await b.listLeases()
    const results = await Promise.all([a.takeLease(seenA as Lease), b.takeLease(seenB as Lease)])
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('plans: own leases back first, then free, then expired; no balancing at fair share', () => {
    const lease = (leaseKey: string, leaseOwner: string | undefined): Lease => ({
      leaseKey,
      leaseOwner,
      leaseCounter: 1,
      checkpoint: 'TRIM_HORIZON',
      checkpointFrontierUs: undefined,
      checkpointMaxEventUs: undefined,
      parentShardIds: [],
      ownerSwitchesSinceCheckpoint: 0,
    })
    const leases = [lease('a', 'X'), lease('b', undefined), lease('c', 'me'), lease('d', 'Y'), lease('e', 'Y'), lease('f', 'Y')]
    const plan = planLeaseTaking(leases, 'me', new Set(), (l) => l.leaseKey === 'a')
    // 6 leases, workers me and Y (X is expired): share 3
    expect(plan.map((p) => `${p.lease.leaseKey}:${p.reason}`)).toEqual(['c:own', 'b:unowned', 'a:expired'])
    expect(planLeaseTaking([lease('a', 'me'), lease('b', 'Y'), lease('c', 'Y')], 'me', new Set(['a']), () => false)).toEqual([])
  })
})

describe('LeaseCoordinator', () => {
  it('creates a child lease only when its parent is checkpointed at SHARD_END', {timeout: 20_000}, async () => {
    await createStream(aws.kinesis, 'lease-split', 1)
    await aws.kinesis.send(new SplitShardCommand({StreamName: 'lease-split', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 127n).toString()}))
    await new Promise((r) => setTimeout(r, 100))
    const leases = new LeaseManager({dynamo: aws.dynamo, table: 'leases-split', workerId: 'A', failoverMs: 1000})
    const coordinator = new LeaseCoordinator({
      kinesis: aws.kinesis,
      stream: 'lease-split',
      startPosition: {type: 'TRIM_HORIZON'},
      discoveryMs: 60_000,
      leases,
      renewMs: 1000,
      takeIntervalMs: 0,
    })
    await coordinator.start()
    const first = await coordinator.assignments()
    expect(first.map((a) => [a.shardId, a.start.type])).toEqual([['shardId-000000000000', 'TRIM_HORIZON']])
    expect((await leases.listLeases()).map((l) => l.leaseKey)).toEqual(['shardId-000000000000'])
    // the parent's end is checkpointed: the children get leases from TRIM_HORIZON, and are taken
    expect(await coordinator.checkpoint('shardId-000000000000', {sequenceNumber: SHARD_END})).toBe(true)
    const next = await coordinator.assignments()
    expect(next.map((a) => [a.shardId, a.start.type, a.parentShardIds])).toEqual([
      ['shardId-000000000001', 'TRIM_HORIZON', ['shardId-000000000000']],
      ['shardId-000000000002', 'TRIM_HORIZON', ['shardId-000000000000']],
    ])
    const parent = (await leases.listLeases()).find((l) => l.leaseKey === 'shardId-000000000000')
    expect(parent).toMatchObject({checkpoint: SHARD_END, leaseOwner: undefined})
    await coordinator.stop(true)
    expect((await leases.listLeases()).every((l) => l.leaseOwner === undefined)).toBe(true)
  })

  it('under LATEST, skips shards closed before the start and reads their open children from LATEST', {timeout: 20_000}, async () => {
    await createStream(aws.kinesis, 'lease-latest', 1)
    await aws.kinesis.send(new SplitShardCommand({StreamName: 'lease-latest', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 127n).toString()}))
    await new Promise((r) => setTimeout(r, 100))
    const leases = new LeaseManager({dynamo: aws.dynamo, table: 'leases-latest', workerId: 'A'})
    const coordinator = new LeaseCoordinator({kinesis: aws.kinesis, stream: 'lease-latest', startPosition: {type: 'LATEST'}, discoveryMs: 60_000, leases, renewMs: 1000, takeIntervalMs: 0})
    await coordinator.start()
    const assigned = await coordinator.assignments()
    expect(assigned.map((a) => [a.shardId, a.start.type])).toEqual([
      ['shardId-000000000001', 'LATEST'],
      ['shardId-000000000002', 'LATEST'],
    ])
    await coordinator.stop(true)
  })
})
