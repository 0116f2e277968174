/**
 * `@duckdb/node-api`, loaded with `require` on first use. The package is CommonJS: an ESM `import` of
 * it makes Node scan its ~180 files for export names (~75 ms of every command's start, measured: 140 vs
 * 65 ms), and loading the engine at all costs ~90 ms more. Loading it when a store is first opened keeps
 * every layer's door light: `flowscope ingest` sniffs and starts decoding a capture before DuckDB is in
 * memory. Take values through `duckdb()`; `import type` from the package itself is free.
 */
import {createRequire} from 'node:module'

type Api = typeof import('@duckdb/node-api')
let api: Api | undefined

/** The DuckDB Node API, loaded on the first call. */
export function duckdb(): Api {
  api ??= createRequire(import.meta.url)('@duckdb/node-api') as Api
  return api
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}

/** A quoted SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`
}

/** A time in µs since the epoch as the value a DuckDB appender takes for a TIMESTAMP column (whole µs, floored). */
export function timestampUs(us: number): InstanceType<Api['DuckDBTimestampValue']> {
  return new (duckdb().DuckDBTimestampValue)(BigInt(Math.floor(us)))
}
