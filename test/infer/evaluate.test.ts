import {existsSync, readdirSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {AttackSpan} from '../../src/infer/evaluate.js'
import {
  EXCLUDED,
  NEGATIVE,
  POSITIVE,
  appendShiftedBatches,
  attackAddressesFromFlowsCsv,
  attackOutcomes,
  attacksFromTruth,
  binomialUpperTail,
  blockRole,
  concatVectors,
  copyShiftedFlows,
  exceedanceShare,
  falsePositiveCheck,
  labelAddressWindows,
  meanFlaggedRun,
  mergeAttacks,
  networkSpan,
  rocAuc,
  scoreIncidents,
  selectRows,
  summariseDetections,
  trainModelCached,
  windowOverlaps,
} from '../../src/infer/evaluate.js'
import {FEATURE_COUNT, computeFeatures} from '../../src/infer/features.js'
import type {FeatureMatrix} from '../../src/infer/features.js'
import {appendFlowRecord, createFlowBatch} from '../../src/core/flow-batch.js'
import type {FlowBatch} from '../../src/core/flow-batch.js'
import {createRng} from '../../src/core/rng.js'
import {FlowStore} from '../../src/io/store/store.js'
import {tempDir} from '../helpers/cli.js'
import {NETWORK_A, benignVectors} from './synthetic.js'

const SEC = 1_000_000
const MIN = 60 * SEC
/** a multiple of 60 s, so windows with a 60 s hop start exactly here */
const T0 = 1_700_000_040 * SEC

function v4(text: string): number {
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)
}

function flows(rows: {src: string; dst: string; ts: number; dstPort?: number}[], samplingRate = 1): FlowBatch {
  const b = createFlowBatch(rows.length + 1)
  for (const r of rows) {
    appendFlowRecord(b, {
      family: 4, src: [v4(r.src)], dst: [v4(r.dst)], tsStart: r.ts, tsEnd: r.ts + SEC, srcPort: 40000, dstPort: r.dstPort ?? 80,
      proto: 6, tcpFlags: 0x02, packets: 1, bytes: 60, samplingRate,
    })
  }
  return b
}

/** Key columns of a feature matrix, by hand. */
function rows(list: [string, number][], windowSec = 300, hopSec = 60): Pick<FeatureMatrix, 'length' | 'addresses' | 'windowStart' | 'windowSec' | 'hopSec'> {
  return {length: list.length, addresses: list.map(([a]) => a), windowStart: Float64Array.from(list, ([, w]) => w), windowSec, hopSec}
}

describe('ROC AUC', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one and 0.5 for all ties', () => {
    expect(rocAuc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1])).toBe(1)
    expect(rocAuc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1])).toBe(0)
    expect(rocAuc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0.5)
  })

  it('counts a tie between a positive and a negative as one half (Mann–Whitney)', () => {
    // pairs (p, n): (3,1) win, (3,2) win, (2,1) win, (2,2) tie → 3.5 / 4
    expect(rocAuc([1, 2, 2, 3], [0, 0, 1, 1])).toBe(0.875)
  })

  it('ignores excluded rows and is NaN without both classes', () => {
    expect(rocAuc([0, 5, 1, 100], [NEGATIVE, EXCLUDED, POSITIVE, EXCLUDED])).toBe(1)
    expect(rocAuc([1, 2], [1, 1])).toBeNaN()
    expect(() => rocAuc([1], [1, 0])).toThrow(/scores/)
  })

  it('agrees with the pairwise definition on random data', () => {
    const rng = createRng(3)
    const scores = Array.from({length: 300}, () => Math.round(rng.next() * 20))
    const labels = scores.map((s) => (rng.next() < 0.2 + s / 40 ? 1 : 0))
    let wins = 0
    let pairs = 0
    scores.forEach((p, i) => {
      if (labels[i] !== 1) return
      scores.forEach((n, j) => {
        if (labels[j] !== 0) return
        pairs++
        wins += p > n ? 1 : p === n ? 0.5 : 0
      })
    })
    expect(rocAuc(scores, labels)).toBeCloseTo(wins / pairs, 12)
  })
})

