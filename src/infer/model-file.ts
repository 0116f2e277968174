/**
 * Reading and rewriting model files. Metadata is read by decoding the ModelProto with onnx-proto
 * (onnxruntime's JS session does not expose custom metadata_props); the session itself is created by
 * onnxruntime-node from the same bytes.
 *
 * Re-calibration rewrites only metadata and, in flowscope's own graphs, the two score-normalisation
 * initializers: weights are untouched. A model produced elsewhere is not re-encoded (onnx-proto knows
 * the ONNX 1.10 schema and would drop newer fields); its top-level `metadata_props` fields (ModelProto
 * field 14) are spliced out of the bytes and the new ones appended, which protobuf parsers read the
 * same as in place.
 */
import {readFile} from 'node:fs/promises'
import {InferenceSession} from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import protobuf from 'protobufjs/minimal.js'

import {InputDataError} from '../core/index.js'
import {FEATURE_NAMES, FEATURE_SET_VERSION} from './features.js'
import type {MetadataEntry, ModelMetadata} from './model-metadata.js'
import {decodeMetadata, encodeMetadata} from './model-metadata.js'
import {INPUT_NAME, PRODUCER_NAME, SCORE_OUTPUT, SQ_ERROR_OUTPUT, replaceNormalisationInitializers} from './onnx-export.js'

const {onnx} = onnxProto

/** ModelProto.metadata_props (onnx.proto3: `repeated StringStringEntryProto metadata_props = 14`). */
const METADATA_FIELD = 14

export interface LoadedModel {
  path: string
  session: InferenceSession
  metadata: ModelMetadata
  featureCount: number
  inputName: string
  sqErrorOutput: string
  /** the graph's own `score` output, when it has one */
  scoreOutput: string | null
  /** a batch dimension fixed in the graph (models exported without a dynamic axis); null when free */
  fixedBatchSize: number | null
  warnings: string[]
}

export interface LoadModelOptions {
  sessionOptions?: InferenceSession.SessionOptions
}

export function readModelBytes(bytes: Uint8Array, source: string): {proto: onnxProto.onnx.ModelProto; metadata: ModelMetadata; warnings: string[]} {
  let proto: onnxProto.onnx.ModelProto
  try {
    proto = onnx.ModelProto.decode(bytes)
  } catch (error) {
    throw new InputDataError(`${source}: not an ONNX model (${error instanceof Error ? error.message : String(error)})`, {cause: error})
  }
  const entries: MetadataEntry[] = (proto.metadataProps ?? []).map((e) => ({key: e.key ?? '', value: e.value ?? ''}))
  const {metadata, warnings} = decodeMetadata(entries, source)
  return {proto, metadata, warnings}
}

/**
 * Opens a model for scoring: parses its metadata, checks that it was trained on this feature set and
 * has the flowscope signature (float32 `features` [N, F] in, `sq_error` [N, F] out), and creates an
 * onnxruntime session.
 */
export async function loadModel(file: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (error) {
    throw new InputDataError(`${file}: cannot read the model file`, {cause: error, hint: 'check the --model path'})
  }
  const {metadata, warnings} = readModelBytes(bytes, file)
  checkFeatureSet(metadata, file)
  let session: InferenceSession
  try {
    session = await InferenceSession.create(bytes, options.sessionOptions ?? {})
  } catch (error) {
    throw new InputDataError(`${file}: onnxruntime cannot load the model: ${error instanceof Error ? error.message : String(error)}`, {cause: error})
  }
  const signature = resolveSignature(session, metadata.featureNames.length, file, warnings)
  return {path: file, session, metadata, featureCount: metadata.featureNames.length, ...signature, warnings}
}

function checkFeatureSet(metadata: ModelMetadata, file: string): void {
  if (metadata.featureSetVersion !== FEATURE_SET_VERSION) {
    throw new InputDataError(
      `${file}: the model was trained on feature set ${metadata.featureSetVersion}, this flowscope computes feature set ${FEATURE_SET_VERSION}`,
      {hint: 'retrain the model with `flowscope train`'},
    )
  }
  const expected = FEATURE_NAMES.join(',')
  if (metadata.featureNames.join(',') !== expected) {
    throw new InputDataError(`${file}: the model's feature_names differ from feature set ${FEATURE_SET_VERSION} (${expected})`)
  }
}

