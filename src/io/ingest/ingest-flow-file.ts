/**
 * Flow files (CSV, TSV, Zeek logs, Parquet) into `flows`, done in DuckDB: `read_csv`/`read_parquet`
 * feed one staging query that parses every field with the SQL macros of sql.ts, then `INSERT … SELECT`
 * writes the flows, their extra columns and the `sources` row in one transaction — the same contract
 * as pcap ingest: all or nothing, and the same content into the same network again is a no-op.
 *
 * Bidirectional records (nProbe IN/OUT, CICFlowMeter Fwd/Bwd, Argus Src/Tot, nfdump in/out, Zeek
 * orig/resp) become two unidirectional flows as NetFlow exports them: the record as written
 * (source → destination) and the reverse with endpoints swapped; both carry the record's start and end
 * time. A direction is written when it has packets or bytes; a record with no traffic at all still
 * gives its forward flow, so no record disappears. ICMP reverse flows get ports 0 (the reply's type
 * and code are not in the record).
 *
 * Times are UTC. Text times without a zone (Argus, CICFlowMeter, nfdump print the local time of the
 * machine that wrote them) are taken as UTC. A file with no start time at all (nProbe NF-* v1/v2)
 * gets a synthetic clock: record n starts at 1970-01-01T00:00:00Z + (n − 1) µs and ends after its
 * duration. It keeps file order, keeps records distinct for the extra-column join, and is plainly
 * not a real time; map a real column (`map: {ts_start: 'COL:ms'}`) when the file has one.
 */
import path from 'node:path'

import {flowRecordProblemSql, InputDataError, UsageError} from '../../core/index.js'
import type {IngestResult} from './ingest.js'
import {contentHashFile} from './content-hash.js'
import {regularFileSize} from './ingest.js'
import {findSource, insertSource, nextSourceId} from '../store/index.js'
import type {FlowStore} from '../store/index.js'
import {buildIpv6Map, IPV6_MAP_TABLE} from '../flowfile/index.js'
import {FLOW_EXTRA_SQL, FLOW_EXTRA_TABLE} from '../flowfile/index.js'
import {locateRecordLines} from '../flowfile/index.js'
import {
  Columns,
  durationUnit,
  FLOW_FILE_PRESETS,
  planMapping,
  timeUnit,
  type Binding,
  type FlowField,
  type MappingPlan,
  type PresetName,
} from '../flowfile/index.js'
import {FLOW_FILE_FORMATS, sniffFlowFile, type FlowFileContainer, type FlowFileFormat, type SniffedFile} from '../flowfile/index.js'
import {durationSql, e9Sql, MACROS_SQL, NON_IP, shownSql, timeSql} from '../flowfile/index.js'
import {sqlString} from '../../core/index.js'

export interface FlowFileIngestOptions {
  /** tenant label stored with every flow */
  network: string
  /** container; `auto` (default) tells Parquet by its magic and tab- from comma-separated text by the header */
  format?: FlowFileFormat
  /** column preset; detected from the header when not given */
  preset?: PresetName
  /**
   * flow field → file column, overriding the preset (`{src_ip: 'SrcAddr', ts_start: 'FIRST:ms'}`).
   * Keys are FLOW_FIELDS; a time may name its unit after a colon (`auto`, `s`, `ms`, `us`, `ns`,
   * `text`), a duration too (`s` by default, `ms`, `us`, `ns`).
   */
  map?: Record<string, string>
  /** count and skip bad rows instead of failing the file */
  skipBad?: boolean
  /** 1-in-N sampling rate of every record (overrides a sampling_rate column); default 1 */
  samplingRate?: number
  now?: () => Date
}

/** A skipped row (with `skipBad`), for the report. */
export interface FlowFileProblem {
  /** 1-based record number (Parquet: row of the file); 0 for a line the CSV reader rejected */
  row: number
  /** 1-based physical line of a text file; null for Parquet */
  line: number | null
  reason: string
}

export interface FlowFileIngestResult extends IngestResult {
  container: FlowFileContainer
  /** the preset used, or `custom` for a `map`-only mapping */
  preset: PresetName | 'custom'
  /** data rows read (good, bad and non-IP) */
  records: number
  /** Argus ARP/LLC/management records and the like: counted, not ingested, not bad */
  nonIpRecords: number
  /** file columns kept in `flow_extra` */
  extraColumns: string[]
  /** the file has no start time: flows got the synthetic clock (epoch + row number in µs) */
  syntheticTime: boolean
  /** per-direction packets were estimated from bytes (Argus files without SrcPkts) */
  estimatedPackets: boolean
  /** the first bad rows skipped (at most MAX_PROBLEMS) */
  problems: FlowFileProblem[]
}