describe('false-positive budget check', () => {
  it('computes binomial upper tails', () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1)
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0)
    expect(binomialUpperTail(10, 10, 0.5)).toBeCloseTo(1 / 1024, 12)
    // P(X ≥ 1) = 1 − 0.999^1000
    expect(binomialUpperTail(1, 1000, 0.001)).toBeCloseTo(1 - 0.999 ** 1000, 10)
    // P(X ≥ 3), X ~ Bin(20, 0.1) = 1 − 0.9²⁰ − 20·0.1·0.9¹⁹ − 190·0.01·0.9¹⁸ = 0.3230732…
    expect(binomialUpperTail(3, 20, 0.1)).toBeCloseTo(1 - 0.9 ** 20 - 2 * 0.9 ** 19 - 1.9 * 0.9 ** 18, 12)
  })

  it('passes counts a calibrated threshold gives, fails a clear excess', () => {
    // 10,000 windows at 0.1%: 10 expected; 15 is noise, 30 is not
    expect(falsePositiveCheck(15, 10_000, 0.001).ok).toBe(true)
    expect(falsePositiveCheck(30, 10_000, 0.001).ok).toBe(false)
    const c = falsePositiveCheck(10, 10_000, 0.001)
    expect(c.rate).toBe(0.001)
    expect(c.maxFlagged).toBeGreaterThanOrEqual(15)
    expect(binomialUpperTail(c.maxFlagged + 1, 10_000, 0.001)).toBeLessThan(0.05)
  })

  it('widens the tolerance by the design effect of overlapping windows', () => {
    // 20 flagged windows: as independent trials twice the 10 expected, too many; as 4 bursts of 5
    // overlapping windows, 4 events where 2 are expected, which is noise
    expect(falsePositiveCheck(20, 10_000, 0.001).ok).toBe(false)
    const clustered = falsePositiveCheck(20, 10_000, 0.001, {designEffect: 5})
    expect(clustered.ok).toBe(true)
    expect(clustered.maxFlagged).toBeGreaterThan(falsePositiveCheck(20, 10_000, 0.001).maxFlagged)
    // and 6 bursts where 2 are expected is not
    expect(falsePositiveCheck(30, 10_000, 0.001, {designEffect: 5}).ok).toBe(false)
  })

  it('measures the design effect as the mean run of consecutive flagged windows of an address', () => {
    const r = rows([
      ['a', T0], ['a', T0 + MIN], ['a', T0 + 2 * MIN], ['a', T0 + 5 * MIN], ['b', T0], ['b', T0 + MIN],
    ])
    // runs: a[0..2] (3), a[5] (1), b[0..1] (2) → 6 windows / 3 runs
    expect(meanFlaggedRun(r, [1, 1, 1, 1, 1, 1])).toBe(2)
    expect(meanFlaggedRun(r, [0, 0, 0, 0, 0, 0])).toBe(1)
    expect(meanFlaggedRun(r, [1, 1, 1, 1, 1, 1], [true, true, true, true, false, false])).toBe(2)
  })
})

describe('labels', () => {
  const attack: AttackSpan = {name: 'scan', addresses: ['a', 'b'], startUs: T0 + 10 * MIN, endUs: T0 + 11 * MIN}

  it('a window overlaps an attack when it covers one of its flow starts', () => {
    const w = 5 * MIN
    expect(windowOverlaps(T0 + 5 * MIN, w, attack)).toBe(false) // ends exactly at the start
    expect(windowOverlaps(T0 + 6 * MIN, w, attack)).toBe(true)
    expect(windowOverlaps(T0 + 11 * MIN, w, attack)).toBe(true)
    expect(windowOverlaps(T0 + 12 * MIN, w, attack)).toBe(false)
  })

  it('marks attack addresses during the attack positive, the unlisted involved excluded, the rest negative', () => {
    const r = rows([['a', T0 + 8 * MIN], ['a', T0 + 20 * MIN], ['b', T0 + 10 * MIN], ['c', T0 + 10 * MIN], ['d', T0 + 10 * MIN]])
    const labels = labelAddressWindows(r, [attack], {exclude: [{...attack, addresses: ['c']}]})
    expect(Array.from(labels)).toEqual([POSITIVE, NEGATIVE, POSITIVE, EXCLUDED, NEGATIVE])
  })

  it('reads attacks from a generator truth file and the addresses of their flows from its flow list', () => {
    const truth = {
      attacks: [
        {kind: 'syn-flood', src: [], dst: ['10.1.0.5'], startUs: 100, endUs: 200},
        {kind: 'vertical-scan', src: ['9.9.9.9'], dst: ['10.1.0.6'], startUs: 300, endUs: 400},
      ],
    }
    const spans = attacksFromTruth(truth)
    expect(spans).toEqual([
      {name: 'syn-flood', addresses: ['10.1.0.5'], startUs: 100, endUs: 200},
      {name: 'vertical-scan', addresses: ['9.9.9.9', '10.1.0.6'], startUs: 300, endUs: 400},
    ])
    const csv = [
      'ts_start_us,ts_end_us,src_ip,dst_ip,src_port,dst_port,proto,tcp_flags,packets,bytes,kind',
      '150,150,1.2.3.4,10.1.0.5,1,443,6,2,1,40,syn-flood',
      '160,160,5.6.7.8,10.1.0.5,1,443,6,2,1,40,syn-flood',
      '170,170,10.1.0.7,10.1.0.8,1,443,6,2,1,40,benign-tcp',
      '350,350,9.9.9.9,10.1.0.6,1,22,6,2,1,40,vertical-scan',
      '',
    ].join('\n')
    const involved = attackAddressesFromFlowsCsv(csv, spans)
    expect([...(involved[0]?.addresses ?? [])].sort()).toEqual(['1.2.3.4', '10.1.0.5', '5.6.7.8'])
    expect([...(involved[1]?.addresses ?? [])].sort()).toEqual(['10.1.0.6', '9.9.9.9'])
    expect(() => attacksFromTruth({})).toThrow(/attacks/)
  })

  it('finds the outcome of each attack address and the budget an unflagged one would need', () => {
    const r = rows([['a', T0 + 8 * MIN], ['a', T0 + 9 * MIN], ['b', T0 + 10 * MIN], ['x', T0]])
    const out = attackOutcomes(r, {scores: [5, 9, 2, 3], flagged: [1, 1, 0, 0]}, [attack], (i) => (i === 0 ? 'scan' : i === 1 ? 'scan' : undefined))
    expect(out).toEqual([
      {attack: 'scan', address: 'a', windows: 2, flagged: 2, maxScore: 9, types: ['scan']},
      {attack: 'scan', address: 'b', windows: 1, flagged: 0, maxScore: 2, types: []},
    ])
    expect(exceedanceShare(2, [1, 2, 3, 4])).toBe(0.75)
  })
})

