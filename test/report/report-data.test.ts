import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {FlowStore} from '../../src/io/index.js'
import {buildReport, chooseBucketSeconds, timelineSpan} from '../../src/report/index.js'
import type {ReportData} from '../../src/report/index.js'
import {scoreSampling} from '../../src/report/report-data.js'
import {DETECTIONS, HOSTILE, makeFixtureStore, NOW, T0} from './fixture.js'

const at = (s: number): Date => new Date(T0 + s * 1000)

describe('buildReport', () => {
  let store: FlowStore
  let all: ReportData
  beforeAll(async () => {
    store = await makeFixtureStore()
    all = await buildReport(store, {now: NOW})
  })
  afterAll(async () => {
    await store.close()
  })

  it('lists every detection, by score, with its address, AS, window, threshold, type and drivers', () => {
    expect(all.generatedAt).toBe('2026-01-05T01:00:00.000Z')
    expect(all.detections.total).toBe(DETECTIONS.length)
    expect(all.detections.addresses).toBe(5)
    expect(all.detections.maxScore).toBe(9.5)
    const scores = all.detections.rows.map((d) => d.score)
    expect(scores).toEqual([...scores].sort((a, b) => b - a))
    const top = all.detections.rows[0]!
    expect(top).toMatchObject({
      network: 'lab',
      address: '10.1.0.66',
      asn: 64500,
      asName: 'EXAMPLE-NET',
      windowStart: '2026-01-05T00:02:00.000Z',
      windowEnd: '2026-01-05T00:07:00.000Z',
      threshold: 2.5,
      ratio: 3.8,
      type: 'scan',
      pass: 'post',
    })
    expect(top.features.map((f) => f.name)).toEqual(['distinct_dst_ports', 'syn_only_frac', 'peer_entropy'])
    const hostile = all.detections.rows.find((d) => d.address === HOSTILE.address)!
    expect(hostile).toMatchObject({asName: HOSTILE.asName, model: HOSTILE.model, type: HOSTILE.type})
    expect(hostile.features[0]!.name).toBe(HOSTILE.feature)
  })

  it('filters by network, type, score, pass and time (windows overlapping [since, until)); top N keeps the totals', async () => {
    const count = async (o: Parameters<typeof buildReport>[1]): Promise<number> => (await buildReport(store, o)).detections.total
    expect(await count({network: 'lab'})).toBe(5)
    expect(await count({network: HOSTILE.network})).toBe(1)
    expect(await count({type: 'scan'})).toBe(2)
    expect(await count({minScore: 5})).toBe(3)
    expect(await count({pass: 'first'})).toBe(1)
    expect(await count({since: at(600)})).toBe(4)
    expect(await count({until: at(300)})).toBe(1)
    expect(await count({network: 'nope'})).toBe(0)
    const top2 = await buildReport(store, {top: 2})
    expect(top2.detections.rows).toHaveLength(2)
    expect(top2.detections.total).toBe(DETECTIONS.length)
    expect(top2.detections.byType.reduce((a, t) => a + t.count, 0)).toBe(DETECTIONS.length)
  })

  it('refuses an empty time range and a bad top', async () => {
    await expect(buildReport(store, {since: at(600), until: at(600)})).rejects.toBeInstanceOf(UsageError)
    await expect(buildReport(store, {top: 0})).rejects.toBeInstanceOf(UsageError)
  })

  it('a regular traffic timeline over the data, with every flow in it, and detections per bucket and type', async () => {
    const t = all.traffic
    expect(t.bucketSeconds).toBe(30)
    expect(t.from).toBe('2026-01-05T00:00:00.000Z')
    // the flows' span: the detections' windows (the last ends at 00:18) do not stretch it
    expect(t.to).toBe('2026-01-05T00:15:55.000Z')
    const starts = t.timeline.map((b) => Date.parse(b.bucketStart))
    expect(starts.slice(1).every((s, i) => s - starts[i]! === 30_000)).toBe(true)
    expect(t.timeline.reduce((a, b) => a + b.flows, 0)).toBe(all.summary.flows)
    expect(t.timeline.reduce((a, b) => a + b.bytes, 0)).toBe(all.summary.bytes)
    const [scaled] = await store.all<{b: bigint}>('SELECT sum(bytes * sampling_rate)::BIGINT AS b FROM flows')
    expect(t.timeline.reduce((a, b) => a + b.bytesScaled, 0)).toBe(Number(scaled!.b))
    expect(all.detections.timeline.reduce((a, d) => a + d.count, 0)).toBe(DETECTIONS.length)
    // flows and windows that began before --since count in the first bucket
    const late = await buildReport(store, {since: at(95)})
    const [active] = await store.all<{n: bigint}>(`SELECT count(*) AS n FROM flows WHERE ts_end >= TIMESTAMP '2026-01-05 00:01:35'`)
    expect(late.traffic.timeline.reduce((a, b) => a + b.flows, 0)).toBe(Number(active!.n))
    expect(late.detections.timeline.reduce((a, d) => a + d.count, 0)).toBe(late.detections.total)
    // a window far wider than the data is clamped to the data
    const wide = await buildReport(store, {since: new Date(T0 - 7 * 86_400_000)})
    expect(wide.traffic.from).toBe('2026-01-05T00:00:00.000Z')
    expect(wide.traffic.bucketSeconds).toBe(30)
  })

  it('top talkers by estimated bytes (scaled by the sampling rate), with their detections', async () => {
    const talkers = all.traffic.topTalkers
    expect(talkers[0]).toMatchObject({address: '10.1.0.6', bytes: 141_000, bytesScaled: 14_100_000})
    expect(talkers.find((x) => x.address === HOSTILE.address)?.detections).toBe(1)
    const lab = await buildReport(store, {network: 'lab'})
    expect(lab.traffic.topTalkers.some((x) => x.address === HOSTILE.address)).toBe(false)
  })

  it('recent runs, newest first; a network filter keeps the runs over all networks', async () => {
    expect(all.runs.map((r) => r.runId)).toEqual([8, 7, 6, 5])
    expect(all.runs.find((r) => r.runId === 5)).toMatchObject({kind: 'analyze', wallS: 12.5, cpuS: 32.75, peakRssMb: 310.5, reuseRatio: 0.71, detections: 5})
    const lab = await buildReport(store, {network: 'lab'})
    expect(lab.runs.map((r) => r.runId)).toEqual([8, 7, 6, 5])
    const other = await buildReport(store, {network: HOSTILE.network})
    expect(other.runs.map((r) => r.runId)).toEqual([8, 6])
  })

  it('sampling accuracy: estimates scored against their truth, benchmark summaries as they are, and the √(1/c) bound', () => {
    const s = all.sampling
    expect(s.keyed).toBe(1)
    const cell = (origin: string, sampler: string, metric: string, rate: number) =>
      s.cells.find((c) => c.origin === origin && c.sampler === sampler && c.metric === metric && Math.abs(c.rate - rate) < 1e-12)
    const sys = cell('estimates', 'systematic', 'total_packets', 0.01)!
    expect(sys.n).toBe(4)
    expect(sys.withTruth).toBe(4)
    // the fixture's errors are √(1/c) × (0.5, −1.1, 0.9, −0.3) × 0.8
    const expected = Math.sqrt(1 / 200) * 0.8 * Math.sqrt((0.25 + 1.21 + 0.81 + 0.09) / 4)
    expect(sys.relRmse).toBeCloseTo(expected, 10)
    expect(sys.coverage).toBe(1)
    expect(sys.bound).toBeCloseTo(Math.sqrt(1 / 200), 12)
    const bench = cell('benchmark', 'sflow', 'total_bytes', 1 / 256)!
    expect(bench).toMatchObject({n: 100, relRmse: 0.09, relBias: -0.004, coverage: 0.95, bound: 0.113})
    expect(s.cells.some((c) => c.metric.includes('topk'))).toBe(false)
    const noTruth = cell('estimates', HOSTILE.sampler, 'total_packets', 0.01)!
    expect(noTruth).toMatchObject({n: 1, withTruth: 0, relRmse: null})
    expect(s.population).toBeCloseTo(20_000, -2)
    expect(s.bound.map((b) => b.rate)).toEqual([...s.bound.map((b) => b.rate)].sort((a, b) => a - b))
    for (const b of s.bound) expect(b.relError).toBeCloseTo(Math.sqrt(1 / b.c), 12)
  })

  it('the bound of a stored sample uses the packets of its parent source, not the sample', () => {
    const row = {run_id: null, source_id: 9, sampler: 'systematic', rate: 0.01, metric: 'total_bytes', key: null, estimate: 105, stderr: 5, ci_low: 95, ci_high: 115, truth: 100, src_packets: 210, src_rate: 100, parent_packets: 20_000, trials: null}
    const s = scoreSampling([row])
    expect(s.cells[0]!.bound).toBeCloseTo(Math.sqrt(1 / 200), 12)
    const orphan = scoreSampling([{...row, parent_packets: null}])
    expect(orphan.cells[0]!.bound).toBeCloseTo(Math.sqrt(1 / 210), 12)
  })

  it('an empty store gives an empty report, not an error', async () => {
    const empty = await FlowStore.open(':memory:')
    try {
      const r = await buildReport(empty, {now: NOW})
      expect(r.detections).toEqual({total: 0, addresses: 0, maxScore: null, rows: [], byType: [], timeline: []})
      expect(r.traffic).toMatchObject({from: null, to: null, timeline: [], topTalkers: []})
      expect(r.runs).toEqual([])
      expect(r.sampling).toEqual({estimates: 0, keyed: 0, population: null, cells: [], bound: []})
    } finally {
      await empty.close()
    }
  })

  it('the timeline spans the flows, not the windows of the detections (16 minutes of data are not drawn across a day)', async () => {
    const us = (iso: string): bigint => BigInt(Date.parse(iso)) * 1000n
    // the demo: flows 00:00 .. 00:16:17; windows from 23:15 the day before (a 1 h beaconing window) to 00:00 the day after (a 1-day one)
    const flows = {fromUs: us('2026-01-05T00:00:00Z'), toUs: us('2026-01-05T00:16:17Z')}
    const windows = {fromUs: us('2026-01-04T23:15:00Z'), toUs: us('2026-01-06T00:00:00Z')}
    expect(timelineSpan(flows, windows, undefined, undefined)).toEqual(flows)
    expect(chooseBucketSeconds(flows.fromUs, flows.toUs)).toBe(30)
    // since and until still narrow it
    expect(timelineSpan(flows, windows, us('2026-01-05T00:05:00Z'), us('2026-01-05T00:10:00Z'))).toEqual({fromUs: us('2026-01-05T00:05:00Z'), toUs: us('2026-01-05T00:10:00Z')})
    expect(timelineSpan(flows, windows, us('2026-01-01T00:00:00Z'), undefined)).toEqual(flows)
    // with no flows, the detections' span is all there is
    expect(timelineSpan({fromUs: undefined, toUs: undefined}, windows, undefined, undefined)).toEqual(windows)
    expect(timelineSpan({fromUs: undefined, toUs: undefined}, {fromUs: undefined, toUs: undefined}, 5n, 9n)).toEqual({fromUs: 5n, toUs: 9n})

    // in a store: a day-long window does not stretch the timeline, and its detection is marked inside it
    const s = await makeFixtureStore()
    try {
      await s.run(
        `INSERT INTO detections VALUES ('lab', '10.1.0.5', TIMESTAMP '2026-01-04 23:15:00', TIMESTAMP '2026-01-06 00:00:00', 'm', 'post',
                3, 2.5, 'beaconing', '[]', NULL, NULL, 7, TIMESTAMP '2026-01-05 00:30:00', NULL)`,
      )
      const r = await buildReport(s, {now: NOW})
      expect(r.traffic.from).toBe('2026-01-05T00:00:00.000Z')
      expect(r.traffic.to).toBe('2026-01-05T00:15:55.000Z')
      expect(r.traffic.bucketSeconds).toBe(30)
      expect(r.detections.timeline.reduce((a, d) => a + d.count, 0)).toBe(DETECTIONS.length + 1)
      const first = r.traffic.timeline[0]!.bucketStart
      const last = r.traffic.timeline[r.traffic.timeline.length - 1]!.bucketStart
      for (const d of r.detections.timeline) expect(d.bucketStart >= first && d.bucketStart <= last, d.bucketStart).toBe(true)
    } finally {
      await s.close()
    }
  })

  it('chooses the smallest nice bucket that keeps a timeline short', () => {
    expect(chooseBucketSeconds(0n, 60_000_000n)).toBe(1)
    expect(chooseBucketSeconds(0n, 3_600_000_000n)).toBe(60)
    expect(chooseBucketSeconds(0n, 86_400_000_000n)).toBe(1800)
    expect(chooseBucketSeconds(0n, 7n * 86_400_000_000n)).toBe(3 * 3600)
    expect(chooseBucketSeconds(undefined, undefined)).toBe(60)
  })
})
