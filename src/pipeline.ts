/**
 * The scheduled job in one call (`flowscope run`): ingest → sample → analyze → report, under the
 * store lock so two cron runs on one store never overlap. Each step is a layer function; this module
 * only sequences them and collects what each returned.
 */
import {runAnalyze} from './buckets/index.js'
import type {AnalyzeResult} from './buckets/index.js'
import {bundledModelPath} from './infer/index.js'
import {FlowStore, ingestFiles, openStoreForReading, staleLockMessage, withStoreLock} from './io/index.js'
import {createRng} from './core/index.js'
import type {FlowFileIngestResult, IngestResult} from './io/index.js'
import {buildReport, renderReportHtml, writeReportFile} from './report/index.js'
import type {ReportData} from './report/index.js'
import {sampleCaptureIntoStore} from './sampling/index.js'
import type {PacketSamplerName, SampleCaptureIntoStoreResult} from './sampling/index.js'

export interface PipelineOptions {
  db: string
  files: string[]
  network: string
  /** 1-in-N: also store a sampled copy of each capture (network `<network>-sampled`) with estimates vs truth */
  sampleRate?: number
  sampler?: PacketSamplerName
  seed?: number
  /** analyze the full-rate network with this model (default: bundled); false skips analysis */
  analyze?: boolean
  model?: string
  workers?: number
  /** HTML report file (none when undefined) */
  html?: string
  skipBad?: boolean
  /** the report's incidents only of at least this severity (1..5) */
  minSeverity?: number
  onStep?: (step: string) => void
  /** a warning for the user (a stale lock taken over) */
  onWarning?: (message: string) => void
}

export interface PipelineResult {
  ingest: (IngestResult | FlowFileIngestResult)[]
  samples: SampleCaptureIntoStoreResult[]
  analyze: Omit<AnalyzeResult, 'firstDetections' | 'postDetections' | 'postScores'> | null
  report: ReportData
  html: string | null
}

export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  return withStoreLock(o.db, 'run', async () => {
    const ingest: (IngestResult | FlowFileIngestResult)[] = []
    const samples: SampleCaptureIntoStoreResult[] = []
    // the first capture decodes while the store opens, each next one while the previous commits
    const opening = FlowStore.open(o.db)
    try {
      ingest.push(
        ...(await ingestFiles(opening, o.files, {
          network: o.network,
          ...(o.skipBad === undefined ? {} : {skipBad: o.skipBad}),
          onFileStart: (file) => {
            o.onStep?.(`ingest ${file}`)
          },
        })),
      )
      const store = await opening
      if (o.sampleRate !== undefined) {
        for (const r of ingest) {
          if (r.content !== 'packets') continue
          o.onStep?.(`sample ${r.file} at 1/${o.sampleRate}`)
          samples.push(
            await sampleCaptureIntoStore(store, r.file, {
              sampler: o.sampler ?? 'systematic',
              rate: o.sampleRate,
              seed: o.seed ?? 1,
              rng: createRng(o.seed ?? 1),
              network: `${o.network}-sampled`,
              sourceNetwork: o.network,
            }),
          )
        }
      }
    } finally {
      await (await opening.catch(() => undefined))?.close()
    }
    let analyze: PipelineResult['analyze'] = null
    if (o.analyze !== false) {
      o.onStep?.(`analyze ${o.network}`)
      const {firstDetections: _f, postDetections: _p, postScores: _s, ...rest} = await runAnalyze(o.db, {
        model: o.model ?? bundledModelPath(),
        network: o.network,
        ...(o.workers === undefined ? {} : {workers: o.workers}),
      })
      analyze = rest
    }
    o.onStep?.('report')
    // the analysis warned already of stored rows left out (analyze.warnings)
    const store = await openStoreForReading(o.db)
    let report: ReportData
    try {
      report = await buildReport(store, o.minSeverity === undefined ? {} : {minSeverity: o.minSeverity})
    } finally {
      await store.close()
    }
    if (o.html !== undefined) await writeReportFile(o.html, await renderReportHtml(report))
    return {ingest, samples, analyze, report, html: o.html ?? null}
  }, {onStale: (h, file) => o.onWarning?.(staleLockMessage(file, h))})
}
