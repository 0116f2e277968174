/**
 * Incident precision and recall on generated traffic at 1/1, 1/100 and 1/1000 (issue 16, "How it is
 * checked"): every one of the generator's seven default attacks should be exactly one incident of its
 * type and role on its entity, and no incident a spoofed source.
 *
 * Protocol (that of detection-real for real captures). Two captures from the generator: a benign-only
 * one to train on and one with the seven default attacks (ATTACK_KINDS) in its own benign traffic, with
 * the flow list (`truthFlows`) to know every address an attack involves. At 1/1 both are ingested as they
 * are; at 1/N both are packet-sampled 1-in-N (systematic, seeded), the training capture in several
 * copies (other phases of the sampler) since one sampled copy has too few windows. The model is trained
 * on the benign copies (and at 1/N its threshold re-fitted on copies training never saw), the first
 * pass scores the attack capture's sample, its incidents are built (`summariseIncidents`, as `analyze`
 * does) and scored against the truth (`scoreIncidents`).
 *
 * Sizes: 200,000 packets each (15 minutes of traffic), models of 50 epochs; at 1/100 four sampled
 * training copies and two calibration copies, at 1/1000 four training copies. Trained models are cached
 * in the OS temp folder keyed by their training data, options and the trainer's source: a cold run
 * trains three models (≈ 50 s on two cores), a warm one takes ≈ 8 s.
 *
 * Measured, generator seeds 1-3 (FLOWSCOPE_GEN_SEED=2 or 3 reruns with another seed; seed 1 is the default):
 *
 *   rate    seed  found  incidents  precision  recall
 *   1/1     1     6/7    21         29%        86%
 *   1/1     2     5/7    18         28%        71%
 *   1/1     3     5/7     7         71%        71%
 *   1/100   1     5/7    10         60%        71%
 *   1/100   2     4/7     7         57%        57%
 *   1/100   3     4/7    10         50%        57%
 *   1/1000  1     3/7     7         43%        43%
 *   1/1000  2     3/7     5         60%        43%
 *   1/1000  3     2/7     4         50%        29%
 *
 * Found right at every seed: at 1/1 both scans, both floods and the SSH brute force; at 1/100 both
 * scans and both floods; at 1/1000 both floods. Those, and recall and precision at least the lowest of
 * the three seeds, are the floors asserted. Not found:
 * - the C2 beacon, at any rate: its windows are never typed `beaconing` (rule 10 needs them), so at
 *   1/1 it is `unknown/anomalous` on the beacon's server (the client folded into it, seed 1) or nothing;
 * - the exfiltration at 1/1 in seeds 2-3: `unknown` on the exfiltrator (6 MB to one peer, 99.6% of its
 *   bytes, but 5 peers in its span where rule 11 allows 1-3), or not flagged;
 * - the SSH brute force at 1/100: two incidents, the target's typed `brute_force/attacker` by its window
 *   type (rule 14) beside the attacker's (seed 2: the attacker typed `beaconing`).
 * Most benign incidents are `unknown` (16, 12 and 3 at 1/1); a few are typed: `udp_amplification` on
 * hosts receiving a few large DNS answers, `brute_force` on 20 short RDP connections.
 *
 * An attack's incidents are those overlapping its span whose entity, or a folded address, is one of the
 * addresses of its flows (spoofed sources, reflectors, the target); a horizontal scan's targets are most
 * of the network and left out, so an incident on one of them counts as benign, not as the scan split.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ExpectedIncident, FoundIncident, IncidentScore} from '../../src/infer/evaluate.js'
import {appendShiftedBatches, concatVectors, scoreIncidents, summariseIncidents, trainModelCached} from '../../src/infer/evaluate.js'
import {calibrate, closeModel, computeFeatures, loadModel, runFirstPass} from '../../src/infer/index.js'
import {FlowStore, ingestCapture} from '../../src/io/index.js'
import {createRng} from '../../src/core/index.js'
import {generateTraffic} from '../../src/gen/generate.js'
import type {GroundTruth} from '../../src/gen/truth.js'
import {ATTACK_KINDS} from '../../src/gen/truth.js'
import {createPacketSampler, sampleToFlows} from '../../src/sampling/index.js'
import {EXPECTED_INCIDENT} from '../helpers/attack-incidents.js'
import {packetTableCache} from '../helpers/packet-tables.js'
import {ROOT, tempDir} from '../helpers/cli.js'

/** generator seed of the attack capture (the benign training capture uses SEED + 1000) */
const SEED = Number(process.env.FLOWSCOPE_GEN_SEED ?? 1)
const PACKETS = 200_000
const TRAIN = {seed: 1, maxEpochs: 50}
const CACHE_DIR = path.join(tmpdir(), 'flowscope-gen-incidents')
const TRAINER_SALT = createHash('sha256')
  .update(['train', 'autoencoder', 'scaler', 'normalisation', 'onnx-export', 'features'].map((f) => readFileSync(path.join(ROOT, `src/infer/${f}.ts`), 'utf8')).join('\0'))
  .digest('hex')

