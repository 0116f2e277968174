/**
 * Tumbling event-time windows over the flows read from several shards.
 *
 * A flow belongs to the window [k·W, (k+1)·W) that holds its start time `ts`. Each shard has a
 * watermark: the largest `ts` it has delivered minus the allowed lateness L. A window closes when
 *
 * - every shard still *holding* (just joined, or delivering records, or ended and waiting for its
 *   children) has its watermark at or past the window's end — so a shard that is catching up on a
 *   backlog is not overrun by a faster one — or, when no shard is holding, the largest watermark has;
 * - or, in wall time, no record has arrived for `idleTimeoutMs` and no shard is holding: event time is
 *   then taken to advance with wall time from the last record (the producer went quiet).
 *
 * A record whose window already ended by its own shard's watermark, or whose window has been closed,
 * is late: counted and dropped. One exception keeps lease handover exact: a shard taken over from
 * another worker starts behind this worker's closed windows; its records for windows that closed
 * before it joined go to per-shard "straggler" windows, which close on that shard's watermark alone.
 * Records before the shard's resume frontier (from its checkpoint) were already committed by the
 * previous owner and are skipped.
 */
import type {FlowBatch} from '../core/index.js'
import {FlowBatchBuilder} from './flow-builder.js'

export const DEFAULT_STREAM_WINDOW_SEC = 5
// 1 s: records of one shard arrive in order (the producer keeps one request in flight per shard), and 1 s keeps
// put-to-detection p99 under window + 2 s at the rates kinesalite sustains (bench: 6.8 s for 5 s windows)
export const DEFAULT_LATENESS_SEC = 1

export interface WindowOptions {
  windowSec?: number
  latenessSec?: number
  /** wall ms without records (and no shard holding) after which event time follows wall time (default max(1 s, L)) */
  idleTimeoutMs?: number
  /** a shard that delivered nothing for this long stops holding windows open, ms (default 30 s) */
  stallMs?: number
  /** an ended shard keeps holding this long unless its children join first, ms (default 10 s) */
  endedHoldMs?: number
  /** records starting more than this far ahead of the clock are dropped (default: no limit) */
  maxFutureSec?: number
  /** wall clock, ms */
  now?: () => number
}

export type CloseReason = 'watermark' | 'idle' | 'shard' | 'drain'

export interface ClosedWindow {
  id: number
  startUs: number
  endUs: number
  /** set for a straggler window: the one shard whose records it holds */
  straggler: string | undefined
  /** flows by shard, then network (`windowFlows` merges them) */
  parts: Map<string, Map<string, FlowBatch>>
  records: number
  shards: string[]
  closedBy: CloseReason
  /** wall ms of the first and last record added */
  firstArrivalMs: number
  lastArrivalMs: number
  closedAtMs: number
  /** the close watermark, µs */
  watermarkUs: number
}

export interface AddResult {
  /** windows that received records of this call: id → start µs */
  windows: Map<number, number>
  accepted: number
  /** behind their shard's watermark or for a closed window */
  late: number
  /** before the shard's resume frontier: committed by a previous owner */
  skipped: number
  /** start time too far ahead of the clock (`maxFutureSec`), or not a number: dropped */
  future: number
}

export interface ShardJoin {
  /** largest event time of the shard up to its checkpoint, µs */
  maxEventUs?: number
  /** records before this were committed by a previous owner, µs */
  resumeFrontierUs?: number
}

type ShardPhase = 'starting' | 'active' | 'idle' | 'ended'

interface ShardState {
  phase: ShardPhase
  maxEventUs: number
  resumeFrontierUs: number
  /** main frontier when the shard joined: its records before it go to straggler windows */
  joinFrontierUs: number
  lastProgressMs: number
  endedAtMs: number
}

interface OpenWindow {
  id: number
  startUs: number
  straggler: string | undefined
  /** shard → network → flows */
  parts: Map<string, Map<string, FlowBatchBuilder>>
  records: number
  firstArrivalMs: number
  lastArrivalMs: number
}

export interface WindowStats {
  accepted: number
  late: number
  skipped: number
  future: number
  windowsClosed: number
  stragglerWindows: number
}

