/**
 * Dense ids for fixed-width keys of u32 words (addresses, 5-tuples): an open-addressing hash index
 * with linear probing at load ≤ 1/2. Ids are handed out 0, 1, 2, … in first-seen order and never
 * removed, so an id can index plain typed arrays for the life of a `PacketTable`.
 */
import {fmix32} from '../core/index.js'

export class WordKeyIndex {
  /** key words of id i at keys[i*width ..] */
  keys: Uint32Array
  size = 0
  private hashes: Uint32Array
  private slots: Int32Array
  private mask: number

  constructor(
    readonly width: number,
    capacity = 1024,
  ) {
    const cap = Math.max(4, capacity)
    this.keys = new Uint32Array(cap * width)
    this.hashes = new Uint32Array(cap)
    let slots = 8
    while (slots < cap * 2) slots *= 2
    this.slots = new Int32Array(slots).fill(-1)
    this.mask = slots - 1
  }

  /** Id of the key in key[0 .. width), added when new. `h` is `hashWords(key, width)`. */
  intern(key: Uint32Array, h: number): number {
    const keys = this.keys
    const w = this.width
    const slots = this.slots
    const mask = this.mask
    let s = h & mask
    for (;;) {
      const id = slots[s]!
      if (id < 0) break
      if (this.hashes[id] === h) {
        const o = id * w
        let j = 0
        while (j < w && keys[o + j] === key[j]) j++
        if (j === w) return id
      }
      s = (s + 1) & mask
    }
    const id = this.size
    if (id === this.hashes.length) {
      this.grow()
      return this.intern(key, h)
    }
    this.keys.set(key.subarray(0, w), id * w)
    this.hashes[id] = h
    slots[s] = id
    this.size = id + 1
    return id
  }

  private grow(): void {
    const cap = this.hashes.length * 2
    const keys = new Uint32Array(cap * this.width)
    keys.set(this.keys)
    this.keys = keys
    const hashes = new Uint32Array(cap)
    hashes.set(this.hashes)
    this.hashes = hashes
    const slots = new Int32Array(cap * 2).fill(-1)
    const mask = slots.length - 1
    for (let id = 0; id < this.size; id++) {
      let s = hashes[id]! & mask
      while (slots[s]! >= 0) s = (s + 1) & mask
      slots[s] = id
    }
    this.slots = slots
    this.mask = mask
  }
}

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
