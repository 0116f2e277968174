/**
 * A typed array of length `cap` holding `a`'s elements first (the rest zero): growing the columns of
 * batches, tables and hash indexes. One function per array type, so each stays monomorphic on the
 * hot path.
 */
export function growU32(a: Uint32Array, cap: number): Uint32Array<ArrayBuffer> {
  const g = new Uint32Array(cap)
  g.set(a)
  return g
}

export function growI32(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const g = new Int32Array(cap)
  g.set(a)
  return g
}

export function growF64(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const g = new Float64Array(cap)
  g.set(a)
  return g
}

export function growU16(a: Uint16Array, cap: number): Uint16Array<ArrayBuffer> {
  const g = new Uint16Array(cap)
  g.set(a)
  return g
}

export function growU8(a: Uint8Array, cap: number): Uint8Array<ArrayBuffer> {
  const g = new Uint8Array(cap)
  g.set(a)
  return g
}
