/**
 * The validation gate between the decoders and the store (issue #20): what no store may hold
 * (core/flow-bounds.ts) is a bad record — an error naming the file and where, nothing stored — or,
 * with skipBad, skipped and counted; a store poisoned before the gate existed is read without the bad
 * rows, with a warning, instead of failing every query.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {ingestCapture} from '../../../src/io/ingest/ingest.js'
import {ingestFlowFile} from '../../../src/io/ingest/ingest-flow-file.js'
import {countBadFlows} from '../../../src/io/store/health.js'
import {summarizeStore} from '../../../src/io/store/summary.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {openStoreForReading} from '../../../src/io/store/health.js'
import {buildReport} from '../../../src/report/index.js'
import {FIXTURES, runCli, SHARED_DATA, tempDir} from '../../helpers/cli.js'
import {storeSnapshot} from '../flowfile/helpers.js'

const IPFIX_112 = path.join(SHARED_DATA, 'pmacct-flowexport/112-traffic-00.pcap')

const badRows = async (store: FlowStore): Promise<number> => (await countBadFlows(store)).bad

let dir: string
let store: FlowStore
beforeEach(async () => {
  dir = tempDir()
  store = await FlowStore.open(path.join(dir, 's.duckdb'))
})
afterEach(async () => {
  await store.close().catch(() => undefined)
})

describe.skipIf(!existsSync(IPFIX_112))('an IPFIX capture with one length word changed (issue #20, found 1)', () => {
  // the audit's case: bytes 5299..5302 set to 00 00 01 00 shift the fields of the records that follow,
  // which were stored as 9 flows, one of 16,602,433,577,848,307,712 packets, breaking summary and top
  const mutated = (): string => {
    const bytes = readFileSync(IPFIX_112)
    bytes.set([0, 0, 1, 0], 5299)
    const file = path.join(dir, 'ipfix-mutated.pcap')
    writeFileSync(file, bytes)
    return file
  }

  it('is refused naming the file and the byte offset of the packet, and stores nothing', async () => {
    const file = mutated()
    const before = await storeSnapshot(store)
    await expect(ingestCapture(store, file, {network: 'n'})).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: byte offset \\d+: export datagram with .*out of range`))
    expect(await storeSnapshot(store)).toEqual(before)
  })

  it('with skipBad: the bad records are counted, the rest stored, and every query works on the store', async () => {
    const r = await ingestCapture(store, mutated(), {network: 'n', skipBad: true})
    expect(r.status).toBe('ingested')
    expect(r.badRecords).toBeGreaterThan(0)
    expect(await badRows(store)).toBe(0)
    const s = await summarizeStore(store, {top: 5})
    expect(s.flows).toBe(r.flows)
    await store.close()
    const cli = runCli(['top', 'srcip', '--db', path.join(dir, 's.duckdb'), '--json'])
    expect(cli.code, cli.stderr).toBe(0)
  })

  it('the unmutated capture still ingests whole: the gate refuses nothing real', async () => {
    const r = await ingestCapture(store, IPFIX_112, {network: 'n'})
    expect([r.status, r.badRecords]).toEqual(['ingested', 0])
    expect(r.flows).toBeGreaterThan(0)
  })
})

describe('a Parquet flow file with a time no store may hold (issue #20, found 2)', () => {
  it('is a bad row naming the file and row, and commits nothing (it used to exit 1 after committing)', async () => {
    const file = path.join(dir, 'far-future.parquet')
    await store.run(`COPY (SELECT * FROM (VALUES
        (TIMESTAMP '2015-02-18 06:49:52', TIMESTAMP '2015-02-18 06:49:53', '59.166.0.2', 51680, '149.171.126.9', 21, 6, 24::BIGINT, 1526::BIGINT),
        (TIMESTAMP '294247-01-10 04:00:54', TIMESTAMP '294247-01-10 04:00:54', '59.166.0.3', 51681, '149.171.126.9', 21, 6, 2::BIGINT, 120::BIGINT))
      t(ts_start, ts_end, src_ip, src_port, dst_ip, dst_port, proto, packets, bytes)) TO '${file}' (FORMAT PARQUET)`)
    const before = await storeSnapshot(store)
    await expect(ingestFlowFile(store, file, {network: 'n'})).rejects.toThrow(`${file}: row 2: flow start outside 1970-01-01 .. 2200-01-01`)
    expect(await storeSnapshot(store)).toEqual(before)
    const skipped = await ingestFlowFile(store, file, {network: 'n', skipBad: true})
    expect([skipped.status, skipped.flows, skipped.badRecords]).toEqual(['ingested', 1, 1])
    expect(await badRows(store)).toBe(0)
  })

  it('a CSV row of 2^60 packets is a bad row too', async () => {
    const file = path.join(dir, 'huge.csv')
    writeFileSync(file, 'ts_start,ts_end,src_ip,src_port,dst_ip,dst_port,proto,packets,bytes\n2015-02-18 06:49:52,2015-02-18 06:49:53,10.0.0.1,1000,10.0.0.2,80,6,1152921504606846976,100\n')
    await expect(ingestFlowFile(store, file, {network: 'n'})).rejects.toThrow(`${file}: line 2: packet count outside 0 .. 2^48`)
  })

  it('a CSV text time past the year 9999 is a bad row, not a DuckDB conversion error (exit 1) once a duration is added', async () => {
    // found by the mutation fuzz: Argus StartTime "294247-01-10 04:00:54" parsed, then overflowed in ts_start + Dur
    const file = path.join(dir, 'far.binetflow')
    writeFileSync(file, 'StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n'
      + '2011/08/16 10:01:46.972101,3.5,tcp,10.0.0.1,1000,   ->,10.0.0.2,80,FSPA_FSPA,0,0,10,1000,400,flow=Background\n'
      + '294247-01-10 04:00:54,3.5,tcp,10.0.0.1,1001,   ->,10.0.0.2,80,FSPA_FSPA,0,0,10,1000,400,flow=Background\n')
    const before = await storeSnapshot(store)
    await expect(ingestFlowFile(store, file, {network: 'n'})).rejects.toThrow(`${file}: line 3: flow start outside 1970-01-01 .. 2200-01-01`)
    expect(await storeSnapshot(store)).toEqual(before)
    const skipped = await ingestFlowFile(store, file, {network: 'n', skipBad: true})
    // the good Argus record is bidirectional: one flow each way
    expect([skipped.status, skipped.flows, skipped.badRecords]).toEqual(['ingested', 2, 1])
    expect(await badRows(store)).toBe(0)
  })
})

describe('a store poisoned before the gate existed (issue #20, what to build 3)', () => {
  it('is read without its bad rows, with a warning of how many, by summary, report, top and flows', async () => {
    await ingestCapture(store, path.join(FIXTURES, 'demo.pcap'), {network: 'demo'})
    const [good] = await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')
    // the three shapes the audit found stored: a count beyond any sum, a time 290,000 years BC, an end before the start
    await store.run(`INSERT INTO flows (network, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr)
      SELECT 'demo', ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, 16602433577848307712, bytes, sampling_rate, source_id, family, src_addr, dst_addr FROM flows LIMIT 1`)
    await store.run(`INSERT INTO flows (network, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr)
      SELECT 'demo', make_timestamp(-9214646400000000000), ts_end, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr FROM flows LIMIT 1`)
    await store.run(`INSERT INTO flows (network, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr)
      SELECT 'demo', ts_end + INTERVAL 1 DAY, ts_start, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr FROM flows LIMIT 1`)
    expect(await badRows(store)).toBe(3)
    await store.close()
    const db = path.join(dir, 's.duckdb')

    const warnings: string[] = []
    const reading = await openStoreForReading(db, {onBadFlows: (m) => warnings.push(m)})
    try {
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain('3 stored flow rows are outside what a store may hold')
      expect(warnings[0]).toContain('flowscope doctor')
      const s = await summarizeStore(reading, {top: 5})
      expect(s.flows).toBe(Number(good!.n))
      const report = await buildReport(reading)
      expect(report).toBeDefined()
    } finally {
      await reading.close()
    }
    for (const args of [['summary'], ['top', 'srcip'], ['flows', '--limit', '5'], ['report']]) {
      const r = runCli([...args, '--db', db, '--json'])
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      expect(r.json?.warnings.join('\n'), args.join(' ')).toContain('3 stored flow rows')
    }
  })
})