const MAX_PROBLEMS = 10
/** read_csv's buffer; a line may be up to 2 MB (DuckDB's max_line_size), so 4 of them fit */
const CSV_BUFFER_BYTES = 8 * 2 ** 20
const REC = 'fs_rec'
const FLOW = 'fs_flow'
const REJECTS = 'fs_rejects'
const REJECT_SCANS = 'fs_reject_scans'
const U64_MAX = '18446744073709551615'
const MAX_DURATION_US = 100 * 366 * 86_400 * 1_000_000
/** ::ffff:0:0, the IPv4-mapped prefix (DuckDB has no hex integer literals) */
const V4_MAPPED = (0xffff_0000_0000n).toString()

function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v)
}

/** VARCHAR reference to raw column `i` of the staged scan. */
function columnRef(sniffed: SniffedFile, i: number): string {
  // Zeek writes `(empty)` for an empty set or string; `-` (unset) is already NULL through nullstr
  return sniffed.zeek ? `nullif(c${i}, ${sqlString(sniffed.zeek.empty)})` : `c${i}`
}

function parquetColumnSql(name: string, type: string | undefined): string {
  const col = `"${name.replaceAll('"', '""')}"`
  const t = (type ?? '').toUpperCase()
  if (t.startsWith('TIMESTAMP WITH TIME ZONE')) return `strftime(timezone('UTC', ${col}), '%Y-%m-%d %H:%M:%S.%f')`
  if (t.startsWith('TIMESTAMP') || t === 'DATE') return `strftime(CAST(${col} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')`
  return `CAST(${col} AS VARCHAR)`
}

/**
 * The scan of the file as VARCHAR columns c0…cN. No row number here: `row_number() OVER ()` would
 * force the whole scan and parse onto one thread. The staging table is written in file order
 * (CREATE TABLE AS keeps insertion order), so its `rowid` is the record's ordinal instead.
 */
function scanSql(file: string, sniffed: SniffedFile): string {
  if (sniffed.container === 'parquet') {
    // name the raw columns by index: the originals may carry spaces, dots and duplicates
    const cols = sniffed.columns.map((c, i) => `${parquetColumnSql(c.name, c.type)} AS c${i}`).join(', ')
    return `SELECT ${cols} FROM read_parquet(${sqlString(file)})`
  }
  const columns = `{${sniffed.columns.map((_c, i) => `'c${i}': 'VARCHAR'`).join(', ')}}`
  const zeek = sniffed.container === 'zeek'
  const quote = sniffed.container === 'csv' ? `'"'` : `''`
  const args = [
    sqlString(file),
    'auto_detect = false',
    `delim = ${sqlString(sniffed.delimiter)}`,
    `quote = ${quote}`,
    `escape = ${quote}`,
    zeek ? 'header = false' : 'header = true',
    zeek ? `comment = '#'` : `skip = ${sniffed.headerLines - 1}`,
    zeek ? `nullstr = ${sqlString(sniffed.zeek?.unset ?? '-')}` : `nullstr = ''`,
    `columns = ${columns}`,
    `compression = ${sniffed.gzip ? `'gzip'` : `'none'`}`,
    // DuckDB's default is 32 MiB a buffer, several per thread: too much for the bounded staging memory
    `buffer_size = ${CSV_BUFFER_BYTES}`,
    'store_rejects = true',
    `rejects_table = '${REJECTS}'`,
    `rejects_scan = '${REJECT_SCANS}'`,
  ]
  return `SELECT * FROM read_csv(${args.join(', ')})`
}

interface FieldSql {
  /** parsed value expression (over the scan columns) */
  value: string
  /** the binding it came from */
  b: Binding
}

/**
 * The typed staging table: one row per accepted record with every field parsed (NULL where the text
 * does not parse) and `bad0`, the first problem outside the addresses.
 */
