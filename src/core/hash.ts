/** murmur3's 32-bit finaliser (fmix32): a bijection on u32 with full avalanche. Any number in, read as its low 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
