/**
 * IP → ASN from the `@ip-location-db/asn` package (RouteViews and DB-IP ASN Lite, CC BY 4.0 —
 * attribution in the README). The package's CSVs are loaded once into a small DuckDB file in the user's
 * cache folder (one per package version), and stores ATTACH it read-only: lookups and flow enrichment
 * are range joins (ASOF JOIN) in DuckDB, IPv4 mapped into ::ffff:0:0/96 like the flows' address numbers.
 * Private and reserved ranges (RFC 6890 and friends) are marked from a table kept here.
 */
import {duckdb} from '../core/index.js'
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, rename, rm} from 'node:fs/promises'
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'

import {InputDataError, StoreError} from '../core/index.js'
import type {FlowStore} from '../io/index.js'
import {storedFlowsTable} from '../io/index.js'
import {parseIp} from '../core/index.js'

const require = createRequire(import.meta.url)

/** Special-purpose ranges (RFC 6890, RFC 6598, RFC 5737, RFC 3849, RFC 4193, RFC 4291): [cidr, scope, label]. */
export const SPECIAL_RANGES: readonly [string, 'private' | 'reserved', string][] = [
  ['0.0.0.0/8', 'reserved', 'this network'],
  ['10.0.0.0/8', 'private', 'RFC 1918'],
  ['100.64.0.0/10', 'private', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'reserved', 'loopback'],
  ['169.254.0.0/16', 'reserved', 'link-local'],
  ['172.16.0.0/12', 'private', 'RFC 1918'],
  ['192.0.0.0/24', 'reserved', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'reserved', 'documentation (TEST-NET-1)'],
  ['192.168.0.0/16', 'private', 'RFC 1918'],
  ['198.18.0.0/15', 'reserved', 'benchmarking'],
  ['198.51.100.0/24', 'reserved', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'reserved', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'reserved', 'multicast'],
  ['240.0.0.0/4', 'reserved', 'reserved'],
  ['::/128', 'reserved', 'unspecified'],
  ['::1/128', 'reserved', 'loopback'],
  ['64:ff9b::/96', 'reserved', 'NAT64'],
  ['100::/64', 'reserved', 'discard-only'],
  ['2001:db8::/32', 'reserved', 'documentation'],
  ['fc00::/7', 'private', 'unique local (RFC 4193)'],
  ['fe80::/10', 'reserved', 'link-local'],
  ['ff00::/8', 'reserved', 'multicast'],
]

export interface AsnInfo {
  ip: string
  asn: number | null
  name: string | null
  scope: 'public' | 'private' | 'reserved'
  /** what the special range is (RFC 1918, loopback, …) */
  note: string | null
}

export interface AsnDataset {
  version: string
  dir: string
}

export function asnDataset(): AsnDataset {
  const pkg = require.resolve('@ip-location-db/asn/package.json')
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as {version: string}).version
  return {version, dir: path.dirname(pkg)}
}

function cacheDir(): string {
  const base = process.env.FLOWSCOPE_CACHE ?? process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache')
  return path.join(base, 'flowscope')
}

/**
 * Path of the ASN range database, built on first use from the package's CSVs (a few seconds, once
 * per package version); written to a temporary name and renamed so a half-built file is never used.
 */
export async function ensureAsnDatabase(): Promise<string> {
  const ds = asnDataset()
  const dir = cacheDir()
  const file = path.join(dir, `asn-${ds.version}.duckdb`)
  if (existsSync(file)) return file
  await mkdir(dir, {recursive: true})
  const tmp = `${file}.${process.pid}.tmp`
  await rm(tmp, {force: true})
  const instance = await duckdb().DuckDBInstance.create(tmp)
  const c = await instance.connect()
  try {
    const v4 = path.join(ds.dir, 'asn-ipv4-num.csv').replaceAll("'", "''")
    const v6 = path.join(ds.dir, 'asn-ipv6-num.csv').replaceAll("'", "''")
    const cols = "columns = {'lo': 'VARCHAR', 'hi': 'VARCHAR', 'asn': 'UINTEGER', 'name': 'VARCHAR'}, header = false, quote = '\"'"
    await c.run(`CREATE TABLE asn_ranges AS
      SELECT lo::UHUGEINT + 281470681743360::UHUGEINT AS lo, hi::UHUGEINT + 281470681743360::UHUGEINT AS hi, asn, name
        FROM read_csv('${v4}', ${cols})
      UNION ALL
      SELECT lo::UHUGEINT, hi::UHUGEINT, asn, name FROM read_csv('${v6}', ${cols})
      ORDER BY lo`)
    await c.run('CREATE TABLE special_ranges (lo UHUGEINT, hi UHUGEINT, scope VARCHAR, note VARCHAR)')
    for (const [cidr, scope, note] of SPECIAL_RANGES) {
      const [lo, hi] = cidrRange(cidr)
      await c.run('INSERT INTO special_ranges VALUES ($1::UHUGEINT, $2::UHUGEINT, $3, $4)', [lo.toString(), hi.toString(), scope, note])
    }
    await c.run(`CREATE TABLE info AS SELECT '${ds.version}' AS version`)
    await c.run('CHECKPOINT')
  } catch (error) {
    throw new StoreError(`cannot build the ASN database from ${ds.dir}: ${(error as Error).message}`, {cause: error})
  } finally {
    c.closeSync()
    instance.closeSync()
  }
  await rename(tmp, file)
  return file
}

