/**
 * A typed array of length `cap` holding `a`'s elements first (the rest zero): growing the columns of
 * batches, tables and hash indexes. One body for every array type: growth doubles a capacity, so it runs
 * a logarithmic number of times and its call sites stay off the per-record path.
 */
function grown<T extends {set(a: ArrayLike<number>): void}>(make: new (length: number) => T, a: ArrayLike<number>, cap: number): T {
  const g = new make(cap)
  g.set(a)
  return g
}

export const growU32 = (a: Uint32Array, cap: number): Uint32Array<ArrayBuffer> => grown(Uint32Array, a, cap)
export const growI32 = (a: Int32Array, cap: number): Int32Array<ArrayBuffer> => grown(Int32Array, a, cap)
export const growF64 = (a: Float64Array, cap: number): Float64Array<ArrayBuffer> => grown(Float64Array, a, cap)
export const growU16 = (a: Uint16Array, cap: number): Uint16Array<ArrayBuffer> => grown(Uint16Array, a, cap)
export const growU8 = (a: Uint8Array, cap: number): Uint8Array<ArrayBuffer> => grown(Uint8Array, a, cap)
