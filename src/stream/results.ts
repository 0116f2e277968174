/**
 * What a window leaves in the store: its detections (idempotent by network, address, window start and
 * model, so a replayed window rewrites the same rows) and one `stream_windows` row of metrics.
 */
import type {FlowBatch} from '../core/index.js'
import {writeDetections} from '../io/index.js'
import type {Detection, DetectionFeature, FlowStore, WrittenIncident} from '../io/index.js'
import type {StreamWindowView} from '../report/index.js'

/**
 * One address flagged in one model window, as a scorer returns it: the store's `Detection` without what
 * the window's outcome says once for all of them (network, model), the pass ('stream') and the run.
 */
export type WindowDetection = Omit<Detection, 'network' | 'model' | 'pass' | 'runId' | 'topFeatures'> & {
  /** the features that drove it (none when the scorer does not explain) */
  topFeatures?: DetectionFeature[]
}

/** What a scorer returns for one window of one network. */
export interface WindowOutcome {
  /** model identity (name or content hash): part of the detection key */
  model: string
  detections: WindowDetection[]
  /** addresses the first pass could not decide: for the post-processing engine */
  undetermined: string[]
}

export interface ScoreContext {
  network: string
  /** set for a straggler window: records of this shard only */
  straggler: string | undefined
  shards: readonly string[]
}

/**
 * Scores one window of one network. Called once per (window, network) with the window's flows;
 * windows are scored one at a time, in order of their end.
 */
export type ScoreWindow = (flows: FlowBatch, windowStartUs: number, windowEndUs: number, context: ScoreContext) => Promise<WindowOutcome>

/**
 * The stream's own tables. `detections` and `runs` belong to the store schema (src/io/store/schema.ts): a
 * window writes its detections there with pass 'stream', and a run its `runs` row.
 */
export const STREAM_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS stream_windows (
  run_id         INTEGER,
  worker_id      VARCHAR NOT NULL,
  stream         VARCHAR NOT NULL,
  window_start   TIMESTAMP NOT NULL,
  window_end     TIMESTAMP NOT NULL,
  straggler      VARCHAR,
  closed_by      VARCHAR NOT NULL,
  records        UBIGINT NOT NULL,
  networks       UINTEGER NOT NULL,
  detections     UINTEGER NOT NULL,
  undetermined   UINTEGER NOT NULL,
  late_dropped   UBIGINT NOT NULL,
  processing_ms  DOUBLE NOT NULL,
  ratio          DOUBLE NOT NULL,
  utilisation    DOUBLE,
  scale_signal   VARCHAR NOT NULL,
  shards         VARCHAR NOT NULL,
  committed_at   TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_checkpoints (
  stream          VARCHAR NOT NULL,
  shard_id        VARCHAR NOT NULL,
  sequence_number VARCHAR NOT NULL,
  frontier_us     BIGINT,
  max_event_us    BIGINT,
  updated_at      TIMESTAMP NOT NULL,
  PRIMARY KEY (stream, shard_id)
);
`

export async function ensureStreamTables(store: FlowStore): Promise<void> {
  await store.run(STREAM_TABLES_SQL)
}

/** A row of `stream_windows`: the window as the worker reports it, with the number of its networks. */
export interface WindowMetricsRow extends Omit<StreamWindowView, 'networks'> {
  runId: number | undefined
  workerId: string
  stream: string
  closedBy: string
  networks: number
  scaleSignal: string
  shards: readonly string[]
  committedAtMs: number
}

export interface NetworkDetections {
  network: string
  model: string
  detections: WindowDetection[]
}


/**
 * Builds (or extends) the incidents of a window's detections in the window's transaction, after the
 * detections are written, and returns the incidents they belong to as written.
 */
export type RaiseIncidents = (store: FlowStore, detections: readonly Detection[], runId: number | undefined) => Promise<WrittenIncident[]>

/**
 * Writes a window's detections, their incidents (with `raiseIncidents`) and its metrics row in one
 * transaction. `metrics` is called after the detections and incidents are written, so its processing
 * time includes writing them.
 */
export async function commitWindow(
  store: FlowStore,
  runId: number | undefined,
  results: NetworkDetections[],
  metrics: () => WindowMetricsRow,
  raiseIncidents?: RaiseIncidents,
): Promise<{metrics: WindowMetricsRow; incidents: WrittenIncident[]}> {
  return store.transaction(async () => {
    // one row per key: a scorer that names an address twice keeps its last verdict
    const detections = [...windowDetections(results, runId)]
    await writeDetections(store, detections)
    const incidents = raiseIncidents !== undefined && detections.length > 0 ? await raiseIncidents(store, detections, runId) : []
    const m = metrics()
    await store.run(
      `INSERT INTO stream_windows VALUES ($1::INTEGER, $2, $3, make_timestamp($4::BIGINT), make_timestamp($5::BIGINT), $6, $7, $8, $9, $10, $11, $12,
         $13::DOUBLE, $14::DOUBLE, $15::DOUBLE, $16, $17, make_timestamp($18::BIGINT))`,
      [
        m.runId ?? null,
        m.workerId,
        m.stream,
        Math.round(m.windowStartUs),
        Math.round(m.windowEndUs),
        m.straggler ?? null,
        m.closedBy,
        m.records,
        m.networks,
        m.detections,
        m.undetermined,
        m.lateDropped,
        m.processingMs,
        m.ratio,
        Number.isFinite(m.utilisation) ? m.utilisation : null,
        m.scaleSignal,
        m.shards.join(','),
        Math.round(m.committedAtMs * 1000),
      ],
    )
    return {metrics: m, incidents}
  })
}

function* windowDetections(results: readonly NetworkDetections[], runId: number | undefined): Generator<Detection> {
  for (const r of results) {
    for (const d of r.detections) {
      yield {
        network: r.network,
        address: d.address,
        windowStart: d.windowStart,
        windowEnd: d.windowEnd,
        model: r.model,
        pass: 'stream',
        score: d.score,
        threshold: d.threshold,
        attackType: d.attackType,
        topFeatures: d.topFeatures ?? [],
        asn: d.asn ?? null,
        asName: d.asName ?? null,
        runId: runId ?? null,
      }
    }
  }
}