export class WindowAssembler {
  readonly windowUs: number
  readonly latenessUs: number
  private readonly idleTimeoutMs: number
  private readonly stallMs: number
  private readonly endedHoldMs: number
  private readonly maxFutureMs: number
  private readonly now: () => number
  private readonly shards = new Map<string, ShardState>()
  private readonly main = new Map<number, OpenWindow>()
  private readonly stragglers = new Map<string, OpenWindow>()
  private nextId = 1
  /** every main window ending at or before this is closed, µs */
  private frontierUs = -Infinity
  private maxSeenUs = -Infinity
  private lastArrivalMs = -Infinity
  private buffered = 0
  readonly stats: WindowStats = {accepted: 0, late: 0, skipped: 0, future: 0, windowsClosed: 0, stragglerWindows: 0}

  constructor(options: WindowOptions = {}) {
    const windowSec = options.windowSec ?? DEFAULT_STREAM_WINDOW_SEC
    const latenessSec = options.latenessSec ?? DEFAULT_LATENESS_SEC
    if (!(windowSec > 0)) throw new RangeError(`window must be positive, got ${windowSec} s`)
    if (!(latenessSec >= 0)) throw new RangeError(`lateness must not be negative, got ${latenessSec} s`)
    this.windowUs = Math.round(windowSec * 1e6)
    this.latenessUs = Math.round(latenessSec * 1e6)
    this.idleTimeoutMs = options.idleTimeoutMs ?? Math.max(1000, latenessSec * 1000)
    this.stallMs = options.stallMs ?? 30_000
    this.endedHoldMs = options.endedHoldMs ?? 10_000
    this.maxFutureMs = options.maxFutureSec === undefined ? Infinity : options.maxFutureSec * 1000
    this.now = options.now ?? Date.now
  }

  /** records held in open windows */
  get bufferedRecords(): number {
    return this.buffered
  }

  /** every main window ending at or before this has closed, µs */
  get mainFrontierUs(): number {
    return this.frontierUs
  }

  get openWindows(): number {
    return this.main.size + this.stragglers.size
  }

  hasShard(shardId: string): boolean {
    return this.shards.has(shardId)
  }

  /** A shard starts delivering: until its first read it holds every window open. */
  addShard(shardId: string, join: ShardJoin = {}): void {
    const resume = join.resumeFrontierUs ?? -Infinity
    this.shards.set(shardId, {
      phase: 'starting',
      maxEventUs: join.maxEventUs ?? -Infinity,
      resumeFrontierUs: resume,
      joinFrontierUs: Math.max(this.frontierUs, resume),
      lastProgressMs: this.now(),
      endedAtMs: Infinity,
    })
  }

  /** The shard was read to its end: it holds windows until `removeShard` (children joined) or a timeout. */
  endShard(shardId: string): void {
    const s = this.shards.get(shardId)
    if (!s) return
    s.phase = 'ended'
    s.endedAtMs = this.now()
  }

  /**
   * The shard is no longer read here: ended and replaced by its children, or (`discard`) its lease
   * was lost — then its records leave the open windows too, since the new owner reads them again
   * from the last checkpoint and a window here would hold only part of them.
   */
  removeShard(shardId: string, discard = false): void {
    this.shards.delete(shardId)
    if (!discard) return
    for (const [key, w] of this.stragglers) {
      if (w.straggler === shardId) {
        this.buffered -= w.records
        this.stragglers.delete(key)
      }
    }
    for (const w of this.main.values()) {
      const part = w.parts.get(shardId)
      if (!part) continue
      let n = 0
      for (const b of part.values()) n += b.length
      w.parts.delete(shardId)
      w.records -= n
      this.buffered -= n
    }
  }

  /** Largest event time delivered by the shard, µs (-Infinity before any). */
  shardMaxEventUs(shardId: string): number {
    return this.shards.get(shardId)?.maxEventUs ?? -Infinity
  }

  /**
   * The shard's resume frontier for a checkpoint taken now: a later reader may skip the shard's
   * records before it, because each was either committed in a window or dropped as late here.
   * (Windows closed but not yet committed are the caller's to account for.)
   */
  shardFrontierUs(shardId: string): number {
    const s = this.shards.get(shardId)
    if (!s) return -Infinity
    const wm = s.maxEventUs - this.latenessUs
    let f = wm < s.joinFrontierUs ? this.floorToWindow(wm) : this.frontierUs
    for (const w of this.main.values()) if (w.parts.has(shardId) && w.startUs < f) f = w.startUs
    for (const w of this.stragglers.values()) if (w.straggler === shardId && w.startUs < f) f = w.startUs
    return Math.max(f, s.resumeFrontierUs)
  }