/** [first, last] address numbers of a CIDR (IPv4 mapped). */
export function cidrRange(cidr: string): [bigint, bigint] {
  const [addr, lenText] = cidr.split('/')
  const p = parseIp(addr ?? '')
  if (!p) throw new InputDataError(`not an address: ${cidr}`)
  const len = Number(lenText ?? (p.family === 4 ? 32 : 128)) + (p.family === 4 ? 96 : 0)
  const hostBits = 128n - BigInt(len)
  const mask = (1n << hostBits) - 1n
  const lo = p.value & ~mask & ((1n << 128n) - 1n)
  return [lo, lo | mask]
}

/** Attach the ASN database to a store's connection as `asn` (read-only); idempotent. */
export async function attachAsn(store: FlowStore): Promise<void> {
  const file = await ensureAsnDatabase()
  const attached = await store.all<{n: bigint}>("SELECT count(*) AS n FROM duckdb_databases() WHERE database_name = 'asn'")
  if (Number(attached[0]?.n ?? 0) === 0) await store.run(`ATTACH '${file.replaceAll("'", "''")}' AS asn (READ_ONLY)`)
}

/** ASN, AS name and scope of each address (IPv4 or IPv6 text). */
export async function lookupAsn(store: FlowStore, ips: string[]): Promise<AsnInfo[]> {
  const parsed = ips.map((ip) => {
    const p = parseIp(ip.trim())
    if (!p) throw new InputDataError(`not an IP address: '${ip}'`)
    return p.value
  })
  await attachAsn(store)
  await store.run('CREATE OR REPLACE TEMP TABLE asn_q (i INTEGER, addr UHUGEINT)')
  for (const [i, v] of parsed.entries()) await store.run('INSERT INTO asn_q VALUES ($1, $2::UHUGEINT)', [i, v.toString()])
  const rows = await store.all<{i: number; asn: number | null; name: string | null; scope: string | null; note: string | null}>(
    `SELECT q.i,
            CASE WHEN q.addr <= r.hi THEN r.asn END AS asn,
            CASE WHEN q.addr <= r.hi THEN r.name END AS name,
            s.scope, s.note
       FROM asn_q q
       ASOF LEFT JOIN asn.asn_ranges r ON q.addr >= r.lo
       LEFT JOIN asn.special_ranges s ON q.addr BETWEEN s.lo AND s.hi
      ORDER BY q.i`,
  )
  return rows.map((r) => ({
    ip: ips[r.i]!.trim(),
    asn: r.asn,
    name: r.name,
    scope: (r.scope ?? 'public') as AsnInfo['scope'],
    note: r.note,
  }))
}

/**
 * Fill `src_as`/`dst_as` of the flows that have none yet (0 = no AS known, e.g. private space), in one
 * range join per direction. Returns how many flows were enriched.
 */
export async function enrichFlowsWithAsn(store: FlowStore, options: {sourceId?: number} = {}): Promise<number> {
  await attachAsn(store)
  // the table itself: reads may see `flows` as a view without the rows out of range (leaveOutBadFlows)
  const table = await storedFlowsTable(store)
  const scope = options.sourceId === undefined ? '' : 'AND f.source_id = $sid'
  const params = options.sourceId === undefined ? {} : {sid: options.sourceId}
  let n = 0
  for (const side of ['src', 'dst'] as const) {
    await store.run(`CREATE OR REPLACE TEMP TABLE asn_addr AS
      SELECT DISTINCT ${side}_addr AS addr FROM flows f WHERE f.${side}_as IS NULL ${scope}`, params)
    await store.run(`CREATE OR REPLACE TEMP TABLE asn_map AS
      SELECT a.addr, coalesce(CASE WHEN a.addr <= r.hi THEN r.asn END, 0) AS asn
        FROM asn_addr a ASOF LEFT JOIN asn.asn_ranges r ON a.addr >= r.lo`)
    const [row] = await store.all<{n: bigint}>(`SELECT count(*) AS n FROM flows f WHERE f.${side}_as IS NULL ${scope}`, params)
    n = Math.max(n, Number(row?.n ?? 0))
    await store.run(`UPDATE ${table} f SET ${side}_as = m.asn FROM asn_map m WHERE f.${side}_addr = m.addr AND f.${side}_as IS NULL ${scope}`, params)
  }
  await store.run('DROP TABLE IF EXISTS asn_addr; DROP TABLE IF EXISTS asn_map')
  return n
}
