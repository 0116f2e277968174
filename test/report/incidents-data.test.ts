import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {FlowStore} from '../../src/io/index.js'
import {buildReport, parseCounterparts, parseEvidence, readIncidents} from '../../src/report/index.js'
import {HOSTILE, INCIDENTS, makeFixtureStore, NOW, T0} from './fixture.js'

const at = (s: number): Date => new Date(T0 + s * 1000)

describe('readIncidents', () => {
  let store: FlowStore
  beforeAll(async () => {
    store = await makeFixtureStore()
  })
  afterAll(async () => {
    await store.close()
  })

  it('lists every incident, most severe first, then by peak score, with totals and types', async () => {
    const all = await readIncidents(store)
    expect(all.total).toBe(INCIDENTS.length)
    expect(all.open).toBe(INCIDENTS.filter((i) => i.status === 'open').length)
    expect(all.items.map((i) => i.id)).toEqual(['inc-scan-old', 'inc-synflood', 'inc-amp', 'inc-hostile'])
    expect(all.byType.reduce((a, t) => a + t.count, 0)).toBe(INCIDENTS.length)
    expect(all.byType.find((t) => t.type === 'syn_flood')).toEqual({type: 'syn_flood', count: 1, open: 1, maxSeverity: 4})
    const top1 = await readIncidents(store, {}, 1)
    expect(top1.items).toHaveLength(1)
    expect(top1.total).toBe(INCIDENTS.length)
  })

  it('filters by network, time (last seen after since, first seen before until), type, severity and open', async () => {
    const ids = async (f: Parameters<typeof readIncidents>[1]): Promise<string[]> => (await readIncidents(store, f)).items.map((i) => i.id).sort()
    expect(await ids({network: 'lab'})).toEqual(['inc-amp', 'inc-scan-old', 'inc-synflood'])
    expect(await ids({network: HOSTILE.network})).toEqual(['inc-hostile'])
    expect(await ids({network: 'nope'})).toEqual([])
    // last_seen: synflood 600 s, scan 720 s, amp 900 s, hostile 960 s
    expect(await ids({since: at(720)})).toEqual(['inc-amp', 'inc-hostile'])
    // first_seen: scan 120 s, synflood 300 s, amp 600 s, hostile 660 s
    expect(await ids({until: at(300)})).toEqual(['inc-scan-old'])
    expect(await ids({since: at(500), until: at(650)})).toEqual(['inc-amp', 'inc-scan-old', 'inc-synflood'])
    expect(await ids({type: 'syn_flood'})).toEqual(['inc-synflood'])
    expect(await ids({minSeverity: 4})).toEqual(['inc-scan-old', 'inc-synflood'])
    expect(await ids({minSeverity: 5})).toEqual(['inc-scan-old'])
    expect(await ids({open: true})).toEqual(['inc-amp', 'inc-hostile', 'inc-synflood'])
    expect(await ids({open: true, minSeverity: 2, network: 'lab'})).toEqual(['inc-amp', 'inc-synflood'])
  })

  it('refuses a severity outside 1..5, an empty time range and a bad top', async () => {
    await expect(readIncidents(store, {minSeverity: 0})).rejects.toBeInstanceOf(UsageError)
    await expect(readIncidents(store, {minSeverity: 6})).rejects.toBeInstanceOf(UsageError)
    await expect(readIncidents(store, {minSeverity: 2.5})).rejects.toBeInstanceOf(UsageError)
    await expect(readIncidents(store, {since: at(600), until: at(600)})).rejects.toBeInstanceOf(UsageError)
    await expect(readIncidents(store, {}, 0)).rejects.toBeInstanceOf(UsageError)
  })

  it('reads the full shape: role, confidence, counterparts and evidence with intervals', async () => {
    const flood = (await readIncidents(store, {type: 'syn_flood'})).items[0]!
    expect(flood).toMatchObject({
      network: 'lab',
      entity: 'fd00:1::beef',
      role: 'victim',
      firstSeen: '2026-01-05T00:05:00.000Z',
      lastSeen: '2026-01-05T00:10:00.000Z',
      windows: 1,
      severity: 4,
      confidence: 'high',
      status: 'open',
      runId: 7,
    })
    expect(flood.counterparts).toMatchObject({total: 545, role: 'sources', seenOnceShare: 0.99, likelySpoofed: true, folded: ['198.51.100.7']})
    expect(flood.counterparts!.sample[0]).toEqual({address: '198.51.100.7', role: 'source', records: 2, packets: 200, bytes: 8000, share: 0.004})
    expect(flood.evidence!.estimated).toEqual({packets: {estimate: 120_000, low: 96_000, high: 150_000}, bytes: {estimate: 4_800_000, low: 3_840_000, high: 6_000_000}})
    expect(flood.evidence!.confidenceText).toBe('many sampled packets: the rate is well established')
    expect(flood.evidence!.topFeatures).toEqual([{name: 'bytes_in', value: 1.2e9, z: 22.5}])
    const amp = (await readIncidents(store, {type: 'udp_amplification'})).items[0]!
    expect(amp.counterparts!.services).toEqual([{port: 53, name: 'DNS', share: 0.8}, {port: 123, name: 'NTP', share: 0.2}])
  })

  it('reads an old-shape row: NULL role, confidence and counterparts; evidence only the peak window, in snake_case', async () => {
    const old = (await readIncidents(store, {type: 'scan'})).items[0]!
    expect(old).toMatchObject({id: 'inc-scan-old', role: null, confidence: null, counterparts: null, status: 'closed'})
    expect(old.evidence).toEqual({
      summary: null,
      confidenceText: null,
      samplingRate: null,
      sampled: null,
      estimated: null,
      active: null,
      detectionTypes: null,
      peakWindow: {start: '2026-01-05T00:02:00.000Z', end: '2026-01-05T00:07:00.000Z'},
      model: 'ae-default@1a2b3c',
      pass: 'post',
      threshold: 2.5,
      topFeatures: [{name: 'distinct_dst_ports', value: 812, z: 14.2}],
    })
  })

  it('reads columns that are not what they should be as nothing, not an error', () => {
    expect(parseEvidence(null)).toBeNull()
    expect(parseEvidence('not json')).toBeNull()
    expect(parseEvidence('[1,2]')).toBeNull()
    expect(parseEvidence('{"estimated": {"packets": {"estimate": 1}}, "top_features": "x", "sampling_rate": "100"}')).toMatchObject({estimated: null, topFeatures: [], samplingRate: null})
    expect(parseCounterparts('{"role": "sources"}')).toBeNull()
    expect(parseCounterparts('{"total": 3, "seen_once_share": 0.5, "likely_spoofed": true, "sample": [{"address": 1}, "x"]}')).toEqual({
      total: 3,
      role: 'peers',
      seenOnceShare: 0.5,
      likelySpoofed: true,
      sample: [],
    })
  })

  it('an empty store has no incidents', async () => {
    const blank = await FlowStore.open(':memory:')
    try {
      expect(await readIncidents(blank)).toEqual({total: 0, open: 0, items: [], byType: []})
    } finally {
      await blank.close()
    }
  })
})