  /** The shard holds the watermark back (or nothing is buffered ahead of it): reading it must go on. */
  isBehind(shardId: string): boolean {
    const s = this.shards.get(shardId)
    if (!s) return true
    return s.maxEventUs - this.latenessUs <= this.watermark().watermarkUs
  }

  /** A read of the shard returned nothing: it has caught up and stops holding windows open. */
  noteEmptyRead(shardId: string): void {
    const s = this.shards.get(shardId)
    if (!s) return
    s.lastProgressMs = this.now()
    if (s.phase !== 'ended') s.phase = 'idle'
  }

  /** Adds decoded flows (tagged with their network) read from `shardId`. */
  add(shardId: string, flows: FlowBatchBuilder): AddResult {
    const s = this.shards.get(shardId)
    if (!s) throw new Error(`shard ${shardId} was not added`)
    const result: AddResult = {windows: new Map(), accepted: 0, late: 0, skipped: 0, future: 0}
    const now = this.now()
    s.lastProgressMs = now
    if (flows.length === 0) return result
    if (s.phase !== 'ended') s.phase = 'active'
    const b = flows.batch
    const win = this.windowUs
    const futureUs = (now + this.maxFutureMs) * 1000
    for (let i = 0; i < flows.length; i++) {
      const ts = b.tsStart[i]!
      if (!(ts <= futureUs)) {
        result.future++
        continue
      }
      if (ts < s.resumeFrontierUs) {
        result.skipped++
        continue
      }
      const shardWm = s.maxEventUs - this.latenessUs
      if (ts > s.maxEventUs) s.maxEventUs = ts
      const start = Math.floor(ts / win) * win
      const end = start + win
      let w: OpenWindow
      if (end <= shardWm) {
        result.late++
        continue
      } else if (end <= s.joinFrontierUs) {
        w = this.stragglerWindow(shardId, start, now)
      } else if (end <= this.frontierUs) {
        result.late++
        continue
      } else {
        w = this.mainWindow(start, now)
      }
      const network = flows.network[i] ?? ''
      let byNetwork = w.parts.get(shardId)
      if (!byNetwork) w.parts.set(shardId, (byNetwork = new Map()))
      let builder = byNetwork.get(network)
      if (!builder) byNetwork.set(network, (builder = new FlowBatchBuilder(64)))
      builder.appendRow(b, i, network)
      w.records++
      w.lastArrivalMs = now
      result.windows.set(w.id, w.startUs)
      result.accepted++
      if (ts > this.maxSeenUs) this.maxSeenUs = ts
    }
    this.buffered += result.accepted
    this.lastArrivalMs = now
    this.stats.accepted += result.accepted
    this.stats.late += result.late
    this.stats.skipped += result.skipped
    this.stats.future += result.future
    return result
  }

  private mainWindow(startUs: number, now: number): OpenWindow {
    let w = this.main.get(startUs)
    if (!w) this.main.set(startUs, (w = this.newWindow(startUs, undefined, now)))
    return w
  }

  private stragglerWindow(shardId: string, startUs: number, now: number): OpenWindow {
    const key = `${shardId}\u0000${startUs}`
    let w = this.stragglers.get(key)
    if (!w) this.stragglers.set(key, (w = this.newWindow(startUs, shardId, now)))
    return w
  }

  private newWindow(startUs: number, straggler: string | undefined, now: number): OpenWindow {
    return {id: this.nextId++, startUs, straggler, parts: new Map(), records: 0, firstArrivalMs: now, lastArrivalMs: now}
  }

  private floorToWindow(us: number): number {
    return Number.isFinite(us) ? Math.floor(us / this.windowUs) * this.windowUs : us
  }

  private isHolding(s: ShardState, now: number): boolean {
    if (s.phase === 'idle') return false
    if (s.phase === 'ended') return now - s.endedAtMs < this.endedHoldMs
    return now - s.lastProgressMs < this.stallMs
  }

