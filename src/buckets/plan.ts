/**
 * Bucket planning (design §5): the addresses of a run grouped so that related addresses are analysed
 * together and share work.
 *
 * - **Groups** are what an address is compared with: public addresses group by their AS (one
 *   operator's hosts behave alike), private and unknown-AS addresses by prefix (/24 IPv4, /48 IPv6 by
 *   default). A group larger than the cap is split along prefix lines: partitioned by ever longer
 *   prefixes, consecutive parts packed up to the cap, so a part is always a run of neighbouring
 *   prefixes and never cuts a prefix that fits whole.
 * - **Buckets** are the unit of work (one query, one model call): consecutive groups of a network
 *   packed up to the cap, so the thousands of one- or two-address AS groups of external peers do not
 *   each cost a job. A group is never split across buckets.
 *
 * Everything is sorted, so the same addresses always give the same groups, buckets and keys.
 */
import {UsageError} from '../core/index.js'

export const DEFAULT_PREFIX_V4 = 24
export const DEFAULT_PREFIX_V6 = 48
export const DEFAULT_BUCKET_CAP = 1000

export interface PlanAddress {
  network: string
  /** text form, as stored in `src_ip`/`dst_ip` */
  address: string
  /** 128-bit number, IPv4 mapped into ::ffff:0:0/96 (as `src_addr`) */
  value: bigint
  family: 4 | 6
  /** AS number; 0 when unknown or private */
  asn: number
}

export interface PlanOptions {
  /** prefix length of IPv4 groups (default 24) */
  prefixV4?: number
  /** prefix length of IPv6 groups (default 48) */
  prefixV6?: number
  /** most addresses in one group and in one bucket (default 1000) */
  bucketCap?: number
  /** group public addresses by AS (default true); otherwise by prefix only */
  byAsn?: boolean
  /**
   * pack groups into buckets up to this many addresses (default: the cap); smaller spreads a small run
   * over more jobs for more workers. Results do not depend on it: the context is per group.
   */
  packTarget?: number
}

/** Addresses compared with each other: an AS, a prefix, or a prefix-line part of a large one. */
export interface AddressGroup {
  /** stable name: network, AS or prefix, and the range of a split part; the inference map keys shared work by it */
  key: string
  family: 4 | 6
  /** AS number of an AS group, 0 for a prefix group */
  asn: number
  /** the group's prefix (prefix groups) or the smallest prefix covering its addresses (AS groups) */
  prefix: string
  /** ascending by value */
  addresses: string[]
}

export interface Bucket {
  /** position in the plan, 0-based */
  id: number
  /** the first and last group's keys */
  key: string
  network: string
  groups: AddressGroup[]
  /** every address of its groups */
  addresses: string[]
}

const V4_MAPPED_BITS = 96

/** Groups `addresses` and packs the groups into capped buckets (see the module comment). A repeated address counts once, with its largest AS number. */
export function planBuckets(addresses: readonly PlanAddress[], options: PlanOptions = {}): Bucket[] {
  const groups = planGroups(addresses, options)
  const cap = Math.max(1, Math.min(options.bucketCap ?? DEFAULT_BUCKET_CAP, options.packTarget ?? Infinity))
  const buckets: Bucket[] = []
  let current: {network: string; groups: AddressGroup[]; size: number} | null = null
  const flush = (): void => {
    if (current === null || current.groups.length === 0) return
    const first = current.groups[0]!
    const last = current.groups[current.groups.length - 1]!
    buckets.push({
      id: buckets.length,
      key: current.groups.length === 1 ? first.key : `${first.key}..${last.key}`,
      network: current.network,
      groups: current.groups,
      addresses: current.groups.flatMap((g) => g.addresses),
    })
    current = null
  }
  for (const {network, group} of groups) {
    if (current !== null && (current.network !== network || current.size + group.addresses.length > cap)) flush()
    current ??= {network, groups: [], size: 0}
    current.groups.push(group)
    current.size += group.addresses.length
  }
  flush()
  return buckets
}

