import {spawnSync} from 'node:child_process'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {InputDataError} from '../../src/core/errors.js'
import {gaussianSource} from '../../src/infer/autoencoder.js'
import {calibrate} from '../../src/infer/calibrate.js'
import {FEATURE_COUNT, FEATURE_NAMES} from '../../src/infer/features.js'
import type {LoadedModel} from '../../src/infer/model-file.js'
import {closeModel, loadModel, spliceMetadata} from '../../src/infer/model-file.js'
import type {ModelMetadata} from '../../src/infer/model-metadata.js'
import {normalisedScores} from '../../src/infer/normalisation.js'
import {INPUT_NAME, SCORE_OUTPUT, SQ_ERROR_OUTPUT, buildOnnxModel, exportOnnx, trainedModelMetadata} from '../../src/infer/onnx-export.js'
import {runSqErrors, scoreFeatures} from '../../src/infer/score.js'
import type {TrainedModel} from '../../src/infer/train.js'
import {reconstructionErrors, trainAutoencoder} from '../../src/infer/train.js'
import {createRng} from '../../src/core/rng.js'
import {tempDir} from '../helpers/cli.js'
import {NETWORK_A, benignVectors, scanVectors} from './synthetic.js'

const {onnx} = onnxProto
const NOW = new Date('2024-05-01T12:00:00Z')

/** Inputs far outside training as well as near it: the graph must agree everywhere, not only on benign data. */
function randomInputs(rows: number, seed: number): {values: Float32Array; length: number; featureCount: number} {
  const g = gaussianSource(createRng(seed))
  const base = benignVectors(NETWORK_A, rows, seed + 1)
  const values = base.values.map((v, i) => (i % 3 === 0 ? v * (1 + 0.5 * g()) : v + 3 * g()))
  return {values, length: rows, featureCount: FEATURE_COUNT}
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number): void {
  expect(actual.length).toBe(expected.length)
  let worst = 0
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number
    const d = Math.abs((actual[i] as number) - e)
    worst = Math.max(worst, d / (abs + rel * Math.abs(e)))
  }
  expect(worst).toBeLessThanOrEqual(1)
}

function python(): string | undefined {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], {encoding: 'utf8'})
  return r.status === 0 ? '/usr/bin/python3' : undefined
}

