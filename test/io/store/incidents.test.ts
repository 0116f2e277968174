import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {incidentIdOf, mergeIncidents, severityOf, writeDetections, writeIncidents} from '../../../src/io/store/index.js'
import type {Detection, MergeDetection} from '../../../src/io/store/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'

const T0 = 1_767_571_200_000_000
const MIN = 60e6
const WIN = 5 * MIN

function det(over: Partial<Detection> = {}): Detection {
  return {
    network: 'lab',
    address: '10.0.0.5',
    windowStart: T0,
    windowEnd: T0 + WIN,
    model: 'ae@1234',
    pass: 'first',
    score: 20,
    threshold: 10,
    attackType: 'scan',
    topFeatures: [{name: 'dst_ports_log1p', value: 5, standardisedError: 12}],
    ...over,
  }
}

/** A detection of the window starting `startMin` minutes after T0. */
function at(startMin: number, over: Partial<Detection> = {}): Detection {
  return det({windowStart: T0 + startMin * MIN, windowEnd: T0 + startMin * MIN + WIN, ...over})
}

function merge(rows: Detection[], latestMin?: number) {
  const m: MergeDetection[] = rows.map((d) => ({...d, topFeatures: d.topFeatures}))
  return mergeIncidents(m, {idleUs: WIN, ...(latestMin === undefined ? {} : {latestDataUs: new Map([['lab', T0 + latestMin * MIN]])})})
}

describe('mergeIncidents', () => {
  it('merges overlapping windows (5-minute windows every minute) into one incident', () => {
    const out = merge([at(0), at(1), at(2, {score: 55}), at(3), at(4)])
    expect(out).toHaveLength(1)
    const [i] = out
    expect(i).toMatchObject({network: 'lab', entity: '10.0.0.5', attackType: 'scan', firstSeen: T0, lastSeen: T0 + 9 * MIN, windows: 5, peakScore: 55, severity: 4})
    expect(i?.incidentId).toBe(incidentIdOf('lab', '10.0.0.5', T0))
    expect(i?.evidence).toMatchObject({windowStart: T0 + 2 * MIN, threshold: 10})
  })

  it('merges consecutive windows and a gap up to the idle time; a longer gap makes two incidents', () => {
    expect(merge([at(0), at(5)])).toHaveLength(1)
    expect(merge([at(0), at(10)])).toHaveLength(1) // gap 5 min = the idle time
    const two = merge([at(0), at(11)])
    expect(two.map((i) => [i.firstSeen, i.lastSeen, i.windows])).toEqual([
      [T0, T0 + WIN, 1],
      [T0 + 11 * MIN, T0 + 16 * MIN, 1],
    ])
    expect(new Set(two.map((i) => i.incidentId)).size).toBe(2)
  })

  it('keeps addresses and networks apart, but not window types: one entity’s episode is one incident', () => {
    const one = merge([at(0), at(1, {attackType: 'flood'}), at(2, {attackType: 'unknown'}), at(3, {attackType: 'flood'})])
    expect(one.map((i) => [i.attackType, i.detectionTypes])).toEqual([['flood', {flood: 2, scan: 1, unknown: 1}]])
    expect(merge([at(0, {attackType: 'unknown'}), at(1, {attackType: 'unknown'})]).map((i) => i.attackType)).toEqual(['unknown'])
    expect(merge([at(0), at(1, {address: '10.0.0.6'})])).toHaveLength(2)
    expect(merge([at(0), at(1, {network: 'other'})])).toHaveLength(2)
  })

  it('counts distinct windows: the same window of two passes is one', () => {
    expect(merge([at(0), at(0, {pass: 'post'})])[0]?.windows).toBe(1)
  })

  it('is open until its network has data more than the idle time past its last_seen', () => {
    expect(merge([at(0)])[0]?.status).toBe('open') // no data time known
    expect(merge([at(0)], 10)[0]?.status).toBe('open') // last_seen 5 min, data to 10: idle 5 min, not more
    expect(merge([at(0)], 10.5)[0]?.status).toBe('closed')
  })

  it('grades severity 1..5 by the peak score over its threshold', () => {
    expect([10, 14.9, 15, 19.9, 20, 39.9, 40, 79.9, 80, 1000].map((s) => severityOf(s, 10))).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
  })
})

