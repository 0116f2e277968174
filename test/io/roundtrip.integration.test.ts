import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {generateTraffic} from '../../src/gen/index.js'
import {ingestCapture} from '../../src/io/ingest/ingest.js'
import {FlowStore} from '../../src/io/store/store.js'
import {FIXTURES, tempDir} from '../helpers/cli.js'

type FlowRow = [string, string, string, string, number, number, number, number, number, number]

const FLOW_SQL = `SELECT epoch_us(ts_start)::VARCHAR, epoch_us(ts_end)::VARCHAR, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags,
                         packets::INTEGER, bytes::INTEGER FROM flows`

function truthRows(csvPath: string): {rows: string[]; kinds: Map<string, string>} {
  const lines = readFileSync(csvPath, 'utf8').trim().split('\n').slice(1)
  const kinds = new Map<string, string>()
  const rows = lines.map((l) => {
    const f = l.split(',')
    const key = f.slice(0, 10).join(',')
    kinds.set(key, f[10]!)
    return key
  })
  return {rows: rows.sort(), kinds}
}

async function storedRows(store: FlowStore): Promise<string[]> {
  const reader = await store.connection.runAndReadAll(FLOW_SQL)
  return (reader.getRows() as unknown as FlowRow[]).map((r) => r.join(',')).sort()
}

describe('gen -> ingest round trip', () => {
  for (const fixture of ['demo.pcap', 'small.pcapng']) {
    it(`${fixture}: the flows table equals the generator's ground truth, flow by flow and per kind`, async () => {
      const capture = path.join(FIXTURES, fixture)
      const truth = JSON.parse(readFileSync(`${capture}.truth.json`, 'utf8'))
      const store = await FlowStore.open(path.join(tempDir(), 'rt.duckdb'))
      const r = await ingestCapture(store, capture, {network: 'gen'})
      expect(r.packets).toBe(truth.packets)
      expect(r.flows).toBe(truth.flows)
      expect(r.bytes).toBe(truth.bytes)
      const expected = truthRows(`${capture}.flows.csv`)
      const got = await storedRows(store)
      expect(got.length).toBe(expected.rows.length)
      expect(got).toEqual(expected.rows)
      // per kind: every stored flow maps to exactly one generated flow of a known kind
      const perKind: Record<string, {flows: number; packets: number; bytes: number}> = {}
      for (const row of got) {
        const kind = expected.kinds.get(row)!
        const f = row.split(',')
        const k = (perKind[kind] ??= {flows: 0, packets: 0, bytes: 0})
        k.flows++
        k.packets += Number(f[8])
        k.bytes += Number(f[9])
      }
      expect(perKind).toEqual(Object.fromEntries(Object.entries(truth.kinds).filter(([, v]) => (v as {flows: number}).flows > 0)))
      await store.close()
    })
  }

  it('a freshly generated pcapng with nanosecond timestamps and IPv6 matches its truth totals per family', async () => {
    const dir = tempDir()
    const out = path.join(dir, 'ns.pcapng')
    const g = await generateTraffic({out, format: 'pcapng', nanosecond: true, seed: 42, packets: 30_000, maxPayload: 64})
    const store = await FlowStore.open(path.join(dir, 'rt.duckdb'))
    const r = await ingestCapture(store, out, {network: 'gen'})
    expect({flows: r.flows, packets: r.packets, bytes: r.bytes}).toEqual({flows: g.flows, packets: g.packets, bytes: g.bytes})
    const fam = await store.all<{family: number; flows: bigint; packets: bigint; bytes: bigint}>(
      'SELECT family, count(*) AS flows, sum(packets)::BIGINT AS packets, sum(bytes)::BIGINT AS bytes FROM flows GROUP BY family ORDER BY family',
    )
    const t = g.truth.families
    expect(fam).toEqual([
      {family: 4, flows: BigInt(t.ipv4.flows), packets: BigInt(t.ipv4.packets), bytes: BigInt(t.ipv4.bytes)},
      {family: 6, flows: BigInt(t.ipv6.flows), packets: BigInt(t.ipv6.packets), bytes: BigInt(t.ipv6.bytes)},
    ])
    await store.close()
  })
})