describe('ONNX export', () => {
  let dir: string
  let trained: TrainedModel
  let file: string
  let exported: ModelMetadata
  let model: LoadedModel

  beforeAll(async () => {
    dir = tempDir('flowscope-onnx-')
    trained = trainAutoencoder(benignVectors(NETWORK_A, 3000, 21), {seed: 5, maxEpochs: 15}).model
    file = path.join(dir, 'model.onnx')
    exported = await exportOnnx(trained, file, {
      network: 'lab',
      trainingWindow: {since: Date.UTC(2024, 3, 1) * 1000, until: Date.UTC(2024, 3, 8) * 1000},
      windowSec: 300,
      hopSec: 60,
      now: () => NOW,
    })
    model = await loadModel(file)
  })
  afterAll(async () => {
    await closeModel(model)
  })

  it('has the flowscope signature', () => {
    expect(model.session.inputNames).toEqual([INPUT_NAME])
    expect(model.session.outputNames).toEqual([SQ_ERROR_OUTPUT, SCORE_OUTPUT])
    expect(model.warnings).toEqual([])
  })

  it('gives the squared errors of the TypeScript forward pass', async () => {
    const inputs = randomInputs(1000, 3)
    const fromOnnx = await runSqErrors(model, inputs, 128)
    const fromTs = reconstructionErrors(trained, inputs)
    expectClose(fromOnnx, fromTs, 1e-5, 1e-5)
    // and every batch size gives the same result
    expect(await runSqErrors(model, inputs, 1000)).toEqual(fromOnnx)
  })

  it("computes the normalised score in the graph as the scorer does from metadata", async () => {
    const inputs = randomInputs(500, 4)
    const sq = reconstructionErrors(trained, inputs)
    const expected = normalisedScores(sq, inputs.length, FEATURE_COUNT, trained.calibration.normalisation)
    const {Tensor} = await import('onnxruntime-node')
    const out = await model.session.run({[INPUT_NAME]: new Tensor('float32', inputs.values, [inputs.length, FEATURE_COUNT])})
    expectClose(out[SCORE_OUTPUT]?.data as Float32Array, expected, 1e-4, 1e-4)
    const scored = await scoreFeatures(model, inputs)
    expectClose(scored.scores, expected, 1e-4, 1e-4)
  })

  it('round-trips its metadata', () => {
    expect(model.metadata).toEqual(exported)
    expect(model.metadata).toMatchObject({
      featureSetVersion: 4,
      featureNames: [...FEATURE_NAMES],
      network: 'lab',
      trainingWindow: {since: '2024-04-01T00:00:00.000Z', until: '2024-04-08T00:00:00.000Z'},
      windowSec: 300,
      hopSec: 60,
      architecture: {sizes: [22, 48, 24, 12, 24, 48, 22], activation: 'tanh'},
      createdAt: NOW.toISOString(),
      calibration: {threshold: trained.calibration.threshold, fpBudget: 0.001, network: 'lab'},
    })
    expect(model.metadata.scaler).toEqual(trained.scaler)
    expect(model.metadata.calibration?.normalisation).toEqual(trained.calibration.normalisation)
    expect(model.metadata.flowscopeVersion).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('passes the onnx checker (when Python onnx is installed)', async (ctx) => {
    const py = python()
    if (py === undefined) ctx.skip()
    const script = [
      'import json, sys, onnx',
      'm = onnx.load(sys.argv[1])',
      'onnx.checker.check_model(m, full_check=True)',
      'print(json.dumps({"ir": m.ir_version, "opset": [o.version for o in m.opset_import if o.domain == ""],',
      '  "inputs": [i.name for i in m.graph.input], "outputs": [o.name for o in m.graph.output],',
      '  "meta": {p.key: p.value for p in m.metadata_props}}))',
    ].join('\n')
    const r = spawnSync(py as string, ['-c', script, file], {encoding: 'utf8'})
    expect(r.stderr).toBe('')
    const info = JSON.parse(r.stdout) as {ir: number; opset: number[]; inputs: string[]; outputs: string[]; meta: Record<string, string>}
    expect(info.ir).toBe(8)
    expect(info.opset).toEqual([13])
    expect(info.inputs).toEqual(['features'])
    expect(info.outputs).toEqual(['sq_error', 'score'])
    expect(JSON.parse(info.meta.feature_names ?? '[]')).toEqual([...FEATURE_NAMES])
    expect(Number(info.meta.threshold)).toBe(trained.calibration.threshold)
  })

  it('rewrites only the calibration when re-calibrated, never the weights', async () => {
    const out = path.join(dir, 'recalibrated.onnx')
    const benign = benignVectors(NETWORK_A, 2000, 99)
    const result = await calibrate(file, benign, {fpBudget: 0.01, network: 'lab2', outPath: out, now: () => NOW})
    expect(result.metadata.calibration).toMatchObject({network: 'lab2', fpBudget: 0.01, rows: 2000})
    const before = onnx.ModelProto.decode(await readFile(file))
    const after = onnx.ModelProto.decode(await readFile(out))
    const weights = (m: onnxProto.onnx.ModelProto) => (m.graph?.initializer ?? []).filter((t) => t.name?.startsWith('dense_') || t.name?.startsWith('scaler_'))
    expect(weights(after)).toEqual(weights(before))
    const reloaded = await loadModel(out)
    try {
      expect(reloaded.metadata.calibration).toEqual(result.metadata.calibration)
      expect(reloaded.metadata.network).toBe('lab') // the weights still come from lab
      // the in-graph score follows the new normalisation too
      const inputs = scanVectors(20, 1)
      const {Tensor} = await import('onnxruntime-node')
      const run = await reloaded.session.run({[INPUT_NAME]: new Tensor('float32', inputs.values, [20, FEATURE_COUNT])})
      const scored = await scoreFeatures(reloaded, inputs)
      expectClose(run[SCORE_OUTPUT]?.data as Float32Array, scored.scores, 1e-4, 1e-4)
    } finally {
      await closeModel(reloaded)
    }
  })

  it('accepts a model from elsewhere: scores only after calibration, which keeps its graph bytes', async () => {
    const foreign = onnx.ModelProto.decode(buildOnnxModel(trained, trainedModelMetadata(trained)))
    foreign.producerName = 'pytorch'
    foreign.metadataProps = []
    const graph = foreign.graph as onnxProto.onnx.GraphProto
    graph.output = graph.output.filter((o) => o.name === SQ_ERROR_OUTPUT)
    const foreignFile = path.join(dir, 'foreign.onnx')
    await writeFile(foreignFile, onnx.ModelProto.encode(foreign).finish())

    const loaded = await loadModel(foreignFile)
    try {
      expect(loaded.metadata.calibration).toBeNull()
      expect(loaded.warnings.join('\n')).toMatch(/feature_set_version/)
      await expect(scoreFeatures(loaded, benignVectors(NETWORK_A, 10, 1))).rejects.toMatchObject({
        message: expect.stringMatching(/no loss normalisation or threshold/),
        hint: expect.stringMatching(/calibrate-only/),
      })
    } finally {
      await closeModel(loaded)
    }

    await calibrate(foreignFile, benignVectors(NETWORK_A, 2000, 8), {network: 'lab'})
    const after = onnx.ModelProto.decode(await readFile(foreignFile))
    expect(onnx.GraphProto.encode(after.graph as onnxProto.onnx.GraphProto).finish()).toEqual(onnx.GraphProto.encode(graph).finish())
    expect(after.producerName).toBe('pytorch')
    const calibrated = await loadModel(foreignFile)
    try {
      const scored = await scoreFeatures(calibrated, scanVectors(5, 2))
      expect(scored.flaggedCount).toBe(5)
    } finally {
      await closeModel(calibrated)
    }
  })

  it('scores with a model whose batch size is fixed, padding the last batch', async () => {
    const fixed = onnx.ModelProto.decode(buildOnnxModel(trained, trainedModelMetadata(trained)))
    const graph = fixed.graph as onnxProto.onnx.GraphProto
    for (const v of [...graph.input, ...graph.output]) {
      const dim = v.type?.tensorType?.shape?.dim?.[0] as onnxProto.onnx.TensorShapeProto.Dimension | undefined
      if (dim) {
        dim.dimValue = 4
        dim.value = 'dimValue' // the oneof setter drops dimParam
      }
    }
    const fixedFile = path.join(dir, 'fixed.onnx')
    await writeFile(fixedFile, onnx.ModelProto.encode(fixed).finish())
    const loaded = await loadModel(fixedFile)
    try {
      expect(loaded.fixedBatchSize).toBe(4)
      const inputs = randomInputs(10, 6)
      expect(await runSqErrors(loaded, inputs, 8192)).toEqual(await runSqErrors(model, inputs, 8192))
    } finally {
      await closeModel(loaded)
    }
  })

  it('splices metadata without touching other fields', () => {
    const bytes = buildOnnxModel(trained, trainedModelMetadata(trained, {now: () => NOW}))
    const spliced = spliceMetadata(bytes, [{key: 'threshold', value: '7'}])
    const m = onnx.ModelProto.decode(spliced)
    expect(m.metadataProps.map((e) => [e.key, e.value])).toEqual([['threshold', '7']])
    expect(m.graph).toEqual(onnx.ModelProto.decode(bytes).graph)
  })

  it('refuses a model trained on another feature set', async () => {
    const meta = {...trainedModelMetadata(trained), featureSetVersion: 99}
    const other = path.join(dir, 'v99.onnx')
    await writeFile(other, buildOnnxModel(trained, meta))
    await expect(loadModel(other)).rejects.toBeInstanceOf(InputDataError)
    await expect(loadModel(other)).rejects.toThrow(/feature set 99/)
  })

  it('refuses a file that is not a model', async () => {
    const junk = path.join(dir, 'junk.onnx')
    await writeFile(junk, 'not a model at all')
    await expect(loadModel(junk)).rejects.toBeInstanceOf(InputDataError)
  })
})