describe('buildReport: incidents', () => {
  it('come first in the report, filtered by network, time, type and min severity; detections link to them', async () => {
    const store = await makeFixtureStore()
    try {
      const r = await buildReport(store, {now: NOW})
      expect(Object.keys(r).indexOf('incidents')).toBeLessThan(Object.keys(r).indexOf('detections'))
      expect(r.incidents.total).toBe(INCIDENTS.length)
      expect(r.incidents.items[0]!.id).toBe('inc-scan-old')
      expect(r.detections.rows.find((d) => d.address === '10.1.0.66')!.incidentId).toBe('inc-scan-old')
      expect(r.detections.rows.find((d) => d.address === HOSTILE.address)!.incidentId).toBeNull()
      expect((await buildReport(store, {minSeverity: 4})).incidents.total).toBe(2)
      expect((await buildReport(store, {minSeverity: 4})).detections.total).toBe(r.detections.total)
      expect((await buildReport(store, {network: 'lab', type: 'scan'})).incidents.items.map((i) => i.id)).toEqual(['inc-scan-old'])
      expect((await buildReport(store, {incidentsTop: 1})).incidents.items).toHaveLength(1)
      expect((await buildReport(store, {minSeverity: 3})).filter.minSeverity).toBe(3)
    } finally {
      await store.close()
    }
  })
})
