import {Args} from '@oclif/core'

import {openStoreForReading} from '../io/index.js'
import {buildSqlQuery} from '../query/index.js'
import type {JsonRow} from '../query/index.js'
import {QueryCommand} from '../query-command.js'
import type {RowsResult} from '../query-command.js'

export default class Sql extends QueryCommand<typeof Sql> {
  static summary = 'Run a read-only SQL query over the store (DuckDB SQL).'
  static description = `One SELECT (or WITH, DESCRIBE, SHOW, SUMMARIZE, PRAGMA table_info) statement. The store is opened read-only and without access to other files, so a query can neither change the store nor read or write anything else. Tables: flows, sources (see the README's data model), and flows_quarantine once flowscope doctor --fix has moved rows there.`

  static examples = [
    {description: 'Bytes per protocol', command: '<%= config.bin %> <%= command.id %> "SELECT proto, sum(bytes) AS bytes FROM flows GROUP BY proto ORDER BY bytes DESC"'},
    {description: 'The columns of the flows table', command: '<%= config.bin %> <%= command.id %> "DESCRIBE flows"'},
    {description: 'Hourly volume as CSV', command: `<%= config.bin %> <%= command.id %> "SELECT date_trunc('hour', ts_start) AS hour, sum(bytes) AS bytes FROM flows GROUP BY 1 ORDER BY 1" --csv`},
  ]

  static args = {query: Args.string({description: 'the SQL statement', required: true})}
  static flags = {...QueryCommand.outputFlags}

  async run(): Promise<RowsResult | {columns: string[]; rowsWritten: number}> {
    const store = await openStoreForReading(this.flags.db, {onBadFlows: (m) => this.note(m)})
    try {
      await store.run('SET enable_external_access = false')
      const q = await buildSqlQuery(this.args.query!, store.connection)
      return await this.emitRows(store, q, (columns) => columns.map((c) => ({header: c, value: (r: JsonRow) => fmt(r[c])})))
    } finally {
      await store.close()
    }
  }
}

function fmt(v: unknown): string | number | null {
  if (v === null || v === undefined) return null
  if (typeof v === 'number' || typeof v === 'string') return v
  return JSON.stringify(v)
}