describe('writeIncidents', () => {
  let store: FlowStore
  beforeEach(async () => {
    store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
  })
  afterEach(async () => {
    await store.close()
  })

  /** A flow of network lab ending `endMin` minutes after T0 (sets the network's latest data time). */
  const flowUntil = async (endMin: number): Promise<void> => {
    await store.run(
      `INSERT INTO flows (network, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr)
       VALUES ('lab', make_timestamp($1::BIGINT), make_timestamp($1::BIGINT), '10.0.0.5', '10.0.0.9', 1, 2, 6, 2, 1, 40, 1, 1, 4, 1, 2)`,
      [T0 + endMin * MIN],
    )
  }
  const analyse = async (rows: Detection[], runId: number) => {
    return store.transaction(async () => {
      await writeDetections(store, rows)
      return writeIncidents(store, rows, {runId, idleUs: WIN})
    })
  }
  const incidents = async () =>
    store.all(
      `SELECT incident_id, network, entity, role, attack_type, epoch_us(first_seen) AS first_us, epoch_us(last_seen) AS last_us, windows, peak_score,
              severity, confidence, counterparts, evidence::VARCHAR AS evidence, status, run_id
       FROM incidents ORDER BY incident_id`,
    )
  const links = async () =>
    store.all<{address: string; ws: bigint; incident_id: string | null}>(
      'SELECT address, epoch_us(window_start) AS ws, incident_id FROM detections ORDER BY address, window_start, pass',
    )

  it('stores one incident per merged group and links every detection to it', async () => {
    await flowUntil(9)
    const r = await analyse([at(0), at(1), at(2), at(20), at(8, {attackType: 'flood', address: '10.0.0.6'})], 7)
    expect(r).toMatchObject({incidents: 3, open: 3})
    const rows = await incidents()
    expect(rows).toHaveLength(3)
    // what it returns as written is what is stored
    expect(r.written.map((w) => w.incidentId).sort()).toEqual(rows.map((i) => i.incident_id).sort())
    expect(rows.every((i) => i.role === null && i.confidence === null && i.counterparts === null && i.run_id === 7)).toBe(true)
    const l = await links()
    expect(l.every((d) => d.incident_id !== null)).toBe(true)
    const scan = incidentIdOf('lab', '10.0.0.5', T0)
    expect(l.filter((d) => d.incident_id === scan)).toHaveLength(3)
    const stored = rows.find((i) => i.incident_id === scan)
    expect(stored).toMatchObject({attack_type: 'scan', windows: 3, severity: 3, status: 'open', first_us: BigInt(T0), last_us: BigInt(T0 + 7 * MIN)})
    expect(JSON.parse(stored?.evidence as string)).toEqual({
      detectionTypes: {scan: 3},
      peakWindow: {start: '2026-01-05T00:00:00.000Z', end: '2026-01-05T00:05:00.000Z'},
      model: 'ae@1234',
      pass: 'first',
      threshold: 10,
      topFeatures: [{name: 'dst_ports_log1p', value: 5, z: 12}],
    })
  })

  it('re-running the same detections leaves the incidents table identical', async () => {
    await flowUntil(30)
    const rows = [at(0), at(1), at(2, {score: 90}), at(20)]
    await analyse(rows, 1)
    const before = await incidents()
    const linksBefore = await links()
    await analyse(rows, 2)
    expect(await incidents()).toEqual(before)
    expect(await links()).toEqual(linksBefore)
  })

  it('a later run over later data extends the open incident: same id, later last_seen, more windows', async () => {
    await flowUntil(6)
    await analyse([at(0), at(1)], 1)
    const [first] = await incidents()
    expect(first).toMatchObject({status: 'open', windows: 2, last_us: BigInt(T0 + 6 * MIN)})
    await flowUntil(12)
    const r = await analyse([at(4), at(5), at(6), at(7)], 2)
    expect(r.incidents).toBe(1)
    const after = await incidents()
    expect(after).toHaveLength(1)
    expect(after[0]).toMatchObject({incident_id: first?.incident_id, windows: 6, last_us: BigInt(T0 + 12 * MIN), run_id: 1, status: 'open'})
    expect((await links()).every((d) => d.incident_id === first?.incident_id)).toBe(true)
  })

  it('an earlier window joining a stored incident keeps its id (ids never change once stored)', async () => {
    await flowUntil(20)
    await analyse([at(10)], 1)
    await analyse([at(6)], 2)
    const rows = await incidents()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({incident_id: incidentIdOf('lab', '10.0.0.5', T0 + 10 * MIN), first_us: BigInt(T0 + 6 * MIN), windows: 2, run_id: 1})
  })

  it('a later detection past the idle time opens a new incident and the old one is closed', async () => {
    await flowUntil(6)
    await analyse([at(0), at(1)], 1)
    await flowUntil(40)
    await analyse([at(30)], 2)
    const rows = await incidents()
    expect(rows.map((i) => [i.first_us, i.status, i.run_id]).sort()).toEqual([
      [BigInt(T0), 'closed', 1],
      [BigInt(T0 + 30 * MIN), 'open', 2],
    ])
  })

  it('closes an open incident the run did not touch once its network has data past the idle time', async () => {
    await flowUntil(6)
    await analyse([at(0, {address: '10.0.0.7'})], 1)
    expect((await incidents())[0]?.status).toBe('open')
    await flowUntil(60)
    await analyse([], 2)
    expect((await incidents())[0]?.status).toBe('closed')
  })

  it('an older store without incidents gains the table and detections.incident_id on open', async () => {
    const file = store.path
    await writeDetections(store, [at(0)])
    await store.run('DROP TABLE incidents')
    await store.run('ALTER TABLE detections DROP COLUMN incident_id')
    await store.close()
    store = await FlowStore.open(file)
    expect(await links()).toEqual([{address: '10.0.0.5', ws: BigInt(T0), incident_id: null}])
    expect(await incidents()).toEqual([])
    await analyse([at(0), at(1)], 3)
    expect((await links()).map((d) => d.incident_id)).toEqual([incidentIdOf('lab', '10.0.0.5', T0), incidentIdOf('lab', '10.0.0.5', T0)])
  })
})
