import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {cidrRange, enrichFlowsWithAsn, lookupAsn} from '../../src/buckets/asn.js'
import {ingestCapture} from '../../src/io/ingest/ingest.js'
import {FlowStore} from '../../src/io/store/store.js'
import {FIXTURES, runCli, tempDir} from '../helpers/cli.js'

describe('ASN enrichment', () => {
  it('looks up IPv4 and IPv6 addresses and marks private and reserved space', async () => {
    const store = await FlowStore.open(':memory:')
    const rows = await lookupAsn(store, ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '10.20.30.40', 'fd00:1::5', '192.0.2.7', '127.0.0.1'])
    expect(rows.map((r) => [r.asn, r.scope])).toEqual([
      [15169, 'public'],
      [13335, 'public'],
      [15169, 'public'],
      [null, 'private'],
      [null, 'private'],
      [null, 'reserved'],
      [null, 'reserved'],
    ])
    expect(rows[0]!.name).toMatch(/Google/)
    await expect(lookupAsn(store, ['not-an-ip'])).rejects.toThrow(/not an IP address/)
    await store.close()
  })

  it('cidrRange gives the first and last address numbers (IPv4 mapped)', () => {
    expect(cidrRange('10.0.0.0/8')).toEqual([0xffff0a000000n, 0xffff0affffffn])
    expect(cidrRange('2001:db8::/32')).toEqual([0x20010db8n << 96n, (0x20010db8n << 96n) | ((1n << 96n) - 1n)])
  })

  it('fills src_as/dst_as of stored flows (0 where no AS is known) and is idempotent', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'a.duckdb'))
    await ingestCapture(store, path.join(FIXTURES, 'small.pcapng'), {network: 'n'})
    const n = await enrichFlowsWithAsn(store)
    expect(n).toBeGreaterThan(0)
    const [c] = await store.all<{missing: bigint; internal_nonzero: bigint; external: bigint}>(
      `SELECT count(*) FILTER (WHERE src_as IS NULL OR dst_as IS NULL) AS missing,
              count(*) FILTER (WHERE src_ip LIKE '10.1.%' AND src_as <> 0) AS internal_nonzero,
              count(*) FILTER (WHERE src_as > 0) AS external FROM flows`,
    )
    expect(c).toEqual({missing: 0n, internal_nonzero: 0n, external: expect.any(BigInt)})
    expect(c!.external).toBeGreaterThan(0n)
    expect(await enrichFlowsWithAsn(store)).toBe(0)
    await store.close()
  })

  it('the asn command and `top srcas` work from the CLI', () => {
    const r = runCli(['asn', '8.8.8.8', '10.0.0.1', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.result.map((x: {asn: number | null}) => x.asn)).toEqual([15169, null])
    const db = path.join(tempDir(), 'q.duckdb')
    expect(runCli(['ingest', path.join(FIXTURES, 'small.pcapng'), '--db', db]).code).toBe(0)
    const top = runCli(['top', 'srcas', '--db', db, '--json'])
    expect(top.code, top.stderr).toBe(0)
    expect(top.json!.result.rows.length).toBeGreaterThan(1)
    const f = runCli(['flows', `src as ${top.json!.result.rows.find((x: {key: string}) => x.key !== '0').key}`, '--db', db, '--json'])
    expect(f.code).toBe(0)
    expect(f.json!.result.rows.length).toBeGreaterThan(0)
  })
})