/** per sampling rate: sampled copies of the benign capture to train on, and further ones to re-fit the threshold on */
const COPIES: Readonly<Record<number, {train: number; calibrate: number}>> = {100: {train: 4, calibrate: 2}, 1000: {train: 4, calibrate: 0}}


interface Truth {
  expected: ExpectedIncident[]
  /** sources of the SYN flood that sent nothing else: forged */
  spoofed: Set<string>
}

/** The expected incidents and the spoofed sources, from the truth JSON and the flow list. */
function readTruth(truth: GroundTruth, flowsCsv: string): Truth {
  const lines = flowsCsv.split('\n')
  const header = (lines[0] ?? '').split(',')
  const [src, dst, kind] = ['src_ip', 'dst_ip', 'kind'].map((c) => header.indexOf(c)) as [number, number, number]
  const byKind = new Map<string, Set<string>>()
  const floodSources = new Set<string>()
  const otherTraffic = new Set<string>()
  for (const line of lines.slice(1)) {
    if (!line) continue
    const f = line.split(',')
    const k = f[kind] as string
    const set = byKind.get(k) ?? new Set<string>()
    set.add(f[src] as string).add(f[dst] as string)
    byKind.set(k, set)
    if (k === 'syn-flood') floodSources.add(f[src] as string)
    else otherTraffic.add(f[src] as string).add(f[dst] as string)
  }
  const expected = truth.attacks.map((a): ExpectedIncident => {
    const [type, role, end] = EXPECTED_INCIDENT[a.kind as keyof typeof EXPECTED_INCIDENT]
    const entity = (end === 'src' ? a.src : a.dst)[0]
    if (entity === undefined) throw new Error(`the truth of ${a.kind} names no ${end}`)
    // a horizontal scan's targets are most of the network: an incident on one of them is counted as benign, not as the scan split
    const addresses = a.kind === 'horizontal-scan' ? [...a.src, ...a.dst] : [...(byKind.get(a.kind) ?? [])]
    return {attack: a.kind, type, role, entity, startUs: a.startUs, endUs: a.endUs, addresses}
  })
  const victim = expected.find((e) => e.attack === 'syn-flood')?.entity
  const spoofed = new Set([...floodSources].filter((a) => a !== victim && !otherTraffic.has(a)))
  return {expected, spoofed}
}

interface RateRun {
  rate: number
  score: IncidentScore
  found: (FoundIncident & {summary: string})[]
  spoofedIncidents: string[]
  /** windows the model was trained on, whether it was trained now (not cached), and the run's seconds */
  trainRows: number
  trained: boolean
  seconds: number
}

