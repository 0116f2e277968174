/**
 * Query layer: nfdump-style filter expressions compiled to parameterised DuckDB SQL, and the
 * statements behind `flowscope flows`, `top` and `sql`. Pure builders — the commands execute them
 * with `connection.run(q.sql, q.params, q.types)` (or `stream`), passing `types` every time.
 */
export {FilterSyntaxError} from './filter-error.js'
export {
  addressText,
  COUNTERS,
  type Comparison,
  type Counter,
  type Direction,
  type FilterNode,
  type NumericTest,
  type ParsedFilter,
  parseFilter,
} from './filter-parser.js'
export {type CompiledFilter, compileFilter} from './filter-sql.js'
export {FLOW_COLUMNS_OUT, FLOW_ORDERS, type FlowOrder, type FlowsQuery, type FlowsQueryOptions, buildFlowsQuery} from './flows-query.js'
export {type SelectionOptions} from './selection.js'
export {buildSqlQuery, type UserSqlQuery} from './sql-guard.js'
export {ENRICHMENTS, type Enrichment, type SqlQuery, requireEnrichments} from './sql-params.js'
export {
  TOP_COLUMNS,
  TOP_KEYS,
  TOP_ORDERS,
  type TopKey,
  type TopOrder,
  type TopQuery,
  type TopQueryOptions,
  type TopRow,
  buildTopQuery,
} from './top-query.js'
export {runQuery, streamQuery} from './run.js'
export type {JsonRow} from './run.js'
