/**
 * Which 5-tuples are in use. A session holds its tuple (both directions, one canonical key) while it
 * runs and for REUSE_GAP after its last packet, so no two sessions ever feed the same exporter flow:
 * a reused tuple is always more than the 15 s idle timeout away from its previous flow.
 *
 * Keys are a 52-bit hash of the canonical tuple. A hash collision can only make a free tuple look busy
 * (the caller then picks another port or source), never the other way round, so the truth stays exact.
 * Memory is bounded by the sessions started within (longest session + REUSE_GAP): expired entries are
 * swept every few thousand claims.
 */
import {fmix32} from '../core/index.js'

export const REUSE_GAP_MICROS = 20_000_000

const SWEEP_EVERY = 8192

export class TupleRegistry {
  private readonly busyUntil = new Map<number, number>()
  private claims = 0
  private peak = 0

  /** entries currently tracked */
  get size(): number {
    return this.busyUntil.size
  }

  /** most entries tracked at once */
  get maxSize(): number {
    return this.peak
  }

  /** Take `key` if it is free at `now`; returns false when it is busy. */
  claim(key: number, now: number): boolean {
    const until = this.busyUntil.get(key)
    if (until !== undefined && until > now) return false
    this.busyUntil.set(key, Infinity)
    if (++this.claims % SWEEP_EVERY === 0) this.sweep(now)
    if (this.busyUntil.size > this.peak) this.peak = this.busyUntil.size
    return true
  }

  /** The session holding `key` sent its last packet at `lastMicros`. */
  release(key: number, lastMicros: number): void {
    this.busyUntil.set(key, lastMicros + REUSE_GAP_MICROS)
  }

  private sweep(now: number): void {
    for (const [key, until] of this.busyUntil) if (until <= now) this.busyUntil.delete(key)
  }
}

/** Endpoint number: IPv4 address and port exactly; IPv6 through a 32-bit hash of the address. */
export function endpointV4(addr: number, port: number): number {
  return (addr >>> 0) * 65536 + port
}

export function endpointV6(w: ArrayLike<number>, port: number): number {
  let h = 0x9747b28c
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((w[i] ?? 0) >>> 0), 0x5bd1e995) ^ (h >>> 15)
  return fmix32(h) * 65536 + port
}

/** Canonical key of the tuple between endpoints `a` and `b` (order does not matter). */
export function tupleKey(a: number, b: number, proto: number): number {
  const lo = a < b ? a : b
  const hi = a < b ? b : a
  const loL = lo % 4294967296
  const loH = Math.floor(lo / 4294967296)
  const hiL = hi % 4294967296
  const hiH = Math.floor(hi / 4294967296)
  let h1 = 0x811c9dc5 ^ proto
  let h2 = 0x01000193 ^ Math.imul(proto, 0x27d4eb2d)
  h1 = fmix32(Math.imul(h1 ^ loL, 0xcc9e2d51) + loH)
  h2 = fmix32(Math.imul(h2 ^ hiL, 0x1b873593) + hiH)
  h1 = fmix32(Math.imul(h1 ^ hiL, 0x85ebca6b) ^ hiH)
  h2 = fmix32(Math.imul(h2 ^ loL, 0xc2b2ae35) ^ loH ^ h1)
  return (h1 & 0xfffff) * 4294967296 + (h2 >>> 0)
}
