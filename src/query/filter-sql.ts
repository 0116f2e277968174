import type {DuckDBType} from '@duckdb/node-api'

import {duckdb} from '../core/index.js'
import {type Comparison, type Direction, type FilterNode, type NumericTest, type ParsedFilter, parseFilter} from './filter-parser.js'
import {type Enrichment, ParamBag, type SqlQuery} from './sql-params.js'

/**
 * Filter AST → a boolean SQL expression over the columns of `flows`. Only column names, operators
 * and fixed function names are written into the SQL text; every value that came from the filter is a
 * `$f<n>` parameter with an explicit DuckDB type.
 */
export interface CompiledFilter extends SqlQuery {
  /** Enrichment columns the expression references (`as` → `src_as`/`dst_as`, not in the store yet). */
  needs: Enrichment[]
  /** Accepted-but-adjusted input, e.g. a CIDR whose host bits were cleared. */
  warnings: string[]
  ast: FilterNode
}

/**
 * Per-record derived figures, nfdump's definitions (nftree.c duration/pps/bps/bpp_function):
 * duration in milliseconds between first and last seen; pps = 1000·packets / duration_ms and
 * bps = 8000·bytes / duration_ms with integer division and 0 when the duration is 0; bpp =
 * bytes / packets (integer), 0 when there are no packets. Millisecond epochs are truncated
 * first, so a record matches what nfdump computes from the same flows stored at ms resolution.
 */
export const DURATION_MS_SQL = '(epoch_ms(ts_end) - epoch_ms(ts_start))'
export const PPS_SQL = `(CASE WHEN ${DURATION_MS_SQL} = 0 THEN 0 ELSE (1000 * packets::HUGEINT) // ${DURATION_MS_SQL} END)`
export const BPS_SQL = `(CASE WHEN ${DURATION_MS_SQL} = 0 THEN 0 ELSE (8000 * bytes::HUGEINT) // ${DURATION_MS_SQL} END)`
export const BPP_SQL = '(CASE WHEN packets = 0 THEN 0 ELSE bytes // packets END)'

const COUNTER_SQL = {
  packets: 'packets',
  bytes: 'bytes',
  duration: DURATION_MS_SQL,
  pps: PPS_SQL,
  bps: BPS_SQL,
  bpp: BPP_SQL,
} as const

/** Operators as written into SQL; the parser only ever produces these keys. */
const SQL_CMP: Record<Comparison, string> = {'=': '=', '!=': '<>', '<': '<', '>': '>', '<=': '<=', '>=': '>='}

/** Compile a filter (text or an already parsed one). `bag` lets a query builder share its parameters. */
export function compileFilter(filter: string | ParsedFilter, bag: ParamBag = new ParamBag('f')): CompiledFilter {
  const parsed = typeof filter === 'string' ? parseFilter(filter) : filter
  const needs = new Set<Enrichment>()
  const sql = emit(parsed.ast, bag, needs)
  return {sql, params: bag.params, types: bag.types, needs: [...needs], warnings: [...parsed.warnings], ast: parsed.ast}
}

function emit(node: FilterNode, bag: ParamBag, needs: Set<Enrichment>): string {
  switch (node.kind) {
    case 'and':
      return `(${emit(node.left, bag, needs)} AND ${emit(node.right, bag, needs)})`
    case 'or':
      return `(${emit(node.left, bag, needs)} OR ${emit(node.right, bag, needs)})`
    case 'not':
      return `(NOT ${emit(node.operand, bag, needs)})`
    case 'any':
      return 'TRUE'
    case 'family':
      return node.family === 4 ? '(family = 4)' : '(family = 6)'
    case 'sampled':
      return '(sampling_rate > 1)'
    case 'proto':
      return `(proto = ${bag.add(node.proto, duckdb().UTINYINT)})`
    case 'flags': {
      // nfdump's AddFlagsNumber implies proto TCP: flags of other protocols are meaningless.
      const m = bag.add(node.mask, duckdb().UTINYINT)
      return `(proto = 6 AND (tcp_flags & ${m}) = ${m})`
    }
    case 'counter': {
      const type = node.counter === 'duration' ? duckdb().BIGINT : duckdb().UBIGINT
      return `(${COUNTER_SQL[node.counter]} ${SQL_CMP[node.cmp]} ${bag.add(node.value, type)})`
    }
    case 'network':
      return `(network = ${bag.add(node.name, duckdb().VARCHAR)})`
    case 'exporter':
      return `(exporter = ${bag.add(node.name, duckdb().VARCHAR)})`
    case 'host': {
      const p = bag.add(node.value, duckdb().UHUGEINT)
      return directed(node.dir, (side) => `${side}_addr = ${p}`)
    }
    case 'net': {
      const lo = bag.add(node.lo, duckdb().UHUGEINT)
      const hi = bag.add(node.hi, duckdb().UHUGEINT)
      return directed(node.dir, (side) => `${side}_addr BETWEEN ${lo} AND ${hi}`)
    }
    case 'port': {
      const test = numericTest(node.test, bag, duckdb().USMALLINT)
      return directed(node.dir, (side) => test(`${side}_port`))
    }
    case 'as': {
      needs.add('asn')
      const test = numericTest(node.test, bag, duckdb().UINTEGER)
      return directed(node.dir, (side) => test(`${side}_as`))
    }
  }
}

/** One test on src, dst, or both columns combined by OR (`either`) / AND (`both`). */
function directed(dir: Direction, test: (side: 'src' | 'dst') => string): string {
  switch (dir) {
    case 'src':
      return `(${test('src')})`
    case 'dst':
      return `(${test('dst')})`
    case 'either':
      return `(${test('src')} OR ${test('dst')})`
    case 'both':
      return `(${test('src')} AND ${test('dst')})`
  }
}

/** Parameters are registered once and shared by the src and dst halves of a directed test. */
function numericTest(test: NumericTest, bag: ParamBag, type: DuckDBType): (column: string) => string {
  const num = (v: bigint): string => bag.add(Number(v), type)
  switch (test.op) {
    case 'cmp': {
      const p = num(test.value)
      return (c) => `${c} ${SQL_CMP[test.cmp]} ${p}`
    }
    case 'range': {
      const lo = num(test.lo)
      const hi = num(test.hi)
      return (c) => `${c} BETWEEN ${lo} AND ${hi}`
    }
    case 'in': {
      const list = test.values.map(num).join(', ')
      return (c) => `${c} IN (${list})`
    }
  }
}
