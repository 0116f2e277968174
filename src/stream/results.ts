/**
 * What a window leaves in the store: its detections (idempotent by network, address, window start and
 * model, so a replayed window rewrites the same rows) and one `stream_windows` row of metrics.
 */
import {duckdb} from '../core/index.js'
import type {FlowBatch} from '../core/index.js'
import type {FlowStore} from '../io/index.js'

/** One address flagged in one window (a row of `detections` with pass 'stream'). */
export interface Detection {
  /** the address the detection is about (text form, as in `flows.src_ip`) */
  address: string
  windowStartUs: number
  windowEndUs: number
  score: number
  threshold: number
  /** attack type guess (scan, flood, amplification, brute_force, beaconing, exfiltration, unknown): `attack_type` */
  kind: string
  /** the features that drove it, stored as `top_features` */
  features?: Array<{name: string; value: number; z?: number}>
  asn?: number
  asName?: string
}

/** What a scorer returns for one window of one network. */
export interface WindowOutcome {
  /** model identity (name or content hash): part of the detection key */
  model: string
  detections: Detection[]
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

export interface WindowMetricsRow {
  runId: number | undefined
  workerId: string
  stream: string
  windowStartUs: number
  windowEndUs: number
  straggler: string | undefined
  closedBy: string
  records: number
  networks: number
  detections: number
  undetermined: number
  lateDropped: number
  processingMs: number
  ratio: number
  utilisation: number
  scaleSignal: string
  shards: readonly string[]
  committedAtMs: number
}

export interface NetworkDetections {
  network: string
  model: string
  detections: Detection[]
}


/**
 * Writes a window's detections and its metrics row in one transaction. `metrics` is called after the
 * detections are written, so its processing time includes writing them.
 */
export async function commitWindow(
  store: FlowStore,
  runId: number | undefined,
  results: NetworkDetections[],
  metrics: () => WindowMetricsRow,
): Promise<WindowMetricsRow> {
  // one row per key: a scorer that names an address twice keeps its last verdict
  const rows = new Map<string, [NetworkDetections, Detection]>()
  for (const r of results) for (const d of r.detections) rows.set(`${r.network}\u0000${d.address}\u0000${d.windowStartUs}\u0000${r.model}`, [r, d])
  const all = [...rows.values()]
  const detectedAtUs = Math.round(Date.now() * 1000)
  return store.transaction(async () => {
    if (all.length > 0) {
      // staged through an appender, then one upsert: a VALUES list with thousands of parameters a
      // statement costs DuckDB far more to bind than the rows cost to write (a model round can flag
      // tens of thousands of address-windows)
      await store.run('CREATE TEMP TABLE IF NOT EXISTS stream_detections_in AS SELECT * FROM detections WHERE false')
      await store.run('DELETE FROM stream_detections_in')
      const a = await store.connection.createAppender('stream_detections_in', null, 'temp')
      const detectedAt = new (duckdb().DuckDBTimestampValue)(BigInt(detectedAtUs))
      try {
        for (const [r, d] of all) {
          a.appendVarchar(r.network)
          a.appendVarchar(d.address)
          a.appendTimestamp(new (duckdb().DuckDBTimestampValue)(BigInt(Math.round(d.windowStartUs))))
          a.appendTimestamp(new (duckdb().DuckDBTimestampValue)(BigInt(Math.round(d.windowEndUs))))
          a.appendVarchar(r.model)
          a.appendVarchar('stream')
          a.appendDouble(d.score)
          a.appendDouble(d.threshold)
          a.appendVarchar(d.kind)
          a.appendVarchar(JSON.stringify(d.features ?? []))
          if (d.asn === undefined || d.asn === null) a.appendNull()
          else a.appendUInteger(d.asn)
          if (d.asName === undefined || d.asName === null) a.appendNull()
          else a.appendVarchar(d.asName)
          if (runId === undefined || runId === null) a.appendNull()
          else a.appendInteger(runId)
          a.appendTimestamp(detectedAt)
          a.endRow()
        }
      } finally {
        a.closeSync()
      }
      await store.run(
        `INSERT INTO detections SELECT * FROM stream_detections_in
         ON CONFLICT (network, address, window_start, model, pass) DO UPDATE SET
           window_end = excluded.window_end, score = excluded.score, threshold = excluded.threshold, attack_type = excluded.attack_type,
           top_features = excluded.top_features, asn = excluded.asn, as_name = excluded.as_name, run_id = excluded.run_id,
           detected_at = excluded.detected_at`,
      )
      await store.run('DELETE FROM stream_detections_in')
    }
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
    return m
  })
}
