import {type DuckDBConnection, DuckDBInstance} from '@duckdb/node-api'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseIp} from '../../src/core/ip.js'
import {SCHEMA_SQL} from '../../src/io/store/schema.js'
import {
  buildFlowsQuery,
  buildSqlQuery,
  buildTopQuery,
  compileFilter,
  requireEnrichments,
  type SqlQuery,
  TOP_COLUMNS,
  type TopQuery,
  type TopQueryOptions,
} from '../../src/query/index.js'
import {UsageError} from '../../src/core/errors.js'

/** Start of the fixture's traffic; every row's time is an offset in seconds from it. */
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)

interface Row {
  id: number
  network: string
  exporter: string | null
  start: number
  end: number
  src: string
  dst: string
  sport: number
  dport: number
  proto: number
  flags: number
  packets: number
  bytes: number
  rate: number
}

/** `id` is stored in `source_id` so a query's result names the rows it matched. */
const ROWS: Row[] = [
  {id: 1, network: 'acme', exporter: '192.0.2.1', start: 0, end: 1, src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 22, proto: 6, flags: 0x1a, packets: 10, bytes: 1000, rate: 1},
  {id: 2, network: 'acme', exporter: '192.0.2.1', start: 1, end: 3, src: '10.0.0.1', dst: '192.168.1.10', sport: 40001, dport: 443, proto: 6, flags: 0x02, packets: 1, bytes: 60, rate: 1},
  {id: 3, network: 'acme', exporter: '192.0.2.1', start: 2, end: 2, src: '10.1.2.3', dst: '8.8.8.8', sport: 5353, dport: 53, proto: 17, flags: 0, packets: 1, bytes: 80, rate: 1},
  {id: 4, network: 'acme', exporter: '192.0.2.1', start: 5, end: 15, src: '192.168.1.10', dst: '10.0.0.1', sport: 443, dport: 40001, proto: 6, flags: 0x11, packets: 2000, bytes: 3_000_000, rate: 1},
  {id: 5, network: 'acme', exporter: '2001:db8::1', start: 3, end: 4, src: '2001:db8::10', dst: '2001:db8:1::20', sport: 50000, dport: 80, proto: 6, flags: 0x1b, packets: 20, bytes: 20_000, rate: 1},
  {id: 6, network: 'acme', exporter: '2001:db8::1', start: 6, end: 6.5, src: 'fe80::1', dst: 'ff02::1', sport: 546, dport: 547, proto: 17, flags: 0, packets: 3, bytes: 300, rate: 1},
  {id: 7, network: 'beta', exporter: '198.51.100.7', start: 10, end: 20, src: '10.0.0.1', dst: '172.16.5.4', sport: 1234, dport: 1234, proto: 17, flags: 0, packets: 5, bytes: 5000, rate: 100},
  {id: 8, network: 'beta', exporter: '198.51.100.7', start: 11, end: 12, src: '172.16.5.4', dst: '10.0.0.1', sport: 2000, dport: 1000, proto: 6, flags: 0x12, packets: 4, bytes: 2400, rate: 100},
  {id: 9, network: 'beta', exporter: '198.51.100.7', start: 12, end: 13, src: '2001:db8::10', dst: '2001:db8::99', sport: 0, dport: 0, proto: 58, flags: 0, packets: 2, bytes: 200, rate: 1000},
  {id: 10, network: 'beta', exporter: '198.51.100.7', start: 20, end: 21, src: '10.0.0.2', dst: '10.0.0.1', sport: 22, dport: 40000, proto: 6, flags: 0x18, packets: 8, bytes: 800, rate: 1},
  {id: 11, network: 'acme', exporter: null, start: 30, end: 30, src: '10.0.0.3', dst: '10.0.0.4', sport: 0, dport: 0, proto: 47, flags: 0, packets: 1, bytes: 1500, rate: 1},
  {id: 12, network: "x' OR 1=1", exporter: '192.0.2.1', start: 40, end: 40, src: '10.9.9.9', dst: '10.9.9.8', sport: 0, dport: 0, proto: 1, flags: 0, packets: 1, bytes: 84, rate: 1},
]

