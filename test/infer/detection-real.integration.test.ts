/**
 * Detection quality on real attack captures merged into a real benign background (issue 5, "How it is
 * checked"): ESnet masscan scans, ddosgrid's port scan and SYN flood, nDPI's SYN scan, Slips' SSH brute
 * force and C2 beacon, nDPI's DNS exfiltration and ESnet's nmap -A on one port, each time-shifted into
 * its own stretch of the 6.9 h nDPI background so no two share a window.
 *
 * Feature set 4 (`low_ports_one_peer`), over training seeds 1-5: at full rate all 19 addresses flagged
 * and typed, benign rate 0.015-0.14% (every seed passing); at 1/100 all ten scan and flood addresses
 * flagged and typed, benign rate 0.15-0.25% (every seed passing). The figures below for nmap and the
 * beacon pivot were measured with feature set 3.
 *
 * At full rate every attacking and attacked address (19) is asserted flagged with its type. Two needed more
 * than the model alone:
 * - nmap -A -p80 (ESnet): 53 connections to one web server in 7 s, 34 of them short within one 30 s
 *   sub-bin, a few RSTs and ICMP: from either end a page load's worth of HTTP. With feature set 2 its
 *   best window was exceeded by 0.03–0.30% of benign windows for the scanner and 0.15–0.37% for the
 *   server over training seeds 1–5: seed-dependent at the 0.1% budget. What sets it apart is the
 *   server's answers: 19 byte-identical 467-byte error pages to one client within one sub-bin, where
 *   the background never has more than 8 (`repeated_response_log1p`, feature set 3). With it, over
 *   training seeds 1–8 both addresses are flagged in all 5 of their windows and typed scan (service
 *   probe), their best scores 2.3–5.8× the threshold (scanner 241–445, server 236–419), and the
 *   benign rate is 0.04–0.11% (every seed passing the check below); at 1/100 with seeds 1–5 the four
 *   asserted addresses stay flagged and typed and the benign rate is 0.13–0.28% (all passing); sampled
 *   1-in-100, nmap's responses are too few to repeat and its two addresses stay far below the threshold.
 * - 141.193.213.20, the C2 server's neighbour that the beaconing host reaches twice, 300 s apart: two
 *   ordinary HTTPS sessions (13 packets, 1.5 kB each way) whose own score is below half of all benign
 *   windows. It is caught by beacon pivoting (`src/infer/beacon-pivot.ts`): same /24 and port as the
 *   beacon server, reached by the beacon's client with the beacon's request size (1,525 bytes), in 8 of
 *   its 10 windows, typed beaconing, over seeds 1–8 alike; the pivot added no benign window at full
 *   rate (seeds 1–8) or at 1/100 (seeds 1–5) (it only fires next to a beacon detection).
 *
 * Protocol. The model is trained on the background alone (every window; the trainer holds back 20%
 * of them to stop early and to calibrate the threshold at the default 0.1% budget), then the first pass
 * scores the merged network. Benign address-windows are every window not overlapping an attack on one
 * of its addresses; most were seen in training, so the false-positive figure is that of a network whose
 * normal behaviour the model has learnt, not of unseen traffic (`bench/detection-eval.js` reports the
 * held-out figure). The false-positive count is checked with a one-sided exact binomial test at 5% on
 * effective sizes: sliding windows (5 min, 1 min hop) flag one odd burst in several consecutive
 * windows, so the count and the number of windows are divided by the measured mean run of flagged
 * windows (`falsePositiveCheck`).
 *
 * Sampled: background and attack captures are packet-sampled 1-in-N (systematic, seeded) the way a
 * router would; the model is trained on other sampled copies of the background (other phases of the
 * sampler) and scores a copy it has not seen, merged with the sampled attacks.
 *
 * Trained models are cached in the OS temp folder keyed by their training data, options and the
 * trainer's source, so a second run takes seconds; a cold run trains three models (≈ 30–40 s on two
 * cores).
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {AttackSpan, DetectionSummary, IncidentSummary} from '../../src/infer/evaluate.js'
import type {AttackType} from '../../src/infer/explain.js'
import {appendShiftedBatches, concatVectors, exceedanceShare, mergeAttacks, summariseDetections, summariseIncidents, trainModelCached} from '../../src/infer/evaluate.js'
import {calibrate, closeModel, computeFeatures, loadModel, runFirstPass} from '../../src/infer/index.js'
import type {FirstPassResult, LoadedModel} from '../../src/infer/index.js'
import {FlowStore, ingestCapture} from '../../src/io/index.js'
import {createRng} from '../../src/core/index.js'
import {createPacketSampler, sampleToFlows} from '../../src/sampling/index.js'
import {packetTableCache} from '../helpers/packet-tables.js'
import {ROOT, SHARED_DATA} from '../helpers/cli.js'

const BACKGROUND = path.join(SHARED_DATA, 'bench-ndpi-concat/DERIVED_ndpi_benign_concat.pcap')

interface RealAttack {
  id: string
  file: string
  /** the type every asserted address must get (its most frequent over its flagged windows), or null when the attack is only reported */
  expect: AttackType | null
  /** addresses of the attack that are only reported (see the header for why) */
  reported?: readonly string[]
  /** the one incident it must be: type, role, entity (the scanner, the flood's victim, the beacon's client, …) */
  incident: readonly [string, string, string]
}