describe('splits and selections', () => {
  it('gives a window its block role only when it lies wholly inside the block', () => {
    const o = {originUs: T0, blockSec: 1800, roles: ['train', 'calib', 'test'] as const}
    const w = 5 * MIN
    expect(blockRole(T0, w, o)).toBe('train')
    expect(blockRole(T0 + 25 * MIN, w, o)).toBe('train')
    expect(blockRole(T0 + 26 * MIN, w, o)).toBeNull()
    expect(blockRole(T0 + 30 * MIN, w, o)).toBe('calib')
    expect(blockRole(T0 + 95 * MIN, w, o)).toBe('train')
    expect(blockRole(T0 - MIN, w, o)).toBeNull()
  })

  it('selects and concatenates rows', () => {
    const m = benignVectors(NETWORK_A, 4, 1)
    const matrix: FeatureMatrix = {
      ...m, featureSetVersion: 2, networks: ['n', 'n', 'n', 'n'], addresses: ['a', 'b', 'c', 'd'], windowStart: Float64Array.from([0, 1, 2, 3]),
      topDstPort: Int32Array.from([1, 2, 3, 4]), topInPort: Int32Array.from([5, 6, 7, 8]), udpInFraction: Float32Array.from([0, 0, 1, 1]), windowSec: 300, hopSec: 60,
    }
    const odd = selectRows(matrix, (i) => i % 2 === 1)
    expect(odd.length).toBe(2)
    expect(odd.addresses).toEqual(['b', 'd'])
    expect(Array.from(odd.topInPort)).toEqual([6, 8])
    const F = FEATURE_COUNT
    expect(Array.from(odd.values)).toEqual(Array.from(m.values.subarray(F, 2 * F)).concat(Array.from(m.values.subarray(3 * F, 4 * F))))
    const both = concatVectors([odd, odd])
    expect(both.length).toBe(4)
    expect(Array.from(both.values.subarray(2 * F))).toEqual(Array.from(odd.values))
  })
})