const ALL = ROWS.map((r) => r.id)
const sqlText = (s: string | null): string => (s === null ? 'NULL' : `'${s.replace(/'/g, "''")}'`)
const ts = (offsetS: number): string => `'${new Date(T0 + offsetS * 1000).toISOString().replace('T', ' ').replace('Z', '')}'::TIMESTAMP`

let instance: DuckDBInstance
let conn: DuckDBConnection

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:')
  conn = await instance.connect()
  await conn.run(SCHEMA_SQL)
  const values = ROWS.map((r) => {
    const s = parseIp(r.src)!
    const d = parseIp(r.dst)!
    return `(${[
      sqlText(r.network),
      sqlText(r.exporter),
      ts(r.start),
      ts(r.end),
      sqlText(r.src),
      sqlText(r.dst),
      r.sport,
      r.dport,
      r.proto,
      r.flags,
      r.packets,
      r.bytes,
      r.rate,
      r.id,
      s.family,
      `${s.value}::UHUGEINT`,
      `${d.value}::UHUGEINT`,
      'NULL', // src_as, dst_as: ASN enrichment is tested in test/buckets/asn.test.ts
      'NULL',
    ].join(', ')})`
  })
  await conn.run(`INSERT INTO flows VALUES ${values.join(',\n')}`)
})

afterAll(() => {
  conn?.closeSync()
  instance?.closeSync()
})

async function rows(q: SqlQuery): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(q.sql, q.params, q.types)
  return reader.getRowObjectsJS() as Record<string, unknown>[]
}

async function matching(filter: string): Promise<number[]> {
  const f = compileFilter(filter)
  const reader = await conn.runAndReadAll(`SELECT source_id FROM flows WHERE ${f.sql} ORDER BY source_id`, f.params, f.types)
  return reader.getRows().map((r) => Number(r[0]))
}

