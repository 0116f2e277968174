import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {storedFeatures, writeDetections} from '../../../src/io/store/index.js'
import type {Detection} from '../../../src/io/store/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'

const T0 = 1_767_571_200_000_000
const NOW_MS = 1_767_600_000_000

function detection(over: Partial<Detection> = {}): Detection {
  return {
    network: 'lab',
    address: '10.0.0.5',
    windowStart: T0,
    windowEnd: T0 + 300e6,
    model: 'ae@1234',
    pass: 'first',
    score: 42.5,
    threshold: 10,
    attackType: 'scan',
    topFeatures: [
      {name: 'dst_ports_log1p', value: 5.123456789, standardisedError: 12.3456784},
      {name: 'related_beacon_server', value: 3, standardisedError: Number.NaN},
    ],
    ...over,
  }
}

describe('detections', () => {
  let store: FlowStore
  beforeEach(async () => {
    store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
  })
  afterEach(async () => {
    await store.close()
  })

  const rows = async (): Promise<Record<string, unknown>[]> =>
    store.all(
      `SELECT network, address, epoch_us(window_start) AS ws, epoch_us(window_end) AS we, model, pass, score, threshold, attack_type,
              top_features::VARCHAR AS f, asn, as_name, run_id, epoch_us(detected_at) AS at
       FROM detections ORDER BY network, address, window_start, model, pass`,
    )

  it('stores a detection: features rounded to 6 decimals, the standardised error as z', async () => {
    expect(await writeDetections(store, [detection({asn: 64500, asName: 'EXAMPLE-AS', runId: 3})], {now: () => NOW_MS})).toBe(1)
    expect(await rows()).toEqual([
      {
        network: 'lab', address: '10.0.0.5', ws: BigInt(T0), we: BigInt(T0 + 300e6), model: 'ae@1234', pass: 'first', score: 42.5, threshold: 10,
        attack_type: 'scan', f: '[{"name":"dst_ports_log1p","value":5.123457,"z":12.345678},{"name":"related_beacon_server","value":3,"z":null}]',
        asn: 64500, as_name: 'EXAMPLE-AS', run_id: 3, at: BigInt(NOW_MS * 1000),
      },
    ])
  })

  it('stores what a detection leaves out as NULL', async () => {
    await writeDetections(store, [detection({topFeatures: []}), detection({address: '10.0.0.6', asn: null, asName: '', runId: null})], {now: () => NOW_MS})
    const got = await rows()
    expect(got.map((r) => [r.address, r.f, r.asn, r.as_name, r.run_id])).toEqual([
      ['10.0.0.5', '[]', null, null, null],
      ['10.0.0.6', expect.stringContaining('dst_ports_log1p'), null, null, null],
    ])
  })

  it('replaces a detection written again under the same key, and keeps the other passes and models beside it', async () => {
    await writeDetections(store, [detection(), detection({pass: 'post'}), detection({model: 'ae@5678'})], {now: () => NOW_MS})
    await writeDetections(store, [detection({score: 50, windowEnd: T0 + 600e6, attackType: 'flood', topFeatures: [], runId: 9})], {now: () => NOW_MS + 1000})
    const got = await rows()
    expect(got.map((r) => [r.model, r.pass, r.score, r.we, r.attack_type, r.f, r.run_id, r.at])).toEqual([
      ['ae@1234', 'first', 50, BigInt(T0 + 600e6), 'flood', '[]', 9, BigInt((NOW_MS + 1000) * 1000)],
      ['ae@1234', 'post', 42.5, BigInt(T0 + 300e6), 'scan', expect.any(String), null, BigInt(NOW_MS * 1000)],
      ['ae@5678', 'first', 42.5, BigInt(T0 + 300e6), 'scan', expect.any(String), null, BigInt(NOW_MS * 1000)],
    ])
  })

  it('keeps the last of the rows given twice with the same key', async () => {
    expect(await writeDetections(store, [detection({score: 11}), detection({address: '10.0.0.9'}), detection({score: 12})])).toBe(2)
    expect((await rows()).map((r) => [r.address, r.score])).toEqual([
      ['10.0.0.5', 12],
      ['10.0.0.9', 42.5],
    ])
  })

  it('writes thousands of rows from any iterable, and nothing when there are none', async () => {
    expect(await writeDetections(store, [])).toBe(0)
    function* many(): Generator<Detection> {
      for (let i = 0; i < 5000; i++) yield detection({address: `10.1.${i >> 8}.${i & 255}`, windowStart: T0 + (i % 7) * 60e6, score: i})
    }
    expect(await writeDetections(store, many())).toBe(5000)
    expect(await store.all('SELECT count(*) AS n, sum(score) AS s FROM detections')).toEqual([{n: 5000n, s: (4999 * 5000) / 2}])
    expect(await writeDetections(store, many())).toBe(5000)
    expect(await store.all('SELECT count(*) AS n FROM detections')).toEqual([{n: 5000n}])
  })

  it('writes in the caller\'s transaction: a rollback leaves no detection', async () => {
    await expect(
      store.transaction(async () => {
        await writeDetections(store, [detection()])
        throw new Error('window failed')
      }),
    ).rejects.toThrow('window failed')
    expect(await store.all('SELECT count(*) AS n FROM detections')).toEqual([{n: 0n}])
  })

  it('stores features exactly as JSON writes their stored form', async () => {
    const odd = [
      {name: 'quote " and \\ backslash', value: 1e21, standardisedError: -0},
      {name: 'ünïcode', value: -1 / 3, standardisedError: Number.POSITIVE_INFINITY},
      {name: 'tiny', value: 1e-7, standardisedError: 5e-7},
    ]
    await writeDetections(store, [detection({topFeatures: odd})])
    const [r] = await rows()
    expect(r?.f).toBe(JSON.stringify(storedFeatures(odd)))
  })

  it('gives the stored form of features', () => {
    expect(storedFeatures([{name: 'x', value: 1 / 3, standardisedError: -2 / 3}])).toEqual([{name: 'x', value: 0.333333, z: -0.666667}])
  })
})
