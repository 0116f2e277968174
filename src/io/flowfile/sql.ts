/**
 * SQL building blocks for flow-file ingest. Column names come from file headers and are data: they
 * reach SQL only as quoted identifiers or string literals, never as text spliced in unquoted. The
 * value parsers are temporary macros over VARCHAR, so every file format goes through the same
 * vectorised parsing inside DuckDB.
 */
import {IANA_PROTOCOL_KEYWORDS, NON_IP_PROTOCOL_NAMES, sqlString} from '../../core/index.js'

/** Sentinel protocol number of non-IP records (Argus `arp`, `man`, …). */
export const NON_IP = -1

/** Years 1 to 9999 in microseconds: times outside are not times (a misread column), not a crash. */
const MIN_US = '-62135596800000000'
const MAX_US = '253402300799999999'

function protoCase(): string {
  const arms = Object.entries(IANA_PROTOCOL_KEYWORDS).map(([name, num]) => `WHEN ${sqlString(name)} THEN ${num}`)
  for (const name of NON_IP_PROTOCOL_NAMES) arms.push(`WHEN ${sqlString(name)} THEN ${NON_IP}`)
  return `CASE lower(trim(x)) ${arms.join(' ')} END`
}

/**
 * Temporary macros (connection-local, created inside the ingest transaction, so a rollback takes
 * them away too). Each takes VARCHAR and returns NULL when the text does not parse; empty text is 0
 * for numbers, because an absent counter or port is "none", not an error.
 */
export const MACROS_SQL = String.raw`
CREATE OR REPLACE TEMP MACRO fs_ip4_parts(p) AS (
  list_reduce(list_prepend(0::UBIGINT, list_transform(p, lambda x: x::UBIGINT)),
              lambda acc, x: CASE WHEN x > 255 THEN NULL ELSE acc * 256 + x END));
CREATE OR REPLACE TEMP MACRO fs_ip4(s) AS (
  CASE WHEN regexp_full_match(s, '\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}') THEN fs_ip4_parts(string_split(s, '.')) END);
CREATE OR REPLACE TEMP MACRO fs_ip4_text(v) AS (
  concat_ws('.', v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255));
CREATE OR REPLACE TEMP MACRO fs_num_slow(x) AS (
  CASE WHEN x IS NULL OR trim(x) = '' THEN 0::HUGEINT
       WHEN regexp_full_match(trim(x), '0[xX][0-9a-fA-F]{1,16}') THEN CAST(TRY_CAST(trim(x) AS UBIGINT) AS HUGEINT)
       WHEN regexp_full_match(trim(x), '[+-]?[0-9]+(\.0*)?') THEN TRY_CAST(trim(x) AS HUGEINT) END);
CREATE OR REPLACE TEMP MACRO fs_num(x) AS (coalesce(CAST(TRY_CAST(x AS UBIGINT) AS HUGEINT), fs_num_slow(x)));
CREATE OR REPLACE TEMP MACRO fs_flag_letters(s) AS (
  (CASE WHEN contains(s, 'F') THEN 1 ELSE 0 END) | (CASE WHEN contains(s, 'S') THEN 2 ELSE 0 END) |
  (CASE WHEN contains(s, 'R') THEN 4 ELSE 0 END) | (CASE WHEN contains(s, 'P') THEN 8 ELSE 0 END) |
  (CASE WHEN contains(s, 'A') THEN 16 ELSE 0 END) | (CASE WHEN contains(s, 'U') THEN 32 ELSE 0 END) |
  (CASE WHEN contains(s, 'E') THEN 64 ELSE 0 END) | (CASE WHEN contains(s, 'C') THEN 128 ELSE 0 END));
CREATE OR REPLACE TEMP MACRO fs_flags(x) AS (
  CASE WHEN x IS NULL OR trim(x) = '' THEN 0
       WHEN regexp_full_match(trim(x), '[0-9]{1,9}') THEN TRY_CAST(trim(x) AS INTEGER)
       WHEN regexp_full_match(trim(x), '0[xX][0-9a-fA-F]{1,8}') THEN CAST(TRY_CAST(trim(x) AS UINTEGER) AS BIGINT)
       WHEN regexp_full_match(trim(x), '[.CEUAPRSF]+') THEN fs_flag_letters(trim(x)) END);
CREATE OR REPLACE TEMP MACRO fs_proto(x) AS (
  CASE WHEN x IS NULL OR trim(x) = '' THEN 0
       WHEN regexp_full_match(trim(x), '[0-9]+') THEN TRY_CAST(trim(x) AS INTEGER)
       ELSE ${protoCase()} END);
CREATE OR REPLACE TEMP MACRO fs_e9_slow(x) AS (
  CASE WHEN regexp_full_match(trim(x), '[+-]?([0-9]{1,19}(\.[0-9]*)?|\.[0-9]+)')
       THEN (CASE WHEN starts_with(trim(x), '-') THEN -1 ELSE 1 END)
          * (coalesce(TRY_CAST(nullif(split_part(ltrim(trim(x), '+-'), '.', 1), '') AS HUGEINT), 0) * 1000000000
             + TRY_CAST(left(rpad(split_part(trim(x), '.', 2), 9, '0'), 9) AS HUGEINT)) END);
CREATE OR REPLACE TEMP MACRO fs_e9(x) AS (
  CASE WHEN regexp_full_match(x, '[0-9]{1,18}') THEN CAST(x AS BIGINT)::HUGEINT * 1000000000 ELSE fs_e9_slow(x) END);
CREATE OR REPLACE TEMP MACRO fs_div_round(v, d) AS (
  CASE WHEN v >= 0 THEN (v + d // 2) // d ELSE -((-v + d // 2) // d) END);
CREATE OR REPLACE TEMP MACRO fs_ts_us(us) AS (
  make_timestamp(CASE WHEN us BETWEEN ${MIN_US} AND ${MAX_US} THEN CAST(us AS BIGINT) END));
CREATE OR REPLACE TEMP MACRO fs_ts_plus_us(t, us) AS (fs_ts_us(epoch_us(t)::HUGEINT + us));
`

