/**
 * Shared set-up of the bucket engine's tests: a runnable worker entry, generated captures in stores,
 * a small trained model.
 *
 * Worker processes cannot run TypeScript (no loader is installed), and the CLI forks
 * `dist/buckets/worker.js`. Tests must not depend on someone having run `npm run build` on the current
 * sources, nor rebuild `dist/` under other processes' feet, so they transpile `src/` (per file,
 * without type checking: `tsc` checks types separately) into a folder named by a hash of the sources
 * under `node_modules/.cache`, where the package's dependencies resolve. Concurrent test files build
 * into temporary folders and the first to rename its folder into place wins; later runs reuse it.
 */
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {mkdir, rename, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'
import ts from 'typescript'

import type {TrainResult} from '../../src/infer/index.js'
import {computeFeatures, exportOnnx, trainAutoencoder} from '../../src/infer/index.js'
import type {SlowAttackKind} from '../../src/gen/index.js'
import {generateTraffic} from '../../src/gen/index.js'
import type {GenerateResult} from '../../src/gen/index.js'
import {FlowStore, ingestCapture} from '../../src/io/index.js'
import {ROOT} from '../helpers/cli.js'

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(p))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p)
  }
  return out.sort()
}

/** Path of a worker entry compiled from the current sources. */
export async function buildWorkerEntry(): Promise<string> {
  const src = path.join(ROOT, 'src')
  const files = sourceFiles(src)
  const hash = createHash('sha256')
  for (const f of files) hash.update(f).update(readFileSync(f))
  const cache = path.join(ROOT, 'node_modules', '.cache')
  const out = path.join(cache, `flowscope-worker-${hash.digest('hex').slice(0, 16)}`)
  const entry = path.join(out, 'buckets', 'worker.js')
  if (existsSync(entry)) return entry
  // builds of older sources, left by earlier runs (an hour old, so no test still runs from one)
  for (const old of existsSync(cache) ? readdirSync(cache) : []) {
    const p = path.join(cache, old)
    if (old.startsWith('flowscope-worker-') && p !== out && Date.now() - statSync(p).mtimeMs > 3_600_000) await rm(p, {recursive: true, force: true})
  }
  const tmp = `${out}.${process.pid}.tmp`
  await rm(tmp, {recursive: true, force: true})
  for (const f of files) {
    const js = ts.transpileModule(readFileSync(f, 'utf8'), {
      compilerOptions: {module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false},
      fileName: f,
    }).outputText
    const target = path.join(tmp, path.relative(src, f).replace(/\.ts$/, '.js'))
    await mkdir(path.dirname(target), {recursive: true})
    await writeFile(target, js)
  }
  await writeFile(path.join(tmp, 'package.json'), '{"type": "module"}\n')
  try {
    await rename(tmp, out)
  } catch {
    // another test file finished the same build first
    await rm(tmp, {recursive: true, force: true})
  }
  return entry
}

export interface GeneratedStore {
  store: string
  capture: GenerateResult
}

/** Generates a capture and ingests it as `network` into `storePath` (appending to it). */
export async function generateInto(
  storePath: string,
  dir: string,
  o: {network: string; seed: number; packets: number; timelineSec: number; attacks?: readonly SlowAttackKind[]},
): Promise<GeneratedStore> {
  const capture = await generateTraffic({
    out: path.join(dir, `${o.network}.pcap`),
    seed: o.seed,
    packets: o.packets,
    timelineSec: o.timelineSec,
    attacks: o.attacks ?? [],
    maxPayload: 256,
    truthFlows: true,
  })
  const store = await FlowStore.open(storePath)
  try {
    await ingestCapture(store, capture.out, {network: o.network})
  } finally {
    await store.close()
  }
  return {store: storePath, capture}
}

/** Trains and exports a model on a store's windows (seeded; few epochs: these tests compare passes, not models). */
export async function trainModel(storePath: string, out: string, maxEpochs: number): Promise<TrainResult> {
  const store = await FlowStore.open(storePath, {readOnly: true})
  try {
    const features = await computeFeatures(store, {})
    const trained = trainAutoencoder(features, {seed: 3, maxEpochs, patience: 6})
    await exportOnnx(trained.model, out, {network: null})
    return trained
  } finally {
    await store.close()
  }
}

/** Addresses that took part in any attack flow of a generated capture (from its per-flow truth). */
export function attackAddresses(capture: GenerateResult): Set<string> {
  const out = new Set<string>()
  if (capture.flowsPath === undefined) return out
  const lines = readFileSync(capture.flowsPath, 'utf8').split('\n')
  for (const line of lines.slice(1)) {
    const c = line.split(',')
    if (c.length < 11 || c[10]!.startsWith('benign')) continue
    out.add(c[2]!)
    out.add(c[3]!)
  }
  return out
}