function report(runs: readonly RateRun[], truth: Truth): void {
  const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(0)}%`)
  const lines = [`incidents on generated traffic (seed ${SEED}, ${PACKETS} packets): rate, attacks found, incidents, precision, recall`]
  for (const r of runs) {
    const right = r.score.attacks.filter((a) => a.right).length
    lines.push(
      `  1/${String(r.rate).padEnd(5)} found ${right}/${r.score.attacks.length}  incidents ${r.score.total} (${r.score.correct} correct)  precision ${pct(r.score.precision)}  recall ${pct(r.score.recall)}  spoofed-source incidents ${r.spoofedIncidents.length}  ` +
        `(model ${r.trained ? 'trained' : 'cached'} on ${r.trainRows} windows; ${r.seconds.toFixed(1)} s)`,
    )
    for (const [k, a] of r.score.attacks.entries()) {
      const e = truth.expected[k] as ExpectedIncident
      const what = a.incidents.map((i) => `${i.type}/${i.role ?? '-'} ${i.entity}${i.folded.length > 0 ? ` (+${i.folded.length} folded)` : ''}`).join('; ')
      lines.push(`      ${a.right ? 'ok ' : '-- '}${a.attack.padEnd(18)} ${what || '(none)'}${a.right ? '' : `  [want ${e.type}/${e.role} ${e.entity}]`}`)
      if (!a.right) for (const i of a.incidents) lines.push(`           ${i.entity}: ${r.found.find((x) => x.incidentId === i.incidentId)?.summary ?? ''}`)
    }
    const claimed = new Set(r.score.attacks.flatMap((a) => a.incidents.map((i) => i.incidentId)))
    for (const i of r.found.filter((x) => !claimed.has(x.incidentId))) lines.push(`      benign: ${i.type}/${i.role ?? '-'} ${i.entity}: ${i.summary}`)
  }
  console.log(lines.join('\n'))
}

describe('incidents on generated traffic against its truth', () => {
  let dir: string
  let store: FlowStore
  let trainFile: string
  let attackFile: string
  let truth: Truth
  const table = packetTableCache()
  const runs: RateRun[] = []

  beforeAll(async () => {
    dir = tempDir('flowscope-gen-incidents-')
    trainFile = path.join(dir, 'benign.pcap')
    attackFile = path.join(dir, 'attacks.pcap')
    await generateTraffic({out: trainFile, seed: SEED + 1000, packets: PACKETS, attacks: []})
    const g = await generateTraffic({out: attackFile, seed: SEED, packets: PACKETS, attacks: ATTACK_KINDS, truthFlows: true})
    truth = readTruth(g.truth, readFileSync(g.flowsPath as string, 'utf8'))
    store = await FlowStore.open(':memory:')
  })
  afterAll(async () => {
    await store?.close()
    report(runs, truth)
  })

  async function incidentsOf(network: string): Promise<(FoundIncident & {summary: string})[]> {
    const rows = await store.all<{incident_id: string; entity: string; role: string | null; attack_type: string; f: bigint; l: bigint; folded: string | null; summary: string | null}>(
      `SELECT incident_id, entity, role, attack_type, epoch_us(first_seen) AS f, epoch_us(last_seen) AS l,
              CAST(counterparts->'$.folded' AS VARCHAR) AS folded, evidence->>'$.summary' AS summary
         FROM incidents WHERE network = $1 ORDER BY first_seen, entity`,
      [network],
    )
    return rows.map((r) => ({
      incidentId: r.incident_id,
      entity: r.entity,
      role: r.role,
      type: r.attack_type,
      firstUs: Number(r.f),
      lastUs: Number(r.l),
      folded: r.folded === null ? [] : (JSON.parse(r.folded) as string[]),
      summary: r.summary ?? '',
    }))
  }

  /** Trains (or reuses) the model of `rate`, scores the attack capture's copy, builds and scores its incidents. */
  async function runAt(rate: number): Promise<RateRun> {
    const t0 = performance.now()
    const attacks = `attacks@${rate}`
    let modelFile: string
    let trainRows: number
    let trainedNow: boolean
    if (rate === 1) {
      await ingestCapture(store, trainFile, {network: 'benign@1'})
      await ingestCapture(store, attackFile, {network: attacks})
      const benign = await computeFeatures(store, {network: 'benign@1'})
      const trained = await trainModelCached(benign, TRAIN, {cacheDir: CACHE_DIR, salt: TRAINER_SALT, exportInfo: {network: 'benign@1'}})
      modelFile = trained.path
      trainRows = benign.length
      trainedNow = !trained.cached
      if (trained.result) console.log(`1/${rate}: ${trained.result.history.length} epochs, ${trained.result.elapsedMs} ms`)
    } else {
      const copies = COPIES[rate] as {train: number; calibrate: number}
      const sampler = createPacketSampler('systematic', rate)
      const bg = await table(trainFile)
      for (let r = 1; r <= copies.train + copies.calibrate; r++) {
        const s = sampleToFlows(bg, sampler.sample(bg, createRng(rate * 1000 + r)))
        await appendShiftedBatches(store, s.flows, {network: `benign@${rate}#${r}`, label: `benign 1/${rate} copy ${r}`})
      }
      const at = await table(attackFile)
      const s = sampleToFlows(at, sampler.sample(at, createRng(rate)))
      await appendShiftedBatches(store, s.flows, {network: attacks, label: `attacks 1/${rate}`})
      const parts = []
      for (let r = copies.calibrate + 1; r <= copies.train + copies.calibrate; r++) parts.push(await computeFeatures(store, {network: `benign@${rate}#${r}`}))
      const benign = concatVectors(parts)
      const trained = await trainModelCached(benign, TRAIN, {cacheDir: CACHE_DIR, salt: TRAINER_SALT, exportInfo: {network: `benign@${rate}`}})
      modelFile = trained.path
      trainRows = benign.length
      trainedNow = !trained.cached
      if (trained.result) console.log(`1/${rate}: ${trained.result.history.length} epochs, ${trained.result.elapsedMs} ms`)
      if (copies.calibrate > 0) {
        const held = []
        for (let r = 1; r <= copies.calibrate; r++) held.push(await computeFeatures(store, {network: `benign@${rate}#${r}`}))
        modelFile = path.join(CACHE_DIR, `${path.basename(trained.path, '.onnx')}-cal${copies.calibrate}.onnx`)
        await calibrate(trained.path, concatVectors(held), {outPath: modelFile, network: `benign@${rate}`})
      }
    }
    const model = await loadModel(modelFile)
    try {
      const r = await runFirstPass(store, model, {network: attacks})
      await summariseIncidents(store, attacks, r, [])
    } finally {
      await closeModel(model)
    }
    const found = await incidentsOf(attacks)
    const run: RateRun = {
      rate,
      score: scoreIncidents(truth.expected, found),
      found,
      spoofedIncidents: found.filter((i) => truth.spoofed.has(i.entity)).map((i) => i.entity),
      trainRows,
      trained: trainedNow,
      seconds: (performance.now() - t0) / 1000,
    }
    runs.push(run)
    return run
  }

  it('knows the spoofed sources of the SYN flood', () => {
    expect(truth.expected.map((e) => e.attack)).toEqual([...ATTACK_KINDS])
    expect(truth.spoofed.size).toBeGreaterThan(10)
  })

  /** Floors that held for generator seeds 1-3 (see the header): attacks found right, recall and precision at least. */
  function expectFloors(run: RateRun, floor: {right: readonly string[]; recall: number; precision: number | null}): void {
    expect(run.spoofedIncidents, 'incidents on spoofed sources').toEqual([])
    for (const name of floor.right) {
      const a = run.score.attacks.find((x) => x.attack === name)
      expect(
        a?.incidents.map((i) => [i.type, i.role, i.entity]),
        `${name}: one incident of its type and role on its entity`,
      ).toEqual([expectedTriple(name)])
    }
    expect(run.score.recall, 'recall').not.toBeNull()
    expect(run.score.recall as number, 'recall').toBeGreaterThanOrEqual(floor.recall - 1e-9)
    if (floor.precision !== null) {
      expect(run.score.precision, 'precision').not.toBeNull()
      expect(run.score.precision as number, 'precision').toBeGreaterThanOrEqual(floor.precision - 1e-9)
    }
  }

  const expectedTriple = (name: string): [string, string, string] => {
    const e = truth.expected.find((x) => x.attack === name) as ExpectedIncident
    return [e.type, e.role, e.entity]
  }

  it('at 1/1: scans, floods and the brute force one incident each, recall ≥ 5/7, precision ≥ 25%; no spoofed source', async () => {
    const run = await runAt(1)
    expectFloors(run, {right: ['horizontal-scan', 'vertical-scan', 'syn-flood', 'udp-amplification', 'ssh-bruteforce'], recall: 5 / 7, precision: 0.25})
  })

  it('at 1/100: scans and floods one incident each, recall ≥ 4/7, precision ≥ 50%; no spoofed source', async () => {
    const run = await runAt(100)
    expectFloors(run, {right: ['horizontal-scan', 'vertical-scan', 'syn-flood', 'udp-amplification'], recall: 4 / 7, precision: 0.5})
  })

  it('at 1/1000: the two floods one incident each, the figures computed; no spoofed source', async () => {
    const run = await runAt(1000)
    expectFloors(run, {right: ['syn-flood', 'udp-amplification'], recall: 2 / 7, precision: null})
    // the figures mean something: every attack was scored and every incident counted
    expect(run.score.attacks).toHaveLength(ATTACK_KINDS.length)
    expect(run.score.correct).toBeLessThanOrEqual(run.score.total)
  })
})