describe('filters against DuckDB', () => {
  const expectations: Array<[string, number[]]> = [
    ['', ALL],
    ['any', ALL],
    ['proto tcp', [1, 2, 4, 5, 8, 10]],
    ['proto udp', [3, 6, 7]],
    ['proto icmp', [12]],
    ['proto icmp6', [9]],
    ['proto gre', [11]],
    ['proto 47', [11]],
    ['inet6', [5, 6, 9]],
    ['inet', [1, 2, 3, 4, 7, 8, 10, 11, 12]],
    ['ip 10.0.0.1', [1, 2, 4, 7, 8, 10]],
    ['host ::ffff:10.0.0.1', [1, 2, 4, 7, 8, 10]],
    ['src ip 10.0.0.1', [1, 2, 7]],
    ['dst host 10.0.0.1', [4, 8, 10]],
    ['src or dst ip 10.0.0.1', [1, 2, 4, 7, 8, 10]],
    ['src and dst net 10.0.0.0/8', [1, 10, 11, 12]],
    ['net 10.0.0.0/8', [1, 2, 3, 4, 7, 8, 10, 11, 12]],
    ['net 10.1.2.3/8', [1, 2, 3, 4, 7, 8, 10, 11, 12]],
    ['net ::ffff:10.0.0.0/104', [1, 2, 3, 4, 7, 8, 10, 11, 12]],
    ['src net 10.0.0.0 255.255.255.0', [1, 2, 7, 10, 11]],
    ['net 172.16/12', [7, 8]],
    ['dst net 8.8.8.8/32', [3]],
    ['ip fe80::1', [6]],
    ['net fe80::/10', [6]],
    ['dst net ff00::/8', [6]],
    ['net 2001:db8::/32', [5, 9]],
    ['dst net 2001:db8::/48', [9]],
    ['net ::/0', ALL],
    ['port 22', [1, 10]],
    ['dst port 22', [1]],
    ['src port 22', [10]],
    ['port in [53 443]', [2, 3, 4]],
    ['dst port in [22, 80, 443]', [1, 2, 5]],
    ['dst port 1000-2000', [7, 8]],
    ['port 1000-2000', [7, 8]],
    ['dst port > 1024', [4, 7, 10]],
    ['src port < 100', [9, 10, 11, 12]],
    ['dst port != 0', [1, 2, 3, 4, 5, 6, 7, 8, 10]],
    ['not port 0', [1, 2, 3, 4, 5, 6, 7, 8, 10]],
    ['src and dst port 1234', [7]],
    ['flags S', [1, 2, 5, 8]],
    ['flags SA', [1, 5, 8]],
    ['flags F', [4, 5]],
    ['flags PA', [1, 5, 10]],
    ['packets > 5', [1, 4, 5, 10]],
    ['packets 1', [2, 3, 11, 12]],
    ['bytes >= 1k', [1, 4, 5, 7, 8, 11]],
    ['bytes > 1M', [4]],
    ['duration > 1500', [2, 4, 7]],
    ['duration 0', [3, 11, 12]],
    ['duration 500', [6]],
    ['bpp > 1000', [4, 11]],
    ['bpp = 1000', [5, 7]],
    ['pps > 100', [4]],
    ['pps 6', [6]],
    ['bps > 100k', [4, 5]],
    ['sampled', [7, 8, 9]],
    ['not sampled', [1, 2, 3, 4, 5, 6, 10, 11, 12]],
    ['network beta', [7, 8, 9, 10]],
    ["network \"x' OR 1=1\"", [12]],
    ['network "nobody"', []],
    ['exporter 192.0.2.1', [1, 2, 3, 4, 12]],
    ['exporter 2001:0db8:0::1', [5, 6]],
    ['not proto tcp', [3, 6, 7, 9, 11, 12]],
    ['proto udp or proto tcp and dst port 22', [1, 3, 6, 7]],
    ['(proto udp or proto tcp) and dst port 22', [1]],
    ['proto gre or proto tcp and not dst port 22', [2, 4, 5, 8, 10, 11]],
    ['!(proto tcp || proto udp) && inet', [11, 12]],
    ['network acme and (ip 10.0.0.1 or inet6) and not flags S', [4, 6]],
  ]
  for (const [filter, expected] of expectations) {
    it(`${JSON.stringify(filter)} → ${JSON.stringify(expected)}`, async () => {
      expect(await matching(filter)).toEqual(expected)
    })
  }

  it('leaves the table intact after injection-looking filters', async () => {
    await matching(`network "'; DROP TABLE flows; --"`)
    await matching(`exporter "1.2.3.4' OR '1'='1"`)
    const reader = await conn.runAndReadAll('SELECT count(*) FROM flows')
    expect(Number(reader.getRows()[0]![0])).toBe(12)
  })

  it('as terms say they need the ASN enrichment, and select on src_as once it is filled', async () => {
    const f = compileFilter('src as 65000')
    expect(f.needs).toEqual(['asn'])
    expect(() => requireEnrichments(f.needs)).toThrow(UsageError)
    expect(() => requireEnrichments(f.needs, ['asn'])).not.toThrow()
    const none = await conn.runAndReadAll(`SELECT count(*) FROM flows WHERE ${f.sql}`, f.params, f.types)
    expect(Number(none.getRows()[0]![0])).toBe(0)
    await conn.run('UPDATE flows SET src_as = 65000 WHERE src_port = (SELECT min(src_port) FROM flows)')
    const some = await conn.runAndReadAll(`SELECT count(*) FROM flows WHERE ${f.sql}`, f.params, f.types)
    expect(Number(some.getRows()[0]![0])).toBeGreaterThan(0)
    await conn.run('UPDATE flows SET src_as = NULL')
  })
})

