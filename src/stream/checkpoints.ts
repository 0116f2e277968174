/**
 * Checkpoints: how far each shard has been processed, written only after the windows holding those
 * records have committed their results (at-least-once: after a crash the records since the last
 * checkpoint are read again and their windows rewrite the same detections).
 *
 * `ShardProgress` turns window commits into checkpoints. Every read of a shard is remembered with its
 * last sequence number and the windows its records went into; a shard's checkpoint is the last
 * sequence number of the longest prefix of reads whose windows have all committed.
 */
import type {FlowStore} from '../io/index.js'

export const SHARD_END = 'SHARD_END'

export interface Checkpoint {
  /** last sequence number processed, or SHARD_END */
  sequenceNumber: string
  /** records of the shard before this event time were committed (or dropped as late), µs */
  frontierUs?: number
  /** largest event time of the shard up to the checkpoint, µs */
  maxEventUs?: number
}

interface Read {
  lastSequenceNumber: string | undefined
  end: boolean
  maxEventUs: number
  pending: Set<number>
}

interface ShardEntry {
  reads: Read[]
  /** last sequence number tracked: an empty read after it adds nothing */
  lastTracked: string | undefined
  /** the checkpoint the prefix allows, not yet handed out */
  ready: {sequenceNumber: string; maxEventUs: number} | undefined
}

export interface ReadyCheckpoint {
  shardId: string
  sequenceNumber: string
  maxEventUs: number
}

export class ShardProgress {
  private readonly shards = new Map<string, ShardEntry>()
  /** start of every window some read is waiting for, µs */
  private readonly windowStart = new Map<number, number>()

  /**
   * One read of `shardId`: its records went into `windows` (id → start µs). `lastSequenceNumber` is
   * the last sequence number read so far; `end` marks the read that found the shard's end.
   */
  track(shardId: string, read: {lastSequenceNumber: string | undefined; windows: Map<number, number>; end: boolean; maxEventUs: number}): void {
    let entry = this.shards.get(shardId)
    if (!entry) this.shards.set(shardId, (entry = {reads: [], lastTracked: undefined, ready: undefined}))
    for (const [id, start] of read.windows) this.windowStart.set(id, start)
    if (read.windows.size === 0 && !read.end && read.lastSequenceNumber === entry.lastTracked) return
    entry.lastTracked = read.lastSequenceNumber
    entry.reads.push({lastSequenceNumber: read.lastSequenceNumber, end: read.end, maxEventUs: read.maxEventUs, pending: new Set(read.windows.keys())})
    this.advance(entry)
  }

  /** The window committed (or was given up): reads waiting only for it become checkpointable. */
  windowDone(id: number): void {
    this.windowStart.delete(id)
    for (const entry of this.shards.values()) {
      let touched = false
      for (const r of entry.reads) touched = r.pending.delete(id) || touched
      if (touched) this.advance(entry)
    }
  }

  private advance(entry: ShardEntry): void {
    while (entry.reads.length > 0 && entry.reads[0]!.pending.size === 0) {
      const r = entry.reads.shift()!
      if (r.end) entry.ready = {sequenceNumber: SHARD_END, maxEventUs: r.maxEventUs}
      else if (r.lastSequenceNumber !== undefined) entry.ready = {sequenceNumber: r.lastSequenceNumber, maxEventUs: r.maxEventUs}
    }
  }

  /** Checkpoints that advanced since the last call. */
  takeReady(): ReadyCheckpoint[] {
    const out: ReadyCheckpoint[] = []
    for (const [shardId, entry] of this.shards) {
      if (entry.ready) {
        out.push({shardId, ...entry.ready})
        entry.ready = undefined
      }
    }
    return out
  }

  /** Earliest start of a window the shard's unprocessed reads wait for, µs (Infinity when none). */
  pendingFrontierUs(shardId: string): number {
    let f = Infinity
    for (const r of this.shards.get(shardId)?.reads ?? []) {
      for (const id of r.pending) {
        const start = this.windowStart.get(id)
        if (start !== undefined && start < f) f = start
      }
    }
    return f
  }

  /** Reads of the shard still waiting for windows. */
  pendingReads(shardId: string): number {
    return this.shards.get(shardId)?.reads.length ?? 0
  }

  /** Forget the shard (lease lost): no checkpoint will be written for it. */
  drop(shardId: string): void {
    this.shards.delete(shardId)
  }
}

/** Checkpoints in the local store (`stream_checkpoints`), for a single worker without a lease table. */
export class StoreCheckpoints {
  constructor(
    private readonly store: FlowStore,
    private readonly stream: string,
  ) {}

  async load(): Promise<Map<string, Checkpoint>> {
    const rows = await this.store.all<{shard_id: string; sequence_number: string; frontier_us: bigint | null; max_event_us: bigint | null}>(
      'SELECT shard_id, sequence_number, frontier_us, max_event_us FROM stream_checkpoints WHERE stream = $1',
      [this.stream],
    )
    const out = new Map<string, Checkpoint>()
    for (const r of rows) {
      out.set(r.shard_id, {
        sequenceNumber: r.sequence_number,
        ...(r.frontier_us === null ? {} : {frontierUs: Number(r.frontier_us)}),
        ...(r.max_event_us === null ? {} : {maxEventUs: Number(r.max_event_us)}),
      })
    }
    return out
  }

  async save(shardId: string, checkpoint: Checkpoint, nowMs: number): Promise<void> {
    const finite = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) ? Math.round(x) : null)
    await this.store.run(
      `INSERT INTO stream_checkpoints VALUES ($1, $2, $3, $4::BIGINT, $5::BIGINT, make_timestamp($6::BIGINT))
       ON CONFLICT (stream, shard_id) DO UPDATE SET sequence_number = excluded.sequence_number, frontier_us = excluded.frontier_us,
         max_event_us = excluded.max_event_us, updated_at = excluded.updated_at`,
      [this.stream, shardId, checkpoint.sequenceNumber, finite(checkpoint.frontierUs), finite(checkpoint.maxEventUs), Math.round(nowMs * 1000)],
    )
  }
}
