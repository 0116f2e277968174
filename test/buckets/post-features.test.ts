import {listValue} from '@duckdb/node-api'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {fitFanProfile} from '../../src/buckets/post-calibration.js'
import {contextDeviation, contextProfile, CONTEXT_COUNT, fanEvidence, portFanSql, rescaleToModelWindow, scaleWindows, slowEvidenceSql} from '../../src/buckets/post-features.js'
import {FEATURE_COUNT, FEATURE_INDEX} from '../../src/infer/index.js'
import {FlowStore} from '../../src/io/index.js'
import {createRng} from '../../src/core/index.js'

const HOUR = 3600e6
const T0 = Date.UTC(2026, 0, 5) * 1000

describe('long-window evidence', () => {
  let store: FlowStore

  beforeAll(async () => {
    store = await FlowStore.open(':memory:')
    const rng = createRng(5)
    const rows: string[] = []
    const flow = (t: number, src: string, dst: string, sport: number, dport: number): void => {
      rows.push(`('lab', make_timestamp(${Math.round(t)}::BIGINT), '${src}', '${dst}', ${sport}, ${dport})`)
    }
    // beacons: every 120 s ± 5% to one peer on 443, for an hour; 10.0.0.1 and 20 more
    for (const host of ['10.0.0.1', ...Array.from({length: 20}, (_, i) => `10.0.2.${i + 1}`)]) {
      for (let t = T0, k = 0; k < 30; k++, t += 120e6 * (0.95 + 0.1 * rng.next())) flow(t, host, '198.51.100.7', 50_000 + k, 443)
    }
    // browsers: the same number of requests at Poisson times to the same kind of peer
    for (let b = 0; b < 50; b++) {
      for (let t = T0, k = 0; k < 30; k++, t += -Math.log(1 - rng.next()) * 120e6) flow(t, `10.0.3.${b + 1}`, '198.51.100.7', 50_000 + k, 443)
    }
    // a slow sweep: one host after another on 445
    for (let k = 0; k < 40; k++) flow(T0 + k * 80e6, '10.0.0.3', `10.0.1.${k + 1}`, 40_000 + k, 445)
    // replies are not requests
    flow(T0 + 5e6, '198.51.100.7', '10.0.0.1', 443, 50_000)
    await store.run(`CREATE TEMP TABLE raw (network VARCHAR, ts TIMESTAMP, src VARCHAR, dst VARCHAR, sport INTEGER, dport INTEGER)`)
    await store.run(`INSERT INTO raw VALUES ${rows.join(',')}`)
    await store.run(`INSERT INTO flows SELECT network, NULL, ts, ts, src, dst, sport, dport, 6, 27, 5, 400, 1, 0, 4, 0, 0, NULL, NULL FROM raw`)
  })

  afterAll(async () => {
    await store.close()
  })

  const day = {name: '24h', windowSec: 86_400, hopSec: 86_400, subBinSec: 1440}

  it('scores regular series of requests high and Poisson ones near zero, over many seeded series', async () => {
    const {sql, params} = slowEvidenceSql(scaleWindows(day, T0, T0 + HOUR))
    const addresses = ['10.0.0.1', '10.0.0.3', ...Array.from({length: 20}, (_, i) => `10.0.2.${i + 1}`), ...Array.from({length: 50}, (_, i) => `10.0.3.${i + 1}`)]
    const rows = (await store.connection.runAndReadAll(sql, {...params, addresses: listValue(addresses)} as never)).getRowObjectsJS() as {
      address: string
      periodic: number
      periodic_port: number
    }[]
    const by = Object.fromEntries(rows.map((r) => [r.address, r]))
    expect(by['10.0.0.1']!.periodic_port).toBe(443)
    const beacons = rows.filter((r) => r.address.startsWith('10.0.2.') || r.address === '10.0.0.1').map((r) => r.periodic)
    const poisson = rows.filter((r) => r.address.startsWith('10.0.3.')).map((r) => r.periodic)
    expect(beacons).toHaveLength(21)
    expect(Math.min(...beacons)).toBeGreaterThan(4)
    expect(poisson.reduce((a, b) => a + b, 0) / poisson.length).toBeLessThan(1)
    expect(poisson.filter((x) => x > 3).length).toBeLessThanOrEqual(2)
    // one request to each of 40 hosts: no pair repeats
    expect(by['10.0.0.3']!.periodic).toBe(0)
  })

  it('counts distinct peers per service port, and weighs them against the port\'s benign profile', async () => {
    const {sql, params} = portFanSql(scaleWindows(day, T0, T0 + HOUR))
    const rows = (await store.connection.runAndReadAll(sql, {...params, addresses: listValue(['10.0.0.1', '10.0.0.3'])} as never)).getRowObjectsJS() as {address: string; svc: number; k: number}[]
    expect(rows.map((r) => [r.address, r.svc, r.k])).toEqual([
      ['10.0.0.1', 443, 1],
      ['10.0.0.3', 445, 40],
    ])
    // benign: 443 reaches many peers, 445 two or three; an unseen port is held to the rare ports' level
    const triples: number[] = []
    for (let r = 0; r < 200; r++) triples.push(r, 443, 5 + (r % 40), r, 445, 1 + (r % 3))
    triples.push(0, 5985, 1)
    const profile = fitFanProfile(Int32Array.from(triples))
    expect(profile.ports['443']).toBeGreaterThan(40)
    expect(profile.ports['445']).toBe(3)
    expect(profile.rare).toBe(1)
    expect(fanEvidence([{svc: 445, k: 40}], profile)).toBeCloseTo(Math.log(41 / 4), 12)
    expect(fanEvidence([{svc: 443, k: 40}], profile)).toBe(0)
    expect(fanEvidence([{svc: 5985, k: 16}], profile)).toBeCloseTo(Math.log(17 / 2), 12)
  })
})