describe('buildFlowsQuery', () => {
  const ids = (rs: Record<string, unknown>[]): number[] => rs.map((r) => Number(r.source_id))

  it('lists every flow in first-seen order with nfdump-style derived columns', async () => {
    const q = buildFlowsQuery()
    const rs = await rows(q)
    expect(ids(rs)).toEqual([1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11, 12])
    expect(Object.keys(rs[0]!)).toEqual([...q.columns])
    expect(rs[0]).toMatchObject({
      src_ip: '10.0.0.1',
      dst_ip: '10.0.0.2',
      src_port: 40000,
      dst_port: 22,
      proto: 6,
      proto_name: 'tcp',
      flags: '...AP.S.',
      duration_ms: 1000n,
      packets: 10n,
      bytes: 1000n,
      pps: 10n,
      bps: 8000n,
      bpp: 100n,
      packets_scaled: 10n,
    })
    const sampled = rs.find((r) => r.source_id === 7)!
    expect(sampled).toMatchObject({proto_name: 'udp', sampling_rate: 100, packets_scaled: 500n, bytes_scaled: 500_000n, bpp: 1000n})
    const zero = rs.find((r) => r.source_id === 3)!
    expect(zero).toMatchObject({duration_ms: 0n, pps: 0n, bps: 0n})
    expect(rs.find((r) => r.source_id === 11)).toMatchObject({proto_name: 'gre', exporter: null})
  })

  it('orders, limits and filters', async () => {
    expect(ids(await rows(buildFlowsQuery({order: 'bytes', limit: 3})))).toEqual([4, 5, 7])
    expect(ids(await rows(buildFlowsQuery({order: 'bytes', desc: false, limit: 2})))).toEqual([2, 3])
    expect(ids(await rows(buildFlowsQuery({order: 'packets', limit: 2})))).toEqual([4, 5])
    expect(ids(await rows(buildFlowsQuery({order: 'duration', limit: 3})))).toEqual([7, 4, 2])
    expect(ids(await rows(buildFlowsQuery({order: 'ts', desc: true, limit: 2})))).toEqual([12, 11])
    expect(ids(await rows(buildFlowsQuery({filter: 'proto tcp and dst port 22'})))).toEqual([1])
  })

  it('applies the time window (overlap) and the tenant', async () => {
    const since = new Date(T0 + 11_000)
    const until = new Date(T0 + 12_000)
    expect(ids(await rows(buildFlowsQuery({network: 'beta', since, until})))).toEqual([7, 8])
    expect(ids(await rows(buildFlowsQuery({since: new Date(T0 + 15_000).toISOString()})))).toEqual([4, 7, 10, 11, 12])
    expect(ids(await rows(buildFlowsQuery({until: new Date(T0 + 2_000)})))).toEqual([1, 2])
    expect(ids(await rows(buildFlowsQuery({network: "x' OR 1=1", filter: 'any'})))).toEqual([12])
  })

  it('rejects bad options as usage errors', () => {
    expect(() => buildFlowsQuery({limit: 0})).toThrow(UsageError)
    expect(() => buildFlowsQuery({limit: 1.5})).toThrow(UsageError)
    expect(() => buildFlowsQuery({since: 'yesterday-ish'})).toThrow(UsageError)
    expect(() => buildFlowsQuery({since: new Date(T0 + 10), until: new Date(T0)})).toThrow(UsageError)
    expect(() => buildFlowsQuery({filter: 'proto tcp port 22'})).toThrow(/column 11/)
  })

  it('carries filter warnings and needs', () => {
    const q = buildFlowsQuery({filter: 'net 10.1.2.3/8 and as 1'})
    expect(q.warnings).toHaveLength(1)
    expect(q.needs).toEqual(['asn'])
  })
})

async function top(options: TopQueryOptions): Promise<{q: TopQuery; rs: Record<string, unknown>[]}> {
  const q = buildTopQuery(options)
  const raw = await rows(q)
  return {q, rs: q.postProcess ? raw.map(q.postProcess) : raw}
}

const TOTAL_BYTES_SCALED = ROWS.reduce((s, r) => s + r.bytes * r.rate, 0)
const TOTAL_FLOWS_SCALED = ROWS.reduce((s, r) => s + r.rate, 0)

