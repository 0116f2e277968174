/**
 * Shard leases in a DynamoDB table, the way the Kinesis Client Library keeps them: one item per shard
 * (`leaseKey` = shard id) with its owner, a lease counter, the checkpoint, the parent shards and how
 * often the owner changed since the last checkpoint.
 *
 * - Every write is conditional on the counter the writer last saw, and bumps it; a worker that loses
 *   the race learns it from the failed condition, never by overwriting someone else.
 * - An owner renews its leases (bumps the counters) every `renewMs`. Other workers never compare
 *   clocks: a lease is expired when *they* have seen the same counter for longer than `failoverMs`.
 * - Taking: unowned and expired leases first, up to a fair share (leases / workers); when none is free
 *   and this worker is below its share, one lease per round is taken from the most loaded worker.
 * - A child shard's lease is created when its parents' leases say SHARD_END, and only then taken.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb'

import {DEFAULT_BACKOFF, backoffDelay, errorName, isStopped, isTransient, sendWithTimeout, sleep, StoppedError} from './aws.js'
import type {Checkpoint} from './checkpoints.js'
import {StreamError} from './stream-error.js'

export interface Lease {
  leaseKey: string
  leaseOwner: string | undefined
  leaseCounter: number
  /** sequence number, SHARD_END, or the start position of a shard never checkpointed (TRIM_HORIZON, LATEST, AT_TIMESTAMP:<ms>) */
  checkpoint: string
  checkpointFrontierUs: number | undefined
  checkpointMaxEventUs: number | undefined
  parentShardIds: string[]
  ownerSwitchesSinceCheckpoint: number
}

export type TakeReason = 'unowned' | 'expired' | 'balance' | 'own'

export interface LeaseToTake {
  lease: Lease
  reason: TakeReason
}

/**
 * Which leases to try to take this round (pure: the caller decides expiry and eligibility).
 * `active` are the leases that can be worked on (not at SHARD_END, parents finished).
 */
export function planLeaseTaking(active: readonly Lease[], me: string, held: ReadonlySet<string>, expired: (lease: Lease) => boolean): LeaseToTake[] {
  const counts = new Map<string, number>()
  counts.set(me, 0)
  for (const l of active) {
    if (l.leaseOwner === undefined || l.leaseOwner === me || expired(l)) continue
    counts.set(l.leaseOwner, (counts.get(l.leaseOwner) ?? 0) + 1)
  }
  const mine = [...held].filter((k) => active.some((l) => l.leaseKey === k)).length
  const target = Math.ceil(active.length / counts.size)
  let need = target - mine
  if (need <= 0) return []
  const plan: LeaseToTake[] = []
  // leases this worker owned before a restart come back first, then unowned, then expired ones
  const free = (reason: TakeReason, test: (l: Lease) => boolean): void => {
    for (const l of active) {
      if (need <= 0) return
      if (held.has(l.leaseKey) || !test(l) || plan.some((p) => p.lease.leaseKey === l.leaseKey)) continue
      plan.push({lease: l, reason})
      need--
    }
  }
  free('own', (l) => l.leaseOwner === me)
  free('unowned', (l) => l.leaseOwner === undefined)
  free('expired', (l) => l.leaseOwner !== undefined && l.leaseOwner !== me && expired(l))
  if (plan.length > 0) return plan
  // balance: one lease from the most loaded worker, if it holds more than its share
  let busiest: string | undefined
  let most = 0
  for (const [owner, n] of counts) {
    if (owner !== me && (n > most || (n === most && busiest !== undefined && owner < busiest))) {
      busiest = owner
      most = n
    }
  }
  if (busiest === undefined || most <= target) return []
  const victim = active.find((l) => l.leaseOwner === busiest)
  return victim ? [{lease: victim, reason: 'balance'}] : []
}

export interface LeaseManagerOptions {
  dynamo: DynamoDBClient
  table: string
  workerId: string
  /** a lease whose counter has not moved for this long is expired, ms (default 10 s) */
  failoverMs?: number
  /** ms clock used for expiry (default Date.now); inject for tests */
  now?: () => number
  requestTimeoutMs?: number
  signal?: AbortSignal
}