/**
 * Text time formats tried in order (DuckDB strptime). Day-first for slashed dates: CICFlowMeter
 * writes `dd/MM/yyyy` (CIC-IDS2017/2018 were recorded 3–7 July 2017 and in February 2018).
 */
export const TIME_FORMATS = [
  '%Y-%m-%d %H:%M:%S.%f',
  '%Y-%m-%d %H:%M:%S',
  '%Y/%m/%d %H:%M:%S.%f',
  '%Y/%m/%d %H:%M:%S',
  '%Y-%m-%dT%H:%M:%S.%f',
  '%Y-%m-%dT%H:%M:%S',
  '%Y-%m-%dT%H:%M:%S.%fZ',
  '%Y-%m-%dT%H:%M:%SZ',
  '%d/%m/%Y %H:%M:%S',
  '%d/%m/%Y %I:%M:%S %p',
  '%d/%m/%Y %H:%M',
  '%d/%m/%Y %I:%M %p',
] as const

/**
 * Divisor from a number × 1e9 (`fs_e9`, exact decimal parsing: DuckDB's DECIMAL(38,9) cast is two
 * orders of magnitude slower) to microseconds.
 */
const E9_TO_US = {s: '1000', ms: '1000000', us: '1000000000', ns: '1000000000000'} as const
export type EpochUnit = keyof typeof E9_TO_US

/** `fs_e9` of a column, computed once in the staging scan and passed to timeSql/durationSql. */
export function e9Sql(x: string): string {
  return `fs_e9(${x})`
}

function textTimeSql(x: string): string {
  const formats = `[${TIME_FORMATS.map(sqlString).join(', ')}]`
  // an explicit offset (`+02:00`) falls through to the TIMESTAMPTZ cast and is converted to UTC
  return `coalesce(try_strptime(trim(${x}), ${formats}), timezone('UTC', TRY_CAST(trim(${x}) AS TIMESTAMPTZ)))`
}

/**
 * TIMESTAMP (UTC, naive like the store) from the raw VARCHAR `raw` and its `fs_e9` value `e9`.
 * `auto`: a bare number is epoch time whose unit follows from its size (below 1e11 seconds, 1e14
 * milliseconds, 1e17 microseconds, else nanoseconds — each boundary lies past the year 5000 in the
 * smaller unit); any other text is a date-time in one of TIME_FORMATS or ISO 8601 with an offset.
 */
export function timeSql(raw: string, e9: string, unit: EpochUnit | 'text' | 'auto'): string {
  if (unit === 'text') return textTimeSql(raw)
  if (unit !== 'auto') return `fs_ts_us(fs_div_round(${e9}, ${E9_TO_US[unit]}::HUGEINT))`
  return `CASE WHEN ${e9} IS NULL THEN ${textTimeSql(raw)}
    ELSE fs_ts_us(fs_div_round(${e9}, CASE WHEN abs(${e9}) < 100000000000000000000::HUGEINT THEN ${E9_TO_US.s}::HUGEINT
      WHEN abs(${e9}) < 100000000000000000000000::HUGEINT THEN ${E9_TO_US.ms}::HUGEINT
      WHEN abs(${e9}) < 100000000000000000000000000::HUGEINT THEN ${E9_TO_US.us}::HUGEINT
      ELSE ${E9_TO_US.ns}::HUGEINT END)) END`
}

/** Duration in microseconds (BIGINT) from an `fs_e9` value in `unit`; NULL when it does not parse. */
export function durationSql(e9: string, unit: EpochUnit): string {
  return `TRY_CAST(fs_div_round(${e9}, ${E9_TO_US[unit]}::HUGEINT) AS BIGINT)`
}

/** A value for an error message: quoted, cut to 60 characters. */
export function shownSql(x: string): string {
  return `'"' || left(coalesce(${x}, ''), 60) || '"'`
}