/** The groups of `addresses`, in plan order, with their network. */
export function planGroups(addresses: readonly PlanAddress[], options: PlanOptions = {}): {network: string; group: AddressGroup}[] {
  const prefixV4 = options.prefixV4 ?? DEFAULT_PREFIX_V4
  const prefixV6 = options.prefixV6 ?? DEFAULT_PREFIX_V6
  const cap = options.bucketCap ?? DEFAULT_BUCKET_CAP
  const byAsn = options.byAsn ?? true
  if (!Number.isInteger(prefixV4) || prefixV4 < 8 || prefixV4 > 32) throw new UsageError(`IPv4 bucket prefix must be /8 to /32, got /${prefixV4}`)
  if (!Number.isInteger(prefixV6) || prefixV6 < 16 || prefixV6 > 128) throw new UsageError(`IPv6 bucket prefix must be /16 to /128, got /${prefixV6}`)
  if (!Number.isInteger(cap) || cap < 1) throw new UsageError(`the bucket cap must be a positive integer, got ${cap}`)

  const unique = new Map<string, PlanAddress>()
  for (const a of addresses) {
    const id = `${a.network}|${a.address}`
    const held = unique.get(id)
    if (held === undefined || a.asn > held.asn) unique.set(id, a)
  }
  const raw = new Map<string, {network: string; family: 4 | 6; asn: number; name: string; groupBits: number; members: PlanAddress[]}>()
  for (const a of unique.values()) {
    const asn = byAsn ? a.asn : 0
    const groupBits = a.family === 4 ? V4_MAPPED_BITS + prefixV4 : prefixV6
    const name = asn > 0 ? `AS${asn}` : prefixText(a.value, groupBits, a.family)
    const key = `${a.network}\u0000${a.family}\u0000${name}`
    let g = raw.get(key)
    if (g === undefined) {
      g = {network: a.network, family: a.family, asn, name, groupBits: asn > 0 ? firstSplitBits(a.family) : groupBits, members: []}
      raw.set(key, g)
    }
    g.members.push(a)
  }
  for (const g of raw.values()) g.members.sort((x, y) => cmpBig(x.value, y.value))
  // prefix groups first, in address order, then AS groups by number: neighbours pack together
  const ordered = [...raw.values()].sort(
    (x, y) => cmp(x.network, y.network) || x.family - y.family || x.asn - y.asn || cmpBig(x.members[0]!.value, y.members[0]!.value),
  )
  const out: {network: string; group: AddressGroup}[] = []
  for (const g of ordered) {
    const parts = pack(g.members, g.groupBits, cap)
    for (const part of parts) {
      const prefix = g.asn > 0 ? coveringPrefix(part, g.family) : prefixText(part[0]!.value, g.groupBits, g.family)
      const range = parts.length === 1 ? '' : `|${part[0]!.address}-${part[part.length - 1]!.address}`
      out.push({
        network: g.network,
        group: {key: `${g.network}|${g.name}${range}`, family: g.family, asn: g.asn, prefix, addresses: part.map((p) => p.address)},
      })
    }
  }
  return out
}

/** AS groups are first cut at /16 (IPv4) or /32 (IPv6), then finer as needed. */
function firstSplitBits(family: 4 | 6): number {
  return family === 4 ? V4_MAPPED_BITS + 16 : 32
}

/**
 * Splits sorted `list` into runs of at most `cap`: partition by the prefix of `bits` bits, pack
 * consecutive parts while they fit, and split a part that alone exceeds the cap one bit further.
 */
function pack(list: PlanAddress[], bits: number, cap: number): PlanAddress[][] {
  if (list.length <= cap) return [list]
  const parts: PlanAddress[][] = []
  let current: PlanAddress[] = []
  let currentPrefix: bigint | null = null
  for (const a of list) {
    const p = a.value >> BigInt(128 - bits)
    if (currentPrefix !== null && p !== currentPrefix) {
      parts.push(current)
      current = []
    }
    currentPrefix = p
    current.push(a)
  }
  parts.push(current)
  if (parts.length === 1) return pack(list, bits + 1, cap)
  const out: PlanAddress[][] = []
  let bucket: PlanAddress[] = []
  for (const part of parts) {
    if (part.length > cap) {
      if (bucket.length > 0) out.push(bucket)
      bucket = []
      out.push(...pack(part, bits + 1, cap))
    } else if (bucket.length + part.length > cap) {
      out.push(bucket)
      bucket = [...part]
    } else {
      bucket.push(...part)
    }
  }
  if (bucket.length > 0) out.push(bucket)
  return out
}

const ALL_ONES = (1n << 128n) - 1n

/** CIDR text of the `bits`-bit prefix (counted on the 128-bit mapped value) containing `value`. */
export function prefixText(value: bigint, bits: number, family: 4 | 6): string {
  const host = 128 - bits
  const base = host >= 128 ? 0n : (value >> BigInt(host)) << BigInt(host)
  if (family === 4) {
    const v = Number(base & 0xffffffffn)
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${bits - V4_MAPPED_BITS}`
  }
  const words: string[] = []
  for (let i = 0; i < 8; i++) words.push(((base >> BigInt(112 - 16 * i)) & 0xffffn).toString(16))
  return `${compressV6(words)}/${bits}`
}

function compressV6(words: string[]): string {
  // RFC 5952: the longest run of two or more zero groups becomes '::'
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === '0') j++
    if (j - i > bestLen && j - i >= 2) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return words.join(':')
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`
}

/** The longest prefix that covers every address of sorted `part`. */
function coveringPrefix(part: readonly PlanAddress[], family: 4 | 6): string {
  const lo = part[0]!.value
  const hi = part[part.length - 1]!.value
  let bits = 128
  while (bits > (family === 4 ? V4_MAPPED_BITS : 0) && lo >> BigInt(128 - bits) !== hi >> BigInt(128 - bits)) bits--
  return prefixText(lo & (ALL_ONES ^ ((1n << BigInt(128 - bits)) - 1n)), bits, family)
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0
}