function recordSql(file: string, sniffed: SniffedFile, plan: MappingPlan, samplingRate: number | undefined): {sql: string; estimatedPackets: boolean} {
  const B = plan.bindings
  const f = (name: FlowField): Binding | undefined => B[name]
  const counts = ['packets', 'bytes', 'rev_packets', 'rev_bytes', 'total_packets', 'total_bytes'] as const
  const parsed: Partial<Record<FlowField, FieldSql>> = {}
  for (const c of counts) {
    const b = f(c)
    if (b) parsed[c] = {value: `fs_num(${b.sql})`, b}
  }

  // level 1: parse every bound column
  const l1: string[] = []
  const raw = (name: string, b: Binding | undefined): void => {
    if (b) l1.push(`${b.sql} AS raw_${name}`)
  }
  const srcB = f('src_ip')!
  const dstB = f('dst_ip')!
  l1.push(`trim(${srcB.sql}) AS src_txt`, `trim(${dstB.sql}) AS dst_txt`)
  l1.push(`fs_ip4(trim(${srcB.sql})) AS src4`, `fs_ip4(trim(${dstB.sql})) AS dst4`)
  const protoB = f('proto')
  l1.push(`${protoB ? `fs_proto(${protoB.sql})` : '0'} AS proto`)
  raw('proto', protoB)
  for (const p of ['src_port', 'dst_port'] as const) {
    const b = f(p)
    l1.push(`${b ? `fs_num(${b.sql})` : '0::HUGEINT'} AS ${p}`)
    raw(p, b)
  }
  // times: the number (if any) parsed once here, the unit applied in the next level
  const times: string[] = []
  for (const t of ['ts_start', 'ts_end'] as const) {
    const b = f(t)
    if (b) {
      raw(t, b)
      if (timeUnit(b) !== 'text') l1.push(`${e9Sql(b.sql)} AS e_${t}`)
      times.push(`${timeSql(`raw_${t}`, `e_${t}`, timeUnit(b))} AS p_${t}`)
    }
  }
  const durB = f('duration')
  if (durB) {
    raw('duration', durB)
    l1.push(`${e9Sql(durB.sql)} AS e_duration`)
    times.push(`${durationSql('e_duration', durationUnit(durB))} AS p_duration`)
  }
  const flagsB = f('tcp_flags')
  const rflagsB = f('rev_tcp_flags')
  l1.push(`${flagsB ? `fs_flags(${flagsB.sql})` : '0'} AS flags`)
  l1.push(`${rflagsB ? `fs_flags(${rflagsB.sql})` : flagsB ? `fs_flags(${flagsB.sql})` : '0'} AS rflags`)
  raw('tcp_flags', flagsB)
  raw('rev_tcp_flags', rflagsB)
  for (const c of counts) {
    const p = parsed[c]
    if (p) {
      l1.push(`${p.value} AS n_${c}`)
      raw(c, p.b)
    }
  }
  const expB = f('exporter')
  l1.push(`${expB ? `nullif(trim(${expB.sql}), '')` : 'NULL::VARCHAR'} AS exporter`)
  const srB = f('sampling_rate')
  if (samplingRate !== undefined) l1.push(`${samplingRate}::HUGEINT AS sr`)
  else if (srB) {
    l1.push(`CASE WHEN nullif(trim(${srB.sql}), '') IS NULL THEN 1 ELSE fs_num(${srB.sql}) END AS sr`)
    raw('sampling_rate', srB)
  } else l1.push('1::HUGEINT AS sr')
  if (plan.extra.length > 0) {
    // a JSON object of the non-empty values, by string concatenation (6× faster than a MAP → JSON)
    const members = plan.extra.map((e) => {
      const v = columnRef(sniffed, e.index)
      return `CASE WHEN nullif(${v}, '') IS NOT NULL THEN ${sqlString(`${JSON.stringify(e.key)}:`)} || to_json(${v}) END`
    })
    l1.push(`nullif(concat_ws(',', ${members.join(', ')}), '') AS extra_members`)
  } else l1.push('NULL::VARCHAR AS extra_members')

  // level 2: derive the per-direction counts and times; name the first problem
  const has = (c: (typeof counts)[number]): boolean => parsed[c] !== undefined
  let pk: string
  let estimatedPackets = false
  if (has('packets')) pk = 'n_packets'
  else if (has('total_packets') && has('rev_packets')) pk = 'n_total_packets - n_rev_packets'
  else if (has('total_packets') && has('bytes') && has('total_bytes')) {
    // Argus without SrcPkts: split TotPkts in the byte ratio, at least one packet per direction that
    // has bytes. An estimate, flagged in the result.
    estimatedPackets = true
    pk = `CASE WHEN n_total_bytes = 0 OR n_bytes >= n_total_bytes THEN n_total_packets WHEN n_bytes = 0 THEN 0
      ELSE least(greatest(CAST(round(n_total_packets * n_bytes / n_total_bytes) AS HUGEINT), 1), greatest(n_total_packets - 1, 1)) END`
  } else pk = has('total_packets') ? 'n_total_packets' : '0::HUGEINT'
  const by = has('bytes') ? 'n_bytes' : has('total_bytes') && has('rev_bytes') ? 'n_total_bytes - n_rev_bytes' : has('total_bytes') ? 'n_total_bytes' : '0::HUGEINT'
  const rpk = has('rev_packets') ? 'n_rev_packets' : has('total_packets') ? `n_total_packets - (${pk})` : '0::HUGEINT'
  const rby = has('rev_bytes') ? 'n_rev_bytes' : has('total_bytes') ? `n_total_bytes - (${by})` : '0::HUGEINT'

  // no start time: NULL here, the synthetic clock (it needs the record number) is set in flowSql
  // negative durations (CIC-IDS2017 has -1) count as 0; more than a century is a misread column
  const dur = durB ? `coalesce(least(greatest(p_duration, 0), ${MAX_DURATION_US}), 0)` : '0'
  const tsStart = f('ts_start') ? 'p_ts_start' : f('ts_end') && durB ? `fs_ts_plus_us(p_ts_end, -(${dur}))` : 'NULL::TIMESTAMP'
  const tsEnd = f('ts_end') ? 'p_ts_end' : 'NULL::TIMESTAMP'

  const checks: string[] = []
  const check = (cond: string, message: string): void => {
    checks.push(`WHEN ${cond} THEN ${message}`)
  }
  const col = (b: Binding): string => sqlString(` (column ${b.label})`)
  if (protoB) check('proto IS NULL OR proto > 255 OR proto < -1', `'unknown protocol ' || ${shownSql('raw_proto')} || ${col(protoB)}`)
  for (const [p, what] of [
    ['src_port', 'source port'],
    ['dst_port', 'destination port'],
  ] as const) {
    const b = f(p)
    if (b) check(`${p} IS NULL OR ${p} < 0 OR ${p} > 65535`, `'bad ${what} ' || ${shownSql(`raw_${p}`)} || ${col(b)}`)
  }
  for (const [t, what] of [
    ['ts_start', 'start time'],
    ['ts_end', 'end time'],
  ] as const) {
    const b = f(t)
    if (b) check(`p_${t} IS NULL`, `'unparsable ${what} ' || ${shownSql(`raw_${t}`)} || ${col(b)}`)
  }
  if (durB) check(`p_duration IS NULL AND nullif(trim(raw_duration), '') IS NOT NULL`, `'unparsable duration ' || ${shownSql('raw_duration')} || ${col(durB)}`)
  for (const c of counts) {
    const p = parsed[c]
    if (!p) continue
    const what = c.replace('_', ' ').replace('rev ', 'reverse ').replace('packets', 'packet count').replace('bytes', 'byte count')
    check(`n_${c} IS NULL OR n_${c} > ${U64_MAX}::HUGEINT`, `'unparsable ${what} ' || ${shownSql(`raw_${c}`)} || ${col(p.b)}`)
    check(`n_${c} < 0`, `'negative ${what} ' || ${shownSql(`raw_${c}`)} || ${col(p.b)}`)
  }
  const pkLabel = parsed.total_packets?.b.label ?? 'packets'
  const byLabel = parsed.total_bytes?.b.label ?? 'bytes'
  check(`(${pk}) < 0 OR (${rpk}) < 0`, sqlString(`the packet counts do not add up (${pkLabel} is smaller than its part)`))
  check(`(${by}) < 0 OR (${rby}) < 0`, sqlString(`the byte counts do not add up (${byLabel} is smaller than its part)`))
  if (flagsB) check('flags IS NULL OR flags > 255 OR flags < 0', `'unparsable TCP flags ' || ${shownSql('raw_tcp_flags')} || ${col(flagsB)}`)
  if (rflagsB) check('rflags IS NULL OR rflags > 255 OR rflags < 0', `'unparsable TCP flags ' || ${shownSql('raw_rev_tcp_flags')} || ${col(rflagsB)}`)
  if (srB && samplingRate === undefined) check('sr IS NULL OR sr < 1 OR sr > 4294967295', `'bad sampling rate ' || ${shownSql('raw_sampling_rate')} || ${col(srB)}`)

  const l2 = [
    // an unknown protocol (NULL) is a bad row, not a non-IP one
    `coalesce(proto = ${NON_IP}, false) AS nonip`,
    'src_txt',
    'dst_txt',
    'src4',
    'dst4',
    'proto',
    'src_port',
    'dst_port',
    `${tsStart} AS ts_start0`,
    `${tsEnd} AS ts_end0`,
    `${dur} AS dur_us`,
    'flags',
    'rflags',
    `${pk} AS fwd_pkts`,
    `${by} AS fwd_bytes`,
    `${rpk} AS rev_pkts`,
    `${rby} AS rev_bytes`,
    'exporter',
    'sr',
    `CAST('{' || extra_members || '}' AS JSON) AS extra`,
    `CASE ${checks.join('\n    ')} END AS bad0`,
  ]
  const sql = `CREATE TEMP TABLE ${REC} AS
SELECT ${l2.join(',\n  ')}
FROM (SELECT *${times.map((t) => `,\n    ${t}`).join('')} FROM (
  SELECT ${l1.join(',\n    ')} FROM (${scanSql(file, sniffed)})))`
  return {sql, estimatedPackets}
}

