/**
 * Packet samplers: which rows of a `PacketTable` a router sampling 1 in N would have seen. Each picks
 * rows in O(samples) where the method allows (the hash flow sampler is O(flow keys + samples)), so many
 * samplers × rates × trials run over one decoded capture.
 *
 * - systematic: every N-th packet from a random start in [0, N) (Sampled NetFlow "deterministic");
 * - bernoulli: each packet independently with probability 1/N, via geometric skips (random 1-in-N);
 * - sflow: sFlow agents' random skip counts, each drawn uniformly from [1, 2N−1] (mean N), with the
 *   sample pool (packets the sampler saw) reported beside the samples, as sFlow v5 flow samples do;
 * - hash-flow: whole flows: a packet is kept iff a seeded hash of its 5-tuple is below 2^32/N (PSAMP
 *   hash-based selection, RFC 5475 §6.2.3), so every packet of a kept flow is kept.
 */
import {fmix32, UsageError} from '../core/index.js'
import type {Rng} from '../core/index.js'
import {packetsByFlowKey, type PacketTable} from './packet-table.js'

export const PACKET_SAMPLER_NAMES = ['systematic', 'bernoulli', 'sflow', 'hash-flow'] as const
export type PacketSamplerName = (typeof PACKET_SAMPLER_NAMES)[number]

/** The rows a packet sampler selected, and what an estimator must know about how. */
export interface PacketSample {
  sampler: PacketSamplerName
  /** nominal N of 1-in-N */
  rate: number
  /** 'packet': packets were the sampling units; 'flow': whole flow keys were (hash-flow) */
  unit: 'packet' | 'flow'
  /** selected table rows: ascending for packet units, grouped by flow key for flow units */
  rows: Uint32Array
  /** flow units: the selected flow keys */
  flowKeys?: Uint32Array
  /** packets the sampler saw (sFlow sample pool); present only when the sampler reports one */
  samplePool?: number
}

export interface PacketSampler {
  readonly name: PacketSamplerName
  /** N of 1-in-N */
  readonly rate: number
  sample(table: PacketTable, rng: Rng): PacketSample
}

export function createPacketSampler(name: PacketSamplerName, rate: number): PacketSampler {
  switch (name) {
    case 'systematic':
      return new SystematicSampler(rate)
    case 'bernoulli':
      return new BernoulliSampler(rate)
    case 'sflow':
      return new SflowSampler(rate)
    case 'hash-flow':
      return new HashFlowSampler(rate)
  }
}

function checkRate(name: string, rate: number, integer: boolean): void {
  if (!Number.isFinite(rate) || rate < 1 || (integer && !Number.isInteger(rate))) {
    throw new UsageError(`${name} sampling needs a rate N ≥ 1${integer ? ' that is a whole number' : ''} (1-in-N), got ${rate}`)
  }
}

/** Systematic 1-in-N: rows start, start+N, start+2N, … with start uniform in [0, N). */
export class SystematicSampler implements PacketSampler {
  readonly name = 'systematic' as const

  constructor(readonly rate: number) {
    checkRate('systematic', rate, true)
  }

  sample(table: PacketTable, rng: Rng): PacketSample {
    const n = this.rate
    const start = rng.int(n)
    const count = start < table.count ? Math.floor((table.count - 1 - start) / n) + 1 : 0
    const rows = new Uint32Array(count)
    for (let j = 0, i = start; j < count; j++, i += n) rows[j] = i
    return {sampler: this.name, rate: n, unit: 'packet', rows}
  }
}

/** Bernoulli 1-in-N: gaps between kept rows are geometric, so the cost is one log per sample. */
export class BernoulliSampler implements PacketSampler {
  readonly name = 'bernoulli' as const

  constructor(readonly rate: number) {
    checkRate('bernoulli', rate, false)
  }

  sample(table: PacketTable, rng: Rng): PacketSample {
    const total = table.count
    const out = new RowBuffer(expectedCapacity(total, this.rate))
    if (this.rate === 1) {
      for (let i = 0; i < total; i++) out.push(i)
    } else {
      // skipped rows before the next kept one ~ Geometric(p) on {0, 1, …}: floor(ln U / ln(1 − p))
      const logQ = Math.log1p(-1 / this.rate)
      let i = -1
      for (;;) {
        i += 1 + Math.floor(Math.log(1 - rng.next()) / logQ)
        if (i >= total) break
        out.push(i)
      }
    }
    return {sampler: this.name, rate: this.rate, unit: 'packet', rows: out.take()}
  }
}