const ATTACKS: readonly RealAttack[] = [
  {id: 'esnet-masscan-tcp', file: 'esnet-scanners/tcp_0_1000_20190821.pcap', expect: 'scan', incident: ['vertical_scan', 'scanner', '172.31.15.102']},
  {id: 'esnet-masscan-udp', file: 'esnet-scanners/udp_0_1000_20190821.pcap', expect: 'scan', incident: ['vertical_scan', 'scanner', '172.31.15.102']},
  {id: 'ddosgrid-portscan', file: 'ddosgrid/portscan.pcap', expect: 'scan', incident: ['vertical_scan', 'scanner', '10.0.1.2']},
  {id: 'ddosgrid-synflood', file: 'ddosgrid/synflood.pcap', expect: 'flood', incident: ['syn_flood', 'victim', '10.0.1.12']},
  {id: 'ndpi-synscan', file: 'ndpi-attacks/synscan.pcap', expect: 'scan', incident: ['vertical_scan', 'scanner', '172.16.0.8']},
  {id: 'esnet-nmap-A-80', file: 'esnet-scanners/nmap_80_all.pcap', expect: 'scan', incident: ['vertical_scan', 'scanner', '10.87.1.10']},
  {id: 'slips-ssh-bruteforce', file: 'slips-stratosphere/malicious-ssh-bruteforce.pcap', expect: 'brute_force', incident: ['brute_force', 'attacker', '147.32.80.40']},
  {id: 'slips-c2-beacon', file: 'slips-stratosphere/test-cc-capture-1.pcap', expect: 'beaconing', incident: ['beaconing', 'beacon-client', '147.32.80.37']},
  {id: 'ndpi-dns-exfiltration', file: 'ndpi-attacks/dns_exfiltration.pcap', expect: 'exfiltration', incident: ['dns_tunnel', 'tunnel-client', '192.168.220.56']},
]

const HAVE_DATA = existsSync(BACKGROUND) && ATTACKS.every((a) => existsSync(path.join(SHARED_DATA, a.file)))
const FP_BUDGET = 0.001
const PLACEMENT = {firstOffsetSec: 20 * 60, spacingSec: 45 * 60}
const TRAIN = {seed: 1, maxEpochs: 80}
const CACHE_DIR = path.join(tmpdir(), 'flowscope-detection-eval')
/**
 * At 1/100 the threshold is re-fitted on two sampled copies of the background that training never
 * saw: the trainer's held-back 20% shares its windows with the other copies it trained on, and a
 * threshold fitted there sat at 0.13–0.53% on an unseen copy over 20 training seeds (all above the
 * 0.1% budget; 9 of 20 failed the check below).
 */
const CALIBRATION_COPIES = 2
/** the cache key covers the trainer's code: a change to it retrains */
const TRAINER_SALT = createHash('sha256')
  .update(['train', 'autoencoder', 'scaler', 'normalisation', 'onnx-export', 'features'].map((f) => readFileSync(path.join(ROOT, `src/infer/${f}.ts`), 'utf8')).join('\0'))
  .digest('hex')