/** Addresses resolved (IPv4 in SQL, the rest through the fs_ip6 lookup) and the final verdict. */
function flowSql(plan: MappingPlan): string {
  const srcCol = sqlString(` (column ${plan.bindings.src_ip!.label})`)
  const dstCol = sqlString(` (column ${plan.bindings.dst_ip!.label})`)
  return `CREATE TEMP TABLE ${FLOW} AS
SELECT r.rowid + 1 AS rn,
  r.* EXCLUDE (src4, dst4, bad0, ts_start0, ts_end0, dur_us),
  ${plan.syntheticTime ? 'make_timestamp(r.rowid)' : 'r.ts_start0'} AS ts_start,
  greatest(coalesce(r.ts_end0, fs_ts_plus_us(ts_start, r.dur_us)), ts_start) AS ts_end,
  CASE WHEN contains(r.src_txt, ':') THEN s6.family WHEN r.src4 IS NOT NULL THEN 4 END AS sfam,
  CASE WHEN contains(r.dst_txt, ':') THEN d6.family WHEN r.dst4 IS NOT NULL THEN 4 END AS dfam,
  CASE WHEN contains(r.src_txt, ':') THEN s6.num ELSE ${V4_MAPPED}::UHUGEINT + r.src4 END AS src_addr,
  CASE WHEN contains(r.dst_txt, ':') THEN d6.num ELSE ${V4_MAPPED}::UHUGEINT + r.dst4 END AS dst_addr,
  CASE WHEN contains(r.src_txt, ':') THEN s6.canon ELSE fs_ip4_text(r.src4) END AS src_ip,
  CASE WHEN contains(r.dst_txt, ':') THEN d6.canon ELSE fs_ip4_text(r.dst4) END AS dst_ip,
  CASE
    WHEN r.nonip THEN NULL
    WHEN r.src_txt IS NULL OR r.src_txt = '' THEN 'missing source address' || ${srcCol}
    WHEN r.dst_txt IS NULL OR r.dst_txt = '' THEN 'missing destination address' || ${dstCol}
    WHEN sfam IS NULL THEN 'unparsable source address ' || ${shownSql('r.src_txt')} || ${srcCol}
    WHEN dfam IS NULL THEN 'unparsable destination address ' || ${shownSql('r.dst_txt')} || ${dstCol}
    WHEN sfam <> dfam THEN 'source and destination addresses are of different families'
    ELSE coalesce(r.bad0, ${BOUNDS_SQL}) END AS bad
FROM ${REC} r
LEFT JOIN ${IPV6_MAP_TABLE} s6 ON s6.txt = r.src_txt
LEFT JOIN ${IPV6_MAP_TABLE} d6 ON d6.txt = r.dst_txt`
}

