import {Command, Flags} from '@oclif/core'

import {BaseCommand} from './base-command.js'
// The query commands import the modules they use, not the io and report barrels: those pull in every
// reader, writer and chart library (apache-arrow, the flow-export decoders, cli-progress): 0.1–0.3 s
// of start-up (measured, idle to loaded machine) that every one-shot `top` would pay.
import {FlowStore, leaveOutBadFlows, openStoreForReading} from './io/index.js'
import type {ReadingOptions} from './io/index.js'
import {requireEnrichments} from './query/index.js'
import type {Enrichment} from './query/index.js'
import {runQuery, streamQuery} from './query/index.js'
import type {JsonRow} from './query/index.js'
import type {SqlQuery} from './query/index.js'
import {writeRowStream} from './report/index.js'
import {renderTable} from './report/index.js'
import type {Column} from './report/index.js'

export interface RowsResult {
  columns: string[]
  rows: JsonRow[]
}

/**
 * Base of the commands that print rows (flows, top, sql): an aligned table for people, or `--json`
 * (the envelope, rows collected), `--ndjson` and `--csv` (streamed as they come, for pipes).
 */
export abstract class QueryCommand<T extends typeof Command> extends BaseCommand<T> {
  static outputFlags = {
    ndjson: Flags.boolean({summary: 'One JSON object per line, streamed (for Elastic, Splunk, jq).', exclusive: ['csv', 'json'], helpGroup: 'OUTPUT'}),
    csv: Flags.boolean({summary: 'CSV with a header line, streamed.', exclusive: ['ndjson', 'json'], helpGroup: 'OUTPUT'}),
  }

  /** Run `q` and print its rows in the chosen format; with --json the rows are the result. */
  protected async emitRows(
    store: FlowStore,
    q: SqlQuery,
    tableColumns: (columns: string[]) => Column<JsonRow>[],
    rowHook?: (row: JsonRow) => JsonRow,
  ): Promise<RowsResult | {columns: string[]; rowsWritten: number}> {
    const flags = this.flags as {ndjson?: boolean; csv?: boolean}
    if (flags.ndjson || flags.csv) {
      const s = await streamQuery(store, q, rowHook)
      const n = await writeRowStream(s.columns, s.chunks, flags.csv ? 'csv' : 'ndjson', process.stdout)
      return {columns: s.columns, rowsWritten: n}
    }
    const r = await runQuery(store, q, rowHook)
    if (!this.jsonEnabled()) this.out(r.rows.length === 0 ? '(no rows)' : renderTable(tableColumns(r.columns), r.rows))
    return r
  }
}

/**
 * The store for a query: read-only, unless the query needs ASNs that some flows do not have yet —
 * then it is opened for writing once to fill them in (idempotent; later queries find them there).
 */
export async function openStoreForQuery(db: string, needs: Enrichment[], onEnriched: (flows: number) => void, reading: ReadingOptions = {}): Promise<FlowStore> {
  const store = await openStoreForReading(db, reading)
  if (!needs.includes('asn')) return store
  const [missing] = await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows WHERE src_as IS NULL OR dst_as IS NULL')
  if (Number(missing?.n ?? 0) === 0) return store
  await store.close()
  const rw = await FlowStore.open(db)
  // loaded only when needed: the buckets layer's index pulls in the model runtime, which a plain query does not need
  const {enrichFlowsWithAsn} = await import('./buckets/index.js')
  const n = await enrichFlowsWithAsn(rw)
  onEnriched(n)
  requireEnrichments(needs, ['asn'])
  await leaveOutBadFlows(rw)
  return rw
}