describe('merging captures in the store', () => {
  let store: FlowStore

  beforeAll(async () => {
    store = await FlowStore.open(':memory:')
    // background: 30 minutes of one host talking to another
    const bg = Array.from({length: 30}, (_, k) => ({src: '10.0.0.1', dst: '10.0.0.2', ts: T0 + k * MIN}))
    await appendShiftedBatches(store, [flows(bg)], {network: 'bg', label: 'background'})
    // an attack captured years earlier: a 20-port probe of one host
    const atk = Array.from({length: 20}, (_, k) => ({src: '6.6.6.6', dst: '10.0.0.9', ts: T0 - 1000 * 86400 * SEC + k * SEC, dstPort: k + 1}))
    await appendShiftedBatches(store, [flows(atk)], {network: 'atk', label: 'scan'})
    await appendShiftedBatches(store, [flows(atk.filter((_, k) => k % 10 === 0), 10)], {network: 'atk@10', label: 'scan 1/10'})
  })
  afterAll(async () => {
    await store.close()
  })

  it('appends batches under a source row, timestamps shifted, and copies networks with a shift', async () => {
    const src = await store.all<{n: number; rate: number}>("SELECT count(*)::INT AS n, max(sampling_rate)::INT AS rate FROM sources WHERE network = 'atk@10'")
    expect(src[0]).toEqual({n: 1, rate: 10})
    const copied = await copyShiftedFlows(store, {from: 'bg', to: 'bg-later', shiftUs: 60 * MIN})
    expect(copied).toBe(30)
    const span = await networkSpan(store, 'bg-later')
    expect(span?.startUs).toBe(T0 + 60 * MIN)
    expect(span?.addresses).toEqual(['10.0.0.1', '10.0.0.2'])
    expect(await networkSpan(store, 'nothing')).toBeNull()
    await expect(copyShiftedFlows(store, {from: 'bg', to: 'bg', shiftUs: 0})).rejects.toThrow(/another/)
  })

  it('merges an attack into the background and labels it, also from a sampled copy', async () => {
    const spans = await mergeAttacks(store, {background: 'bg', into: 'merged', attacks: [{name: 'scan', network: 'atk'}], firstOffsetSec: 600, spacingSec: 900})
    expect(spans).toEqual([{name: 'scan', addresses: ['10.0.0.9', '6.6.6.6'], startUs: T0 + 10 * MIN, endUs: T0 + 10 * MIN + 19 * SEC}])
    const f = await computeFeatures(store, {network: 'merged'})
    const labels = labelAddressWindows(f, spans)
    // each of the two attack addresses is in the 5 windows covering T0 + 10 min
    expect(labels.filter((l) => l === POSITIVE).length).toBe(10)

    const sampled = await mergeAttacks(store, {
      background: 'bg', into: 'merged@10', attacks: [{name: 'scan', network: 'atk@10', truthNetwork: 'atk'}], offsetsSec: [600],
    })
    expect(sampled).toEqual(spans)
    const n = await store.all<{n: number}>("SELECT count(*)::INT AS n FROM flows WHERE network = 'merged@10' AND src_ip = '6.6.6.6'")
    expect(n[0]?.n).toBe(2)

    await expect(mergeAttacks(store, {background: 'bg', into: 'x', attacks: [{name: 'scan', network: 'atk'}], firstOffsetSec: 600, spacingSec: 60})).rejects.toThrow(/apart/)
    await expect(mergeAttacks(store, {background: 'bg', into: 'y', attacks: [{name: 'scan', network: 'atk'}], offsetsSec: [3600]})).rejects.toThrow(/after the background/)
  })

  it('summarises a first pass: recall per attack address and the false-positive check', async () => {
    const f = await computeFeatures(store, {network: 'merged'})
    const spans = await mergeAttacks(store, {background: 'bg', into: 'merged-2', attacks: [{name: 'scan', network: 'atk'}], offsetsSec: [600]})
    const flagged = Uint8Array.from(f.addresses, (a, i) => (a === '6.6.6.6' || (a === '10.0.0.1' && i % 7 === 0) ? 1 : 0))
    const scores = Float64Array.from(flagged, (x) => (x ? 10 : 1))
    const detections = f.addresses.flatMap((address, i) =>
      flagged[i] ? [{address, windowStart: f.windowStart[i] as number, attackType: address === '6.6.6.6' ? 'scan' : 'unknown'}] : [],
    )
    const s = summariseDetections({features: f, scores: {scores, flagged} as never, detections: detections as never}, spans, {fpBudget: 0.001})
    expect(s.recall).toEqual({flagged: 1, addresses: 2})
    expect(s.outcomes.find((o) => o.address === '6.6.6.6')?.types).toEqual(['scan'])
    const benignFlagged = f.addresses.filter((a, i) => a === '10.0.0.1' && i % 7 === 0).length
    expect(s.falsePositives.flagged).toBe(benignFlagged)
    expect(s.falsePositives.windows).toBe(f.length - 10)
  })
})

