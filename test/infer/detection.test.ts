import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {calibrate} from '../../src/infer/calibrate.js'
import {explainRow, guessAttackType} from '../../src/infer/explain.js'
import {FEATURE_COUNT, FEATURE_INDEX, FEATURE_NAMES} from '../../src/infer/features.js'
import type {FeatureName} from '../../src/infer/features.js'
import {closeModel, loadModel} from '../../src/infer/model-file.js'
import type {LoadedModel} from '../../src/infer/model-file.js'
import {exportOnnx} from '../../src/infer/onnx-export.js'
import {scoreFeatures} from '../../src/infer/score.js'
import type {TrainResult} from '../../src/infer/train.js'
import {trainAutoencoder} from '../../src/infer/train.js'
import {tempDir} from '../helpers/cli.js'
import {NETWORK_A, NETWORK_B, attackVector, benignVectors, scanVectors} from './synthetic.js'

const share = (flags: Uint8Array): number => flags.reduce((a, b) => a + b, 0) / flags.length

describe('detection on synthetic networks', () => {
  let dir: string
  let trained: TrainResult
  let modelFile: string
  let model: LoadedModel

  beforeAll(async () => {
    dir = tempDir('flowscope-detect-')
    trained = trainAutoencoder(benignVectors(NETWORK_A, 8000, 1), {seed: 2, maxEpochs: 150, patience: 8})
    modelFile = path.join(dir, 'a.onnx')
    await exportOnnx(trained.model, modelFile, {network: 'a'})
    model = await loadModel(modelFile)
  })
  afterAll(async () => {
    await closeModel(model)
  })

  it('flags scans and keeps at least 99% of held-out benign windows below the threshold', async () => {
    const benign = await scoreFeatures(model, benignVectors(NETWORK_A, 5000, 1001))
    expect(1 - share(benign.flagged)).toBeGreaterThanOrEqual(0.99)
    const scans = await scoreFeatures(model, scanVectors(200, 7))
    expect(scans.flaggedCount).toBe(200)
    expect(Math.min(...scans.scores)).toBeGreaterThan(benign.threshold)
  })

  it('explains a flagged scan by its port and probe features', async () => {
    const scans = scanVectors(1, 9)
    const scored = await scoreFeatures(model, scans)
    const e = explainRow(FEATURE_NAMES, trained.model.calibration.normalisation, scans, scored.sqErrors, 0, 4)
    expect(e.attackType).toBe('scan')
    expect(e.topFeatures).toHaveLength(4)
    expect(e.topFeatures[0]?.standardisedError).toBeGreaterThan(e.topFeatures[3]?.standardisedError ?? Infinity)
    const names = e.topFeatures.map((f) => f.name)
    expect(names.some((n) => ['dst_ports_log1p', 'dst_port_entropy', 'top_dst_port_share', 'syn_only_fraction', 'flows_out_log1p', 'small_packet_fraction'].includes(n))).toBe(true)
  })

  it('re-calibrates on a shifted network without retraining: FP rate near the budget again', async () => {
    const calibrationRows = benignVectors(NETWORK_B, 30_000, 2001)
    const heldOut = benignVectors(NETWORK_B, 30_000, 2002)
    // A's normalisation on B's traffic: far more of B's benign windows than the budget look anomalous
    const before = await scoreFeatures(model, heldOut)
    expect(share(before.flagged)).toBeGreaterThan(10 * 0.001)

    const bFile = path.join(dir, 'b.onnx')
    const result = await calibrate(modelFile, calibrationRows, {network: 'b', outPath: bFile})
    expect(result.metadata.calibration?.fpBudget).toBe(0.001)
    const bModel = await loadModel(bFile)
    try {
      const after = await scoreFeatures(bModel, heldOut)
      const rate = share(after.flagged)
      expect(rate).toBeGreaterThan(0.0002)
      expect(rate).toBeLessThan(0.003)
      // B's scans still stand out under B's calibration
      const scans = await scoreFeatures(bModel, scanVectors(200, 8))
      expect(scans.flaggedCount).toBe(200)
    } finally {
      await closeModel(bModel)
    }
  })
})

