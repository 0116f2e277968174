/**
 * Which shards a worker reads, and where its checkpoints go.
 *
 * - `LocalCoordinator`: one worker reads every shard; checkpoints in the local store.
 * - `LeaseCoordinator`: workers share the stream through DynamoDB leases (leases.ts).
 *
 * Both follow resharding the same way: a child shard is read only after its parents are finished
 * (read to their end here, or checkpointed at SHARD_END), so the records of one partition key are
 * seen in order; shards are re-discovered every `discoveryMs` and at once when a shard ends.
 */
import type {KinesisClient} from '@aws-sdk/client-kinesis'

import {sleep} from './aws.js'
import {SHARD_END, StoreCheckpoints, type Checkpoint} from './checkpoints.js'
import {listShards, type ShardInfo, type ShardStart, type StartPosition} from './consumer.js'
import {planLeaseTaking, type Lease, type LeaseManager, type TakeReason} from './leases.js'

export interface ShardAssignment {
  shardId: string
  parentShardIds: string[]
  start: ShardStart
  /** the checkpoint the start comes from, if any */
  checkpoint: Checkpoint | undefined
}

export type CoordinatorEvent =
  | {type: 'lease-taken'; shardId: string; reason: TakeReason; from: string | undefined}
  | {type: 'lease-lost'; shardId: string}
  | {type: 'lease-created'; shardId: string; checkpoint: string}
  | {type: 'shards-discovered'; shards: number}

export interface ShardCoordinator {
  /** How often the worker should ask for assignments, ms. */
  readonly tickMs: number
  /**
   * How long a shard read to its end keeps holding the windows open, waiting for its children to
   * join this worker, ms. With leases the children cannot start before the parent's SHARD_END
   * checkpoint (which needs those windows closed), so there it is 0.
   */
  readonly endedHoldMs: number
  start(): Promise<void>
  /** The shards this worker should be reading now, each with where to start. */
  assignments(): Promise<ShardAssignment[]>
  /** A reader reached the shard's end (everything in it has been read, not yet committed). */
  shardEnded(shardId: string): void
  /** Records a checkpoint (after the results it covers are committed); false when the shard is no longer ours. */
  checkpoint(shardId: string, checkpoint: Checkpoint): Promise<boolean>
  /** Stops; `release` gives leases up at once, otherwise they expire (a crash looks like this). */
  stop(release: boolean): Promise<void>
}

interface DiscoveryOptions {
  kinesis: KinesisClient
  stream: string
  startPosition: StartPosition
  discoveryMs: number
  requestTimeoutMs?: number
  signal?: AbortSignal
  onEvent?: (event: CoordinatorEvent) => void
  /** ms clock */
  now?: () => number
}

/** A lease's checkpoint string for a start position. */
export function positionMarker(p: StartPosition): string {
  return p.type === 'AT_TIMESTAMP' ? `AT_TIMESTAMP:${p.timestamp.getTime()}` : p.type
}

/** Where to start from a lease's checkpoint string. */
export function startFromMarker(checkpoint: string): ShardStart {
  if (checkpoint === 'TRIM_HORIZON' || checkpoint === 'LATEST') return {type: checkpoint}
  if (checkpoint.startsWith('AT_TIMESTAMP:')) return {type: 'AT_TIMESTAMP', timestamp: new Date(Number(checkpoint.slice('AT_TIMESTAMP:'.length)))}
  return {type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: checkpoint}
}

function isPositionMarker(checkpoint: string): boolean {
  return checkpoint === 'TRIM_HORIZON' || checkpoint === 'LATEST' || checkpoint.startsWith('AT_TIMESTAMP:')
}

/** A single worker reading every shard, checkpointing into the local store. */
export class LocalCoordinator implements ShardCoordinator {
  readonly tickMs: number
  readonly endedHoldMs = 10_000
  private readonly now: () => number
  private checkpoints = new Map<string, Checkpoint>()
  /** read to their end in this run */
  private readonly ended = new Set<string>()
  /** closed before a LATEST start and never checkpointed: nothing to read */
  private readonly skipped = new Set<string>()
  /** where each shard given out in this run started */
  private readonly started = new Map<string, ShardStart>()
  private shards: ShardInfo[] = []
  private lastDiscoveryMs = -Infinity
  private dirty = true

  constructor(
    private readonly options: DiscoveryOptions,
    private readonly store: StoreCheckpoints,
  ) {
    this.tickMs = Math.min(500, options.discoveryMs)
    this.now = options.now ?? Date.now
  }

  async start(): Promise<void> {
    this.checkpoints = await this.store.load()
  }