/** what no store may hold (core/flow-bounds.ts), over the staged record of both directions */
const BOUNDS_SQL = flowRecordProblemSql({tsStart: 'ts_start', tsEnd: 'ts_end', packets: ['r.fwd_pkts', 'r.rev_pkts'], bytes: ['r.fwd_bytes', 'r.rev_bytes'], samplingRate: 'r.sr'})

const FWD = '(fwd_pkts > 0 OR fwd_bytes > 0 OR NOT (rev_pkts > 0 OR rev_bytes > 0))'
const REV = '(rev_pkts > 0 OR rev_bytes > 0)'
const OK = 'NOT nonip AND bad IS NULL'
const REV_PORT = (p: string): string => `CASE WHEN proto IN (1, 58) THEN 0 ELSE ${p} END`

const INSERT_FLOWS_SQL = `INSERT INTO flows (network, exporter, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto,
    tcp_flags, packets, bytes, sampling_rate, source_id, family, src_addr, dst_addr)
SELECT $network, exporter, ts_start, ts_end, src_ip, dst_ip, src_port::USMALLINT, dst_port::USMALLINT, proto::UTINYINT,
    tcp_flags::UTINYINT, packets::UBIGINT, bytes::UBIGINT, sr::UINTEGER, $source_id, sfam, src_addr, dst_addr
FROM (
  SELECT rn, 0 AS dir, exporter, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, flags AS tcp_flags,
         fwd_pkts AS packets, fwd_bytes AS bytes, sr, sfam, src_addr, dst_addr
    FROM ${FLOW} WHERE ${OK} AND ${FWD}
  UNION ALL
  SELECT rn, 1, exporter, ts_start, ts_end, dst_ip, src_ip, ${REV_PORT('dst_port')}, ${REV_PORT('src_port')}, proto, rflags,
         rev_pkts, rev_bytes, sr, sfam, dst_addr, src_addr
    FROM ${FLOW} WHERE ${OK} AND ${REV}
)
ORDER BY ts_start, rn, dir`

