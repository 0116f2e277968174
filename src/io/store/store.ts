import type {DuckDBConnection, DuckDBInstance} from '@duckdb/node-api'
import {duckdb} from '../../core/index.js'
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {StoreError, StoreLockedError, UsageError} from '../../core/index.js'
import {FlowAppender} from './flow-appender.js'
export {FlowAppender} from './flow-appender.js'
import {MIGRATION_V2_SQL, MIGRATIONS_SQL, SCHEMA_SQL, SCHEMA_VERSION} from './schema.js'

export interface StoreOpenOptions {
  readOnly?: boolean
  /** fail with "no such store" (a usage error) rather than create one: for work that reads stored flows */
  mustExist?: boolean
}

/**
 * The embedded DuckDB store. One process writes at a time: DuckDB's own file lock refuses a second
 * writer, and that refusal is reported as `StoreLockedError`.
 */
export class FlowStore {
  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    readonly readOnly: boolean,
  ) {}

  static async open(file: string, options: StoreOpenOptions = {}): Promise<FlowStore> {
    const readOnly = options.readOnly ?? false
    if (options.mustExist && file !== ':memory:' && !existsSync(file)) {
      throw new UsageError(`${file}: no such store`, {hint: 'ingest a capture first (flowscope ingest FILE), or name the store with --db'})
    }
    if (file !== ':memory:' && !readOnly) await mkdir(path.dirname(path.resolve(file)), {recursive: true})
    let instance: DuckDBInstance
    try {
      instance = await duckdb().DuckDBInstance.create(file, readOnly ? {access_mode: 'READ_ONLY'} : {})
    } catch (error) {
      throw translateOpenError(file, error)
    }
    const connection = await instance.connect()
    const store = new FlowStore(file, instance, connection, readOnly)
    if (!readOnly) await store.migrate()
    return store
  }

  private async migrate(): Promise<void> {
    await this.connection.run(SCHEMA_SQL)
    await this.connection.run(MIGRATIONS_SQL)
    await this.connection.run(`INSERT OR IGNORE INTO meta VALUES ('schema_version', '${SCHEMA_VERSION}')`)
    const [v] = await this.all<{value: string}>("SELECT value FROM meta WHERE key = 'schema_version'")
    if (Number(v?.value ?? SCHEMA_VERSION) < 2) {
      await this.connection.run(MIGRATION_V2_SQL)
      await this.connection.run(`UPDATE meta SET value = '${SCHEMA_VERSION}' WHERE key = 'schema_version'`)
    }
  }

  async close(): Promise<void> {
    this.connection.closeSync()
    this.instance.closeSync()
  }

  async run(sql: string, params?: Record<string, unknown> | unknown[]): Promise<void> {
    await this.connection.run(sql, params as never)
  }

  /** Rows as plain objects (bigints for 64-bit columns). */
  async all<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown> | unknown[]): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(sql, params as never)
    return reader.getRowObjectsJS() as T[]
  }

  /** Runs `fn` in one transaction: everything it wrote is committed together, or nothing is. */
  async transaction<R>(fn: () => Promise<R>): Promise<R> {
    await this.connection.run('BEGIN TRANSACTION')
    try {
      const result = await fn()
      await this.connection.run('COMMIT')
      return result
    } catch (error) {
      try {
        await this.connection.run('ROLLBACK')
      } catch {
        // the transaction may already be aborted; the original error is what matters
      }
      throw error
    }
  }

  async createFlowAppender(): Promise<FlowAppender> {
    return new FlowAppender(await this.connection.createAppender('flows'))
  }
}

function translateOpenError(file: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error)
  if (/lock/i.test(message)) return new StoreLockedError(file, {cause: error})
  return new StoreError(`${file}: cannot open the store: ${message}`, {
    cause: error,
    hint: 'check the --db path; a store written by a newer DuckDB cannot be opened by an older one',
  })
}
