import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {generateTraffic} from '../../src/gen/index.js'
import {bundledModelPath, closeModel, explainRow, loadModel, requireThreshold, runFirstPass, scoreWindows, type LoadedModel} from '../../src/infer/index.js'
import {ingestCapture} from '../../src/io/ingest/ingest.js'
import {FlowStore} from '../../src/io/store/store.js'
import {tempDir} from '../helpers/cli.js'

describe('scoreWindows', () => {
  let store: FlowStore
  let model: LoadedModel

  beforeAll(async () => {
    const dir = tempDir()
    const capture = path.join(dir, 'g.pcap')
    await generateTraffic({out: capture, packets: 20_000, seed: 5})
    store = await FlowStore.open(path.join(dir, 's.duckdb'))
    await ingestCapture(store, capture, {network: 'lab'})
    model = await loadModel(bundledModelPath())
  }, 60_000)

  afterAll(async () => {
    await closeModel(model)
    await store.close()
  })

  it('flags exactly the rows above the threshold, each explained as explainRow explains it', async () => {
    const s = await scoreWindows(store, model, {topK: 4})
    expect(s.features.length).toBeGreaterThan(0)
    expect(s.flagged.length).toBeGreaterThan(0)
    expect(s.flagged.map((w) => w.row)).toEqual([...s.scores.flagged.keys()].filter((i) => s.scores.flagged[i] === 1))
    const calibration = requireThreshold(model)
    for (const w of s.flagged) {
      expect(w.score).toBeGreaterThan(w.threshold)
      expect(w.threshold).toBe(calibration.threshold)
      expect([w.network, w.address, w.windowStart]).toEqual([s.features.networks[w.row], s.features.addresses[w.row], s.features.windowStart[w.row]])
      expect(w.explanation).toEqual(explainRow(model.metadata.featureNames, calibration.normalisation, s.features, s.scores.sqErrors, w.row, 4))
      expect(w.explanation.topFeatures).toHaveLength(4)
    }
    // every address seen is flagged in some window or listed unflagged, never both
    const flagged = new Set(s.flagged.map((w) => `${w.network}|${w.address}`))
    const unflagged = s.unflagged.map((a) => `${a.network}|${a.address}`)
    expect(unflagged.filter((k) => flagged.has(k))).toEqual([])
    expect(flagged.size + unflagged.length).toBe(s.addresses)
    expect(new Set(Array.from({length: s.features.length}, (_, i) => `${s.features.networks[i]}|${s.features.addresses[i]}`)).size).toBe(s.addresses)
  })

  it('is the loop of the first pass: the same windows, scores and explanations', async () => {
    const s = await scoreWindows(store, model)
    const first = await runFirstPass(store, model, {beaconPivot: false})
    expect(first.detections.map((d) => [d.network, d.address, d.windowStart, d.score, d.attackType, d.topFeatures])).toEqual(
      s.flagged.map((w) => [w.network, w.address, w.windowStart, w.score, w.explanation.attackType, w.explanation.topFeatures]),
    )
    expect(first.unflaggedAddresses).toEqual(s.unflagged.map((a) => `${a.network}|${a.address}`))
    expect(first.addresses).toBe(s.addresses)
  })

  it('scores only the windows asked for', async () => {
    const all = await scoreWindows(store, model)
    const starts = [...all.features.windowStart].sort((a, b) => a - b)
    const since = starts[Math.floor(starts.length / 2)]!
    const part = await scoreWindows(store, model, {network: 'lab', since})
    expect(part.features.length).toBeGreaterThan(0)
    expect(part.features.length).toBeLessThan(all.features.length)
    expect(Math.min(...part.features.windowStart)).toBeGreaterThanOrEqual(since)
    expect((await scoreWindows(store, model, {network: 'elsewhere'})).features.length).toBe(0)
  })

  it('refuses a model without calibration, which has no threshold', async () => {
    const uncalibrated = {...model, metadata: {...model.metadata, calibration: null}} as LoadedModel
    expect(() => requireThreshold(uncalibrated)).toThrow(UsageError)
    await expect(scoreWindows(store, uncalibrated)).rejects.toThrow(/no calibration/)
  })
})