interface HeldLease {
  counter: number
  lastRenewedMs: number
}

export class LeaseManager {
  readonly table: string
  readonly workerId: string
  readonly failoverMs: number
  private readonly dynamo: DynamoDBClient
  private readonly now: () => number
  private readonly timeoutMs: number
  private readonly signal: AbortSignal | undefined
  private readonly held = new Map<string, HeldLease>()
  /** counter of each lease as last seen, and since when (our clock) */
  private readonly observed = new Map<string, {counter: number; owner: string | undefined; sinceMs: number}>()
  private queue: Promise<unknown> = Promise.resolve()

  constructor(options: LeaseManagerOptions) {
    this.dynamo = options.dynamo
    this.table = options.table
    this.workerId = options.workerId
    this.failoverMs = options.failoverMs ?? 10_000
    this.now = options.now ?? Date.now
    this.timeoutMs = options.requestTimeoutMs ?? 5_000
    this.signal = options.signal
  }

  /** Shard ids whose leases this worker holds. */
  heldLeases(): string[] {
    return [...this.held.keys()]
  }

  holds(shardId: string): boolean {
    return this.held.has(shardId)
  }

  /** One lease operation at a time, so a renewal never races this worker's own checkpoint. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async send<T>(operation: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await sendWithTimeout(operation, this.timeoutMs, this.signal, fn)
      } catch (error) {
        if (isStopped(error, this.signal)) throw new StoppedError()
        if (!isTransient(error) || attempt >= 4) throw error
        await sleep(backoffDelay(attempt, DEFAULT_BACKOFF, Math.random), this.signal)
      }
    }
  }

  /** Creates the lease table if it is missing and waits until it is ACTIVE. */
  async ensureTable(): Promise<void> {
    const status = async (): Promise<string | undefined> => {
      try {
        const d = await this.send('DescribeTable', (abortSignal) => this.dynamo.send(new DescribeTableCommand({TableName: this.table}), {abortSignal}))
        return d.Table?.TableStatus
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return undefined
        throw wrap('DescribeTable', this.table, error)
      }
    }
    let s = await status()
    if (s === undefined) {
      try {
        await this.send('CreateTable', (abortSignal) =>
          this.dynamo.send(
            new CreateTableCommand({
              TableName: this.table,
              KeySchema: [{AttributeName: 'leaseKey', KeyType: 'HASH'}],
              AttributeDefinitions: [{AttributeName: 'leaseKey', AttributeType: 'S'}],
              BillingMode: 'PAY_PER_REQUEST',
            }),
            {abortSignal},
          ),
        )
      } catch (error) {
        // another worker created it first
        if (errorName(error) !== 'ResourceInUseException') throw wrap('CreateTable', this.table, error)
      }
      s = await status()
    }
    const deadline = Date.now() + 60_000
    while (s !== 'ACTIVE') {
      if (Date.now() > deadline) throw new StreamError(`lease table ${this.table} is ${s ?? 'missing'} after 60 s`)
      await sleep(200, this.signal)
      if (this.signal?.aborted) throw new StoppedError()
      s = await status()
    }
  }

  /** Every lease (consistent Scan, all pages); updates the expiry observations. */
  async listLeases(): Promise<Lease[]> {
    const leases: Lease[] = []
    let start: Record<string, AttributeValue> | undefined
    do {
      const from = start
      let page
      try {
        page = await this.send('Scan', (abortSignal) =>
          this.dynamo.send(new ScanCommand({TableName: this.table, ConsistentRead: true, ...(from ? {ExclusiveStartKey: from} : {})}), {abortSignal}),
        )
      } catch (error) {
        throw wrap('Scan', this.table, error)
      }
      for (const item of page.Items ?? []) leases.push(fromItem(item))
      start = page.LastEvaluatedKey
    } while (start)
    const now = this.now()
    const seen = new Set<string>()
    for (const l of leases) {
      seen.add(l.leaseKey)
      const o = this.observed.get(l.leaseKey)
      if (!o || o.counter !== l.leaseCounter || o.owner !== l.leaseOwner) this.observed.set(l.leaseKey, {counter: l.leaseCounter, owner: l.leaseOwner, sinceMs: now})
    }
    for (const k of this.observed.keys()) if (!seen.has(k)) this.observed.delete(k)
    return leases.sort((a, b) => (a.leaseKey < b.leaseKey ? -1 : a.leaseKey > b.leaseKey ? 1 : 0))
  }

