import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {appendFlowRecord, createFlowBatch} from '../../../src/core/flow-batch.js'
import {flowRangeSql} from '../../../src/io/store/flow-range.js'
import type {FlowRange} from '../../../src/io/store/flow-range.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'

const SEC = 1_000_000
const T0 = 1_767_225_600 * SEC // 2026-01-01T00:00:00Z
const SINCE = T0 + 100 * SEC
const UNTIL = T0 + 200 * SEC

/** Flows on the edges of [SINCE, UNTIL), named by the source port; all in network `n` but `other`. */
const EDGE_FLOWS: Array<{port: number; start: number; end: number; network?: string}> = [
  {port: 1, start: SINCE - 50 * SEC, end: SINCE - 1}, // ends just before the range
  {port: 2, start: SINCE - 50 * SEC, end: SINCE}, // ends exactly at `since`
  {port: 3, start: SINCE - 50 * SEC, end: SINCE + 10 * SEC}, // started before, still running
  {port: 4, start: SINCE, end: SINCE}, // starts exactly at `since`
  {port: 5, start: SINCE + 10 * SEC, end: UNTIL + 50 * SEC}, // starts inside, runs past `until`
  {port: 6, start: UNTIL - 1, end: UNTIL - 1}, // last microsecond of the range
  {port: 7, start: UNTIL, end: UNTIL + SEC}, // starts exactly at `until`
  {port: 8, start: SINCE - 50 * SEC, end: UNTIL + 50 * SEC}, // spans the whole range
  {port: 9, start: SINCE + 10 * SEC, end: SINCE + 20 * SEC, network: 'other'},
]

describe('flowRangeSql', () => {
  let store: FlowStore

  beforeAll(async () => {
    store = await FlowStore.open(path.join(tempDir(), 'range.duckdb'))
    for (const network of ['n', 'other']) {
      const batch = createFlowBatch(EDGE_FLOWS.length)
      for (const f of EDGE_FLOWS.filter((x) => (x.network ?? 'n') === network)) {
        appendFlowRecord(batch, {
          tsStart: f.start, tsEnd: f.end, family: 4, src: [0x0a000001], dst: [0x0a000002], srcPort: f.port, dstPort: 80,
          proto: 6, tcpFlags: 0x18, packets: 1, bytes: 100,
        })
      }
      const appender = await store.createFlowAppender()
      appender.append(batch, network, 1)
      appender.close()
    }
  })

  afterAll(async () => {
    await store.close()
  })

  async function ports(range: FlowRange, alias?: string): Promise<number[]> {
    const r = flowRangeSql(range, alias === undefined ? {} : {alias})
    const from = alias === undefined ? 'flows' : `flows ${alias}`
    const rows = await store.all<{p: number}>(`SELECT src_port AS p FROM ${from} WHERE ${r.where} ORDER BY p`, r.params)
    return rows.map((x) => Number(x.p))
  }

  it('overlapping keeps every flow active in [since, until); starting keeps the flows that begin in it', async () => {
    const both = {network: 'n', since: SINCE, until: UNTIL}
    expect(await ports({mode: 'overlapping', ...both})).toEqual([2, 3, 4, 5, 6, 8])
    expect(await ports({mode: 'starting', ...both})).toEqual([4, 5, 6])
  })

  it('differs only in the lower bound: on ts_end for overlapping, on ts_start for starting', async () => {
    expect(await ports({mode: 'overlapping', network: 'n', since: SINCE})).toEqual([2, 3, 4, 5, 6, 7, 8])
    expect(await ports({mode: 'starting', network: 'n', since: SINCE})).toEqual([4, 5, 6, 7])
    const until = {network: 'n', until: UNTIL}
    expect(await ports({mode: 'overlapping', ...until})).toEqual(await ports({mode: 'starting', ...until}))
    expect(await ports({mode: 'starting', ...until})).toEqual([1, 2, 3, 4, 5, 6, 8])
  })

  it('selects the network, qualifies columns with an alias, and takes bigint or fractional µs', async () => {
    expect(await ports({mode: 'starting', network: 'other'})).toEqual([9])
    expect(await ports({mode: 'overlapping', since: SINCE, until: UNTIL})).toEqual([2, 3, 4, 5, 6, 8, 9])
    expect(await ports({mode: 'overlapping', network: 'n', since: BigInt(SINCE), until: BigInt(UNTIL)}, 'f')).toEqual([2, 3, 4, 5, 6, 8])
    // fractions round down, as the callers did before this selector: since = SINCE + 0.5 still keeps port 4
    expect(await ports({mode: 'starting', network: 'n', since: SINCE + 0.5, until: UNTIL})).toEqual([4, 5, 6])
  })

  it('builds TRUE and no parameters for an unrestricted range, and names parameters by prefix', () => {
    expect(flowRangeSql({mode: 'starting'})).toEqual({conditions: [], where: 'TRUE', params: {}, types: {}})
    const r = flowRangeSql({mode: 'overlapping', network: 'n', since: 1, until: 2}, {prefix: 'f_', alias: 'x'})
    expect(r.where).toBe('x.network = $f_network AND x.ts_end >= make_timestamp($f_since::BIGINT) AND x.ts_start < make_timestamp($f_until::BIGINT)')
    expect(r.params).toEqual({f_network: 'n', f_since: 1n, f_until: 2n})
    expect(Object.keys(r.types)).toEqual(['f_network', 'f_since', 'f_until'])
    expect(() => flowRangeSql({mode: 'starting', since: Number.NaN})).toThrow(RangeError)
  })
})
