/*
 * `sql --json/--csv` writes TIMESTAMP columns as ISO 8601 (query/run.ts). A store poisoned before the
 * validation gate of issue #20 can hold years outside 0000..9999 (the audit's 290,000 BC), which
 * `doctor --fix` moves to flows_quarantine; reading that table must still give valid ISO text.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/index.js'
import {isoTimestamp, runQuery} from '../../src/query/run.js'

let store: FlowStore
beforeAll(async () => {
  store = await FlowStore.open(':memory:')
  await store.run("SET TimeZone = 'UTC'")
})
afterAll(async () => {
  await store.close()
})

describe('timestamps in sql output', () => {
  it('are ISO 8601, in the extended form JavaScript writes for years past 9999 or before 0000', async () => {
    const {rows} = await runQuery(store, {
      sql: `SELECT TIMESTAMP '2026-01-05 00:00:04.314149' AS a, TIMESTAMP '2026-01-05 00:00:04' AS b,
        TIMESTAMPTZ '2026-01-05 00:00:04+00' AS c, TIMESTAMP '294247-01-10 04:00:54' AS d,
        make_timestamp(-9214646400000000000) AS e, TIMESTAMP '0001-01-01 00:00:00' AS f`,
      params: {},
      types: {},
    })
    expect(rows[0]).toEqual({
      a: '2026-01-05T00:00:04.314149Z',
      b: '2026-01-05T00:00:04.000000Z',
      c: '2026-01-05T00:00:04.000000Z',
      d: '+294247-01-10T04:00:54.000000Z',
      e: '-290031-06-25T00:00:00.000000Z',
      f: '0001-01-01T00:00:00.000000Z',
    })
    // JavaScript agrees wherever its Date reaches (±275,760 years)
    for (const v of ['a', 'b', 'c', 'f'] as const) expect(new Date(rows[0]![v] as string).toISOString().slice(0, 19)).toBe((rows[0]![v] as string).slice(0, 19))
  })

  it('leaves text that is not a DuckDB timestamp as it is', () => {
    expect(isoTimestamp('infinity')).toBe('infinity')
  })
})
