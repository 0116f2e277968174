import {existsSync, readdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {FIXTURES, runCli, SHARED_DATA, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

const SLIPS = path.join(SHARED_DATA, 'slips-stratosphere')

describe('flowscope ingest of flow files, and export (CLI)', () => {
  it('detects a CSV by content, maps columns by hand, keeps labels, and exports Parquet partitions', () => {
    const dir = tempDir()
    const db = path.join(dir, 'f.duckdb')
    const csv = path.join(dir, 'mine.csv')
    writeFileSync(
      csv,
      'start,sa,da,sp,dp,pr,pkts,octets,verdict\n' +
        '1767571200000,10.0.0.1,10.0.0.2,40000,443,6,10,5000,ok\n' +
        '1767571260000,2001:db8::1,2001:db8::2,40001,53,17,1,80,bad\n',
    )
    const r = runCli(['ingest', csv, '--db', db, '--json', '--map', 'src_ip=sa,dst_ip=da,src_port=sp,dst_port=dp,proto=pr,packets=pkts,bytes=octets,ts_start=start:ms'])
    expectContract('ingest', r)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.result.files[0].flows).toBe(2)
    const rows = runCli(['sql', "SELECT src_ip, dst_port, packets, bytes, extra->>'verdict' AS verdict FROM flows_with_extra ORDER BY ts_start", '--db', db, '--json']).json!.result.rows
    expect(rows).toEqual([
      {src_ip: '10.0.0.1', dst_port: 443, packets: 10, bytes: 5000, verdict: 'ok'},
      {src_ip: '2001:db8::1', dst_port: 53, packets: 1, bytes: 80, verdict: 'bad'},
    ])
    const out = path.join(dir, 'parquet')
    const e = runCli(['export', out, '--db', db, '--json'])
    expectContract('export', e)
    expect(e.code, e.stderr).toBe(0)
    expect(e.json!.result.rows).toBe(2)
    expect(readdirSync(path.join(out, 'network=default'))).toEqual(['date=2026-01-05'])
  })

  it('a bad row names the file and line (exit 3) and stores nothing', () => {
    const dir = tempDir()
    const db = path.join(dir, 'f.duckdb')
    expect(runCli(['ingest', path.join(FIXTURES, 'small.pcapng'), '--db', db]).code).toBe(0)
    const csv = path.join(dir, 'bad.csv')
    writeFileSync(csv, 'start,sa,da,sp,dp,pr,pkts,octets\n1767571200000,10.0.0.1,10.0.0.2,1,2,6,1,40\n1767571200000,not-an-ip,10.0.0.2,1,2,6,1,40\n')
    const r = runCli(['ingest', csv, '--db', db, '--json', '--map', 'src_ip=sa,dst_ip=da,src_port=sp,dst_port=dp,proto=pr,packets=pkts,bytes=octets,ts_start=start:ms'])
    expectContract('ingest', r)
    expect(r.code).toBe(3)
    expect(r.json!.error.message).toContain(csv)
    expect(r.json!.error.message).toMatch(/line 3/)
    expect(runCli(['summary', '--db', db, '--json']).json!.result.sources).toBe(1)
  })

  it.skipIf(!existsSync(SLIPS))('real Argus and Zeek files are recognised by their headers', () => {
    const db = path.join(tempDir(), 'f.duckdb')
    const r = runCli(['ingest', path.join(SLIPS, 'test5-mixed.binetflow'), path.join(SLIPS, 'test18-ctu-sme-11-zeek-labeled/conn.log.labeled'), '--db', db, '--json'])
    expectContract('ingest', r)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.result.files.map((f: {format: string}) => f.format)).toEqual(['argus/tsv', 'zeek/zeek'])
  })
})