/**
 * sFlow-style random skip: after each sample the agent draws the next skip uniformly from [1, 2N−1]
 * (mean N, as sFlow v5 agents randomise their skip counts) and counts down; the first skip is drawn
 * the same way. The sample pool is every packet the sampler saw.
 */
export class SflowSampler implements PacketSampler {
  readonly name = 'sflow' as const

  constructor(readonly rate: number) {
    checkRate('sflow', rate, true)
  }

  sample(table: PacketTable, rng: Rng): PacketSample {
    const total = table.count
    const span = 2 * this.rate - 1
    const out = new RowBuffer(expectedCapacity(total, this.rate))
    for (let i = rng.int(span); i < total; i += 1 + rng.int(span)) out.push(i)
    return {sampler: this.name, rate: this.rate, unit: 'packet', rows: out.take(), samplePool: total}
  }
}

/**
 * Hash-based flow sampling: flow key f is kept iff fmix32((hash(5-tuple of f) ⊕ s1) + s2) < ⌊2^32/N⌋,
 * the seed words s1, s2 drawn from the rng. Within a trial the decision is a function of the 5-tuple alone
 * (PSAMP hash-based selection, RFC 5475 §6.2.3); across trials the seed changes the hash function, so
 * trials are independent and each flow is kept with probability 1/N. Cost: one mix per flow key plus
 * the kept packets.
 */
export class HashFlowSampler implements PacketSampler {
  readonly name = 'hash-flow' as const

  constructor(readonly rate: number) {
    checkRate('hash-flow', rate, false)
  }

  sample(table: PacketTable, rng: Rng): PacketSample {
    const s1 = rng.u32()
    const s2 = rng.u32()
    const threshold = Math.floor(4294967296 / this.rate)
    const fc = table.flowKeys.count
    const hash = table.flowKeys.hash
    const keys = new RowBuffer(expectedCapacity(fc, this.rate))
    for (let f = 0; f < fc; f++) {
      // flowHashKeeps, inlined: this loop runs over every flow key in every trial
      let h = ((hash[f]! ^ s1) + s2) | 0
      h ^= h >>> 16
      h = Math.imul(h, 0x85ebca6b)
      h ^= h >>> 13
      h = Math.imul(h, 0xc2b2ae35)
      h ^= h >>> 16
      if (h >>> 0 < threshold) keys.push(f)
    }
    const flowKeys = keys.take()
    const {start: from, rows: byKey} = packetsByFlowKey(table)
    let count = 0
    for (let j = 0; j < flowKeys.length; j++) {
      const f = flowKeys[j]!
      count += from[f + 1]! - from[f]!
    }
    const rows = new Uint32Array(count)
    let o = 0
    for (let j = 0; j < flowKeys.length; j++) {
      const f = flowKeys[j]!
      for (let r = from[f]!, e = from[f + 1]!; r < e; r++) rows[o++] = byKey[r]!
    }
    return {sampler: this.name, rate: this.rate, unit: 'flow', rows, flowKeys}
  }
}

/** The hash flow sampler's keep decision for a 5-tuple hash under seed words (s1, s2), as drawn by `sample`. */
export function flowHashKeeps(hash: number, s1: number, s2: number, rate: number): boolean {
  return fmix32((((hash ^ s1) >>> 0) + s2) >>> 0) < Math.floor(4294967296 / rate)
}

function expectedCapacity(total: number, rate: number): number {
  const mean = total / rate
  return Math.min(total, Math.ceil(mean + 6 * Math.sqrt(mean) + 16))
}

/** Append-only Uint32 buffer that grows by doubling; `take` returns the filled part. */
class RowBuffer {
  private buf: Uint32Array
  private n = 0

  constructor(capacity: number) {
    this.buf = new Uint32Array(Math.max(16, capacity))
  }

  push(v: number): void {
    if (this.n === this.buf.length) {
      const g = new Uint32Array(this.buf.length * 2)
      g.set(this.buf)
      this.buf = g
    }
    this.buf[this.n++] = v
  }

  take(): Uint32Array {
    return this.n === this.buf.length ? this.buf : this.buf.slice(0, this.n)
  }
}
