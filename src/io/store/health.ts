/**
 * The health of a store's flows, for `flowscope doctor`: the rows of `flows` outside the rule of what
 * a stored flow record may hold (core/flow-bounds.ts, `flowRecordProblemSql`), stored by a flowscope
 * that did not check it yet, and their quarantine.
 *
 * Such rows hold values no query can take (packets 1.66e19 in a UBIGINT, a TIMESTAMP in the year
 * 290255 BC), so everything here reads them as text in SQL: no HUGEINT sum, no epoch conversion and
 * no JavaScript Date ever sees them.
 *
 * Quarantine moves them, in one transaction, to `flows_quarantine` (the columns of `flows`, plus
 * `problem` and `quarantined_at`), where they can still be looked at with `flowscope sql`. Nothing
 * else refers to a flow row (detections name an address and a window), so nothing is left dangling;
 * the sources the rows came from get their `flows` count lowered and a first/last time outside the
 * rule replaced by that of their remaining flows (or NULL), so that no later query of `sources` fails.
 */
import {FLOW_TIME_MAX_US, FLOW_TIME_MIN_US, flowRecordProblemSql, MAX_FLOW_BYTES, MAX_FLOW_DURATION_US, MAX_FLOW_PACKETS, MAX_SAMPLING_RATE} from '../../core/index.js'
import {FlowStore} from './store.js'

export const QUARANTINE_TABLE = 'flows_quarantine'

export interface BadFlowCount {
  problem: string
  flows: number
}

export interface BadFlowCounts {
  /** every row of `flows` */
  flows: number
  /** the rows outside the rule */
  bad: number
  byProblem: BadFlowCount[]
}

/** One bad row, every value as text: they may be out of range for any JavaScript or SQL number type. */
export interface BadFlowRow {
  network: string
  sourceId: number
  /** the path of the source it was ingested from, null when that source is gone */
  source: string | null
  tsStart: string
  tsEnd: string
  packets: string
  bytes: string
  samplingRate: string
  problem: string
}

export interface QuarantineResult {
  quarantined: number
  byProblem: BadFlowCount[]
  table: string
  /** sources whose counts or times were corrected */
  sourcesUpdated: number
}

const PROBLEM = flowRecordProblemSql()

/** How many rows of `flows` (or of `table`: the stored one under a view) break the rule, by problem (most frequent first). */
export async function countBadFlows(store: FlowStore, table = 'flows'): Promise<BadFlowCounts> {
  const [total] = await store.all<{n: bigint}>(`SELECT count(*) AS n FROM ${table}`)
  const rows = await store.all<{problem: string; n: bigint}>(
    `SELECT problem, count(*) AS n FROM (SELECT ${PROBLEM} AS problem FROM ${table}) WHERE problem IS NOT NULL GROUP BY problem ORDER BY n DESC, problem`,
  )
  const byProblem = rows.map((r) => ({problem: r.problem, flows: Number(r.n)}))
  return {flows: Number(total?.n ?? 0), bad: byProblem.reduce((a, p) => a + p.flows, 0), byProblem}
}

/** The first `limit` bad rows, in storage order. */
export async function badFlowRows(store: FlowStore, limit = 20): Promise<BadFlowRow[]> {
  const rows = await store.all<{
    network: string
    source_id: number
    path: string | null
    ts_start: string
    ts_end: string
    packets: string
    bytes: string
    sampling_rate: string
    problem: string
  }>(
    `SELECT f.network, f.source_id, s.path, f.ts_start::VARCHAR AS ts_start, f.ts_end::VARCHAR AS ts_end,
            f.packets::VARCHAR AS packets, f.bytes::VARCHAR AS bytes, f.sampling_rate::VARCHAR AS sampling_rate, f.problem
     FROM (SELECT rowid AS row_number, *, ${PROBLEM} AS problem FROM flows) AS f LEFT JOIN sources AS s USING (source_id)
     WHERE f.problem IS NOT NULL
     ORDER BY f.row_number
     LIMIT ${Math.max(0, Math.floor(limit))}`,
  )
  return rows.map((r) => ({
    network: r.network,
    sourceId: Number(r.source_id),
    source: r.path,
    tsStart: r.ts_start,
    tsEnd: r.ts_end,
    packets: r.packets,
    bytes: r.bytes,
    samplingRate: r.sampling_rate,
    problem: r.problem,
  }))
}

/**
 * Moves every bad row of `flows` to `flows_quarantine`, in one transaction (all of them or none), and
 * corrects the sources they came from. Returns how many were moved.
 */
