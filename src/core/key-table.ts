import {growI32, growU32} from './grow.js'

/**
 * Open-addressing hash index from fixed-width u32 keys (5-tuples, addresses) to dense ids in
 * [0, idCapacity), for the flow assembler's live flows and the sampling packet table's hosts and flow
 * keys. The key words of id i are keys[i*width ..]; an owner with per-id arrays of the same capacity
 * grows them alongside with `grow`, one without uses `intern`. Linear probing at load ≤ 1/2; deletion shifts the following cluster back (Knuth
 * TAOCP vol. 3, 6.4 Algorithm R), so no tombstones accumulate on long captures.
 */
export class KeyTable {
  keys: Uint32Array
  size = 0
  private idHash: Uint32Array
  private slotId: Int32Array
  private slotHash: Uint32Array
  private mask: number
  private freeIds: Int32Array
  private freeTop = 0
  private nextId = 0

  constructor(
    readonly width: number,
    capacity: number,
  ) {
    const cap = Math.max(2, capacity)
    this.keys = new Uint32Array(cap * width)
    this.idHash = new Uint32Array(cap)
    this.freeIds = new Int32Array(cap)
    const slots = slotCountFor(cap)
    this.slotId = new Int32Array(slots).fill(-1)
    this.slotHash = new Uint32Array(slots)
    this.mask = slots - 1
  }

  get idCapacity(): number {
    return this.idHash.length
  }

  /** id of the key, or -1 */
  find(key: Uint32Array, h: number): number {
    const slotId = this.slotId
    const slotHash = this.slotHash
    const keys = this.keys
    const w = this.width
    const mask = this.mask
    let s = h & mask
    for (;;) {
      const id = slotId[s]!
      if (id < 0) return -1
      if (slotHash[s] === h) {
        const o = id * w
        let j = 0
        while (j < w && keys[o + j] === key[j]) j++
        if (j === w) return id
      }
      s = (s + 1) & mask
    }
  }

  /** Add a key known to be absent; the caller made sure `size < idCapacity`. */
  insert(key: Uint32Array, h: number): number {
    const id = this.freeTop > 0 ? this.freeIds[--this.freeTop]! : this.nextId++
    const w = this.width
    const keys = this.keys
    const o = id * w
    for (let j = 0; j < w; j++) keys[o + j] = key[j]!
    this.idHash[id] = h
    this.place(id, h)
    this.size++
    return id
  }

  /**
   * Id of the key, added when new; the table grows itself (for owners without per-id arrays to grow
   * alongside). With no removals, ids are 0, 1, 2, … in first-seen order.
   */
  intern(key: Uint32Array, h: number): number {
    const id = this.find(key, h)
    if (id >= 0) return id
    if (this.size === this.idCapacity) this.grow(this.idCapacity * 2)
    return this.insert(key, h)
  }

  remove(id: number): void {
    const slotId = this.slotId
    const slotHash = this.slotHash
    const mask = this.mask
    let i = this.idHash[id]! & mask
    while (slotId[i] !== id) i = (i + 1) & mask
    let j = (i + 1) & mask
    for (;;) {
      const jid = slotId[j]!
      if (jid < 0) break
      // the entry at j may fill the hole at i only if i lies on its probe path [home, j)
      const home = slotHash[j]! & mask
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slotId[i] = jid
        slotHash[i] = slotHash[j]!
        i = j
      }
      j = (j + 1) & mask
    }
    slotId[i] = -1
    this.freeIds[this.freeTop++] = id
    this.size--
  }

  /** Raise the id capacity (and the slot array with it, keeping load ≤ 1/2). */
  grow(capacity: number): void {
    this.keys = growU32(this.keys, capacity * this.width)
    this.idHash = growU32(this.idHash, capacity)
    this.freeIds = growI32(this.freeIds.subarray(0, this.freeTop), capacity)
    const slots = slotCountFor(capacity)
    if (slots > this.slotId.length) {
      const old = this.slotId
      this.slotId = new Int32Array(slots).fill(-1)
      this.slotHash = new Uint32Array(slots)
      this.mask = slots - 1
      for (let s = 0; s < old.length; s++) {
        const id = old[s]!
        if (id >= 0) this.place(id, this.idHash[id]!)
      }
    }
  }

  private place(id: number, h: number): void {
    const slotId = this.slotId
    const mask = this.mask
    let s = h & mask
    while (slotId[s]! >= 0) s = (s + 1) & mask
    slotId[s] = id
    this.slotHash[s] = h
  }
}

function slotCountFor(ids: number): number {
  let slots = 4
  while (slots < ids * 2) slots *= 2
  return slots
}