describe('bucket context and model view', () => {
  it('measures a member against its group, the spread floored', () => {
    const rows = 8
    const context = new Float64Array(rows * CONTEXT_COUNT)
    for (let r = 0; r < rows; r++) for (let f = 0; f < CONTEXT_COUNT; f++) context[r * CONTEXT_COUNT + f] = 1 + 0.01 * r
    // row 7 is unlike the others in one feature
    context[7 * CONTEXT_COUNT + 9] = 4
    const profile = contextProfile(context, [0, 1, 2, 3, 4, 5, 6, 7])!
    const floors = new Array<number>(CONTEXT_COUNT).fill(0.5)
    const z = new Float64Array(CONTEXT_COUNT)
    const d = contextDeviation(context, 7, profile, floors, z)
    expect(z[9]).toBeCloseTo((4 - profile.median[9]!) / 0.5, 9)
    expect(d).toBeGreaterThan(5)
    expect(contextDeviation(context, 0, profile, floors)).toBeLessThan(0.1)
    // too few members: no profile, no evidence
    expect(contextProfile(context, [0, 1, 2])).toBeNull()
    expect(contextDeviation(context, 7, null, floors)).toBe(0)
  })

  it('brings a long window\'s volumes to the model\'s window', () => {
    const v = new Float32Array(FEATURE_COUNT)
    v[FEATURE_INDEX.bytes_out_log1p] = Math.log1p(12_000)
    v[FEATURE_INDEX.bytes_in_log1p] = Math.log1p(1200)
    v[FEATURE_INDEX.peers_log1p] = Math.log1p(30)
    rescaleToModelWindow(v, 1, 12)
    expect(v[FEATURE_INDEX.bytes_out_log1p]).toBeCloseTo(Math.log1p(1000), 5)
    expect(v[FEATURE_INDEX.byte_ratio_log]).toBeCloseTo(Math.log1p(1000) - Math.log1p(100), 5)
    // distinct counts are not volumes
    expect(v[FEATURE_INDEX.peers_log1p]).toBeCloseTo(Math.log1p(30), 5)
  })
})