  private async discover(): Promise<void> {
    const now = this.now()
    if (!this.dirty && now - this.lastDiscoveryMs < this.options.discoveryMs) return
    this.shards = await listShards(this.options.kinesis, this.options.stream, {
      signal: this.options.signal,
      ...(this.options.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: this.options.requestTimeoutMs}),
    })
    this.lastDiscoveryMs = now
    this.dirty = false
    this.options.onEvent?.({type: 'shards-discovered', shards: this.shards.length})
  }

  async assignments(): Promise<ShardAssignment[]> {
    await this.discover()
    const byId = new Map(this.shards.map((s) => [s.shardId, s]))
    const done = (id: string): boolean =>
      !byId.has(id) || this.ended.has(id) || this.skipped.has(id) || this.checkpoints.get(id)?.sequenceNumber === SHARD_END
    // under LATEST: a shard continues the tree (from TRIM_HORIZON) when a parent is or was read;
    // a closed shard nobody continues has nothing new in it
    const continued = new Map<string, boolean>()
    const isContinued = (s: ShardInfo): boolean => {
      const memo = continued.get(s.shardId)
      if (memo !== undefined) return memo
      continued.set(s.shardId, false)
      const parents = s.parentShardIds.map((p) => byId.get(p)).filter((p): p is ShardInfo => p !== undefined)
      const result =
        this.checkpoints.has(s.shardId) ||
        this.started.has(s.shardId) ||
        parents.some((p) => this.checkpoints.has(p.shardId) || this.started.has(p.shardId) || isContinued(p))
      continued.set(s.shardId, result)
      return result
    }
    const latest = this.options.startPosition.type === 'LATEST'
    const out: ShardAssignment[] = []
    for (const s of this.shards) {
      if (latest && !isContinued(s) && s.endingSequenceNumber !== undefined) this.skipped.add(s.shardId)
      if (done(s.shardId)) continue
      if (s.parentShardIds.some((p) => !done(p))) continue
      const cp = this.checkpoints.get(s.shardId)
      let start = this.started.get(s.shardId)
      if (cp) start = {type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: cp.sequenceNumber}
      else if (start === undefined && latest) start = isContinued(s) ? {type: 'TRIM_HORIZON'} : {type: 'LATEST'}
      else start ??= this.options.startPosition
      this.started.set(s.shardId, start)
      out.push({shardId: s.shardId, parentShardIds: s.parentShardIds, start, checkpoint: cp})
    }
    return out
  }

  shardEnded(shardId: string): void {
    this.ended.add(shardId)
    this.dirty = true
  }

  async checkpoint(shardId: string, checkpoint: Checkpoint): Promise<boolean> {
    await this.store.save(shardId, checkpoint, this.now())
    this.checkpoints.set(shardId, checkpoint)
    return true
  }

  async stop(): Promise<void> {}
}

export interface LeaseCoordinatorOptions extends DiscoveryOptions {
  leases: LeaseManager
  /** how often held leases are renewed, ms */
  renewMs: number
  /** how often free/expired leases are looked for, ms */
  takeIntervalMs: number
}

/** Workers sharing a stream through a DynamoDB lease table. */
export class LeaseCoordinator implements ShardCoordinator {
  readonly tickMs: number
  readonly endedHoldMs = 0
  private readonly now: () => number
  private readonly leases: LeaseManager
  /** renewals run on their own loop, so a slow discovery never lets a lease expire */
  private readonly renewals = new AbortController()
  private renewing: Promise<void> = Promise.resolve()
  private lastTakeMs = -Infinity
  private lastDiscoveryMs = -Infinity
  private dirty = true
  private known = new Map<string, Lease>()

  constructor(private readonly options: LeaseCoordinatorOptions) {
    this.leases = options.leases
    this.tickMs = Math.max(50, Math.min(options.takeIntervalMs, 500))
    this.now = options.now ?? Date.now
  }

  async start(): Promise<void> {
    await this.leases.ensureTable()
    this.renewing = this.renewLoop()
  }

  private async renewLoop(): Promise<void> {
    const signal = this.renewals.signal
    while (!signal.aborted) {
      await sleep(this.options.renewMs, signal)
      if (signal.aborted) break
      try {
        for (const shardId of await this.leases.renew()) this.options.onEvent?.({type: 'lease-lost', shardId})
      } catch {
        // a failed round is retried on the next; a lease is dropped once it could have expired
      }
    }
  }

