/**
 * Address text → (family, canonical text, 128-bit number) for flow files.
 *
 * IPv4 is parsed in SQL (the `fs_ip4` macro): vectorised, and nearly every public flow data set is
 * IPv4. Text with a colon goes through `parseIp` — the same parser the rest of flowscope uses — once
 * per *distinct* address, into a temporary lookup table the ingest query joins. A flow file repeats
 * its addresses (hosts talk many times), so the distinct set is small next to the row count, and
 * the RFC 5952 canonical text (longest zero run compressed, lower case) that `src_ip` must hold is
 * produced by tested code rather than a long SQL expression.
 *
 * IPv4-mapped IPv6 text (`::ffff:1.2.3.4`) becomes the IPv4 address (family 4, `1.2.3.4`): the store
 * already keeps IPv4 as ::ffff:0:0/96 numbers, so the two spellings are one address and must get one
 * `src_ip`. A zone (`fe80::1%eth0`) is dropped.
 */
import {ipv4ToString, ipv6ToString, parseIp} from '../../core/index.js'
import type {FlowStore} from '../store/index.js'

const V4_MAPPED_PREFIX = 0xffff_0000_0000n
const LOW_32 = 0xffff_ffffn

export interface ParsedAddress {
  family: 4 | 6
  text: string
  value: bigint
}

/** Canonical form of one address, or undefined when it is not an address. */
export function canonicalAddress(text: string): ParsedAddress | undefined {
  const zone = text.indexOf('%')
  const p = parseIp(zone >= 0 ? text.slice(0, zone) : text)
  if (!p) return undefined
  if (p.value >> 32n === V4_MAPPED_PREFIX >> 32n) {
    return {family: 4, text: ipv4ToString(Number(p.value & LOW_32)), value: p.value}
  }
  const w = (shift: bigint): number => Number((p.value >> shift) & LOW_32)
  return {family: 6, text: ipv6ToString(w(96n), w(64n), w(32n), w(0n)), value: p.value}
}

export const IPV6_MAP_TABLE = 'fs_ip6'

/**
 * Fill the temporary table `fs_ip6(txt, family, canon, num)` with every distinct address text of
 * `fs_rec` that has a colon. Texts that do not parse are left out: the join then finds no row and
 * the ingest reports the record as bad.
 */
export async function buildIpv6Map(store: FlowStore, recTable: string): Promise<number> {
  await store.run(
    `CREATE OR REPLACE TEMP TABLE ${IPV6_MAP_TABLE} (txt VARCHAR NOT NULL, family UTINYINT NOT NULL, canon VARCHAR NOT NULL, num UHUGEINT NOT NULL)`,
  )
  // read the distinct texts first: an appender may not run while a result streams on the connection
  const rows = await store.all<{t: string}>(
    `SELECT DISTINCT t FROM (SELECT src_txt AS t FROM ${recTable} UNION ALL SELECT dst_txt FROM ${recTable}) WHERE contains(t, ':')`,
  )
  const appender = await store.connection.createAppender(IPV6_MAP_TABLE, 'main', 'temp')
  let n = 0
  try {
    for (const {t} of rows) {
      const a = canonicalAddress(t)
      if (!a) continue
      appender.appendVarchar(t)
      appender.appendUTinyInt(a.family)
      appender.appendVarchar(a.text)
      appender.appendUHugeInt(a.value)
      appender.endRow()
      n++
    }
  } finally {
    appender.closeSync()
  }
  return n
}
