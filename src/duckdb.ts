/**
 * `@duckdb/node-api`, loaded with `require`. The package is CommonJS: an ESM `import` of it makes Node
 * scan its ~180 files for export names, ~75 ms of every command's start (measured: 140 vs 65 ms). Take
 * values from here; `import type` from the package itself is free (erased at compile time).
 */
import {createRequire} from 'node:module'

type Api = typeof import('@duckdb/node-api')
const api = createRequire(import.meta.url)('@duckdb/node-api') as Api

export const DuckDBInstance = api.DuckDBInstance
export type DuckDBInstance = import('@duckdb/node-api').DuckDBInstance
export const DuckDBConnection = api.DuckDBConnection
export type DuckDBConnection = import('@duckdb/node-api').DuckDBConnection
export const DuckDBDataChunk = api.DuckDBDataChunk
export type DuckDBDataChunk = import('@duckdb/node-api').DuckDBDataChunk
export const DuckDBTimestampValue = api.DuckDBTimestampValue
export type DuckDBTimestampValue = import('@duckdb/node-api').DuckDBTimestampValue
export const DuckDBTypeId = api.DuckDBTypeId
export type DuckDBTypeId = import('@duckdb/node-api').DuckDBTypeId
export const StatementType = api.StatementType
export type StatementType = import('@duckdb/node-api').StatementType
export const listValue = api.listValue
export const {BIGINT, INTEGER, TIMESTAMP, UBIGINT, UHUGEINT, UINTEGER, USMALLINT, UTINYINT, VARCHAR} = api
