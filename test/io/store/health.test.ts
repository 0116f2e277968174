import {existsSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {badFlowRows, countBadFlows, quarantineBadFlows, summarizeStore} from '../../../src/io/store/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'
import {IPFIX_REPRO_BAD, IPFIX_REPRO_FILE, poisonLikeIpfixRepro, poisonSynthetic, SYNTHETIC_BAD} from './poisoned-store.js'

async function withStore<R>(db: string, fn: (s: FlowStore) => Promise<R>): Promise<R> {
  const store = await FlowStore.open(db)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

describe('store health: rows outside the rule of core/flow-bounds (issue #20)', () => {
  it('counts the bad rows by problem and lists them as text, whatever their values', async () => {
    const db = path.join(tempDir(), 'p.duckdb')
    await poisonSynthetic(db)
    await withStore(db, async (store) => {
      const c = await countBadFlows(store)
      expect(c.flows).toBe(5)
      expect(c.bad).toBe(SYNTHETIC_BAD)
      expect(c.byProblem.map((p) => p.problem).sort()).toEqual(['flow end before its start', 'flow start outside 1970-01-01 .. 2200-01-01', 'packet count outside 0 .. 2^48'])
      const rows = await badFlowRows(store, 10)
      expect(rows).toHaveLength(3)
      expect(rows[0]).toMatchObject({network: 'lab', sourceId: 1, source: '/captures/synthetic.pcap', packets: '16602433577848307712', problem: 'packet count outside 0 .. 2^48'})
      expect(rows[1]!.tsStart).toMatch(/^290255-03-01 \(BC\) 00:00:00$/)
      expect(rows[2]).toMatchObject({tsStart: '2026-07-09 12:05:00', tsEnd: '2026-07-01 00:00:00', problem: 'flow end before its start'})
      expect(await badFlowRows(store, 1)).toHaveLength(1)
    })
  })

  it('quarantines them in one go: moved to flows_quarantine with their problem, sources corrected, queries work again', async () => {
    const db = path.join(tempDir(), 'q.duckdb')
    await poisonSynthetic(db)
    await withStore(db, async (store) => {
      const q = await quarantineBadFlows(store)
      expect(q).toMatchObject({quarantined: SYNTHETIC_BAD, table: 'flows_quarantine', sourcesUpdated: 1})
      expect((await countBadFlows(store)).bad).toBe(0)
      const [left] = await store.all<{n: bigint; p: bigint}>('SELECT count(*) AS n, sum(packets)::UBIGINT AS p FROM flows')
      expect([Number(left!.n), Number(left!.p)]).toEqual([2, 18])
      const moved = await store.all<{problem: string; packets: string; at: string}>(
        'SELECT problem, packets::VARCHAR AS packets, quarantined_at::VARCHAR AS at FROM flows_quarantine ORDER BY problem',
      )
      expect(moved.map((m) => m.problem)).toEqual(['flow end before its start', 'flow start outside 1970-01-01 .. 2200-01-01', 'packet count outside 0 .. 2^48'])
      expect(moved[2]!.packets).toBe('16602433577848307712')
      for (const m of moved) expect(m.at).toMatch(/^20\d\d-/)
      const [src] = await store.all<{flows: bigint; f: string; l: string}>('SELECT flows, ts_first::VARCHAR AS f, ts_last::VARCHAR AS l FROM sources')
      expect({flows: Number(src!.flows), f: src!.f, l: src!.l}).toEqual({flows: 2, f: '2026-07-09 12:00:00', l: '2026-07-09 12:05:00'})
      // a healthy store: nothing to do, and the quarantine is kept
      expect(await quarantineBadFlows(store)).toMatchObject({quarantined: 0})
      expect(await store.all('SELECT count(*)::INTEGER AS n FROM flows_quarantine')).toEqual([{n: 3}])
      const s = await summarizeStore(store, {top: 5})
      expect(s.flows).toBe(2)
    })
  })

  it('a failure during the quarantine leaves the store as it was', async () => {
    const db = path.join(tempDir(), 'r.duckdb')
    await poisonSynthetic(db)
    await withStore(db, async (store) => {
      // a quarantine table of an incompatible shape makes the copy fail after the table was created
      await store.run('CREATE TABLE flows_quarantine (problem INTEGER, quarantined_at TIMESTAMP)')
      await expect(quarantineBadFlows(store)).rejects.toThrow()
      expect((await countBadFlows(store)).bad).toBe(SYNTHETIC_BAD)
      expect(await store.all('SELECT count(*)::INTEGER AS n FROM flows_quarantine')).toEqual([{n: 0}])
      expect(await store.all("SELECT * FROM duckdb_tables() WHERE table_name = 'doctor_bad_sources'")).toHaveLength(0)
    })
  })

  it.skipIf(!existsSync(IPFIX_REPRO_FILE))('the mutated IPFIX capture of the audit: 7 of its 9 flows are bad; after the quarantine the summary works', async () => {
    const dir = tempDir()
    const db = path.join(dir, 'ipfix.duckdb')
    const file = await poisonLikeIpfixRepro(db, dir)
    await withStore(db, async (store) => {
      const c = await countBadFlows(store)
      expect(c).toMatchObject({flows: 9, bad: IPFIX_REPRO_BAD})
      const rows = await badFlowRows(store, 20)
      expect(rows.map((r) => r.source)).toEqual(Array(IPFIX_REPRO_BAD).fill(file))
      expect(rows.map((r) => r.packets)).toContain('16602433577848307712')
      expect((await quarantineBadFlows(store)).quarantined).toBe(IPFIX_REPRO_BAD)
      const s = await summarizeStore(store, {top: 5})
      expect([s.flows, s.packets]).toEqual([2, 4])
    })
  })
})
