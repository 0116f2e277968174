/**
 * The hash of the packet table's fixed-width keys (addresses, flow keys, 5-tuples), for core's
 * `KeyTable`: its ids are handed out 0, 1, 2, … in first-seen order and never removed, so an id can
 * index plain typed arrays for the life of a `PacketTable`.
 */
import {fmix32} from '../core/index.js'

/** murmur3-style hash of key[0 .. n), finalised so the low bits spread well. */
export function hashWords(key: ArrayLike<number>, n: number, seed = 0x9747b28c): number {
  let h = seed | 0
  for (let i = 0; i < n; i++) {
    let k = Math.imul(key[i]!, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  return fmix32((h ^ n) >>> 0)
}