export async function quarantineBadFlows(store: FlowStore): Promise<QuarantineResult> {
  return store.transaction(async () => {
    const {byProblem, bad} = await countBadFlows(store)
    if (bad === 0) return {quarantined: 0, byProblem, table: QUARANTINE_TABLE, sourcesUpdated: 0}
    await store.run(
      `CREATE TABLE IF NOT EXISTS ${QUARANTINE_TABLE} AS
       SELECT *, CAST(NULL AS VARCHAR) AS problem, CAST(NULL AS TIMESTAMP) AS quarantined_at FROM flows LIMIT 0`,
    )
    await store.run(`CREATE TEMP TABLE doctor_bad_sources AS SELECT source_id, count(*) AS n FROM flows WHERE (${PROBLEM}) IS NOT NULL GROUP BY source_id`)
    const moved = await store.connection.run(
      `INSERT INTO ${QUARANTINE_TABLE} BY NAME
       SELECT *, current_timestamp::TIMESTAMP AS quarantined_at FROM (SELECT *, ${PROBLEM} AS problem FROM flows) WHERE problem IS NOT NULL`,
    )
    const deleted = await store.connection.run(`DELETE FROM flows WHERE (${PROBLEM}) IS NOT NULL`)
    if (moved.rowsChanged !== deleted.rowsChanged || Number(deleted.rowsChanged) !== bad) {
      throw new Error(`quarantine moved ${moved.rowsChanged} rows and deleted ${deleted.rowsChanged}, expected ${bad}`)
    }
    const updated = await store.connection.run(
      `UPDATE sources SET
         flows = CASE WHEN sources.flows > b.n THEN sources.flows - b.n ELSE 0 END,
         ts_first = CASE WHEN ts_first IS NULL OR epoch_us(ts_first) >= ${FLOW_TIME_MIN_US} AND epoch_us(ts_first) < ${FLOW_TIME_MAX_US} THEN ts_first
                         ELSE (SELECT min(ts_start) FROM flows AS f WHERE f.source_id = sources.source_id) END,
         ts_last = CASE WHEN ts_last IS NULL OR epoch_us(ts_last) >= ${FLOW_TIME_MIN_US} AND epoch_us(ts_last) < ${FLOW_TIME_MAX_US} THEN ts_last
                        ELSE (SELECT max(ts_end) FROM flows AS f WHERE f.source_id = sources.source_id) END
       FROM doctor_bad_sources AS b WHERE sources.source_id = b.source_id`,
    )
    // a failure anywhere above rolls this table back with the rest
    await store.run('DROP TABLE doctor_bad_sources')
    return {quarantined: bad, byProblem, table: QUARANTINE_TABLE, sourcesUpdated: Number(updated.rowsChanged)}
  })
}

/**
 * Makes `flows`, for this connection only, the stored flows minus the rows outside the rule of
 * core/flow-bounds.ts — a temporary view of the same name over the table, so every query of every
 * command reads it unchanged — and returns how many rows it leaves out. The store itself is not
 * changed (`flowscope doctor --fix` does that). A healthy store costs one pass of min/max over the
 * columns the rule reads (about 40 ms per 10 million flows); only a store with bad rows gets the view.
 * For connections that read flows from here on, not write them.
 */
export async function leaveOutBadFlows(store: FlowStore, options: ReadingOptions = {}): Promise<number> {
  const [probe] = await store.all<{healthy: boolean | null}>(HEALTH_PROBE_SQL)
  if (probe?.healthy !== false) return 0
  const table = await storedFlowsTable(store)
  const n = (await countBadFlows(store, table)).bad
  if (n === 0) return 0
  await store.run(`CREATE OR REPLACE TEMP VIEW flows AS SELECT * FROM ${table} WHERE (${PROBLEM}) IS NULL`)
  options.onBadFlows?.(
    `${store.path}: ${n} stored flow ${n === 1 ? 'row is' : 'rows are'} outside what a store may hold (damaged counts or times, written before this version checked them) and ${n === 1 ? 'is' : 'are'} left out; flowscope doctor --db ${store.path} lists them, --fix quarantines them`,
  )
  return n
}

/**
 * Whether every stored row is inside the rule, from the extremes of its columns (NULL when there are
 * no flows): the same verdict as flowRecordProblemSql over every row, in one cheap aggregate.
 */
const HEALTH_PROBE_SQL = `SELECT
  min(epoch_us(ts_start)) >= ${FLOW_TIME_MIN_US} AND max(epoch_us(ts_start)) < ${FLOW_TIME_MAX_US}
  AND min(epoch_us(ts_end)::HUGEINT - epoch_us(ts_start)) >= 0 AND max(epoch_us(ts_end)::HUGEINT - epoch_us(ts_start)) <= ${MAX_FLOW_DURATION_US}
  AND max(packets) <= ${MAX_FLOW_PACKETS} AND max(bytes) <= ${MAX_FLOW_BYTES}
  AND min(sampling_rate) >= 1 AND max(sampling_rate) <= ${MAX_SAMPLING_RATE}
  AND count(ts_start) = count(*) AND count(ts_end) = count(*) AND count(packets) = count(*) AND count(bytes) = count(*) AND count(sampling_rate) = count(*) AS healthy
FROM flows`

/**
 * The stored `flows` table by its full name, which a temporary view of that name (leaveOutBadFlows)
 * does not hide: for the few statements that change stored flows on a connection that also reads.
 */
export async function storedFlowsTable(store: FlowStore): Promise<string> {
  const [db] = await store.all<{name: string}>('SELECT current_database() AS name')
  return `${quoteIdent(db?.name ?? 'main')}.main.flows`
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export interface ReadingOptions {
  /** told (once) when stored rows outside the rule were left out of this connection's `flows` */
  onBadFlows?: (message: string) => void
}

/**
 * Opens an existing store read-only, with a clear error when there is none yet. Rows that no store
 * may hold (written before the ingest gate, core/flow-bounds.ts) are left out of what this connection
 * reads as `flows` (see `leaveOutBadFlows`), and `onBadFlows` is told how many.
 */
export async function openStoreForReading(file: string, options: ReadingOptions = {}): Promise<FlowStore> {
  const store = await FlowStore.open(file, {readOnly: true, mustExist: true})
  try {
    await leaveOutBadFlows(store, options)
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}
