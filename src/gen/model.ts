/**
 * The traffic model's static part: random distributions, the internal networks, and the host
 * population (internal clients and servers, external servers and clients) with heavy-tailed
 * popularity. Built once per run from a seeded `Rng`; nothing here grows with the packet count.
 */
import {UsageError} from '../core/index.js'
import {ipv4ToString, ipv6ToString, parseIp} from '../core/index.js'
import type {Rng} from '../core/index.js'

// ----- distributions --------------------------------------------------------------------------------

/** Pareto(xm, alpha): heavy-tailed, >= xm. */
export function pareto(rng: Rng, xm: number, alpha: number): number {
  return xm / Math.pow(1 - rng.next(), 1 / alpha)
}

/** E[min(X, cap)] for X ~ Pareto(xm, alpha), alpha > 1: used to size arrival rates. */
export function cappedParetoMean(xm: number, alpha: number, cap: number): number {
  if (cap <= xm) return cap
  return (xm * alpha) / (alpha - 1) - (Math.pow(xm, alpha) * Math.pow(cap, 1 - alpha)) / (alpha - 1)
}

export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(1 - rng.next())
}

export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next()
}

/** integer uniform in [lo, hi] */
export function uniformInt(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1)
}

export function logUniform(rng: Rng, lo: number, hi: number): number {
  return lo * Math.pow(hi / lo, rng.next())
}

/** Zipf(s) over ranks 0..n-1 by inverse CDF (binary search over a precomputed table). */
export class ZipfSampler {
  private readonly cdf: Float64Array

  constructor(n: number, s: number) {
    this.cdf = new Float64Array(Math.max(1, n))
    let acc = 0
    for (let i = 0; i < n; i++) {
      acc += 1 / Math.pow(i + 1, s)
      this.cdf[i] = acc
    }
    for (let i = 0; i < n; i++) this.cdf[i] = this.cdf[i]! / acc
  }

  sample(rng: Rng): number {
    const u = rng.next()
    let lo = 0
    let hi = this.cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.cdf[mid]! > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/** Fisher–Yates shuffle in place. */
export function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
  return a
}

// ----- networks -------------------------------------------------------------------------------------

export interface Ipv4Net {
  base: number
  prefix: number
  /** number of addresses in the net */
  size: number
}

export interface Ipv6Net {
  words: Uint32Array
  prefix: number
}

export const DEFAULT_INTERNAL_NET4 = '10.1.0.0/16'
export const DEFAULT_INTERNAL_NET6 = 'fd00:1::/48'

/** Parse the `internalNet` option: one IPv4 and/or one IPv6 CIDR; a missing family takes its default. */
export function parseInternalNets(spec: string | readonly string[] | undefined): {v4: Ipv4Net; v6: Ipv6Net; text: string[]} {
  const list = spec === undefined ? [] : typeof spec === 'string' ? [spec] : [...spec]
  let v4: Ipv4Net | undefined
  let v6: Ipv6Net | undefined
  for (const item of list) {
    const [addr, len, extra] = item.trim().split('/')
    const parsed = parseIp(addr ?? '')
    const prefix = Number(len)
    if (parsed === undefined || extra !== undefined || len === undefined || !/^\d{1,3}$/.test(len)) {
      throw new UsageError(`internal network '${item}' is not a CIDR`, {hint: 'write it like 10.1.0.0/16 or fd00:1::/48'})
    }
    if (parsed.family === 4) {
      if (v4 !== undefined) throw new UsageError('give at most one IPv4 internal network')
      if (prefix < 8 || prefix > 22) {
        throw new UsageError(`internal network '${item}': IPv4 prefix must be /8 to /22 so it holds the hosts`)
      }
      const size = 2 ** (32 - prefix)
      const base = Number(parsed.value & 0xffffffffn) - (Number(parsed.value & 0xffffffffn) % size)
      v4 = {base, prefix, size}
    } else {
      if (v6 !== undefined) throw new UsageError('give at most one IPv6 internal network')
      if (prefix < 8 || prefix > 64) {
        throw new UsageError(`internal network '${item}': IPv6 prefix must be /8 to /64`)
      }
      const words = new Uint32Array(4)
      for (let i = 0; i < 4; i++) words[i] = Number((parsed.value >> BigInt(96 - 32 * i)) & 0xffffffffn)
      v6 = {words: maskWords(words, prefix), prefix}
    }
  }
  if (v4 === undefined || v6 === undefined) {
    const defaults = parseInternalNets([DEFAULT_INTERNAL_NET4, DEFAULT_INTERNAL_NET6])
    v4 ??= defaults.v4
    v6 ??= defaults.v6
  }
  return {v4, v6, text: [`${ipv4Text(v4.base)}/${v4.prefix}`, `${ipv6Text(v6.words)}/${v6.prefix}`]}
}

function maskWords(words: Uint32Array, prefix: number): Uint32Array {
  const out = new Uint32Array(4)
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i))
    const mask = bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
    out[i] = (words[i]! & mask) >>> 0
  }
  return out
}

