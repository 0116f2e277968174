/**
 * Builds a standard ONNX model (IR 8, default-domain opset 13, nothing custom) from a trained
 * autoencoder, so onnxruntime, Python's `onnx`/`onnxruntime` or any other runtime can run it:
 *
 *   features [N, F] float32
 *     → Sub(scaler_center) → Div(scaler_scale)                       = z (robust scaler, baked in)
 *     → Gemm(dense_0) → Tanh → … → Gemm(dense_last)                  = reconstruction (linear output)
 *     → Sub(z) → Mul(self)                                           = sq_error [N, F]   (output 1)
 *     → Sqrt → Sub(err_median) → Div(err_scale) → Relu → Mul(self)
 *     → ReduceSum(axis 1) → Sqrt                                     = score [N]         (output 2)
 *
 * `sq_error` is the model's contract (a model brought from elsewhere needs only `features` →
 * `sq_error`); `score` is a convenience for other consumers and is recomputed from metadata by the
 * scorer. Its constants live in initializers named `err_median` and `err_scale`, which
 * `calibrate` rewrites along with the metadata.
 */
import {mkdir, rename, writeFile} from 'node:fs/promises'
import path from 'node:path'
import onnxProto from 'onnx-proto'

import {UsageError} from '../core/index.js'
import type {ModelCalibration, ModelMetadata} from './model-metadata.js'
import {encodeMetadata} from './model-metadata.js'
import type {TrainedModel} from './train.js'
import {flowscopeVersion} from './version.js'

const {onnx} = onnxProto

export const ONNX_IR_VERSION = 8
export const ONNX_OPSET = 13
export const INPUT_NAME = 'features'
export const SQ_ERROR_OUTPUT = 'sq_error'
export const SCORE_OUTPUT = 'score'
export const ERR_MEDIAN_INITIALIZER = 'err_median'
export const ERR_SCALE_INITIALIZER = 'err_scale'
export const PRODUCER_NAME = 'flowscope'

export interface ExportInfo {
  /** tenant whose baseline trained the weights (and, at first, the calibration) */
  network?: string | null
  /** baseline time range, µs since the epoch */
  trainingWindow?: {since?: number; until?: number} | null
  windowSec?: number | null
  hopSec?: number | null
  now?: () => Date
  /** defaults to the version in flowscope's package.json */
  flowscopeVersion?: string
}

/** The metadata a freshly trained model is exported with. */
export function trainedModelMetadata(model: TrainedModel, info: ExportInfo = {}): ModelMetadata {
  const now = (info.now ?? (() => new Date()))().toISOString()
  const iso = (us: number | undefined): string | null => (us === undefined ? null : new Date(us / 1000).toISOString())
  const c = model.calibration
  return {
    featureSetVersion: model.featureSetVersion,
    featureNames: [...model.featureNames],
    network: info.network ?? null,
    trainingWindow: info.trainingWindow ? {since: iso(info.trainingWindow.since), until: iso(info.trainingWindow.until)} : null,
    windowSec: info.windowSec ?? null,
    hopSec: info.hopSec ?? null,
    architecture: {sizes: [...model.autoencoder.sizes], activation: model.autoencoder.activation},
    scaler: model.scaler,
    calibration: {
      normalisation: c.normalisation,
      threshold: c.threshold,
      fpBudget: c.fpBudget,
      network: info.network ?? null,
      rows: c.rows,
      fpRate: c.calibrationFpRate,
      calibratedAt: now,
    },
    createdAt: now,
    flowscopeVersion: info.flowscopeVersion ?? flowscopeVersion(),
  }
}