describe('buildTopQuery', () => {
  it('ranks source addresses by scaled bytes with raw figures, estimates and intervals', async () => {
    const {q, rs} = await top({key: 'srcip', by: 'bytes', n: 3})
    expect(q.estimateKind).toBe('plain-scaled')
    expect(Object.keys(rs[0]!)).toEqual([...TOP_COLUMNS])
    expect(rs.map((r) => r.key)).toEqual(['192.168.1.10', '10.0.0.1', '172.16.5.4'])

    const exact = rs[0]!
    expect(exact).toMatchObject({flows: 1n, packets: 2000n, bytes: 3_000_000n, flows_scaled: 1n, packets_scaled: 2000n, bytes_scaled: 3_000_000n})
    expect(exact).toMatchObject({sampled: false, estimate_kind: 'exact', max_sampling_rate: 1})
    for (const c of ['flows_ci_low', 'flows_ci_high', 'packets_ci_low', 'packets_ci_high', 'bytes_ci_low', 'bytes_ci_high']) expect(exact[c]).toBeNull()
    expect(exact.bytes_pct).toBeCloseTo((100 * 3_000_000) / TOTAL_BYTES_SCALED, 9)
    expect(exact).toMatchObject({duration_s: 10, pps: 200, bps: 2_400_000, bpp: 1500})

    // 10.0.0.1: rows 1, 2 unsampled and row 7 at 1-in-100
    const mixed = rs[1]!
    expect(mixed).toMatchObject({flows: 3n, packets: 16n, bytes: 6060n, flows_scaled: 102n, packets_scaled: 511n, bytes_scaled: 501_060n})
    expect(mixed).toMatchObject({sampled: true, estimate_kind: 'plain-scaled', max_sampling_rate: 100})
    const z = 1.959963984540054
    const sdPackets = Math.sqrt(100 * 99 * 5)
    const sdBytes = Math.sqrt((100 * 99 * 5000 * 5000) / 5)
    const sdFlows = Math.sqrt(100 * 99)
    expect(mixed.packets_ci_low).toBeCloseTo(511 - z * sdPackets, 6)
    expect(mixed.packets_ci_high).toBeCloseTo(511 + z * sdPackets, 6)
    expect(mixed.bytes_ci_low).toBeCloseTo(501_060 - z * sdBytes, 3)
    expect(mixed.bytes_ci_high).toBeCloseTo(501_060 + z * sdBytes, 3)
    // the lower end never drops below what was actually sampled
    expect(mixed.flows_ci_low).toBe(3)
    expect(mixed.flows_ci_high).toBeCloseTo(102 + z * sdFlows, 6)
    expect(mixed.duration_s).toBe(20)
  })

  it('counts both directions for ip, with percentages of the filtered total', async () => {
    const {rs} = await top({key: 'ip', by: 'flows', n: 4})
    expect(rs.map((r) => r.key)).toEqual(['2001:db8::10', '2001:db8::99', '10.0.0.1', '172.16.5.4'])
    expect(rs.map((r) => r.flows_scaled)).toEqual([1001n, 1000n, 204n, 200n])
    expect(rs.map((r) => r.flows)).toEqual([2n, 1n, 6n, 2n])
    expect(rs[0]!.flows_pct).toBeCloseTo((100 * 1001) / TOTAL_FLOWS_SCALED, 9)
  })

  it('counts a flow twice under port when src and dst ports are equal, like nfdump -s port', async () => {
    const {rs} = await top({key: 'port', by: 'flows', n: 1, filter: 'proto udp'})
    expect(rs[0]).toMatchObject({key: 1234, flows: 2n, flows_scaled: 200n, packets_scaled: 1000n})
  })

  it('ranks destination ports by packets under a filter', async () => {
    const {rs} = await top({key: 'dstport', by: 'packets', n: 3, filter: 'proto tcp'})
    expect(rs.map((r) => r.key)).toEqual([40001, 1000, 80])
    expect(rs.map((r) => r.packets_scaled)).toEqual([2000n, 400n, 20n])
    expect(rs[1]).toMatchObject({packets: 4n, sampled: true})
  })

  it('ranks destination addresses, source ports and protocols', async () => {
    const byProto = await top({key: 'proto', by: 'bytes', n: 10})
    expect(byProto.rs.map((r) => [r.key, r.bytes_scaled])).toEqual([
      [6, 3_261_860n],
      [17, 500_380n],
      [58, 200_000n],
      [47, 1500n],
      [1, 84n],
    ])
    const dst = await top({key: 'dstip', by: 'packets', n: 2})
    expect(dst.rs.map((r) => [r.key, r.packets_scaled])).toEqual([
      ['10.0.0.1', 2408n],
      ['2001:db8::99', 2000n],
    ])
    const sports = await top({key: 'srcport', by: 'flows', n: 2, network: 'beta'})
    expect(sports.rs.map((r) => r.key)).toEqual([0, 1234])
  })

  it('orders by pps, bps and bpp with nfdump rates (0 for zero-length groups)', async () => {
    const pps = await top({key: 'srcip', by: 'pps', n: 3})
    expect(pps.rs.map((r) => r.key)).toEqual(['172.16.5.4', '2001:db8::10', '192.168.1.10'])
    expect(pps.rs.map((r) => r.pps)).toEqual([400, 202, 200])
    const bps = await top({key: 'srcip', by: 'bps', n: 1})
    expect(bps.rs[0]).toMatchObject({key: '192.168.1.10', bps: 2_400_000})
    // 10.0.0.3 and 192.168.1.10 tie at 1500 bytes/packet; the key breaks the tie
    const bpp = await top({key: 'srcip', by: 'bpp', n: 3})
    expect(bpp.rs.map((r) => [r.key, r.bpp])).toEqual([
      ['10.0.0.3', 1500],
      ['192.168.1.10', 1500],
      ['10.0.0.1', 501_060 / 511],
    ])
    const zero = await top({key: 'srcip', by: 'bytes', n: 1, filter: 'src ip 10.1.2.3'})
    expect(zero.rs[0]).toMatchObject({duration_s: 0, pps: 0, bps: 0, bpp: 80})
  })

  it('groups networks by prefix, IPv4 text in SQL and IPv6 text from the hook', async () => {
    const {q, rs} = await top({key: 'srcnet', by: 'bytes', n: 10})
    expect(q.postProcess).toBeDefined()
    expect(rs.map((r) => [r.key, r.bytes_scaled])).toEqual([
      ['192.168.1.0/24', 3_000_000n],
      ['10.0.0.0/24', 503_360n],
      ['172.16.5.0/24', 240_000n],
      ['2001:db8::/64', 220_000n],
      ['fe80::/64', 300n],
      ['10.9.9.0/24', 84n],
      ['10.1.2.0/24', 80n],
    ])
    const wide = await top({key: 'srcnet', by: 'flows', n: 10, prefixV4: 8, prefixV6: 0})
    expect(wide.rs.map((r) => [r.key, r.flows])).toEqual([
      ['::/0', 3n],
      ['10.0.0.0/8', 7n],
      ['172.0.0.0/8', 1n],
      ['192.0.0.0/8', 1n],
    ])
    const dst = await top({key: 'dstnet', by: 'flows', n: 2, prefixV6: 16, filter: 'inet6'})
    expect(dst.rs.map((r) => r.key)).toEqual(['2001::/16', 'ff02::/16'])
    // the hook accepts the decimal text a JSON reader produces as well
    const asJson = dst.q.postProcess!({key: null, key_addr: String(0xff02n << 112n)})
    expect(asJson.key).toBe('ff02::/16')
  })

  it('restricts by time window and tenant', async () => {
    const {rs} = await top({key: 'srcip', by: 'flows', n: 5, network: 'beta', since: new Date(T0 + 11_000), until: new Date(T0 + 12_000)})
    // one flow each at 1-in-100: a tie, broken by the address
    expect(rs.map((r) => [r.key, r.flows_scaled])).toEqual([
      ['10.0.0.1', 100n],
      ['172.16.5.4', 100n],
    ])
  })

  it('keeps sums exact past 2^53 and ranks ties by address, in both the ranking and the figures', async () => {
    const big = await DuckDBInstance.create(':memory:')
    const c = await big.connect()
    try {
      await c.run(SCHEMA_SQL)
      const row = (src: string, packets: bigint, bytes: bigint): string => {
        const a = parseIp(src)!
        return `('n', NULL, ${ts(0)}, ${ts(1)}, '${src}', '10.9.0.1', 1, 2, 6, 0, ${packets}, ${bytes}, 1, 1, ${a.family}, ${a.value}::UHUGEINT, 1::UHUGEINT, NULL, NULL)`
      }
      // 2^53 + 1 is where a DOUBLE sum would round; the three groups tie on bytes otherwise
      const two53 = 2n ** 53n
      await c.run(`INSERT INTO flows VALUES ${[row('10.0.0.9', 1n, two53), row('10.0.0.9', 1n, 1n), row('10.0.0.10', 2n, two53 + 1n), row('9.0.0.1', 1n, two53)].join(', ')}`)
      const q = buildTopQuery({key: 'srcip', by: 'bytes', n: 2})
      const rs = (await c.runAndReadAll(q.sql, q.params, q.types)).getRowObjectsJS()
      expect(rs.map((r) => r.key)).toEqual(['10.0.0.9', '10.0.0.10'])
      expect(rs[0]).toMatchObject({flows: 2n, packets: 2n, bytes: two53 + 1n, bytes_scaled: two53 + 1n})
      expect(rs[1]).toMatchObject({flows: 1n, packets: 2n, bytes: two53 + 1n, bytes_scaled: two53 + 1n})
    } finally {
      c.closeSync()
      big.closeSync()
    }
  })

  it('marks as keys as needing the ASN enrichment', () => {
    expect(buildTopQuery({key: 'srcas', by: 'bytes', n: 5}).needs).toEqual(['asn'])
    expect(buildTopQuery({key: 'dstas', by: 'bytes', n: 5, filter: 'as 1'}).needs).toEqual(['asn'])
    expect(buildTopQuery({key: 'srcip', by: 'bytes', n: 5}).needs).toEqual([])
  })

  it('rejects bad options as usage errors', () => {
    expect(() => buildTopQuery({key: 'srcip', by: 'bytes', n: 0})).toThrow(UsageError)
    expect(() => buildTopQuery({key: 'nope' as 'ip', by: 'bytes', n: 1})).toThrow(/unknown statistic key/)
    expect(() => buildTopQuery({key: 'ip', by: 'nope' as 'bytes', n: 1})).toThrow(/unknown order/)
    expect(() => buildTopQuery({key: 'srcnet', by: 'bytes', n: 1, prefixV4: 33})).toThrow(UsageError)
    expect(() => buildTopQuery({key: 'srcnet', by: 'bytes', n: 1, prefixV6: -1})).toThrow(UsageError)
  })
})

