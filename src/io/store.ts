import {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTimestampValue,
  INTEGER,
  TIMESTAMP,
  UBIGINT,
  UHUGEINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api'
import type {DuckDBVector} from '@duckdb/node-api'
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {StoreError, StoreLockedError, UsageError} from '../errors.js'
import type {FlowBatch} from './flow-batch.js'
import {addrToBigInt, addrToString} from './ip.js'
import {MIGRATIONS_SQL, SCHEMA_SQL, SCHEMA_VERSION} from './schema.js'

export interface StoreOpenOptions {
  readOnly?: boolean
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
    if (file !== ':memory:' && !readOnly) await mkdir(path.dirname(path.resolve(file)), {recursive: true})
    let instance: DuckDBInstance
    try {
      instance = await DuckDBInstance.create(file, readOnly ? {access_mode: 'READ_ONLY'} : {})
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

/**
 * Appends FlowBatches to `flows` in the column order of `FLOW_COLUMNS`, a DuckDB data chunk (2,048 rows)
 * at a time: numeric columns are written straight into the chunk's vectors, so the only per-value
 * native calls left are the text columns — several times faster than the row-wise appender API.
 */
export class FlowAppender {
  private readonly chunk: DuckDBDataChunk
  constructor(private readonly appender: DuckDBAppender) {
    this.chunk = DuckDBDataChunk.create(FLOW_TYPES, CHUNK_ROWS)
  }

  append(batch: FlowBatch, network: string, sourceId: number): void {
    const chunk = this.chunk
    for (let start = 0; start < batch.length; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, batch.length - start)
      chunk.reset()
      chunk.rowCount = n
      const v = (c: number): DuckDBVector => chunk.getColumnVector(c)
      const cols = FLOW_TYPES.map((_, c) => v(c))
      for (let j = 0; j < n; j++) {
        const i = start + j
        const family = batch.family[i] ?? 4
        cols[0]!.setItem(j, network)
        const exporter = batch.exporter[i]
        cols[1]!.setItem(j, exporter ? exporter : null)
        cols[2]!.setItem(j, new DuckDBTimestampValue(BigInt(Math.floor(batch.tsStart[i] ?? 0))))
        cols[3]!.setItem(j, new DuckDBTimestampValue(BigInt(Math.floor(batch.tsEnd[i] ?? 0))))
        cols[4]!.setItem(j, addrToString(batch.srcAddr, i, family))
        cols[5]!.setItem(j, addrToString(batch.dstAddr, i, family))
        cols[6]!.setItem(j, batch.srcPort[i] ?? 0)
        cols[7]!.setItem(j, batch.dstPort[i] ?? 0)
        cols[8]!.setItem(j, batch.proto[i] ?? 0)
        cols[9]!.setItem(j, batch.tcpFlags[i] ?? 0)
        cols[10]!.setItem(j, BigInt(batch.packets[i] ?? 0))
        cols[11]!.setItem(j, BigInt(batch.bytes[i] ?? 0))
        cols[12]!.setItem(j, batch.samplingRate[i] || 1)
        cols[13]!.setItem(j, sourceId)
        cols[14]!.setItem(j, family)
        cols[15]!.setItem(j, addrToBigInt(batch.srcAddr, i))
        cols[16]!.setItem(j, addrToBigInt(batch.dstAddr, i))
        // src_as, dst_as: filled by ASN enrichment
        cols[17]!.setItem(j, null)
        cols[18]!.setItem(j, null)
      }
      for (const c of cols) c.flush()
      this.appender.appendDataChunk(chunk)
    }
  }

  close(): void {
    this.appender.closeSync()
  }
}

const CHUNK_ROWS = 2048
const FLOW_TYPES = [
  VARCHAR, VARCHAR, TIMESTAMP, TIMESTAMP, VARCHAR, VARCHAR, USMALLINT, USMALLINT, UTINYINT, UTINYINT,
  UBIGINT, UBIGINT, UINTEGER, INTEGER, UTINYINT, UHUGEINT, UHUGEINT, UINTEGER, UINTEGER,
]

function translateOpenError(file: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error)
  if (/lock/i.test(message)) return new StoreLockedError(file, {cause: error})
  return new StoreError(`${file}: cannot open the store: ${message}`, {
    cause: error,
    hint: 'check the --db path; a store written by a newer DuckDB cannot be opened by an older one',
  })
}

/** Opens an existing store read-only, with a clear error when there is none yet. */
export async function openStoreForReading(file: string): Promise<FlowStore> {
  if (file !== ':memory:' && !existsSync(file)) {
    throw new UsageError(`${file}: no such store`, {hint: 'ingest a capture first (flowscope ingest FILE), or name the store with --db'})
  }
  return FlowStore.open(file, {readOnly: true})
}
