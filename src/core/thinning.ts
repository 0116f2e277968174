/**
 * A fixed incoming rate per network: a network's flow records of one interval (a stream window, a
 * collector flush) above a budget of records per second are thinned, each record kept with a known
 * probability 1/k and its `sampling_rate` multiplied by k, so every total extrapolated with the
 * sampling rate (Σ value × sampling_rate) stays unbiased (Horvitz–Thompson: a record kept with
 * probability π counts 1/π times).
 *
 * Here in core because the collector (io) and the stream worker (stream) both thin, and io must not
 * import stream.
 *
 * - k = ceil(records / (budget × seconds)), an integer ≥ 1 so `sampling_rate` stays an integer; 1 (the
 *   batch handed back untouched) at or under budget. The kept count is then at most the budget in
 *   expectation, and at least budget × (1 − 1/k): exactly the budget at 10×.
 * - The keep decision is a hash of the record's identity (the columns the stream scorer's replay check
 *   compares, FLOW_IDENTITY: exporter, times, addresses, ports, protocol, flags, packets, bytes and the
 *   incoming sampling rate), the network and a seed — not an rng draw — so a window read again after a
 *   restart keeps exactly the same records with the same multiplied rate, and the replay check still
 *   finds them stored. Identical records (same identity) are kept or dropped together; each is still
 *   kept with probability 1/k, so totals stay unbiased. Each record's uniform draw is the same for
 *   every k, so the records kept at k are among those kept at any smaller k: a window that comes back
 *   with other content (a straggler part, a shard lost mid-window) and so another k keeps as many of
 *   the same records as it can — but with another sampling rate, which the replay check would not
 *   match: determinism holds for a window with the same content.
 * - `sampling_rate` is UINTEGER (≤ 2^32 − 1): a record whose rate × k would overflow is thinned with
 *   the largest k' ≤ k that fits (kept with probability 1/k', rate × k'), unbiased too.
 */
import {readFile} from 'node:fs/promises'

import {UsageError} from './errors.js'
import {ADDR_WORDS, copyFlowRow, createFlowBatch, type FlowBatch} from './flow-batch.js'
import {MAX_SAMPLING_RATE} from './flow-bounds.js'
import {fmix32, hashWords} from './hash.js'

/** Budgets of flow records per second: `default` for every network, `networks` by name (overrides it). */
export interface RateLimits {
  default?: number
  networks?: Readonly<Record<string, number>>
}

/** The budget of `network`, records/s (undefined: not limited). */
export function rateLimitFor(limits: RateLimits | undefined, network: string): number | undefined {
  if (limits === undefined) return undefined
  return limits.networks?.[network] ?? limits.default
}

/** Whether any network has a budget. */
export function hasRateLimits(limits: RateLimits | undefined): boolean {
  return limits !== undefined && (limits.default !== undefined || Object.keys(limits.networks ?? {}).length > 0)
}

const budgetProblem = (v: unknown): string | null =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : `must be a positive number of records per second, got ${JSON.stringify(v)}`

/** `{"default": N?, "networks": {"name": N}}` as written in a `--rate-limit-file`; `where` names it in errors. */
export function parseRateLimits(text: string, where: string): RateLimits {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new UsageError(`${where}: not JSON: ${(error as Error).message}`, {hint: 'write {"default": 2000, "networks": {"core": 5000}}', cause: error})
  }
  const hint = {hint: 'write {"default": 2000, "networks": {"core": 5000}} (records per second)'}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where}: must be a JSON object`, hint)
  const o = value as Record<string, unknown>
  for (const key of Object.keys(o)) if (key !== 'default' && key !== 'networks') throw new UsageError(`${where}: unknown key '${key}'`, hint)
  const out: {default?: number; networks?: Record<string, number>} = {}
  if (o.default !== undefined) {
    const p = budgetProblem(o.default)
    if (p) throw new UsageError(`${where}: 'default' ${p}`, hint)
    out.default = o.default as number
  }
  if (o.networks !== undefined) {
    if (typeof o.networks !== 'object' || o.networks === null || Array.isArray(o.networks)) throw new UsageError(`${where}: 'networks' must be an object of network → records/s`, hint)
    const networks: Record<string, number> = {}
    for (const [name, v] of Object.entries(o.networks as Record<string, unknown>)) {
      const p = budgetProblem(v)
      if (p) throw new UsageError(`${where}: 'networks.${name}' ${p}`, hint)
      networks[name] = v as number
    }
    out.networks = networks
  }
  return out
}

/** The budgets of `--rate-limit N` and `--rate-limit-file F` together: N, when given, is the default over the file's. */
export async function loadRateLimits(o: {rateLimit?: number | undefined; file?: string | undefined}): Promise<RateLimits | undefined> {
  if (o.rateLimit !== undefined && budgetProblem(o.rateLimit) !== null) throw new UsageError(`--rate-limit ${budgetProblem(o.rateLimit)}`)
  let limits: RateLimits = {}
  if (o.file !== undefined) {
    let text: string
    try {
      text = await readFile(o.file, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read --rate-limit-file ${o.file}: ${(error as Error).message}`, {cause: error})
    }
    limits = parseRateLimits(text, o.file)
  }
  if (o.rateLimit !== undefined) limits = {...limits, default: o.rateLimit}
  return hasRateLimits(limits) ? limits : undefined
}

export interface ThinOptions {
  /** records per second */
  budgetPerSec: number
  /** length of the interval the records came in, s */
  seconds: number
  /** the records' network (part of the hash: two networks with the same records thin independently) */
  network: string
  seed?: number
}

export interface ThinResult {
  /** the kept records (the input itself when k = 1) */
  batch: FlowBatch
  k: number
  recordsIn: number
  recordsKept: number
}