/** Serialised ONNX ModelProto of a trained model. */
export function buildOnnxModel(model: TrainedModel, metadata: ModelMetadata): Uint8Array {
  const F = model.featureNames.length
  const ae = model.autoencoder
  if (ae.sizes[0] !== F || model.scaler.center.length !== F) {
    throw new UsageError(`model shape mismatch: ${F} features, autoencoder input ${ae.sizes[0]}, scaler ${model.scaler.center.length}`)
  }
  if (metadata.calibration === null) throw new UsageError('a model is exported with its calibration; calibrate it first')

  const nodes: onnxProto.onnx.INodeProto[] = []
  const initializers: onnxProto.onnx.ITensorProto[] = [
    floatTensor('scaler_center', [F], model.scaler.center),
    floatTensor('scaler_scale', [F], model.scaler.scale),
  ]
  const node = (opType: string, inputs: string[], output: string, attribute?: onnxProto.onnx.IAttributeProto[]): string => {
    nodes.push({opType, input: inputs, output: [output], name: `${output}_${opType.toLowerCase()}`, ...(attribute ? {attribute} : {})})
    return output
  }

  node('Sub', [INPUT_NAME, 'scaler_center'], 'centered')
  let x = node('Div', ['centered', 'scaler_scale'], 'standardised')
  const last = ae.layers.length - 1
  ae.layers.forEach((layer, l) => {
    initializers.push(floatTensor(`dense_${l}_weight`, [layer.inputs, layer.outputs], layer.weights))
    initializers.push(floatTensor(`dense_${l}_bias`, [layer.outputs], layer.bias))
    const out = node('Gemm', [x, `dense_${l}_weight`, `dense_${l}_bias`], l === last ? 'reconstruction' : `dense_${l}`)
    x = l === last ? out : node(ae.activation === 'tanh' ? 'Tanh' : 'Relu', [out], `hidden_${l}`)
  })
  node('Sub', ['reconstruction', 'standardised'], 'residual')
  node('Mul', ['residual', 'residual'], SQ_ERROR_OUTPUT)

  const norm = metadata.calibration.normalisation
  initializers.push(floatTensor(ERR_MEDIAN_INITIALIZER, [F], norm.median))
  initializers.push(floatTensor(ERR_SCALE_INITIALIZER, [F], norm.scale))
  initializers.push({name: 'reduce_axes', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1]})
  node('Sqrt', [SQ_ERROR_OUTPUT], 'abs_error')
  node('Sub', ['abs_error', ERR_MEDIAN_INITIALIZER], 'err_centered')
  node('Div', ['err_centered', ERR_SCALE_INITIALIZER], 'err_standardised')
  node('Relu', ['err_standardised'], 'err_positive')
  node('Mul', ['err_positive', 'err_positive'], 'err_positive_sq')
  node('ReduceSum', ['err_positive_sq', 'reduce_axes'], 'score_sq', [{name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0}])
  node('Sqrt', ['score_sq'], SCORE_OUTPUT)

  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{domain: '', version: ONNX_OPSET}],
    producerName: PRODUCER_NAME,
    producerVersion: metadata.flowscopeVersion ?? '',
    domain: 'dev.flowscope',
    modelVersion: metadata.featureSetVersion,
    docString: 'flowscope autoencoder: per-feature squared reconstruction error of standardised flow features per (address, window)',
    graph: {
      name: 'flowscope_autoencoder',
      node: nodes,
      initializer: initializers,
      input: [tensorValueInfo(INPUT_NAME, ['N', F])],
      output: [tensorValueInfo(SQ_ERROR_OUTPUT, ['N', F]), tensorValueInfo(SCORE_OUTPUT, ['N'])],
    },
    metadataProps: encodeMetadata(metadata),
  })
  return onnx.ModelProto.encode(proto).finish()
}

/** Writes the ONNX file (creating its folder) and returns the metadata written into it. */
export async function exportOnnx(model: TrainedModel, file: string, info: ExportInfo = {}): Promise<ModelMetadata> {
  const metadata = trainedModelMetadata(model, info)
  const bytes = buildOnnxModel(model, metadata)
  await mkdir(path.dirname(path.resolve(file)), {recursive: true})
  await writeModelFile(file, bytes)
  return metadata
}

/** Writes `bytes` to `file` through a temporary file and a rename, so a crash never leaves half a model. */
export async function writeModelFile(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, bytes)
  await rename(tmp, file)
}

/** A float32 tensor; values are rounded to float32 as they are packed. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnxProto.onnx.ITensorProto {
  return {name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(values, (v) => Math.fround(v))}
}

function tensorValueInfo(name: string, shape: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: {dim: shape.map((d) => (typeof d === 'number' ? {dimValue: d} : {dimParam: d}))},
      },
    },
  }
}

/** Replaces the score-normalisation initializers of a flowscope graph (a no-op for graphs without them). */
export function replaceNormalisationInitializers(graph: onnxProto.onnx.IGraphProto, calibration: ModelCalibration): boolean {
  let replaced = 0
  for (const t of graph.initializer ?? []) {
    if (t.name === ERR_MEDIAN_INITIALIZER || t.name === ERR_SCALE_INITIALIZER) {
      const values = t.name === ERR_MEDIAN_INITIALIZER ? calibration.normalisation.median : calibration.normalisation.scale
      t.floatData = Array.from(values, (v) => Math.fround(v))
      t.rawData = null
      replaced++
    }
  }
  return replaced === 2
}
