/**
 * All or nothing on every ingest path (issue #20, what to build 2): a failure injected after the rows
 * were staged — appended, inserted, about to be committed — leaves the store exactly as it was.
 */
import dgram from 'node:dgram'
import {copyFileSync, existsSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {runCollector} from '../../../src/io/ingest/collector.js'
import {ingestCapture} from '../../../src/io/ingest/ingest.js'
import {ingestFlowFile} from '../../../src/io/ingest/ingest-flow-file.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {FIXTURES, SHARED_DATA, tempDir} from '../../helpers/cli.js'
import {ByteWriter} from '../flowexport/build.js'
import {storeSnapshot} from '../flowfile/helpers.js'

const IPFIX_112 = path.join(SHARED_DATA, 'pmacct-flowexport/112-traffic-00.pcap')
const ZEEK = path.join(SHARED_DATA, 'slips-stratosphere/test18-ctu-sme-11-zeek-labeled/conn.log.labeled')

/** `now` is read inside the ingest's transaction, after every row is staged: the injection point. */
const failing = (): Date => {
  throw new Error('injected failure after the rows were staged')
}

let dir: string
let store: FlowStore
beforeEach(async () => {
  dir = tempDir()
  store = await FlowStore.open(path.join(dir, 's.duckdb'))
  // a store with content already: the failed ingest must leave it, not just leave an empty store empty
  await ingestCapture(store, path.join(FIXTURES, 'demo.pcap'), {network: 'before'})
})
afterEach(async () => {
  await store.close().catch(() => undefined)
})

async function expectUnchangedAfter(ingest: () => Promise<unknown>): Promise<void> {
  const before = await storeSnapshot(store)
  expect(before.flows).toBeGreaterThan(0)
  await expect(ingest()).rejects.toThrow('injected failure after the rows were staged')
  expect(await storeSnapshot(store)).toEqual(before)
}

describe('an exception after staging rolls the ingest back', () => {
  it('a packet capture', async () => {
    const copy = path.join(dir, 'again.pcap')
    copyFileSync(path.join(FIXTURES, 'demo.pcap'), copy)
    await expectUnchangedAfter(() => ingestCapture(store, copy, {network: 'other', now: failing}))
  })

  it.skipIf(!existsSync(IPFIX_112))('a capture of flow exports', async () => {
    await expectUnchangedAfter(() => ingestCapture(store, IPFIX_112, {network: 'n', now: failing}))
  })

  it('a CSV flow file', async () => {
    const file = path.join(dir, 'f.csv')
    writeFileSync(file, 'ts_start,ts_end,src_ip,src_port,dst_ip,dst_port,proto,packets,bytes\n2015-02-18 06:49:52,2015-02-18 06:49:53,10.0.0.1,1000,10.0.0.2,80,6,3,180\n')
    await expectUnchangedAfter(() => ingestFlowFile(store, file, {network: 'n', now: failing}))
  })

  it('a Parquet flow file, with extra columns', async () => {
    const file = path.join(dir, 'f.parquet')
    await store.run(`COPY (SELECT * FROM (VALUES (TIMESTAMP '2015-02-18 06:49:52', TIMESTAMP '2015-02-18 06:49:53', '10.0.0.1', 1000, '10.0.0.2', 80, 6, 3::BIGINT, 180::BIGINT, 'Exploits'))
      t(ts_start, ts_end, src_ip, src_port, dst_ip, dst_port, proto, packets, bytes, label)) TO '${file}' (FORMAT PARQUET)`)
    await expectUnchangedAfter(() => ingestFlowFile(store, file, {network: 'n', now: failing}))
  })

  it.skipIf(!existsSync(ZEEK))('a Zeek conn.log', async () => {
    await expectUnchangedAfter(() => ingestFlowFile(store, ZEEK, {network: 'n', now: failing}))
  })

  it('a collector batch', async () => {
    // the collector's batch transaction appends the flows, then adds them to the source's counters:
    // the counters' update fails here, after the append
    const failingStore = new Proxy(store, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown
        if (key === 'run') {
          return async (sql: string, params?: unknown) => {
            if (/^\s*UPDATE sources/i.test(sql)) throw new Error('injected failure after the rows were staged')
            return (v as FlowStore['run']).call(target, sql, params as never)
          }
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      },
    })
    const ac = new AbortController()
    const before = await storeSnapshot(store)
    const done = runCollector(failingStore, {
      listen: {host: '127.0.0.1', port: 0},
      network: 'c',
      signal: ac.signal,
      flushRecords: 1,
      onListening: ({port}) => {
        const T = 1_700_000_000
        const w = new ByteWriter().u16(5).u16(1).u32(100_000).u32(T).u32(0).u32(0).u8(0).u8(0).u16(0)
        w.ipv4('10.0.0.1').ipv4('10.0.0.2').u32(0).u16(1).u16(2).u32(3).u32(180).u32(90_000).u32(99_000)
        w.u16(1234).u16(80).u8(0).u8(0x1b).u8(6).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0)
        const sock = dgram.createSocket('udp4')
        sock.send(w.build(), port, '127.0.0.1', () => {
          sock.close()
          setTimeout(() => ac.abort(), 200)
        })
      },
    })
    await expect(done).rejects.toThrow('injected failure after the rows were staged')
    const after = await storeSnapshot(store)
    // the collector's own source row is written when it starts listening; no flow of the failed batch stays
    expect(after.flows).toBe(before.flows)
  })
})