function resolveSignature(
  session: InferenceSession,
  featureCount: number,
  file: string,
  warnings: string[],
): Pick<LoadedModel, 'inputName' | 'sqErrorOutput' | 'scoreOutput' | 'fixedBatchSize'> {
  const signatureHint = `the model must take float32 "${INPUT_NAME}" [N, ${featureCount}] and return float32 "${SQ_ERROR_OUTPUT}" [N, ${featureCount}]`
  let inputName = INPUT_NAME
  if (!session.inputNames.includes(INPUT_NAME)) {
    if (session.inputNames.length !== 1) throw new InputDataError(`${file}: no "${INPUT_NAME}" input`, {hint: signatureHint})
    inputName = session.inputNames[0] as string
    warnings.push(`${file}: using the model's only input "${inputName}" as "${INPUT_NAME}"`)
  }
  let sqErrorOutput = SQ_ERROR_OUTPUT
  if (!session.outputNames.includes(SQ_ERROR_OUTPUT)) {
    if (session.outputNames.length !== 1) throw new InputDataError(`${file}: no "${SQ_ERROR_OUTPUT}" output`, {hint: signatureHint})
    sqErrorOutput = session.outputNames[0] as string
    warnings.push(`${file}: using the model's only output "${sqErrorOutput}" as "${SQ_ERROR_OUTPUT}"`)
  }
  const input = session.inputMetadata.find((m) => m.name === inputName)
  let fixedBatchSize: number | null = null
  if (input?.isTensor) {
    const [batch, width] = input.shape
    if (input.type !== 'float32' || input.shape.length !== 2 || (typeof width === 'number' && width !== featureCount)) {
      throw new InputDataError(`${file}: input "${inputName}" is ${input.type} [${input.shape.join(', ')}]`, {hint: signatureHint})
    }
    if (typeof batch === 'number' && batch > 0) {
      fixedBatchSize = batch
      warnings.push(`${file}: the model's batch size is fixed at ${batch}; export it with a dynamic first axis for faster scoring`)
    }
  }
  return {inputName, sqErrorOutput, scoreOutput: session.outputNames.includes(SCORE_OUTPUT) ? SCORE_OUTPUT : null, fixedBatchSize}
}

/**
 * The model's bytes with `metadata` written into them (and, in a flowscope graph, the normalisation
 * initializers set from `metadata.calibration`); weights are left exactly as they were.
 */
export function rewriteModel(bytes: Uint8Array, metadata: ModelMetadata, source: string): Uint8Array {
  const {proto} = readModelBytes(bytes, source)
  const entries = encodeMetadata(metadata)
  if (proto.producerName === PRODUCER_NAME && proto.graph && metadata.calibration !== null) {
    if (replaceNormalisationInitializers(proto.graph, metadata.calibration)) {
      proto.metadataProps = entries.map((e) => onnx.StringStringEntryProto.create(e))
      return onnx.ModelProto.encode(proto).finish()
    }
  }
  return spliceMetadata(bytes, entries)
}

/** Replaces every top-level metadata_props field of a serialised ModelProto, leaving all other bytes as they were. */
export function spliceMetadata(bytes: Uint8Array, entries: readonly MetadataEntry[]): Uint8Array {
  const reader = protobuf.Reader.create(bytes)
  const kept: Uint8Array[] = []
  while (reader.pos < reader.len) {
    const start = reader.pos
    const tag = reader.uint32()
    reader.skipType(tag & 7)
    if (tag >>> 3 !== METADATA_FIELD) kept.push(bytes.subarray(start, reader.pos))
  }
  const writer = protobuf.Writer.create()
  for (const e of entries) writer.uint32((METADATA_FIELD << 3) | 2).bytes(onnx.StringStringEntryProto.encode(e).finish())
  kept.push(writer.finish())
  const out = new Uint8Array(kept.reduce((n, b) => n + b.length, 0))
  let offset = 0
  for (const b of kept) {
    out.set(b, offset)
    offset += b.length
  }
  return out
}

/** Releases the model's onnxruntime session. */
export async function closeModel(model: LoadedModel): Promise<void> {
  await model.session.release()
}