  /** Creates leases for shards that have none and may be worked on (roots; children of finished parents). */
  private async syncLeases(): Promise<void> {
    const shards = await listShards(this.options.kinesis, this.options.stream, {
      signal: this.options.signal,
      ...(this.options.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: this.options.requestTimeoutMs}),
    })
    this.options.onEvent?.({type: 'shards-discovered', shards: shards.length})
    const leases = new Map((await this.leases.listLeases()).map((l) => [l.leaseKey, l]))
    const ids = new Set(shards.map((s) => s.shardId))
    const start = this.options.startPosition
    const skipped = new Set<string>()
    // ListShards lists parents before their children
    for (const s of shards) {
      if (leases.has(s.shardId)) continue
      const parents = s.parentShardIds.filter((p) => ids.has(p))
      const parentLeases = parents.map((p) => leases.get(p))
      if (parentLeases.some((l) => l !== undefined && l.checkpoint !== SHARD_END)) continue
      let checkpoint: string
      if (parentLeases.some((l) => l !== undefined)) {
        if (parentLeases.some((l, i) => l === undefined && !skipped.has(parents[i]!))) continue
        checkpoint = start.type === 'AT_TIMESTAMP' ? positionMarker(start) : 'TRIM_HORIZON'
      } else {
        if (parents.some((p) => !skipped.has(p))) continue
        if (start.type === 'LATEST' && s.endingSequenceNumber !== undefined) {
          skipped.add(s.shardId)
          continue
        }
        checkpoint = positionMarker(start)
      }
      if (await this.leases.createLease(s.shardId, s.parentShardIds, checkpoint)) {
        this.options.onEvent?.({type: 'lease-created', shardId: s.shardId, checkpoint})
      }
    }
  }

  private workable(lease: Lease, all: ReadonlyMap<string, Lease>): boolean {
    if (lease.checkpoint === SHARD_END) return false
    return lease.parentShardIds.every((p) => {
      const parent = all.get(p)
      return parent === undefined || parent.checkpoint === SHARD_END
    })
  }

  async assignments(): Promise<ShardAssignment[]> {
    const now = this.now()
    if (this.dirty || now - this.lastDiscoveryMs >= this.options.discoveryMs) {
      this.dirty = false
      this.lastDiscoveryMs = now
      await this.syncLeases()
      this.lastTakeMs = -Infinity
    }
    if (now - this.lastTakeMs >= this.options.takeIntervalMs) {
      this.lastTakeMs = now
      const all = await this.leases.listLeases()
      this.known = new Map(all.map((l) => [l.leaseKey, l]))
      const active = all.filter((l) => this.workable(l, this.known))
      const plan = planLeaseTaking(active, this.leases.workerId, new Set(this.leases.heldLeases()), (l) => this.leases.isExpired(l))
      for (const {lease, reason} of plan) {
        if (await this.leases.takeLease(lease)) {
          this.options.onEvent?.({type: 'lease-taken', shardId: lease.leaseKey, reason, from: lease.leaseOwner})
          // re-read below through `known`: the checkpoint is the one seen with the counter we took
        }
      }
    }
    const out: ShardAssignment[] = []
    for (const shardId of this.leases.heldLeases()) {
      const lease = this.known.get(shardId)
      if (!lease || lease.checkpoint === SHARD_END) continue
      const checkpoint: Checkpoint | undefined = isPositionMarker(lease.checkpoint)
        ? undefined
        : {
            sequenceNumber: lease.checkpoint,
            ...(lease.checkpointFrontierUs === undefined ? {} : {frontierUs: lease.checkpointFrontierUs}),
            ...(lease.checkpointMaxEventUs === undefined ? {} : {maxEventUs: lease.checkpointMaxEventUs}),
          }
      out.push({shardId, parentShardIds: lease.parentShardIds, start: startFromMarker(lease.checkpoint), checkpoint})
    }
    return out
  }

  shardEnded(): void {
    // children leases appear once the parent's SHARD_END checkpoint is written
  }

  async checkpoint(shardId: string, checkpoint: Checkpoint): Promise<boolean> {
    const ok = await this.leases.checkpoint(shardId, checkpoint)
    if (!ok) {
      this.options.onEvent?.({type: 'lease-lost', shardId})
      return false
    }
    const known = this.known.get(shardId)
    if (known) {
      known.checkpoint = checkpoint.sequenceNumber
      known.checkpointFrontierUs = checkpoint.frontierUs
      known.checkpointMaxEventUs = checkpoint.maxEventUs
    }
    if (checkpoint.sequenceNumber === SHARD_END) {
      // finished: give the lease up and create the children's leases now
      await this.leases.release(shardId)
      this.dirty = true
    }
    return true
  }

  async stop(release: boolean): Promise<void> {
    this.renewals.abort()
    await this.renewing
    for (const shardId of this.leases.heldLeases()) {
      if (release) {
        try {
          await this.leases.release(shardId)
        } catch {
          // the lease expires on its own
        }
      } else {
        this.leases.abandon(shardId)
      }
    }
  }
}
