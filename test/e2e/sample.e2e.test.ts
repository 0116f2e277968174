import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {FIXTURES, runCli, SHARED_DATA, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

const DEMO = path.join(FIXTURES, 'demo.pcap')
const REAL = path.join(SHARED_DATA, 'bench-ndpi-concat/DERIVED_ndpi_benign_concat.pcap')

describe('flowscope sample (CLI)', () => {
  it('stores a 1/100 sample as a new source with sampling_rate 100 and puts estimates beside the truth', () => {
    const db = path.join(tempDir(), 's.duckdb')
    expect(runCli(['ingest', DEMO, '--db', db]).code).toBe(0)
    const r = runCli(['sample', DEMO, '--rate', '1/100', '--db', db, '--json', '--seed', '3'])
    expectContract('sample', r)
    expect(r.code, r.stderr).toBe(0)
    const res = r.json!.result
    expect(res.status).toBe('stored')
    expect(res.parentSourceId).toBe(1)
    const p = res.picture
    expect(p.rate).toBe(100)
    expect(p.truth.packets.truth).toBe(JSON.parse(readFileSync(`${DEMO}.truth.json`, 'utf8')).packets)
    expect(Math.abs(p.truth.packets.relError)).toBeLessThan(0.1)
    const rows = runCli(['sql', "SELECT DISTINCT sampling_rate FROM flows WHERE network = 'default-sampled'", '--db', db, '--json']).json!.result.rows
    expect(rows).toEqual([{sampling_rate: 100}])
    const est = runCli(['sql', 'SELECT metric, truth FROM estimates ORDER BY metric', '--db', db, '--json']).json!.result.rows
    expect(est.map((x: {metric: string}) => x.metric)).toEqual(['distinct_hosts', 'tcp_flows', 'total_bytes', 'total_packets'])
    // the same sample again is a no-op
    expect(expectContract('sample', runCli(['sample', DEMO, '--rate', '0.01', '--db', db, '--json', '--seed', '3'])).status).toBe('unchanged')
    // top over the sampled network scales to estimates with intervals
    const top = runCli(['top', 'proto', 'network default-sampled', '--db', db, '--json']).json!.result.rows
    expect(top[0].estimate_kind).toBe('plain-scaled')
    expect(top[0].bytes_scaled).toBe(top[0].bytes * 100)
  })

  it('thins stored flows binomially and says it simulated', () => {
    const db = path.join(tempDir(), 's.duckdb')
    expect(runCli(['ingest', DEMO, '--db', db]).code).toBe(0)
    const r = runCli(['sample', '--from-network', 'default', '--rate', '10', '--db', db, '--json'])
    expectContract('sample', r)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.result.simulated).toBe('binomial-thinning')
    expect(r.json!.warnings.join(' ')).toMatch(/binomial thinning/)
    const x = r.json!.result
    expect(x.extrapolation.packets.ci95[0]).toBeLessThan(x.truth.packets)
    expect(x.extrapolation.packets.ci95[1]).toBeGreaterThan(x.truth.packets)
  })

  it('refuses a bad rate (exit 2)', () => {
    const r = runCli(['sample', DEMO, '--rate', '2/3', '--db', path.join(tempDir(), 'x.duckdb')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/1\/1000/)
  })
})

describe('flowscope bench sampling (CLI)', () => {
  it('sweeps rates × samplers with a chart, JSON and CSV', () => {
    const dir = tempDir()
    const chart = path.join(dir, 'c.svg')
    const r = runCli(['bench', 'sampling', DEMO, '--rates', '1/10,1/100', '--samplers', 'systematic,sflow', '--trials', '20', '--chart', chart, '--json', '--db', path.join(dir, 'b.duckdb')])
    expectContract('bench sampling', r)
    expect(r.code, r.stderr).toBe(0)
    const cells = r.json!.result.cells
    expect(cells).toHaveLength(4)
    for (const c of cells) {
      expect(c.seeds).toHaveLength(20)
      expect(c.bytes.coverage).toBeGreaterThan(0.7)
      expect(Math.abs(c.packets.bias)).toBeLessThan(0.1)
    }
    const svg = readFileSync(chart, 'utf8')
    expect(svg).toMatch(/^<svg/)
    expect(svg).toMatch(/√|sqrt|bound/i)
    const csv = runCli(['bench', 'sampling', DEMO, '--rates', '1/10', '--samplers', 'bernoulli', '--trials', '5', '--csv', '--no-store'])
    const lines = csv.stdout.trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^rate,sampler,trials/)
  })

  it.skipIf(!existsSync(REAL))('runs on a real capture', () => {
    const r = runCli(['bench', 'sampling', REAL, '--rates', '1/100', '--samplers', 'sflow', '--trials', '30', '--json', '--no-store'])
    expectContract('bench sampling', r)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.result.truth.packets).toBe(93637) // the IP packets of the 94,093 (the rest are ARP and other non-IP frames)
    expect(r.json!.result.cells[0].packets.coverage).toBeGreaterThan(0.8)
  })
})