interface RunOutcome {
  summary: DetectionSummary
  threshold: number
  /** benign scores, for the budget an unflagged attack would have needed */
  benignScores: number[]
  /** beacon-pivot detections (windows the model did not flag) */
  related: number
  /** the incidents built from the detections, matched to the attacks */
  incidents: IncidentSummary
  /** hours of benign background in the merged network */
  hours: number
}

async function scoreMerged(store: FlowStore, modelFile: string, network: string, spans: readonly AttackSpan[]): Promise<RunOutcome> {
  const model: LoadedModel = await loadModel(modelFile)
  try {
    const r: FirstPassResult = await runFirstPass(store, model, {network})
    const summary = summariseDetections(r, spans, {fpBudget: FP_BUDGET})
    const attackAddresses = new Set(spans.flatMap((s) => s.addresses))
    const benignScores = Array.from(r.scores.scores).filter((_, i) => !attackAddresses.has(r.features.addresses[i] as string))
    const incidents = await summariseIncidents(store, network, r, spans)
    const span = await store.all<{h: number}>('SELECT (epoch_us(max(ts_start)) - epoch_us(min(ts_start))) / 3.6e9 AS h FROM flows WHERE network = $1', [network])
    return {summary, threshold: r.scores.threshold, benignScores, related: r.related.length, incidents, hours: Number(span[0]?.h ?? 0)}
  } finally {
    await closeModel(model)
  }
}

function report(label: string, run: RunOutcome): void {
  const lines = run.summary.outcomes.map((o) => {
    const need =
      o.flagged > 0 ? '' : o.windows === 0 ? ' (no flows left)' : ` (flagged only at a budget ≥ ${(100 * exceedanceShare(o.maxScore, run.benignScores)).toFixed(2)}%)`
    return `  ${o.attack.padEnd(22)} ${o.address.padEnd(16)} ${String(o.flagged).padStart(2)}/${String(o.windows).padEnd(2)} max ${o.maxScore.toFixed(1).padStart(6)} ${o.types.join(',')}${need}`
  })
  const fp = run.summary.falsePositives
  console.log(
    [
      `${label}: threshold ${run.threshold.toFixed(1)}; attack addresses flagged ${run.summary.recall.flagged}/${run.summary.recall.addresses}; ${run.related} window(s) from beacon pivoting`,
      ...lines,
      `  benign address-windows flagged ${fp.flagged}/${fp.windows} = ${(100 * fp.rate).toFixed(3)}% (budget ${100 * FP_BUDGET}%; ` +
        `design effect ${fp.designEffect.toFixed(2)}, one-sided p = ${fp.pValue.toFixed(3)}, at most ${fp.maxFlagged} pass at 5%)`,
      `  incidents: ${run.incidents.total}, of them false positives ${run.incidents.falsePositives.length} in ${run.hours.toFixed(1)} h ` +
        `(${(run.incidents.falsePositives.length / run.hours).toFixed(2)} per hour; budget ${fpIncidentBudget(run)})`,
      ...run.incidents.attacks.map((a) => `    ${a.attack.padEnd(22)} ${a.incidents.map((i) => `${i.type}/${i.role} ${i.entity} (${i.confidence}, ${i.folded} folded)`).join('; ') || '(none)'}`),
      ...run.incidents.falsePositives.map((i) => `    false positive: ${i.type}/${i.role} ${i.entity} severity ${i.severity}`),
    ].join('\n'),
  )
}

function expectAttacksCaught(run: RunOutcome): void {
  let asserted = 0
  for (const a of ATTACKS) {
    if (a.expect === null) continue
    for (const o of run.summary.outcomes.filter((x) => x.attack === a.id && !a.reported?.includes(x.address))) {
      asserted++
      expect(o.flagged, `${a.id} ${o.address} flagged`).toBeGreaterThan(0)
      expect(o.types[0], `${a.id} ${o.address} typed`).toBe(a.expect)
    }
  }
  // every attacking and attacked address
  expect(asserted).toBe(19)
}

/**
 * The false-positive budget, counted in incidents instead of windows: benign incidents at most
 * FP_BUDGET × the benign address-windows scored (19,779 in the 6.9 h background at full rate: 19
 * incidents, 2.9 per benign hour). Measured at full rate for training seeds 1-4: 4, 2, 7 and 5
 * incidents (0.3-1.0 per benign hour), from 10-28 flagged benign windows; at 1/100 (seed 1): 1 (budget 3).
 */