/** A random address inside `net` (host bits random). */
export function randomIpv6In(rng: Rng, net: Ipv6Net, out: Uint32Array, at: number): void {
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, net.prefix - 32 * i))
    const mask = bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
    out[at + i] = ((net.words[i]! & mask) | (rng.u32() & ~mask)) >>> 0
  }
}

export function ipv4Text(v: number): string {
  return ipv4ToString(v)
}

export function ipv6Text(w: ArrayLike<number>): string {
  return ipv6ToString(w[0] ?? 0, w[1] ?? 0, w[2] ?? 0, w[3] ?? 0)
}

/** Is `a` a public-looking unicast IPv4 address (not private, loopback, link-local, CGN, multicast…)? */
export function isPublicIpv4(a: number): boolean {
  const o1 = a >>> 24
  const o2 = (a >>> 16) & 255
  if (o1 === 0 || o1 === 10 || o1 === 127 || o1 >= 224) return false
  if (o1 === 100 && o2 >= 64 && o2 < 128) return false
  if (o1 === 169 && o2 === 254) return false
  if (o1 === 172 && o2 >= 16 && o2 < 32) return false
  if (o1 === 192 && o2 === 168) return false
  if (o1 === 192 && o2 === 0) return false
  if (o1 === 198 && (o2 === 18 || o2 === 19 || o2 === 51)) return false
  if (o1 === 203 && o2 === 0) return false
  return true
}

export function randomPublicIpv4(rng: Rng): number {
  for (;;) {
    const a = rng.u32()
    if (isPublicIpv4(a)) return a
  }
}

/** A random global-unicast IPv6 address in 2000::/3, outside 2001:db8::/32. */
export function randomPublicIpv6(rng: Rng, out: Uint32Array, at: number): void {
  for (;;) {
    const w0 = (0x2000_0000 | (rng.u32() & 0x1fff_ffff)) >>> 0
    if (w0 >>> 16 === 0x2001 && (w0 & 0xffff) === 0x0db8) continue
    out[at] = w0
    out[at + 1] = rng.u32()
    out[at + 2] = rng.u32()
    out[at + 3] = rng.u32()
    return
  }
}

// ----- host population ------------------------------------------------------------------------------

export interface HostTable {
  /** internal hosts are 0..internal-1, external hosts internal..internal+external-1 */
  internal: number
  external: number
  v4: Uint32Array
  /** four words per host */
  v6: Uint32Array
  /** per-host views into `v6`, made once so sessions can point at them */
  v6Views: Uint32Array[]
  /** internal IPv4 offset within the internal net -> host index */
  internalByOffset: Map<number, number>
  /** internal hosts ranked by client activity (rank 0 busiest) */
  clientRank: Int32Array
  clientZipf: ZipfSampler
  /** internal servers (not the DNS resolvers), ranked by popularity */
  internalServers: Int32Array
  internalServerZipf: ZipfSampler
  /** services each internal server offers (index into INTERNAL_SERVICE_PORTS) */
  internalServerService: Uint8Array
  resolvers: Int32Array
  /** internal servers reachable from outside (web/mail) */
  publicServers: Int32Array
  externalServers: Int32Array
  externalServerZipf: ZipfSampler
  externalClients: Int32Array
  externalClientZipf: ZipfSampler
  /** external authoritative DNS servers */
  authServers: Int32Array
}

export const INTERNAL_SERVICE_PORTS = [445, 389, 88, 3389, 22, 1433, 8080, 443, 5432, 9100] as const

export interface PopulationSize {
  internal: number
  external: number
}

/** Hosts grow with the square root of the packet count: hundreds for fixtures, thousands at 10M packets. */
export function populationSize(packets: number, net4: Ipv4Net): PopulationSize {
  const root = Math.sqrt(Math.max(1, packets))
  const internal = Math.round(Math.min(4000, Math.max(100, root * 1.5), (net4.size - 2) / 2))
  const external = Math.round(Math.min(16_000, Math.max(200, root * 4)))
  return {internal, external}
}

