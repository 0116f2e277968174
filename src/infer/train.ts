/**
 * Trains the autoencoder on a network's baseline feature vectors: seeded split into training and a
 * held-back benign validation set, robust scaler fitted on the training rows, Adam on mini-batches of
 * the MSE of the standardised features, early stopping on the validation MSE (best weights restored),
 * then calibration of the loss normalisation and threshold on the validation rows (held-out, so the
 * threshold is not biased low by what the net memorised). Everything random comes from one seeded
 * `Rng`, and the arithmetic is plain IEEE doubles in a fixed order: the same seed and data give the
 * same weights bit for bit.
 */
import {InputDataError, UsageError} from '../core/index.js'
import type {Rng} from '../core/index.js'
import {createRng} from '../core/index.js'
import type {Activation, Autoencoder, Gradients} from './autoencoder.js'
import {
  DEFAULT_HIDDEN_SIZES,
  cloneAutoencoder,
  createAutoencoder,
  createGradients,
  createWorkspace,
  lossAndGradients,
  reconstruct,
  roundToFloat32,
} from './autoencoder.js'
import {FEATURE_NAMES, FEATURE_SET_VERSION} from './features.js'
import type {Calibration, CalibrationOptions} from './normalisation.js'
import {fitCalibration} from './normalisation.js'
import type {FeatureScaler} from './scaler.js'
import {fitRobustScaler, standardise} from './scaler.js'

/** Row-major feature vectors; a `FeatureMatrix` is one. */
export interface FeatureVectors {
  values: ArrayLike<number>
  length: number
  featureCount: number
}

export interface TrainOptions extends CalibrationOptions {
  /** seeds the split, the initial weights and every shuffle (default 1) */
  seed?: number
  /** hidden layer sizes between input and output (default 32, 16, 8, 16, 32) */
  hiddenSizes?: readonly number[]
  /** hidden-layer activation (default tanh; see autoencoder.ts for why) */
  activation?: Activation
  /** Adam step size at the start (default 5e-3) */
  learningRate?: number
  /**
   * halve the learning rate after this many epochs without improvement (default 4; before
   * `patience` ends the run); 0 keeps it constant. A high start with halving on plateaus reached the
   * loss of a constant 1e-3 in about half the epochs on 50k synthetic windows.
   */
  plateauEpochs?: number
  /** rows per Adam step (default 256) */
  batchSize?: number
  /** upper bound on epochs (default 200) */
  maxEpochs?: number
  /** epochs without a validation improvement before stopping (default 10) */
  patience?: number
  /** relative validation-loss improvement that counts as progress (default 1e-3) */
  minDelta?: number
  /** share of rows held back for early stopping and calibration (default 0.2) */
  validationFraction?: number
  /** names of the features, in column order (default: this feature set) */
  featureNames?: readonly string[]
  featureSetVersion?: number
  onEpoch?: (stats: EpochStats) => void
}

export interface EpochStats {
  epoch: number
  trainLoss: number
  validationLoss: number
}

/** Everything the ONNX export and the TypeScript scoring path need. */
export interface TrainedModel {
  featureNames: string[]
  featureSetVersion: number
  scaler: FeatureScaler
  autoencoder: Autoencoder
  calibration: Calibration
}

export interface TrainResult {
  model: TrainedModel
  history: EpochStats[]
  /** 1-based epoch whose weights were kept */
  bestEpoch: number
  /** validation MSE of the returned (float32-rounded) weights */
  validationLoss: number
  stoppedEarly: boolean
  trainRows: number
  validationRows: number
  elapsedMs: number
  warnings: string[]
}

const ADAM_BETA1 = 0.9
const ADAM_BETA2 = 0.999
const ADAM_EPSILON = 1e-8