function fpIncidentBudget(run: RunOutcome): number {
  return Math.floor(FP_BUDGET * run.summary.falsePositives.windows)
}

/** Each of `attacks` is exactly one incident, of its type and role, on its entity; benign incidents within the budget. */
function expectIncidents(run: RunOutcome, attacks: readonly RealAttack[]): void {
  for (const a of attacks) {
    const mine = run.incidents.attacks.find((x) => x.attack === a.id)?.incidents ?? []
    expect(
      mine.map((i) => [i.type, i.role, i.entity]),
      `${a.id}: one incident`,
    ).toEqual([a.incident])
  }
  expect(run.incidents.falsePositives.length, 'benign incidents').toBeLessThanOrEqual(fpIncidentBudget(run))
}

describe.skipIf(!HAVE_DATA)('detection on real attack captures merged into a benign background', () => {
  let store: FlowStore
  let spans: AttackSpan[]
  const table = packetTableCache()

  beforeAll(async () => {
    store = await FlowStore.open(':memory:')
    await ingestCapture(store, BACKGROUND, {network: 'bg'})
    for (const a of ATTACKS) await ingestCapture(store, path.join(SHARED_DATA, a.file), {network: `atk:${a.id}`})
    spans = await mergeAttacks(store, {background: 'bg', into: 'merged', attacks: ATTACKS.map((a) => ({name: a.id, network: `atk:${a.id}`})), ...PLACEMENT})
  })
  afterAll(async () => {
    await store?.close()
  })

  /**
   * Background copies 0..replicas sampled 1-in-`rate`, copy 0 merged with the sampled attacks; a model
   * trained on copies `calibrationCopies`+1..replicas, its threshold then re-fitted (`train
   * --calibrate-only`) on copies 1..`calibrationCopies`, which training never saw.
   */
  async function sampledRun(rate: number, replicas: number, calibrationCopies = 0): Promise<RunOutcome> {
    const sampler = createPacketSampler('systematic', rate)
    const bg = await table(BACKGROUND)
    for (let r = 0; r <= replicas; r++) {
      const s = sampleToFlows(bg, sampler.sample(bg, createRng(rate * 1000 + r)))
      await appendShiftedBatches(store, s.flows, {network: `bg@${rate}#${r}`, label: `background 1/${rate} copy ${r}`})
    }
    for (const a of ATTACKS) {
      const t = await table(path.join(SHARED_DATA, a.file))
      const s = sampleToFlows(t, sampler.sample(t, createRng(rate)))
      await appendShiftedBatches(store, s.flows, {network: `atk@${rate}:${a.id}`, label: `${a.id} 1/${rate}`})
    }
    const sampledSpans = await mergeAttacks(store, {
      background: `bg@${rate}#0`,
      into: `merged@${rate}`,
      attacks: ATTACKS.map((a) => ({name: a.id, network: `atk@${rate}:${a.id}`, truthNetwork: `atk:${a.id}`})),
      ...PLACEMENT,
    })
    const parts = []
    for (let r = calibrationCopies + 1; r <= replicas; r++) parts.push(await computeFeatures(store, {network: `bg@${rate}#${r}`}))
    const trained = await trainModelCached(concatVectors(parts), TRAIN, {cacheDir: CACHE_DIR, salt: TRAINER_SALT, exportInfo: {network: `bg@${rate}`}})
    if (calibrationCopies === 0) return scoreMerged(store, trained.path, `merged@${rate}`, sampledSpans)
    const held = []
    for (let r = 1; r <= calibrationCopies; r++) held.push(await computeFeatures(store, {network: `bg@${rate}#${r}`}))
    const recalibrated = path.join(CACHE_DIR, `${path.basename(trained.path, '.onnx')}-cal${calibrationCopies}.onnx`)
    await calibrate(trained.path, concatVectors(held), {outPath: recalibrated, network: `bg@${rate}`})
    return scoreMerged(store, recalibrated, `merged@${rate}`, sampledSpans)
  }

  it('at full rate: every attack address is flagged and typed, benign windows within the budget', async () => {
    const benign = await computeFeatures(store, {network: 'bg'})
    const trained = await trainModelCached(benign, TRAIN, {cacheDir: CACHE_DIR, salt: TRAINER_SALT, exportInfo: {network: 'bg'}})
    const run = await scoreMerged(store, trained.path, 'merged', spans)
    report('full rate', run)
    expectAttacksCaught(run)
    expectIncidents(run, ATTACKS)
    expect(run.summary.falsePositives.ok, 'false-positive count consistent with the 0.1% budget').toBe(true)
  })

  it('at full rate over training seeds 2-4: every attack is one incident, benign incidents within the budget', async () => {
    const benign = await computeFeatures(store, {network: 'bg'})
    for (const seed of [2, 3, 4]) {
      // each seed's run starts from no detections and no incidents of the merged network
      await store.run(`DELETE FROM detections WHERE network = 'merged'`)
      await store.run(`DELETE FROM incidents WHERE network = 'merged'`)
      const trained = await trainModelCached(benign, {...TRAIN, seed}, {cacheDir: CACHE_DIR, salt: TRAINER_SALT, exportInfo: {network: 'bg'}})
      const run = await scoreMerged(store, trained.path, 'merged', spans)
      report(`full rate, training seed ${seed}`, run)
      expectIncidents(run, ATTACKS)
    }
  })

  it('at 1/100: every scan and flood address is flagged and typed, benign windows within the budget', async () => {
    const run = await sampledRun(100, 8, CALIBRATION_COPIES)
    report('1/100 packet sampling', run)
    // Sampled 1-in-100, a 1,000-probe masscan leaves ~10 probes. With feature set 3 its target, the UDP
    // scanner and nDPI's SYN-scan target (10-17 small flows in) were within the sampled background's
    // top 0.33-3.16% and only reported; `low_ports_one_peer` (feature set 4: the most distinct ports
    // below 32,768 between the address and one peer, 10-17 for these against at most 2-3 in the
    // sampled background) flags all ten scan and flood addresses, typed, for training seeds 1-5, the
    // masscan targets at 4-8x the threshold, and the benign rate on the unseen copy was
    // 0.15-0.25%, every seed passing the check at 5%. The threshold is re-fitted on two unseen copies
    // (CALIBRATION_COPIES); fitted on the trainer's held-back 20% instead, it was 0.13-0.53% over seeds
    // 1-20 (feature set 3) and 9 of 20 failed.
    for (const a of ATTACKS.filter((x) => x.expect === 'scan' || x.expect === 'flood')) {
      if (a.id === 'esnet-nmap-A-80') continue // a service probe: sampled 1-in-100 its responses are too few to repeat
      const outcomes = run.summary.outcomes.filter((x) => x.attack === a.id)
      expect(outcomes, a.id).toHaveLength(2)
      for (const o of outcomes) {
        expect(o.flagged, `${a.id} ${o.address} flagged`).toBeGreaterThan(0)
        expect(o.types[0], `${a.id} ${o.address} typed`).toBe(a.expect)
      }
    }
    expect(run.summary.falsePositives.ok, 'false-positive count consistent with the 0.1% budget').toBe(true)
    // incidents: every scan and flood, and the C2 beacon (its client sends enough sampled check-ins);
    // nmap's probe, the SSH brute force and the DNS tunnel are too few sampled packets at 1/100
    expectIncidents(
      run,
      ATTACKS.filter((a) => a.expect === 'scan' || a.expect === 'flood' || a.expect === 'beaconing').filter((a) => a.id !== 'esnet-nmap-A-80'),
    )
  })

  it('at 1/1000: reports recall and false positives (figures); asserts only that both were measured', async () => {
    const run = await sampledRun(1000, 10)
    report('1/1000 packet sampling', run)
    // At 1/1000 a 1,000-probe scan leaves about one packet: neither recall nor the benign rate is a
    // promise here, so neither is asserted either way; what must hold is that the evaluation saw every
    // attack address and scored benign address-windows, so the printed figures mean something.
    const fp = run.summary.falsePositives
    expect(fp.windows, 'benign address-windows scored (the denominator of the false-positive rate)').toBeGreaterThan(0)
    expect(fp.flagged).toBeLessThanOrEqual(fp.windows)
    for (const a of ATTACKS.filter((x) => x.expect !== null)) expect(run.summary.outcomes.some((o) => o.attack === a.id), `${a.id} evaluated`).toBe(true)
  })
})