describe('model cache', () => {
  it('trains once and reuses the file for the same data and options', async () => {
    const dir = tempDir('flowscope-cache-')
    const data = benignVectors(NETWORK_A, 300, 5)
    const options = {seed: 1, maxEpochs: 2}
    const first = await trainModelCached(data, options, {cacheDir: dir, salt: 'v1'})
    expect(first.cached).toBe(false)
    expect(first.result?.history.length).toBe(2)
    expect(existsSync(first.path)).toBe(true)
    const again = await trainModelCached(data, options, {cacheDir: dir, salt: 'v1'})
    expect(again).toEqual({path: first.path, cached: true, result: null})
    const other = await trainModelCached(data, options, {cacheDir: dir, salt: 'v2'})
    expect(other.path).not.toBe(first.path)
    expect(readdirSync(dir).filter((f) => f.endsWith('.onnx'))).toHaveLength(2)
    expect(path.dirname(other.path)).toBe(dir)
  })
})

describe('scoreIncidents', () => {
  const expected = [
    {attack: 'scan', type: 'horizontal_scan', role: 'scanner', entity: '1.1.1.1', startUs: 100, endUs: 200, addresses: ['1.1.1.1', '10.0.0.1', '10.0.0.2']},
    {attack: 'flood', type: 'syn_flood', role: 'victim', entity: '10.0.0.9', startUs: 300, endUs: 400, addresses: ['10.0.0.9', '5.5.5.5', '6.6.6.6']},
    {attack: 'exfil', type: 'exfiltration', role: 'exfiltrator', entity: '10.0.0.7', startUs: 500, endUs: 600, addresses: ['10.0.0.7', '8.8.4.4']},
  ]
  const inc = (id: string, entity: string, type: string, role: string, firstUs: number, lastUs: number, folded: string[] = []) => ({incidentId: id, entity, role, type, firstUs, lastUs, folded})

  it('counts an attack right when its one incident has its type, role and entity', () => {
    const s = scoreIncidents(expected, [
      inc('a', '1.1.1.1', 'horizontal_scan', 'scanner', 60, 260, ['10.0.0.1']),
      inc('b', '10.0.0.9', 'syn_flood', 'victim', 300, 420),
      // a spoofed source on its own: the flood is no longer one incident, and this one is wrong
      inc('c', '5.5.5.5', 'unknown', 'anomalous', 300, 360),
      // the exfiltrator, mis-typed
      inc('d', '10.0.0.7', 'beaconing', 'beacon-client', 480, 700),
      // benign, outside every attack
      inc('e', '10.0.0.3', 'unknown', 'anomalous', 0, 50),
    ])
    expect(s.attacks.map((a) => [a.attack, a.right, a.incidents.map((i) => i.incidentId)])).toEqual([
      ['scan', true, ['a']],
      ['flood', false, ['b', 'c']],
      ['exfil', false, ['d']],
    ])
    expect(s.correct).toBe(2)
    expect(s.total).toBe(5)
    expect(s.precision).toBeCloseTo(2 / 5)
    expect(s.recall).toBeCloseTo(1 / 3)
  })

  it('attributes an incident by a folded address, and needs the span to overlap', () => {
    const s = scoreIncidents(expected, [inc('a', '9.9.9.9', 'horizontal_scan', 'scanner', 100, 150, ['10.0.0.2']), inc('b', '10.0.0.9', 'syn_flood', 'victim', 450, 500)])
    expect(s.attacks[0]?.incidents.map((i) => i.incidentId)).toEqual(['a'])
    expect(s.attacks[0]?.right).toBe(false)
    expect(s.attacks[1]?.incidents).toEqual([])
    expect(s.correct).toBe(0)
    expect(s.precision).toBe(0)
    expect(s.recall).toBe(0)
  })

  it("counts an attack's incident only for that attack, though its entity is another attack's address", () => {
    const overlapping = [{...(expected[0] as (typeof expected)[number]), addresses: ['1.1.1.1', '10.0.0.9']}, {...(expected[1] as (typeof expected)[number]), startUs: 150}]
    const s = scoreIncidents(overlapping, [inc('a', '1.1.1.1', 'horizontal_scan', 'scanner', 100, 200), inc('b', '10.0.0.9', 'syn_flood', 'victim', 150, 300)])
    expect(s.attacks.map((a) => [a.attack, a.right, a.incidents.map((i) => i.incidentId)])).toEqual([
      ['scan', true, ['a']],
      ['flood', true, ['b']],
    ])
  })

  it('has no precision without incidents and no recall without attacks', () => {
    expect(scoreIncidents(expected, [])).toMatchObject({precision: null, recall: 0, total: 0})
    expect(scoreIncidents([], [inc('a', '1.1.1.1', 'unknown', 'anomalous', 0, 1)])).toMatchObject({precision: 0, recall: null})
  })
})