export function buildHosts(rng: Rng, size: PopulationSize, net4: Ipv4Net, net6: Ipv6Net): HostTable {
  const n = size.internal + size.external
  const v4 = new Uint32Array(n)
  const v6 = new Uint32Array(n * 4)
  const internalByOffset = new Map<number, number>()
  const used = new Set<number>()
  // internal hosts sit in a few densely used /24 subnets (VLANs), as in an enterprise network
  const subnetsInNet = net4.size / 256
  const subnetCount = Math.min(subnetsInNet, Math.max(1, Math.ceil(size.internal / 150)))
  const subnets = shuffle(rng, Array.from({length: subnetsInNet}, (_, i) => i)).slice(0, subnetCount)
  for (let i = 0; i < size.internal; i++) {
    let off: number
    do off = subnets[rng.int(subnetCount)]! * 256 + 1 + rng.int(254)
    while (internalByOffset.has(off))
    internalByOffset.set(off, i)
    v4[i] = (net4.base + off) >>> 0
    used.add(v4[i]!)
    randomIpv6In(rng, net6, v6, i * 4)
  }
  // external hosts cluster in a few hundred /20 blocks, like CDNs and hosting providers
  const blocks = Math.max(8, Math.round(size.external / 25))
  const blockBase: number[] = []
  for (let b = 0; b < blocks; b++) blockBase.push((randomPublicIpv4(rng) & 0xfffff000) >>> 0)
  const blockZipf = new ZipfSampler(blocks, 0.9)
  const block6 = new Uint32Array(blocks * 4)
  for (let b = 0; b < blocks; b++) randomPublicIpv6(rng, block6, b * 4)
  for (let j = 0; j < size.external; j++) {
    const h = size.internal + j
    let a: number
    let b: number
    do {
      b = blockZipf.sample(rng)
      a = (blockBase[b]! + 1 + rng.int(4094)) >>> 0
    } while (used.has(a) || !isPublicIpv4(a))
    used.add(a)
    v4[h] = a
    v6[h * 4] = block6[b * 4]!
    v6[h * 4 + 1] = (block6[b * 4 + 1]! & 0xffff0000) >>> 0
    v6[h * 4 + 2] = rng.u32()
    v6[h * 4 + 3] = rng.u32()
  }
  const v6Views: Uint32Array[] = []
  for (let h = 0; h < n; h++) v6Views.push(v6.subarray(h * 4, h * 4 + 4))

  const internalIdx = shuffle(rng, Array.from({length: size.internal}, (_, i) => i))
  const resolvers = internalIdx.slice(0, 2)
  const publicServers = internalIdx.slice(2, 5)
  const serverCount = Math.max(6, Math.round(size.internal * 0.04))
  const internalServers = internalIdx.slice(5, 5 + serverCount)
  const internalServerService = new Uint8Array(internalServers.length)
  for (let i = 0; i < internalServers.length; i++) internalServerService[i] = rng.int(INTERNAL_SERVICE_PORTS.length)
  const clientRank = shuffle(rng, Array.from({length: size.internal}, (_, i) => i))

  const externalIdx = shuffle(rng, Array.from({length: size.external}, (_, j) => size.internal + j))
  const authCount = Math.max(4, Math.round(size.external * 0.02))
  const authServers = externalIdx.slice(0, authCount)
  const serverEnd = authCount + Math.round(size.external * 0.6)
  const externalServers = externalIdx.slice(authCount, serverEnd)
  const externalClients = externalIdx.slice(serverEnd)

  return {
    internal: size.internal,
    external: size.external,
    v4,
    v6,
    v6Views,
    internalByOffset,
    clientRank: Int32Array.from(clientRank),
    clientZipf: new ZipfSampler(clientRank.length, 1.0),
    internalServers: Int32Array.from(internalServers),
    internalServerZipf: new ZipfSampler(internalServers.length, 1.1),
    internalServerService,
    resolvers: Int32Array.from(resolvers),
    publicServers: Int32Array.from(publicServers),
    externalServers: Int32Array.from(externalServers),
    externalServerZipf: new ZipfSampler(externalServers.length, 1.05),
    externalClients: Int32Array.from(externalClients),
    externalClientZipf: new ZipfSampler(externalClients.length, 0.8),
    authServers: Int32Array.from(authServers),
  }
}
