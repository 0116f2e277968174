/**
 * The inference map: shared bucket work kept in memory, keyed by (group — its prefix or AS, and the
 * address range of a split part —, scale and window start, model version), so that a later job on the
 * same group
 * (another run over an overlapping range in the same process, the stream mode later) takes the
 * windows whose flows are unchanged from here instead of recomputing them. Each entry carries the
 * fingerprint of the flows it was computed from; the worker recomputes a window whose fingerprint
 * no longer matches (the current hour of a cron run).
 *
 * Bounded by an estimate of the memory its entries hold, least recently used evicted first (a JS
 * `Map` keeps insertion order: touching an entry re-inserts it at the end).
 */
import type {CachedWindow, WindowWork} from './bucket-work.js'

export const DEFAULT_MAP_BYTES = 256 * 1024 * 1024

export interface InferenceMapStats {
  hits: number
  misses: number
  /** hits / (hits + misses); 0 before any lookup */
  reuseRatio: number
  entries: number
  bytes: number
  maxBytes: number
  evictions: number
}

interface Entry {
  work: WindowWork
  bytes: number
  group: string
}

export class InferenceMap {
  private readonly entries = new Map<string, Entry>()
  /** (model, group) → keys of its entries, for the lookup a job starts with */
  private readonly byGroup = new Map<string, Set<string>>()
  private bytes = 0
  hits = 0
  misses = 0
  evictions = 0

  constructor(readonly maxBytes: number = DEFAULT_MAP_BYTES) {}

  /** Every window held for `groupKey` under `modelKey`, keyed by `windowKey(group, scale, start)`. */
  windowsOf(modelKey: string, groupKey: string): Map<string, WindowWork> {
    const out = new Map<string, WindowWork>()
    for (const key of this.byGroup.get(group(modelKey, groupKey)) ?? []) {
      const e = this.entries.get(key)
      if (e !== undefined) out.set(windowKey(e.work.group, e.work.scale, e.work.windowStart), e.work)
    }
    return out
  }

  /** Held windows in the form a job carries them. */
  static cachedRefs(windows: Iterable<WindowWork>): CachedWindow[] {
    return [...windows].map((w) => ({group: w.group, scale: w.scale, windowStart: w.windowStart, fingerprint: w.fingerprint}))
  }

  /** Counts a reused window and marks it recently used. */
  hit(modelKey: string, work: WindowWork): void {
    this.hits++
    const key = entryKey(modelKey, work.group, work.scale, work.windowStart)
    const e = this.entries.get(key)
    if (e !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, e)
    }
  }

  /** Stores freshly computed shared work (a miss), evicting the least recently used over the bound. */
  store(modelKey: string, work: WindowWork): void {
    this.misses++
    const key = entryKey(modelKey, work.group, work.scale, work.windowStart)
    this.remove(key)
    const bytes = estimateBytes(work)
    if (bytes > this.maxBytes) return
    const g = group(modelKey, work.group)
    this.entries.set(key, {work, bytes, group: g})
    let set = this.byGroup.get(g)
    if (set === undefined) this.byGroup.set(g, (set = new Set()))
    set.add(key)
    this.bytes += bytes
    for (const [oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.remove(oldest)
      this.evictions++
    }
  }

  stats(): InferenceMapStats {
    const lookups = this.hits + this.misses
    return {
      hits: this.hits,
      misses: this.misses,
      reuseRatio: lookups === 0 ? 0 : this.hits / lookups,
      entries: this.entries.size,
      bytes: this.bytes,
      maxBytes: this.maxBytes,
      evictions: this.evictions,
    }
  }

  clear(): void {
    this.entries.clear()
    this.byGroup.clear()
    this.bytes = 0
  }

  private remove(key: string): void {
    const e = this.entries.get(key)
    if (e === undefined) return
    this.entries.delete(key)
    this.bytes -= e.bytes
    const set = this.byGroup.get(e.group)
    set?.delete(key)
    if (set?.size === 0) this.byGroup.delete(e.group)
  }
}

export function windowKey(groupKey: string, scale: string, windowStart: number): string {
  return `${groupKey}\u0000${scale}\u0000${windowStart}`
}

function group(modelKey: string, groupKey: string): string {
  return `${modelKey}\u0000${groupKey}`
}

function entryKey(modelKey: string, groupKey: string, scale: string, windowStart: number): string {
  return `${modelKey}\u0000${groupKey}\u0000${scale}\u0000${windowStart}`
}

/** Rough heap size of a window's shared work: strings, the score array, findings, overhead. */
export function estimateBytes(w: WindowWork): number {
  let bytes = 256 + (w.fingerprint.length + w.group.length) * 2 + w.scores.byteLength
  for (const a of w.addresses) bytes += 40 + a.length * 2
  for (const f of w.findings) bytes += 200 + f.address.length * 2 + f.topFeatures.length * 120
  return bytes
}
