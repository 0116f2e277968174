import {describe, expect, it} from 'vitest'

import type {Activation, Autoencoder} from '../../src/infer/autoencoder.js'
import {createAutoencoder, createGradients, createWorkspace, gaussianSource, lossAndGradients, parameterCount} from '../../src/infer/autoencoder.js'
import {FEATURE_COUNT} from '../../src/infer/features.js'
import {trainAutoencoder} from '../../src/infer/train.js'
import {reconstructionErrors} from '../../src/infer/train.js'
import {createRng} from '../../src/core/rng.js'
import {NETWORK_A, benignVectors} from './synthetic.js'

function lossOf(ae: Autoencoder, x: Float64Array, rows: number): number {
  const ws = createWorkspace(ae, rows)
  ;(ws.acts[0] as Float64Array).set(x)
  return lossAndGradients(ae, ws, rows)
}

describe('autoencoder backprop', () => {
  for (const activation of ['tanh', 'relu'] as Activation[]) {
    it(`matches central finite differences for every parameter (${activation})`, () => {
      const rng = createRng(11)
      const ae = createAutoencoder([5, 7, 3, 6, 5], activation, rng)
      // non-zero biases so ReLU units sit on both sides of their kink
      const g = gaussianSource(rng)
      for (const l of ae.layers) for (let i = 0; i < l.bias.length; i++) l.bias[i] = 0.3 * g()
      const rows = 9
      const x = Float64Array.from({length: rows * 5}, () => g())
      const ws = createWorkspace(ae, rows)
      ;(ws.acts[0] as Float64Array).set(x)
      const grads = createGradients(ae)
      lossAndGradients(ae, ws, rows, grads)

      const h = 1e-6
      let worst = 0
      let checked = 0
      ae.layers.forEach((layer, l) => {
        for (const [params, analytic] of [
          [layer.weights, grads.weights[l] as Float64Array],
          [layer.bias, grads.bias[l] as Float64Array],
        ] as const) {
          for (let i = 0; i < params.length; i++) {
            const saved = params[i] as number
            params[i] = saved + h
            const plus = lossOf(ae, x, rows)
            params[i] = saved - h
            const minus = lossOf(ae, x, rows)
            params[i] = saved
            const numeric = (plus - minus) / (2 * h)
            const a = analytic[i] as number
            const err = Math.abs(numeric - a) / Math.max(1e-4, Math.abs(numeric) + Math.abs(a))
            worst = Math.max(worst, err)
            checked++
          }
        }
      })
      expect(checked).toBe(parameterCount(ae))
      expect(worst).toBeLessThan(1e-5)
    })
  }

  it('refuses an autoencoder whose output size differs from its input', () => {
    expect(() => createAutoencoder([4, 2, 3], 'tanh', createRng(1))).toThrow(/differ/)
  })
})

describe('trainAutoencoder', () => {
  const data = benignVectors(NETWORK_A, 3000, 5)

  it('reduces the reconstruction loss', () => {
    const r = trainAutoencoder(data, {seed: 3, maxEpochs: 25, patience: 25})
    const first = r.history[0]?.validationLoss ?? NaN
    const best = Math.min(...r.history.map((h) => h.validationLoss))
    expect(best).toBeLessThan(first * 0.5)
    // training loss falls too, and the final model reconstructs held-in data better than predicting the median
    expect(r.history.at(-1)?.trainLoss ?? NaN).toBeLessThan(r.history[0]?.trainLoss ?? NaN)
    const sq = reconstructionErrors(r.model, data)
    const mse = sq.reduce((a, b) => a + b, 0) / sq.length
    expect(mse).toBeLessThan(0.5)
  })

  it('is deterministic for a seed', () => {
    const a = trainAutoencoder(data, {seed: 42, maxEpochs: 4})
    const b = trainAutoencoder(data, {seed: 42, maxEpochs: 4})
    const c = trainAutoencoder(data, {seed: 43, maxEpochs: 4})
    expect(b.model.autoencoder.layers).toEqual(a.model.autoencoder.layers)
    expect(b.model.scaler).toEqual(a.model.scaler)
    expect(b.model.calibration).toEqual(a.model.calibration)
    expect(b.history).toEqual(a.history)
    expect(c.model.autoencoder.layers[0]?.weights).not.toEqual(a.model.autoencoder.layers[0]?.weights)
  })

  it('stops early when the held-back loss stops improving and keeps the best weights', () => {
    const r = trainAutoencoder(data, {seed: 7, maxEpochs: 1000, patience: 3, minDelta: 0.02, hiddenSizes: [8, 4, 8]})
    expect(r.stoppedEarly).toBe(true)
    expect(r.history.length).toBeLessThan(1000)
    expect(r.history.length).toBe(r.bestEpoch + 3)
    // the returned weights are the best epoch's, not the last one's (equal up to float32 rounding)
    const bestLoss = r.history[r.bestEpoch - 1]?.validationLoss ?? NaN
    const lastLoss = r.history.at(-1)?.validationLoss ?? NaN
    expect(Math.abs(r.validationLoss - bestLoss) / bestLoss).toBeLessThan(1e-4)
    expect(r.validationLoss).not.toBe(lastLoss)
    expect(r.model.autoencoder.sizes).toEqual([FEATURE_COUNT, 8, 4, 8, FEATURE_COUNT])
  })

  it('fits a median/IQR scaler on the training rows', () => {
    const r = trainAutoencoder(data, {seed: 1, maxEpochs: 1})
    expect(r.model.scaler.kind).toBe('median-iqr')
    expect(r.model.scaler.center).toHaveLength(FEATURE_COUNT)
    expect(r.model.scaler.scale.every((s) => s > 0)).toBe(true)
  })
})