describe('attack-type rules', () => {
  for (const kind of ['scan', 'flood', 'amplification', 'exfiltration', 'beaconing'] as const) {
    it(`recognises ${kind}`, () => {
      expect(guessAttackType(attackVector(kind)).attackType).toBe(kind)
    })
  }

  it('recognises a flood victim that answers every SYN', () => {
    const v = attackVector('flood')
    // as many packets out as in (SYN-ACKs), still thousands of sources
    v[FEATURE_INDEX.packets_out_log1p] = v[FEATURE_INDEX.packets_in_log1p] as number
    expect(guessAttackType(v).attackType).toBe('flood')
  })

  it('needs inbound UDP for amplification when the share is known', () => {
    const v = attackVector('amplification')
    expect(guessAttackType(v, {udpInFraction: 0.95}).attackType).toBe('amplification')
    expect(guessAttackType(v, {udpInFraction: 0}).attackType).not.toBe('amplification')
  })

  it('recognises brute force on a login port, and not on a web port', () => {
    const v = attackVector('brute_force')
    expect(guessAttackType(v, {topDstPort: 22}).attackType).toBe('brute_force')
    expect(guessAttackType(v, {topDstPort: 443}).attackType).not.toBe('brute_force')
  })

  it('recognises DNS tunnelling from the share of long queries, at the client and at its resolver', () => {
    const v = attackVector('beaconing')
    v[FEATURE_INDEX.active_subbin_share] = 0.1
    v[FEATURE_INDEX.long_dns_query_share] = 1
    expect(guessAttackType(v, {topDstPort: 53})).toMatchObject({attackType: 'exfiltration', reason: expect.stringMatching(/DNS tunnel/)})
    v[FEATURE_INDEX.long_dns_query_share] = 0.2
    expect(guessAttackType(v, {topDstPort: 53}).attackType).not.toBe('exfiltration')
  })

  it('recognises the server end of a beacon: check-ins in on its own port, answers out to ephemeral ports', () => {
    const v = attackVector('beaconing')
    // the client's view mirrored: flows in, answers to as many ports as check-ins
    const swap = (a: FeatureName, b: FeatureName): void => {
      const t = v[FEATURE_INDEX[a]] as number
      v[FEATURE_INDEX[a]] = v[FEATURE_INDEX[b]] as number
      v[FEATURE_INDEX[b]] = t
    }
    swap('flows_out_log1p', 'flows_in_log1p')
    v[FEATURE_INDEX.dst_ports_log1p] = Math.log1p(10)
    v[FEATURE_INDEX.top_dst_port_share] = 0.1
    expect(guessAttackType(v, {topInPort: 443, topDstPort: 50000}).attackType).toBe('beaconing')
    // a server that answers more than it is asked is not a beacon's
    v[FEATURE_INDEX.flows_out_log1p] = Math.log1p(30)
    expect(guessAttackType(v, {topInPort: 443, topDstPort: 50000}).attackType).not.toBe('beaconing')
  })

  it('calls a burst of short connections to one web port a service probe (scan), on a login port brute force', () => {
    const v = attackVector('brute_force')
    v[FEATURE_INDEX.short_conn_burst_log1p] = Math.log1p(34)
    expect(guessAttackType(v, {topDstPort: 80})).toMatchObject({attackType: 'scan', reason: expect.stringMatching(/service probe/)})
    expect(guessAttackType(v, {topDstPort: 22}).attackType).toBe('brute_force')
    v[FEATURE_INDEX.short_conn_burst_log1p] = Math.log1p(5)
    expect(guessAttackType(v, {topDstPort: 80}).attackType).toBe('unknown')
  })

  it('says unknown for ordinary traffic', () => {
    const benign = benignVectors(NETWORK_A, 200, 77)
    const types = new Set<string>()
    for (let i = 0; i < benign.length; i++) types.add(guessAttackType(benign.values.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT), {topDstPort: 443}).attackType)
    expect([...types]).toEqual(['unknown'])
  })
})