describe('buildSqlQuery read-only guard', () => {
  const allowed = [
    'SELECT count(*) FROM flows',
    '  -- leading comment\nSELECT 1',
    '/* c */ WITH x AS (SELECT * FROM flows) SELECT count(*) FROM x;',
    'FROM flows LIMIT 1',
    'DESCRIBE flows',
    'SHOW TABLES',
    'SUMMARIZE flows',
    "PRAGMA table_info('flows')",
    '(SELECT 1)',
    'VALUES (1), (2)',
  ]
  for (const sql of allowed) {
    it(`accepts ${JSON.stringify(sql)}`, async () => {
      const q = await buildSqlQuery(sql, conn)
      expect(q.statementType).toBe('SELECT')
      await expect(conn.runAndReadAll(q.sql)).resolves.toBeDefined()
    })
  }

  const rejected: Array<[string, RegExp]> = [
    ["INSERT INTO flows SELECT * FROM flows", /INSERT statements are not allowed/],
    ['UPDATE flows SET bytes = 0', /UPDATE/],
    ['DELETE FROM flows', /DELETE/],
    ['DROP TABLE flows', /DROP/],
    ["ATTACH ':memory:' AS other", /ATTACH/],
    ["COPY flows TO '/tmp/flowscope-should-not-exist.csv'", /COPY/],
    ['CREATE TABLE t AS SELECT 1', /CREATE/],
    ['ALTER TABLE flows ADD COLUMN x INT', /ALTER/],
    ['SET threads = 1', /SET/],
    ['CALL pragma_version()', /CALL/],
    ['PRAGMA enable_profiling', /PRAGMA/],
    ['PRAGMA show_tables; DROP TABLE flows', /exactly one statement, got 2/],
    ['SELECT 1; DROP TABLE flows', /exactly one statement, got 2/],
    ['SELECT 1; SELECT 2', /exactly one statement/],
    ['EXPLAIN SELECT 1', /EXPLAIN/],
    ['BEGIN TRANSACTION', /not allowed/],
    ['CHECKPOINT', /not allowed/],
    ['LOAD json', /not allowed/],
    ["EXPORT DATABASE '/tmp/flowscope-should-not-exist'", /not allowed/],
    ['SELEC 1', /SQL error/],
    ['', /no SQL statement/],
    ['-- nothing', /no SQL statement/],
  ]
  for (const [sql, message] of rejected) {
    it(`rejects ${JSON.stringify(sql)}`, async () => {
      const err = await buildSqlQuery(sql, conn).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(UsageError)
      expect((err as UsageError).exitCode).toBe(2)
      expect((err as Error).message).toMatch(message)
    })
  }

  it('executed nothing while checking', async () => {
    const reader = await conn.runAndReadAll('SELECT count(*), count(DISTINCT bytes) FROM flows')
    expect(reader.getRows()[0]!.map(Number)).toEqual([12, 12])
    const tables = await conn.runAndReadAll("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'")
    expect(Number(tables.getRows()[0]![0])).toBe(0)
  })
})