const INSERT_EXTRA_SQL = `INSERT INTO ${FLOW_EXTRA_TABLE}
SELECT $source_id, rn, ts_start, src_addr, dst_addr, src_port::USMALLINT, dst_port::USMALLINT, proto::UTINYINT, extra
FROM ${FLOW} WHERE ${OK} AND extra IS NOT NULL
ORDER BY rn`

const TOTALS_SQL = `SELECT
  count(*) AS records,
  count(*) FILTER (WHERE nonip) AS nonip,
  sum(CASE WHEN nonip THEN fwd_pkts + rev_pkts ELSE 0 END) AS nonip_packets,
  count(*) FILTER (WHERE NOT nonip AND bad IS NOT NULL) AS bad,
  count(*) FILTER (WHERE ${OK} AND ${FWD}) + count(*) FILTER (WHERE ${OK} AND ${REV}) AS flows,
  sum(CASE WHEN ${OK} THEN (CASE WHEN ${FWD} THEN fwd_pkts ELSE 0 END) + (CASE WHEN ${REV} THEN rev_pkts ELSE 0 END) ELSE 0 END) AS packets,
  sum(CASE WHEN ${OK} THEN (CASE WHEN ${FWD} THEN fwd_bytes ELSE 0 END) + (CASE WHEN ${REV} THEN rev_bytes ELSE 0 END) ELSE 0 END) AS bytes,
  epoch_us(min(ts_start) FILTER (WHERE ${OK})) AS ts_first,
  epoch_us(max(ts_end) FILTER (WHERE ${OK})) AS ts_last
FROM ${FLOW}`

interface Totals {
  records: bigint
  nonip: bigint
  nonip_packets: bigint | null
  bad: bigint
  flows: bigint
  packets: bigint | null
  bytes: bigint | null
  ts_first: bigint | null
  ts_last: bigint | null
}

interface Reject {
  line: number
  message: string
}

/** CSV rows DuckDB could not split (wrong column count, broken quoting), by line. */
async function readRejects(store: FlowStore, sniffed: SniffedFile, plan: MappingPlan): Promise<Reject[]> {
  if (sniffed.container === 'parquet') return []
  const rows = await store.all<{line: bigint; message: string; csv_line: string | null}>(
    `SELECT line, min(error_message) AS message, min(csv_line) AS csv_line FROM ${REJECTS} GROUP BY line ORDER BY line`,
  )
  let rejects = rows.map((r) => ({line: Number(r.line), message: r.message, text: r.csv_line ?? ''}))
  if (plan.preset === 'nfdump') {
    // nfdump -o csv ends with a "Summary" block (a title line, a header and one line of totals)
    const summary = rejects.find((r) => r.text.trim() === 'Summary')
    if (summary) rejects = rejects.filter((r) => r.line < summary.line)
  }
  return rejects.map(({line, message}) => ({line, message: message.replace(/\s+/g, ' ').trim()}))
}