export const DEFAULT_THINNING_SEED = 0x5eed7417

/** k for `records` records in `seconds` at `budgetPerSec`: ceil(records / (budget × seconds)), at least 1. */
export function thinningFactor(records: number, budgetPerSec: number, seconds: number): number {
  const allowed = budgetPerSec * seconds
  if (!(allowed > 0) || records <= allowed) return 1
  return Math.min(MAX_SAMPLING_RATE, Math.ceil(records / allowed))
}

/** Keep each record of `batch` with probability 1/k (see the module comment); `batch` itself under budget. */
export function thinFlows(batch: FlowBatch, o: ThinOptions): ThinResult {
  const n = batch.length
  const k = thinningFactor(n, o.budgetPerSec, o.seconds)
  if (k === 1) return {batch, k, recordsIn: n, recordsKept: n}
  const seed = hashString(o.network, o.seed ?? DEFAULT_THINNING_SEED)
  const out = createFlowBatch(Math.max(1, Math.ceil((n / k) * 1.2) + 16))
  let kept = 0
  let target = out
  const key = new Uint32Array(KEY_WORDS)
  const exporterHash = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const rate = batch.samplingRate[i]! || 1
    const ki = Math.min(k, Math.floor(MAX_SAMPLING_RATE / rate))
    if (ki > 1) {
      const exporter = batch.exporter[i] ?? ''
      let eh = exporterHash.get(exporter)
      if (eh === undefined) exporterHash.set(exporter, (eh = hashString(exporter, seed)))
      if (!keeps(identityKey(batch, i, eh, key), seed, ki)) continue
    }
    if (kept >= target.tsStart.length) target = grow(target, kept)
    copyFlowRow(batch, i, target, kept)
    target.samplingRate[kept] = rate * Math.max(1, ki)
    kept++
  }
  target.length = kept
  return {batch: target, k, recordsIn: n, recordsKept: kept}
}

// exporter, ts_start, ts_end (2 words each), src and dst (4 each), ports, proto + flags, packets, bytes (2 each), rate
const KEY_WORDS = 1 + 4 + 2 * ADDR_WORDS + 1 + 1 + 4 + 1

function identityKey(b: FlowBatch, i: number, exporterHash: number, key: Uint32Array): Uint32Array {
  let j = 0
  key[j++] = exporterHash
  for (const v of [b.tsStart[i]!, b.tsEnd[i]!]) {
    key[j++] = Math.floor(v / 4294967296) >>> 0
    key[j++] = v % 4294967296 >>> 0
  }
  const a = i * ADDR_WORDS
  for (let w = 0; w < ADDR_WORDS; w++) key[j++] = b.srcAddr[a + w]!
  for (let w = 0; w < ADDR_WORDS; w++) key[j++] = b.dstAddr[a + w]!
  key[j++] = ((b.srcPort[i]! << 16) | b.dstPort[i]!) >>> 0
  key[j++] = ((b.proto[i]! << 8) | b.tcpFlags[i]!) >>> 0
  for (const v of [b.packets[i]!, b.bytes[i]!]) {
    key[j++] = Math.floor(v / 4294967296) >>> 0
    key[j++] = v % 4294967296 >>> 0
  }
  key[j++] = b.samplingRate[i]!
  return key
}

/** Kept with probability 1/k: a 53-bit uniform from two hashes of the key, below 1/k. */
function keeps(key: Uint32Array, seed: number, k: number): boolean {
  const hi = hashWords(key, KEY_WORDS, seed) >>> 11
  const lo = hashWords(key, KEY_WORDS, fmix32(seed ^ 0x68e31da4))
  return (hi * 4294967296 + lo) / 2 ** 53 < 1 / k
}

function hashString(s: string, seed: number): number {
  let h = fmix32(seed ^ s.length)
  for (let i = 0; i < s.length; i++) h = fmix32(h ^ s.charCodeAt(i)) + i
  return fmix32(h)
}

function grow(b: FlowBatch, length: number): FlowBatch {
  const bigger = createFlowBatch(b.tsStart.length * 2)
  for (let i = 0; i < length; i++) copyFlowRow(b, i, bigger, i)
  return bigger
}

/** One network's thinning over a run: what came in, what was kept, and k per interval. */
export interface NetworkThinning {
  network: string
  /** records/s */
  budget: number
  recordsIn: number
  recordsKept: number
  /** intervals (windows, flushes) with records */
  intervals: number
  /** intervals thinned (k > 1) */
  thinned: number
  maxK: number
  /** intervals by k, k as a string key (JSON) */
  kCounts: Record<string, number>
}

/** Tallies thinning per network for a run summary. */
export class ThinningTally {
  private readonly byNetwork = new Map<string, NetworkThinning>()

  add(network: string, budget: number, r: Pick<ThinResult, 'k' | 'recordsIn' | 'recordsKept'>): void {
    let t = this.byNetwork.get(network)
    if (!t) this.byNetwork.set(network, (t = {network, budget, recordsIn: 0, recordsKept: 0, intervals: 0, thinned: 0, maxK: 1, kCounts: {}}))
    t.budget = budget
    t.recordsIn += r.recordsIn
    t.recordsKept += r.recordsKept
    t.intervals++
    if (r.k > 1) t.thinned++
    t.maxK = Math.max(t.maxK, r.k)
    t.kCounts[String(r.k)] = (t.kCounts[String(r.k)] ?? 0) + 1
  }

  /** networks in name order */
  networks(): NetworkThinning[] {
    return [...this.byNetwork.values()].sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0)).map((t) => ({...t, kCounts: {...t.kCounts}}))
  }
}
