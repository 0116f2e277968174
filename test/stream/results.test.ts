import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/store/store.js'
import {commitWindow, ensureStreamTables} from '../../src/stream/results.js'
import type {NetworkDetections, WindowMetricsRow} from '../../src/stream/results.js'
import {tempDir} from '../helpers/cli.js'

const T0 = 1_767_571_200_000_000

function metrics(detections: number): () => WindowMetricsRow {
  return () => ({
    runId: 7, workerId: 'w1', stream: 's', windowStartUs: T0, windowEndUs: T0 + 5e6, straggler: undefined, closedBy: 'watermark',
    records: 100, networks: 3, detections, undetermined: 0, lateDropped: 0, processingMs: 12.5, ratio: 0.5, utilisation: 0.4,
    scaleSignal: 'steady', shards: ['shardId-000000000000'], committedAtMs: 1_767_571_300_000,
  })
}

function results(scoreOffset: number): NetworkDetections[] {
  return ['a', 'b', 'c'].map((network) => ({
    network,
    model: 'm@1',
    detections: Array.from({length: 1500}, (_, i) => ({
      address: `10.0.${i >> 8}.${i & 255}`,
      windowStart: T0 + (i % 5) * 60e6,
      windowEnd: T0 + (i % 5) * 60e6 + 300e6,
      score: i + scoreOffset,
      threshold: 10,
      attackType: i % 2 ? 'scan' : 'unknown',
      topFeatures: [{name: 'peers_log1p', value: i / 7, standardisedError: 3.5}],
      ...(i % 3 === 0 ? {asn: 64500 + i, asName: `AS ${i}`} : {}),
    })),
  }))
}

describe('commitWindow', () => {
  it('writes thousands of detections in one window, and a replay rewrites the same rows', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
    await ensureStreamTables(store)
    await commitWindow(store, 7, results(0), metrics(4500))
    const count = async (): Promise<unknown> => (await store.all('SELECT count(*) AS n, sum(score) AS s FROM detections'))[0]
    expect(await count()).toEqual({n: 4500n, s: 3 * (1499 * 1500) / 2})
    const [row] = await store.all(
      `SELECT network, address, epoch_us(window_start) AS ws, epoch_us(window_end) AS we, model, pass, score, threshold, attack_type,
              top_features::VARCHAR AS f, asn, as_name, run_id, epoch_us(detected_at) > 0 AS stamped
       FROM detections WHERE network = 'b' AND address = '10.0.1.47'`,
    )
    // i = 303: window (303 % 5) = 3, asn (303 % 3 == 0)
    expect(row).toEqual({
      network: 'b', address: '10.0.1.47', ws: BigInt(T0 + 3 * 60e6), we: BigInt(T0 + 3 * 60e6 + 300e6), model: 'm@1', pass: 'stream',
      score: 303, threshold: 10, attack_type: 'scan', f: JSON.stringify([{name: 'peers_log1p', value: 43.285714, z: 3.5}]), // 303 / 7 to 6 decimals, as every detection stores its features
      asn: 64803, as_name: 'AS 303', run_id: 7, stamped: true,
    })
    await commitWindow(store, 7, results(1), metrics(4500))
    expect(await count()).toEqual({n: 4500n, s: 3 * ((1499 * 1500) / 2 + 1500)})
    expect(await store.all('SELECT count(*) AS n FROM stream_windows')).toEqual([{n: 2n}])
    await store.close()
  })
})
