/**
 * `train --calibrate-only`: re-fits a model's loss normalisation and threshold on another network's
 * benign windows, keeping its weights (design §5: a model trained on one network transfers to another
 * once its errors are standardised by the new network's benign median/MAD).
 */
import {readFile} from 'node:fs/promises'

import {InputDataError} from '../core/index.js'
import type {LoadModelOptions} from './model-file.js'
import {closeModel, loadModel, rewriteModel} from './model-file.js'
import type {ModelMetadata} from './model-metadata.js'
import type {CalibrationOptions} from './normalisation.js'
import {fitCalibration} from './normalisation.js'
import {writeModelFile} from './onnx-export.js'
import {runSqErrors} from './score.js'
import type {FeatureVectors} from './train.js'

export interface CalibrateOptions extends CalibrationOptions, LoadModelOptions {
  /** tenant of the benign windows; recorded in the metadata */
  network?: string | null
  /** where to write the re-calibrated model (default: over `modelPath`) */
  outPath?: string
  batchSize?: number
  now?: () => Date
}

export interface CalibrateResult {
  metadata: ModelMetadata
  /** the calibration the model carried before, for comparison */
  previous: ModelMetadata['calibration']
  path: string
  warnings: string[]
}

export async function calibrate(modelPath: string, benign: FeatureVectors, options: CalibrateOptions = {}): Promise<CalibrateResult> {
  const model = await loadModel(modelPath, options.sessionOptions ? {sessionOptions: options.sessionOptions} : {})
  try {
    if (benign.length < 2) {
      throw new InputDataError(`no benign windows to calibrate ${modelPath} on (${benign.length})`, {hint: 'check the network and time range'})
    }
    const sq = await runSqErrors(model, benign, options.batchSize)
    const fitted = fitCalibration(sq, benign.length, model.featureCount, options)
    const metadata: ModelMetadata = {
      ...model.metadata,
      calibration: {
        normalisation: fitted.normalisation,
        threshold: fitted.threshold,
        fpBudget: fitted.fpBudget,
        network: options.network ?? null,
        rows: fitted.rows,
        fpRate: fitted.calibrationFpRate,
        calibratedAt: (options.now ?? (() => new Date()))().toISOString(),
      },
    }
    const bytes = rewriteModel(await readFile(modelPath), metadata, modelPath)
    const out = options.outPath ?? modelPath
    await writeModelFile(out, bytes)
    return {metadata, previous: model.metadata.calibration, path: out, warnings: [...model.warnings, ...fitted.warnings]}
  } finally {
    await closeModel(model)
  }
}