  /** Owned by someone whose counter has not moved for `failoverMs` of our clock. */
  isExpired(lease: Lease): boolean {
    if (lease.leaseOwner === undefined) return false
    const o = this.observed.get(lease.leaseKey)
    return o !== undefined && o.counter === lease.leaseCounter && this.now() - o.sinceMs > this.failoverMs
  }

  /** Creates a lease unless one exists; true when this call created it. */
  async createLease(shardId: string, parentShardIds: readonly string[], checkpoint: string): Promise<boolean> {
    const item: Record<string, AttributeValue> = {
      leaseKey: {S: shardId},
      leaseCounter: {N: '0'},
      checkpoint: {S: checkpoint},
      ownerSwitchesSinceCheckpoint: {N: '0'},
    }
    if (parentShardIds.length > 0) item.parentShardIds = {SS: [...parentShardIds]}
    try {
      await this.send('PutItem', (abortSignal) =>
        this.dynamo.send(new PutItemCommand({TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(leaseKey)'}), {abortSignal}),
      )
      return true
    } catch (error) {
      if (isConditionFailure(error)) return false
      throw wrap('PutItem', `${this.table}/${shardId}`, error)
    }
  }

  /**
   * Takes a lease seen with `lease.leaseCounter`: succeeds only if nobody wrote it since.
   * Returns false when someone else did.
   */
  takeLease(lease: Lease): Promise<boolean> {
    return this.serial(async () => {
      const next = lease.leaseCounter + 1
      const switched = lease.leaseOwner !== this.workerId
      try {
        await this.send('UpdateItem', (abortSignal) =>
          this.dynamo.send(
            new UpdateItemCommand({
              TableName: this.table,
              Key: {leaseKey: {S: lease.leaseKey}},
              UpdateExpression: `SET leaseOwner = :me, leaseCounter = :next${switched ? ', ownerSwitchesSinceCheckpoint = ownerSwitchesSinceCheckpoint + :one' : ''}`,
              ConditionExpression: 'leaseCounter = :seen',
              ExpressionAttributeValues: {
                ':me': {S: this.workerId},
                ':next': {N: String(next)},
                ':seen': {N: String(lease.leaseCounter)},
                ...(switched ? {':one': {N: '1'}} : {}),
              },
            }),
            {abortSignal},
          ),
        )
      } catch (error) {
        if (isConditionFailure(error)) return false
        throw wrap('UpdateItem', `${this.table}/${lease.leaseKey}`, error)
      }
      this.held.set(lease.leaseKey, {counter: next, lastRenewedMs: this.now()})
      this.observed.set(lease.leaseKey, {counter: next, owner: this.workerId, sinceMs: this.now()})
      return true
    })
  }

  /**
   * Renews every held lease; returns the shards whose leases were lost. A renewal that fails for
   * another reason (table unreachable) keeps the lease until it could have expired for the others.
   */
  async renew(): Promise<string[]> {
    const lost: string[] = []
    for (const shardId of [...this.held.keys()]) {
      try {
        if (!(await this.bump(shardId, '', {}))) lost.push(shardId)
      } catch (error) {
        if (error instanceof StoppedError) throw error
      }
    }
    return lost
  }

  /**
   * Writes a checkpoint under the lease (conditional on holding it). False: the lease was lost and
   * the checkpoint not written.
   */
  checkpoint(shardId: string, cp: Checkpoint): Promise<boolean> {
    const values: Record<string, AttributeValue> = {':cp': {S: cp.sequenceNumber}, ':zero': {N: '0'}}
    let set = ', checkpoint = :cp, ownerSwitchesSinceCheckpoint = :zero'
    const remove: string[] = []
    for (const [attr, v] of [
      ['checkpointFrontierUs', cp.frontierUs],
      ['checkpointMaxEventUs', cp.maxEventUs],
    ] as const) {
      if (v !== undefined && Number.isFinite(v)) {
        values[`:${attr}`] = {N: String(Math.round(v))}
        set += `, ${attr} = :${attr}`
      } else {
        remove.push(attr)
      }
    }
    return this.bump(shardId, set + (remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''), values)
  }

  /** Gives a lease up (clean stop, or a shard at SHARD_END): others may take it at once. */
  release(shardId: string): Promise<boolean> {
    return this.bump(shardId, ' REMOVE leaseOwner', {}).then((ok) => {
      this.held.delete(shardId)
      return ok
    })
  }

  /** Forget a lease locally without writing (a worker that stops as if killed). */
  abandon(shardId: string): void {
    this.held.delete(shardId)
  }

  /** Conditional counter bump with extra SET/REMOVE clauses; false (and the lease dropped) when lost. */
  private bump(shardId: string, extra: string, values: Record<string, AttributeValue>): Promise<boolean> {
    return this.serial(async () => {
      const h = this.held.get(shardId)
      if (!h) return false
      const next = h.counter + 1
      try {
        await this.send('UpdateItem', (abortSignal) =>
          this.dynamo.send(
            new UpdateItemCommand({
              TableName: this.table,
              Key: {leaseKey: {S: shardId}},
              UpdateExpression: `SET leaseCounter = :next${extra}`,
              ConditionExpression: 'leaseOwner = :me AND leaseCounter = :held',
              ExpressionAttributeValues: {...values, ':me': {S: this.workerId}, ':next': {N: String(next)}, ':held': {N: String(h.counter)}},
            }),
            {abortSignal},
          ),
        )
      } catch (error) {
        if (isConditionFailure(error)) {
          this.held.delete(shardId)
          return false
        }
        if (error instanceof StoppedError) throw error
        // unreachable table: keep the lease while it cannot have expired for the others
        if (this.now() - h.lastRenewedMs > this.failoverMs) {
          this.held.delete(shardId)
          return false
        }
        throw wrap('UpdateItem', `${this.table}/${shardId}`, error)
      }
      h.counter = next
      h.lastRenewedMs = this.now()
      this.observed.set(shardId, {counter: next, owner: this.workerId, sinceMs: this.now()})
      return true
    })
  }
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || errorName(error) === 'ConditionalCheckFailedException'
}

function wrap(operation: string, what: string, error: unknown): Error {
  if (error instanceof StoppedError || error instanceof StreamError) return error
  return new StreamError(`${operation}: ${what}: ${errorName(error) || 'error'}: ${(error as Error).message ?? String(error)}`, {cause: error})
}

function fromItem(item: Record<string, AttributeValue>): Lease {
  const n = (a: AttributeValue | undefined): number | undefined => (a?.N === undefined ? undefined : Number(a.N))
  return {
    leaseKey: item.leaseKey?.S ?? '',
    leaseOwner: item.leaseOwner?.S,
    leaseCounter: n(item.leaseCounter) ?? 0,
    checkpoint: item.checkpoint?.S ?? 'TRIM_HORIZON',
    checkpointFrontierUs: n(item.checkpointFrontierUs),
    checkpointMaxEventUs: n(item.checkpointMaxEventUs),
    parentShardIds: item.parentShardIds?.SS ?? item.parentShardIds?.L?.map((v) => v.S ?? '').filter((s) => s !== '') ?? [],
    ownerSwitchesSinceCheckpoint: n(item.ownerSwitchesSinceCheckpoint) ?? 0,
  }
}