export function trainAutoencoder(data: FeatureVectors, options: TrainOptions = {}): TrainResult {
  const started = performance.now()
  const width = data.featureCount
  const rows = data.length
  const seed = options.seed ?? 1
  const batchSize = options.batchSize ?? 256
  const maxEpochs = options.maxEpochs ?? 200
  const patience = options.patience ?? 10
  const minDelta = options.minDelta ?? 1e-3
  let learningRate = options.learningRate ?? 5e-3
  const plateauEpochs = options.plateauEpochs ?? 4
  const validationFraction = options.validationFraction ?? 0.2
  const featureNames = [...(options.featureNames ?? FEATURE_NAMES)]
  if (featureNames.length !== width) throw new UsageError(`${featureNames.length} feature names for ${width} columns`)
  if (!(batchSize >= 1 && maxEpochs >= 1 && patience >= 1 && learningRate > 0)) {
    throw new UsageError('batch size, epochs and patience must be at least 1 and the learning rate positive')
  }
  if (!(validationFraction > 0 && validationFraction < 1)) throw new UsageError(`validation fraction must be in (0, 1), got ${validationFraction}`)
  checkFinite(data)

  const rng = createRng(seed)
  const order = permutation(rows, rng)
  const validationRows = Math.round(rows * validationFraction)
  const trainRows = rows - validationRows
  if (trainRows < 2 || validationRows < 2) {
    throw new InputDataError(`${rows} feature vectors are too few to train on`, {hint: 'train on a longer baseline or more addresses'})
  }
  const trainIdx = order.subarray(validationRows)
  const validationIdx = order.subarray(0, validationRows)

  const trainRaw = gatherRows(data.values, trainIdx, width)
  const validationRaw = gatherRows(data.values, validationIdx, width)
  const scaler = fitRobustScaler(trainRaw, trainRows, width, {})
  const trainX = standardise(scaler, trainRaw, trainRows, width)
  const validationX = standardise(scaler, validationRaw, validationRows, width)

  const sizes = [width, ...(options.hiddenSizes ?? DEFAULT_HIDDEN_SIZES), width]
  const ae = createAutoencoder(sizes, options.activation ?? 'tanh', rng)
  const adam = createAdam(ae)
  const grads = createGradients(ae)
  const ws = createWorkspace(ae, batchSize)
  const input = ws.acts[0] as Float64Array

  const history: EpochStats[] = []
  let best = cloneAutoencoder(ae)
  let bestLoss = Number.POSITIVE_INFINITY
  let bestEpoch = 0
  let stale = 0
  let stoppedEarly = false
  const batchOrder = new Uint32Array(trainRows)
  for (let i = 0; i < trainRows; i++) batchOrder[i] = i
  for (let epoch = 1; epoch <= maxEpochs; epoch++) {
    shuffle(batchOrder, rng)
    let lossSum = 0
    for (let start = 0; start < trainRows; start += batchSize) {
      const n = Math.min(batchSize, trainRows - start)
      for (let r = 0; r < n; r++) {
        const src = (batchOrder[start + r] as number) * width
        input.set(trainX.subarray(src, src + width), r * width)
      }
      lossSum += lossAndGradients(ae, ws, n, grads) * n
      adamStep(ae, grads, adam, learningRate)
    }
    const trainLoss = lossSum / trainRows
    const validationLoss = meanLoss(ae, validationX, validationRows)
    if (!Number.isFinite(trainLoss) || !Number.isFinite(validationLoss)) {
      throw new InputDataError(`training diverged at epoch ${epoch} (loss ${trainLoss})`, {hint: 'lower the learning rate'})
    }
    const stats = {epoch, trainLoss, validationLoss}
    history.push(stats)
    options.onEpoch?.(stats)
    if (validationLoss < bestLoss * (1 - minDelta)) {
      bestLoss = validationLoss
      bestEpoch = epoch
      best = cloneAutoencoder(ae)
      stale = 0
    } else if (++stale >= patience) {
      stoppedEarly = true
      break
    } else if (plateauEpochs > 0 && stale % plateauEpochs === 0) {
      learningRate /= 2
    }
  }
  roundToFloat32(best)
  const validationLoss = meanLoss(best, validationX, validationRows)

  const validationErrors = squaredErrors(best, validationX, validationRows)
  const calibration = fitCalibration(validationErrors, validationRows, width, options)
  return {
    model: {featureNames, featureSetVersion: options.featureSetVersion ?? FEATURE_SET_VERSION, scaler, autoencoder: best, calibration},
    history,
    bestEpoch,
    validationLoss,
    stoppedEarly,
    trainRows,
    validationRows,
    elapsedMs: performance.now() - started,
    warnings: [...calibration.warnings],
  }
}

