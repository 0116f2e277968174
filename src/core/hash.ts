/** murmur3's 32-bit finaliser (fmix32): a bijection on u32 with full avalanche. Any number in, read as its low 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * murmur3-style hash of key[0 .. n) u32 words, finalised so the low bits spread well: the hash of
 * `KeyTable` keys (the flow assembler's 5-tuples, the packet table's addresses and flow keys).
 */
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
