/**
 * Address text and numbers. Addresses travel as four big-endian 32-bit words (IPv4 mapped into
 * ::ffff:0:0/96) and are stored in DuckDB both as text (`src_ip`) and as UHUGEINT (`src_addr`), the
 * number making CIDR filters and prefix buckets plain range arithmetic.
 */

export function ipv4ToString(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`
}

/** RFC 5952 text form of an IPv6 address given as four 32-bit words. */
export function ipv6ToString(w0: number, w1: number, w2: number, w3: number): string {
  const h = GROUPS
  h[0] = w0 >>> 16
  h[1] = w0 & 0xffff
  h[2] = w1 >>> 16
  h[3] = w1 & 0xffff
  h[4] = w2 >>> 16
  h[5] = w2 & 0xffff
  h[6] = w3 >>> 16
  h[7] = w3 & 0xffff
  // longest run of two or more zero groups, first one on ties (RFC 5952 §4.2)
  let bestStart = -1
  let bestLen = 1
  let runStart = -1
  for (let i = 0; i < 8; i++) {
    if (h[i] !== 0) {
      runStart = -1
      continue
    }
    if (runStart < 0) runStart = i
    if (i - runStart + 1 > bestLen) {
      bestStart = runStart
      bestLen = i - runStart + 1
    }
  }
  let s = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::'
      i += bestLen - 1
      continue
    }
    if (i > 0 && i !== bestStart + bestLen) s += ':'
    s += h[i]!.toString(16)
  }
  return s
}
const GROUPS = new Uint16Array(8)

/** Text of the address at `row` of a word array; `family` 4 prints dotted quad. */
export function addrToString(words: Uint32Array, row: number, family: number): string {
  const o = row * 4
  if (family === 4) return ipv4ToString(words[o + 3] ?? 0)
  return ipv6ToString(words[o] ?? 0, words[o + 1] ?? 0, words[o + 2] ?? 0, words[o + 3] ?? 0)
}

/** 128-bit number of the address at `row` (IPv4 mapped). */
export function addrToBigInt(words: Uint32Array, row: number): bigint {
  const o = row * 4
  const hi = (BigInt(words[o] ?? 0) << 32n) | BigInt(words[o + 1] ?? 0)
  const lo = (BigInt(words[o + 2] ?? 0) << 32n) | BigInt(words[o + 3] ?? 0)
  return (hi << 64n) | lo
}

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Parse IPv4 or IPv6 text into its 128-bit number (IPv4 mapped). Returns undefined when not an address. */
export function parseIp(text: string): {family: 4 | 6; value: bigint} | undefined {
  const m = V4_RE.exec(text)
  if (m) {
    const parts = m.slice(1, 5).map(Number)
    if (parts.some((p) => p > 255)) return undefined
    const v = (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0
    return {family: 4, value: 0xffff_0000_0000n | BigInt(v)}
  }
  if (!text.includes(':')) return undefined
  let s = text
  let tail: number[] = []
  const lastColon = s.lastIndexOf(':')
  const v4tail = s.slice(lastColon + 1)
  if (v4tail.includes('.')) {
    const t = parseIp(v4tail)
    if (!t || t.family !== 4) return undefined
    const v = Number(t.value & 0xffffffffn)
    tail = [v >>> 16, v & 0xffff]
    s = s.slice(0, lastColon + 1) + '0:0'
  }
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const parse = (p: string): number[] | undefined => {
    if (p === '') return []
    const out: number[] = []
    for (const g of p.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
      out.push(parseInt(g, 16))
    }
    return out
  }
  const a = parse(halves[0] ?? '')
  const b = halves.length === 2 ? parse(halves[1] ?? '') : []
  if (!a || !b) return undefined
  let groups: number[]
  if (halves.length === 2) {
    const fill = 8 - a.length - b.length
    if (fill < 1) return undefined
    groups = [...a, ...new Array<number>(fill).fill(0), ...b]
  } else {
    groups = a
  }
  if (groups.length !== 8) return undefined
  if (tail.length === 2) {
    groups[6] = tail[0]!
    groups[7] = tail[1]!
  }
  let value = 0n
  for (const g of groups) value = (value << 16n) | BigInt(g)
  return {family: 6, value}
}
