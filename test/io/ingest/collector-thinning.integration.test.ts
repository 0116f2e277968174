/**
 * `collect --rate-limit` at the layer: NetFlow v5 datagrams sent to the collector on 127.0.0.1, one
 * flush over an injected 10 s; above the network's budget the flush is thinned (sampling_rate × k),
 * under it stored untouched.
 */
import dgram from 'node:dgram'
import {describe, expect, it} from 'vitest'

import type {RateLimits} from '../../../src/core/thinning.js'
import {runCollector, type CollectorResult} from '../../../src/io/ingest/collector.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {ByteWriter} from '../flowexport/build.js'

const T = 1_700_000_000
const RECORDS = 1200

/** NetFlow v5 datagrams of 30 records each, every record a distinct flow (source port, counts). */
function v5Datagrams(records: number): Buffer[] {
  const out: Buffer[] = []
  for (let first = 0; first < records; first += 30) {
    const n = Math.min(30, records - first)
    const w = new ByteWriter().u16(5).u16(n).u32(100_000).u32(T).u32(0).u32(first).u8(0).u8(0).u16(0)
    for (let i = first; i < first + n; i++) {
      w.ipv4(`10.0.${(i >> 8) & 255}.${i & 255}`).ipv4('10.1.0.1').u32(0).u16(1).u16(2).u32(1 + (i % 7)).u32(100 + i).u32(90_000).u32(99_000)
      w.u16(1024 + i).u16(80).u8(0).u8(0x1b).u8(6).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0)
    }
    out.push(Buffer.from(w.build()))
  }
  return out
}

/** Collects `RECORDS` records in one flush that, by the injected clock, covers 10 s. */
async function collectOnce(network: string, rateLimits: RateLimits): Promise<{result: CollectorResult; rows: Array<{n: bigint; rmin: number; rmax: number; packets: number}>}> {
  const store = await FlowStore.open(':memory:')
  try {
    let clock = T * 1e6
    const ac = new AbortController()
    const result = await runCollector(store, {
      listen: {host: '127.0.0.1', port: 0},
      network,
      signal: ac.signal,
      flushIntervalMs: 3_600_000,
      flushRecords: 100_000,
      rateLimits,
      now: () => clock,
      onListening: ({port}) => {
        const sock = dgram.createSocket('udp4')
        void (async () => {
          for (const d of v5Datagrams(RECORDS)) await new Promise<void>((resolve, reject) => sock.send(d, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())))
          sock.close()
          await new Promise((r) => setTimeout(r, 300))
          clock += 10e6
          ac.abort()
        })()
      },
    })
    const rows = await store.all<{n: bigint; rmin: number; rmax: number; packets: number}>(
      'SELECT count(*) AS n, min(sampling_rate) AS rmin, max(sampling_rate) AS rmax, sum(packets * sampling_rate)::DOUBLE AS packets FROM flows',
    )
    return {result, rows}
  } finally {
    await store.close()
  }
}

describe('runCollector with rate limits', () => {
  it('thins a flush above the network’s budget: 1,200 records in 10 s at 20/s → 1 in 6, sampling_rate × 6', {timeout: 20_000}, async () => {
    const {result, rows} = await collectOnce('core', {default: 1000, networks: {core: 20}})
    expect(result.thinning).toHaveLength(1)
    const t = result.thinning[0]!
    expect(t).toMatchObject({network: 'core', budget: 20, recordsIn: RECORDS, intervals: 1, thinned: 1, maxK: 6, kCounts: {'6': 1}})
    // binomial(1200, 1/6): sd 13 records around 200
    expect(Math.abs(t.recordsKept - 200)).toBeLessThan(45)
    expect(result.records).toBe(t.recordsKept)
    expect(rows[0]).toMatchObject({n: BigInt(t.recordsKept), rmin: 6, rmax: 6})
    // the extrapolated packet total near the true one (packets 1..7, 4 on average: 4,800 in all)
    expect(Math.abs(rows[0]!.packets - 4800) / 4800).toBeLessThan(0.25)
  })

  it('stores a flush under the budget untouched', {timeout: 20_000}, async () => {
    const {result, rows} = await collectOnce('edge', {default: 1000, networks: {core: 20}})
    expect(result.thinning).toEqual([{network: 'edge', budget: 1000, recordsIn: RECORDS, recordsKept: RECORDS, intervals: 1, thinned: 0, maxK: 1, kCounts: {'1': 1}}])
    expect(rows[0]).toMatchObject({n: BigInt(RECORDS), rmin: 1, rmax: 1})
  })

  it('records no thinning without a budget for the network', {timeout: 20_000}, async () => {
    const {result, rows} = await collectOnce('edge', {networks: {core: 20}})
    expect(result.thinning).toEqual([])
    expect(Number(rows[0]!.n)).toBe(RECORDS)
  })
})