async function dropStaging(store: FlowStore): Promise<void> {
  for (const t of [FLOW, REC, IPV6_MAP_TABLE, REJECTS, REJECT_SCANS]) await store.run(`DROP TABLE IF EXISTS temp.main.${t}`)
}

function validate(file: string, options: FlowFileIngestOptions): void {
  if (typeof options.network !== 'string' || options.network === '') throw new UsageError(`${file}: a network name is required`)
  if (options.format !== undefined && !(FLOW_FILE_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(`${file}: format "${options.format}" is not one of ${FLOW_FILE_FORMATS.join(', ')}`)
  }
  if (options.preset !== undefined && !(FLOW_FILE_PRESETS as readonly string[]).includes(options.preset)) {
    throw new UsageError(`${file}: preset "${options.preset}" is not one of ${FLOW_FILE_PRESETS.join(', ')}`)
  }
  const sr = options.samplingRate
  if (sr !== undefined && (!Number.isInteger(sr) || sr < 1 || sr > 0xffff_ffff)) {
    throw new UsageError(`${file}: sampling rate ${sr} is not a whole number from 1 to 4294967295`)
  }
}

/**
 * Ingest one flow file as one transaction. Bad rows (an address that does not parse, a negative or
 * non-numeric count, an unknown protocol, a row with the wrong number of columns) stop the file with
 * an `InputDataError` naming the file and the line (row for Parquet) and leave the store as it was;
 * with `skipBad` they are counted and skipped. See presets.ts for the column presets and extra.ts for
 * where extra columns (labels) go.
 */
export async function ingestFlowFile(store: FlowStore, file: string, options: FlowFileIngestOptions): Promise<FlowFileIngestResult> {
  const started = performance.now()
  validate(file, options)
  const size = await regularFileSize(file)
  const sniffed = await sniffFlowFile(store, file, options.format ?? 'auto')
  const columns = new Columns(
    sniffed.columns.map((c) => c.name),
    (i) => columnRef(sniffed, i),
  )
  const plan = planMapping(file, columns, sniffed.container, options.preset, options.map)
  const presetName: PresetName | 'custom' = plan.preset ?? 'custom'
  const format = `${presetName}/${sniffed.container}`
  const blake3 = await contentHashFile(file)
  const base = {
    file,
    blake3,
    sizeBytes: size,
    container: sniffed.container,
    preset: presetName,
    extraColumns: plan.extra.map((e) => e.key),
    syntheticTime: plan.syntheticTime,
    // flow records, like decoded NetFlow/IPFIX: sampling is simulated per flow, not per packet
    content: 'flow-export' as const,
    undecodablePackets: 0,
    fragments: 0,
  }

  const prior = await findSource<{source_id: number; format: string; packets: bigint; flows: bigint; bytes: bigint}>(
    store,
    file,
    size,
    blake3,
    options.network,
    'source_id, format, packets, flows, bytes',
  )
  if (prior) {
    return {
      ...base,
      status: 'unchanged',
      sourceId: prior.source_id,
      format: prior.format,
      packets: Number(prior.packets),
      flows: Number(prior.flows),
      bytes: Number(prior.bytes),
      records: 0,
      badRecords: 0,
      nonIpRecords: 0,
      nonIpPackets: 0,
      estimatedPackets: false,
      problems: [],
      tsFirst: null,
      tsLast: null,
      seconds: (performance.now() - started) / 1000,
      packetsPerSec: 0,
      flowsPerSec: 0,
    }
  }

  const rec = recordSql(file, sniffed, plan, options.samplingRate)
  try {
    // Staging lives in temporary tables outside the transaction: it changes nothing a reader sees,
    // and a fresh committed table numbers its rows 0…n-1 in insertion (= file) order, which the
    // record numbers rely on (rows written inside a transaction get provisional row ids).
    await dropStaging(store)
    await store.run(MACROS_SQL)
    try {
      await store.run(rec.sql)
    } catch (error) {
      // out of memory or disk (the temporary folder) is not the file's fault: not an input error
      if (/^(Out of Memory Error|IO Error: Could not (write|create|open) .*tmp)/i.test((error as Error).message)) throw error
      throw new InputDataError(`${file}: cannot read as ${sniffed.container}: ${(error as Error).message.split('\n')[0]}`, {cause: error})
    }
    const rejects = await readRejects(store, sniffed, plan)
    await buildIpv6Map(store, REC)
    await store.run(flowSql(plan))
    const [t] = (await store.all<Totals>(TOTALS_SQL)) as [Totals]
    const badRecords = Number(t.bad) + rejects.length
    const problems = await collectProblems(store, file, sniffed, rejects, options.skipBad ? MAX_PROBLEMS : 1)
    if (!options.skipBad && problems[0]) {
      const p = problems[0]
      const where = p.line === null ? `row ${p.row}` : `line ${p.line}`
      throw new InputDataError(`${file}: ${where}: ${p.reason}`, {
        hint: badRecords > 1 ? `${badRecords} bad rows in all; use --skip-bad to count and skip them` : 'use --skip-bad to count and skip bad rows',
      })
    }
    const tsFirst = t.ts_first === null ? null : Number(t.ts_first)
    const tsLast = t.ts_last === null ? null : Number(t.ts_last)
    // everything that can fail is done before the transaction, or inside it (and rolls it back)
    const times = {tsFirst: tsFirst === null ? null : new Date(tsFirst / 1000).toISOString(), tsLast: tsLast === null ? null : new Date(tsLast / 1000).toISOString()}

    const id = await store.transaction(async () => {
      await store.run(FLOW_EXTRA_SQL)
      const id = await nextSourceId(store)
      await store.run(INSERT_FLOWS_SQL, {network: options.network, source_id: id})
      await store.run(INSERT_EXTRA_SQL, {source_id: id})
      const now = options.now?.() ?? new Date()
      await insertSource(store, {
        sourceId: id,
        path: path.resolve(file),
        size,
        blake3,
        format,
        network: options.network,
        packets: num(t.packets),
        flows: num(t.flows),
        bytes: num(t.bytes),
        skipped: badRecords,
        tsFirstUs: tsFirst,
        tsLastUs: tsLast,
        samplingRate: options.samplingRate ?? 1,
        ingestedAtUs: now.getTime() * 1000,
        content: 'flow-export',
      })
      return id
    })
    const seconds = (performance.now() - started) / 1000
    const packets = num(t.packets)
    const flows = num(t.flows)
    return {
      ...base,
      status: 'ingested' as const,
      sourceId: id,
      format,
      packets,
      flows,
      bytes: num(t.bytes),
      records: num(t.records) + rejects.length,
      badRecords,
      nonIpRecords: num(t.nonip),
      nonIpPackets: num(t.nonip_packets),
      estimatedPackets: rec.estimatedPackets,
      problems,
      ...times,
      seconds,
      packetsPerSec: seconds > 0 ? packets / seconds : 0,
      flowsPerSec: seconds > 0 ? flows / seconds : 0,
    }
  } finally {
    await dropStaging(store).catch(() => undefined)
  }
}

/** The first `limit` bad rows, structural (rejected by the reader) and semantic, in file order. */
async function collectProblems(
  store: FlowStore,
  file: string,
  sniffed: SniffedFile,
  rejects: Reject[],
  limit: number,
): Promise<FlowFileProblem[]> {
  const bad = await store.all<{rn: bigint; bad: string}>(
    `SELECT rn, bad FROM ${FLOW} WHERE NOT nonip AND bad IS NOT NULL ORDER BY rn LIMIT ${limit}`,
  )
  if (bad.length === 0 && rejects.length === 0) return []
  const rejected = new Set(rejects.map((r) => r.line))
  const lines = await locateRecordLines(
    file,
    sniffed,
    rejected,
    bad.map((b) => Number(b.rn)),
  )
  const semantic: FlowFileProblem[] = bad.map((b) => ({
    row: Number(b.rn),
    line: sniffed.container === 'parquet' ? null : (lines.get(Number(b.rn)) ?? null),
    reason: b.bad,
  }))
  const structural: FlowFileProblem[] = rejects.slice(0, limit).map((r) => ({row: 0, line: r.line, reason: r.message}))
  const all = [...semantic, ...structural].sort((a, b) => (a.line ?? a.row) - (b.line ?? b.row))
  return all.slice(0, limit)
}