  /** The watermark windows close on now, µs, and whether it came from the idle rule. */
  watermark(): {watermarkUs: number; idle: boolean} {
    const now = this.now()
    let min = Infinity
    let max = -Infinity
    let holding = 0
    for (const s of this.shards.values()) {
      const wm = s.maxEventUs - this.latenessUs
      if (wm > max) max = wm
      if (this.isHolding(s, now)) {
        holding++
        if (wm < min) min = wm
      }
    }
    let wm = holding > 0 ? min : max
    let idle = false
    if (holding === 0 && Number.isFinite(this.maxSeenUs) && now - this.lastArrivalMs >= this.idleTimeoutMs) {
      const extrapolated = this.maxSeenUs + (now - this.lastArrivalMs) * 1000 - this.latenessUs
      if (extrapolated > wm) {
        wm = extrapolated
        idle = true
      }
    }
    return {watermarkUs: wm, idle}
  }

  /** Windows that can close now, oldest first; they leave the assembler. */
  takeClosable(): ClosedWindow[] {
    const now = this.now()
    const {watermarkUs, idle} = this.watermark()
    const closed: ClosedWindow[] = []
    const frontier = this.floorToWindow(watermarkUs)
    if (frontier > this.frontierUs) {
      for (const [start, w] of this.main) {
        if (start + this.windowUs <= frontier) {
          this.main.delete(start)
          if (w.records > 0) closed.push(this.close(w, idle ? 'idle' : 'watermark', watermarkUs, now))
        }
      }
      this.frontierUs = frontier
    }
    for (const [key, w] of this.stragglers) {
      const s = w.straggler === undefined ? undefined : this.shards.get(w.straggler)
      const end = w.startUs + this.windowUs
      // a straggler window follows its own shard only: the main frontier is already past it
      if (!s || !this.isHolding(s, now) || end <= s.maxEventUs - this.latenessUs) {
        this.stragglers.delete(key)
        closed.push(this.close(w, 'shard', watermarkUs, now))
      }
    }
    return closed.sort((a, b) => a.endUs - b.endUs || a.id - b.id)
  }

  /** Closes every open window (a stop that commits what it has). */
  drain(): ClosedWindow[] {
    const now = this.now()
    const {watermarkUs} = this.watermark()
    const closed = [...this.main.values(), ...this.stragglers.values()].filter((w) => w.records > 0).map((w) => this.close(w, 'drain', watermarkUs, now))
    for (const w of this.main.values()) this.frontierUs = Math.max(this.frontierUs, w.startUs + this.windowUs)
    this.main.clear()
    this.stragglers.clear()
    return closed.sort((a, b) => a.endUs - b.endUs || a.id - b.id)
  }

  private close(w: OpenWindow, closedBy: CloseReason, watermarkUs: number, now: number): ClosedWindow {
    this.buffered -= w.records
    this.stats.windowsClosed++
    if (w.straggler !== undefined) this.stats.stragglerWindows++
    const parts = new Map<string, Map<string, FlowBatch>>()
    for (const [shardId, byNetwork] of w.parts) {
      const views = new Map<string, FlowBatch>()
      for (const [network, builder] of byNetwork) views.set(network, builder.view())
      parts.set(shardId, views)
    }
    return {
      id: w.id,
      startUs: w.startUs,
      endUs: w.startUs + this.windowUs,
      straggler: w.straggler,
      parts,
      records: w.records,
      shards: [...w.parts.keys()].sort(),
      closedBy,
      firstArrivalMs: w.firstArrivalMs,
      lastArrivalMs: w.lastArrivalMs,
      closedAtMs: now,
      watermarkUs,
    }
  }
}

/** A closed window's flows by network, from the shards `include` accepts (all by default). */
export function windowFlows(w: ClosedWindow, include: (shardId: string) => boolean = () => true): Map<string, FlowBatch> {
  const lists = new Map<string, FlowBatch[]>()
  for (const [shardId, byNetwork] of w.parts) {
    if (!include(shardId)) continue
    for (const [network, flows] of byNetwork) {
      let list = lists.get(network)
      if (!list) lists.set(network, (list = []))
      list.push(flows)
    }
  }
  const out = new Map<string, FlowBatch>()
  for (const [network, list] of [...lists].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (list.length === 1) {
      out.set(network, list[0]!)
      continue
    }
    const merged = new FlowBatchBuilder(list.reduce((n, b) => n + b.length, 0))
    for (const b of list) for (let i = 0; i < b.length; i++) merged.appendRow(b, i, network)
    out.set(network, merged.view())
  }
  return out
}