/**
 * Per-feature squared reconstruction errors of raw feature vectors through the scaler and the net:
 * the TypeScript twin of the ONNX graph's `sq_error` output.
 */
export function reconstructionErrors(model: Pick<TrainedModel, 'scaler' | 'autoencoder'>, data: FeatureVectors): Float32Array {
  const x = standardise(model.scaler, data.values, data.length, data.featureCount)
  return squaredErrors(model.autoencoder, x, data.length)
}

function squaredErrors(ae: Autoencoder, x: Float64Array, rows: number): Float32Array {
  const y = reconstruct(ae, x, rows)
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const d = (y[i] as number) - (x[i] as number)
    out[i] = d * d
  }
  return out
}

function meanLoss(ae: Autoencoder, x: Float64Array, rows: number): number {
  const y = reconstruct(ae, x, rows)
  let sum = 0
  for (let i = 0; i < x.length; i++) {
    const d = (y[i] as number) - (x[i] as number)
    sum += d * d
  }
  return sum / x.length
}

interface AdamState {
  step: number
  m: Float64Array[]
  v: Float64Array[]
}

function createAdam(ae: Autoencoder): AdamState {
  const params = parameters(ae)
  return {step: 0, m: params.map((p) => new Float64Array(p.length)), v: params.map((p) => new Float64Array(p.length))}
}

/** weights and biases in a fixed order: [W0, b0, W1, b1, …] */
function parameters(ae: Autoencoder): Float64Array[] {
  return ae.layers.flatMap((l) => [l.weights, l.bias])
}

function gradientList(g: Gradients): Float64Array[] {
  return g.weights.flatMap((w, l) => [w, g.bias[l] as Float64Array])
}

function adamStep(ae: Autoencoder, grads: Gradients, state: AdamState, lr: number): void {
  state.step++
  const t = state.step
  const stepSize = (lr * Math.sqrt(1 - ADAM_BETA2 ** t)) / (1 - ADAM_BETA1 ** t)
  const params = parameters(ae)
  const gs = gradientList(grads)
  for (let k = 0; k < params.length; k++) {
    const p = params[k] as Float64Array
    const g = gs[k] as Float64Array
    const m = state.m[k] as Float64Array
    const v = state.v[k] as Float64Array
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] as number
      const mi = ADAM_BETA1 * (m[i] as number) + (1 - ADAM_BETA1) * gi
      const vi = ADAM_BETA2 * (v[i] as number) + (1 - ADAM_BETA2) * gi * gi
      m[i] = mi
      v[i] = vi
      p[i] = (p[i] as number) - (stepSize * mi) / (Math.sqrt(vi) + ADAM_EPSILON)
    }
  }
}

function permutation(n: number, rng: Rng): Uint32Array {
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  shuffle(out, rng)
  return out
}

/** Fisher–Yates. */
function shuffle(a: Uint32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = a[i] as number
    a[i] = a[j] as number
    a[j] = t
  }
}

function gatherRows(values: ArrayLike<number>, idx: Uint32Array, width: number): Float64Array {
  const out = new Float64Array(idx.length * width)
  for (let r = 0; r < idx.length; r++) {
    const src = (idx[r] as number) * width
    for (let f = 0; f < width; f++) out[r * width + f] = values[src + f] as number
  }
  return out
}

function checkFinite(data: FeatureVectors): void {
  const n = data.length * data.featureCount
  if (data.values.length < n) throw new UsageError(`feature matrix holds ${data.values.length} values, expected ${n}`)
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(data.values[i] as number)) {
      throw new InputDataError(`feature vector ${Math.floor(i / data.featureCount)} has a non-finite value in column ${i % data.featureCount}`)
    }
  }
}
