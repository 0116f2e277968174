/**
 * Parquet and Arrow export: partition folders, read-back in DuckDB and in an independent reader
 * (parquetjs-lite) with identical rows, per-partition idempotence, hour-aligned windows, Arrow IPC
 * through apache-arrow, and the `flowscope` preset reading an export back in.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {tableFromIPC, type Table} from 'apache-arrow'
import parquet from 'parquetjs-lite'
import parquetTypes from 'parquetjs-lite/lib/types.js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ARROW_FILE_NAME, exportFlows, partitionPath} from '../../../src/io/flowfile/index.js'
import {ingestFlowFile} from '../../../src/io/ingest/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir, writeTemp} from './helpers.js'

// parquetjs-lite turns TIMESTAMP_MICROS into a Date (milliseconds); compare the raw microseconds
const microsType = parquetTypes.PARQUET_LOGICAL_TYPES.TIMESTAMP_MICROS
if (microsType) microsType.fromPrimitive = (v: unknown): unknown => v

const LAB = 'lab/ctu 1' // a network name that needs escaping in a path
const CORP = 'corp'
const HEADER = 'src,dst,sport,dport,proto,start,dur,pkts,octets,flags,router'
/** 2024-03-31 22:00 UTC onwards, every 4 minutes: crosses midnight, so 2 dates and 4+ hours */
const T0 = 1_711_922_400

function flowCsv(first: number, count: number): string {
  const lines = [HEADER]
  for (let i = first; i < first + count; i++) {
    const v6 = i % 3 === 0
    const src = v6 ? `2001:db8:${i.toString(16)}::1` : `10.0.${i % 7}.${i}`
    const dst = v6 ? '2001:db8::53' : `192.0.2.${i % 5}`
    const start = `${T0 + i * 240}.${String(123456 + i).padStart(6, '0')}` // µs precision
    lines.push([src, dst, 40000 + i, [53, 443, 80][i % 3], i % 2 === 0 ? 'udp' : 'tcp', start, (i % 4) * 1.5, 1 + (i % 9), 60 * (1 + (i % 9)) + i, i % 2 === 0 ? '' : '.AP.SF', i % 4 === 0 ? '' : '198.51.100.1'].join(','))
  }
  return lines.join('\n') + '\n'
}

const MAP = {
  src_ip: 'src',
  dst_ip: 'dst',
  src_port: 'sport',
  dst_port: 'dport',
  proto: 'proto',
  ts_start: 'start:s',
  duration: 'dur:s',
  packets: 'pkts',
  bytes: 'octets',
  tcp_flags: 'flags',
  exporter: 'router',
}

/** The exported columns of every flow as one text key per row (addresses as hex). */
const KEY_SQL = `concat_ws('|', network, epoch_us(ts_start), epoch_us(ts_end), src_ip, dst_ip, src_port, dst_port, proto, tcp_flags,
  packets, bytes, sampling_rate, source_id, family, lpad(to_hex(src_addr), 32, '0'), lpad(to_hex(dst_addr), 32, '0'), coalesce(exporter, ''))`

async function storeKeys(store: FlowStore, where = 'true'): Promise<string[]> {
  const rows = await store.all<{k: string}>(`SELECT ${KEY_SQL} AS k FROM flows WHERE ${where}`)
  return rows.map((r) => r.k.toLowerCase()).sort()
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

function snapshot(files: string[], root: string): Record<string, string> {
  return Object.fromEntries(files.map((f) => [path.relative(root, f), sha(f)]))
}

let store: FlowStore
let dir: string

beforeAll(async () => {
  dir = tempDir('flowfile-export-')
  store = await FlowStore.open(':memory:')
  await ingestFlowFile(store, writeTemp(dir, 'lab.csv', flowCsv(0, 40)), {network: LAB, map: MAP})
  await ingestFlowFile(store, writeTemp(dir, 'corp.csv', flowCsv(40, 20)), {network: CORP, map: MAP, samplingRate: 100})
})

afterAll(async () => {
  await store.close()
})

describe('Parquet export', () => {
  it('writes one folder per network, date and hour, with escaped network names', async () => {
    const out = path.join(dir, 'pq-layout')
    const r = await exportFlows(store, out, {format: 'parquet'})
    const expected = await store.all<{network: string; date: string; hour: string}>(
      `SELECT DISTINCT network, strftime(ts_start, '%Y-%m-%d') AS date, strftime(ts_start, '%H') AS hour FROM flows`,
    )
    expect(r.partitions).toEqual(expected.map((p) => partitionPath(p.network, p.date, p.hour)).sort())
    expect(r.partitions).toContain('network=lab%2Fctu%201/date=2024-03-31/hour=22')
    expect(r.partitions).toContain('network=corp/date=2024-04-01/hour=01')
    const [{n}] = (await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')) as [{n: bigint}]
    expect(r.rows).toBe(Number(n))
    expect(r.files.length).toBe(r.partitions.length)
    for (const f of r.files) expect(path.basename(f)).toMatch(/^flows_\d+\.parquet$/)
    // nothing left over from staging
    expect(r.files.every((f) => !path.relative(out, f).startsWith('.'))).toBe(true)
  })

  it('partitionPath escapes network names exactly as DuckDB writes the folders', async () => {
    const odd = await FlowStore.open(':memory:')
    try {
      const names = ["a!b*c'(d)~e.f-g_h", 'é/ü', '100% = net']
      for (const n of names) await ingestFlowFile(odd, writeTemp(dir, 'one.csv', flowCsv(1, 1)), {network: n, map: MAP})
      const r = await exportFlows(odd, path.join(dir, 'pq-odd'), {format: 'parquet'})
      expect(r.partitions).toEqual(names.map((n) => partitionPath(n, '2024-03-31', '22')).sort())
      const back = await odd.all<{network: string}>(`SELECT DISTINCT network FROM read_parquet('${dir}/pq-odd/**/*.parquet', hive_partitioning = true)`)
      expect(back.map((b) => b.network).sort()).toEqual([...names].sort())
    } finally {
      await odd.close()
    }
  })

  it('reads back in DuckDB (hive partitioning, zstd) with identical rows', async () => {
    const out = path.join(dir, 'pq-duckdb')
    await exportFlows(store, out, {format: 'parquet'})
    const meta = await store.all<{codec: string}>(`SELECT DISTINCT compression AS codec FROM parquet_metadata('${out}/**/*.parquet')`)
    expect(meta.map((m) => m.codec)).toEqual(['ZSTD'])
    const back = await store.all<{k: string}>(
      `SELECT ${KEY_SQL.replaceAll('to_hex(src_addr)', 'hex(src_addr)').replaceAll('to_hex(dst_addr)', 'hex(dst_addr)')} AS k
         FROM read_parquet('${out}/**/*.parquet', hive_partitioning = true)`,
    )
    expect(back.map((b) => b.k.toLowerCase()).sort()).toEqual(await storeKeys(store))
    const [types] = await store.all<Record<string, string>>(
      `SELECT typeof(src_addr) AS addr, typeof(src_port) AS port, typeof(packets) AS packets, typeof(ts_start) AS ts
         FROM read_parquet('${out}/**/*.parquet', hive_partitioning = true) LIMIT 1`,
    )
    expect(types).toEqual({addr: 'BLOB', port: 'INTEGER', packets: 'BIGINT', ts: 'TIMESTAMP'})
  })

  it('reads back in parquetjs-lite with identical rows', async () => {
    // parquetjs-lite has no zstd codec (nor has Node 20's zlib): this export uses snappy
    const out = path.join(dir, 'pq-parquetjs')
    const r = await exportFlows(store, out, {format: 'parquet', compression: 'snappy'})
    const keys: string[] = []
    for (const file of r.files) {
      const network = decodeURIComponent(/network=([^/]+)/.exec(path.relative(out, file))?.[1] ?? '')
      const reader = await parquet.ParquetReader.openFile(file)
      const cursor = reader.getCursor()
      for (let row = await cursor.next(); row; row = await cursor.next()) {
        const hex = (v: unknown): string => Buffer.from(v as Uint8Array).toString('hex')
        const cols = ['ts_start', 'ts_end', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'proto', 'tcp_flags', 'packets', 'bytes', 'sampling_rate', 'source_id', 'family']
        keys.push([network, ...cols.map((c) => String(row[c])), hex(row.src_addr), hex(row.dst_addr), String(row.exporter ?? '')].join('|'))
      }
      await reader.close()
    }
    expect(keys.sort()).toEqual(await storeKeys(store))
  })

  it('re-export is idempotent per partition: same files, same bytes; other partitions untouched', async () => {
    const out = path.join(dir, 'pq-idem')
    const first = await exportFlows(store, out, {format: 'parquet'})
    const before = snapshot(first.files, out)
    const again = await exportFlows(store, out, {format: 'parquet'})
    expect(snapshot(again.files, out)).toEqual(before)
    expect(again.partitions).toEqual(first.partitions)

    // new flows for corp only; an export of corp replaces corp's partitions and leaves lab's alone
    const labFile = first.files.find((f) => f.includes('network=lab'))!
    const labStat = statSync(labFile)
    await ingestFlowFile(store, writeTemp(dir, 'corp2.csv', flowCsv(60, 5)), {network: CORP, map: MAP})
    const corp = await exportFlows(store, out, {format: 'parquet', network: CORP})
    expect(corp.partitions.every((p) => p.startsWith('network=corp/'))).toBe(true)
    expect(statSync(labFile).mtimeMs).toBe(labStat.mtimeMs)
    expect(statSync(labFile).ino).toBe(labStat.ino)
    const back = await store.all<{network: string; n: bigint}>(
      `SELECT network, count(*) AS n FROM read_parquet('${out}/**/*.parquet', hive_partitioning = true) GROUP BY 1 ORDER BY 1`,
    )
    const inStore = await store.all<{network: string; n: bigint}>(`SELECT network, count(*) AS n FROM flows GROUP BY 1 ORDER BY 1`)
    expect(back).toEqual(inStore)
  })

  it('widens since/until to whole hours so a partition is always written whole', async () => {
    const out = path.join(dir, 'pq-window')
    const r = await exportFlows(store, out, {format: 'parquet', since: '2024-03-31T22:30:00Z', until: new Date('2024-03-31T22:45:00Z')})
    expect([r.since, r.until]).toEqual(['2024-03-31T22:00:00.000Z', '2024-03-31T23:00:00.000Z'])
    expect(r.partitions).toEqual(['network=lab%2Fctu%201/date=2024-03-31/hour=22'])
    const [{n}] = (await store.all<{n: bigint}>(
      `SELECT count(*) AS n FROM flows WHERE strftime(ts_start, '%Y-%m-%d %H') = '2024-03-31 22'`,
    )) as [{n: bigint}]
    expect(r.rows).toBe(Number(n))
    const empty = await exportFlows(store, path.join(dir, 'pq-none'), {format: 'parquet', network: 'nobody'})
    expect([empty.rows, empty.partitions, empty.files]).toEqual([0, [], []])
  })

  it('reads back into the store with the flowscope preset', async () => {
    const out = path.join(dir, 'pq-roundtrip')
    const r = await exportFlows(store, out, {format: 'parquet', network: LAB})
    const copy = await FlowStore.open(':memory:')
    try {
      for (const f of r.files) {
        const got = await ingestFlowFile(copy, f, {network: LAB})
        expect(got.preset).toBe('flowscope')
      }
      // source ids differ (a new store); everything else is the same flow
      const key = (s: FlowStore): Promise<string[]> =>
        s.all<{k: string}>(`SELECT ${KEY_SQL.replace('source_id, ', '')} AS k FROM flows WHERE network = '${LAB}'`).then((rows) => rows.map((x) => x.k).sort())
      expect(await key(copy)).toEqual(await key(store))
    } finally {
      await copy.close()
    }
  })
})

describe('Arrow export', () => {
  function arrowKeys(table: Table): string[] {
    const col = (name: string): unknown[] => {
      const v = table.getChild(name)
      if (!v) throw new Error(`no column ${name}`)
      return [...v.toArray()] as unknown[]
    }
    const names = ['network', 'ts_start', 'ts_end', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'proto', 'tcp_flags', 'packets', 'bytes', 'sampling_rate', 'source_id', 'family']
    const columns = names.map(col)
    const src = table.getChild('src_addr')!
    const dst = table.getChild('dst_addr')!
    const exporter = table.getChild('exporter')!
    const hex = (v: unknown): string => Buffer.from(v as Uint8Array).toString('hex')
    const out: string[] = []
    for (let i = 0; i < table.numRows; i++) {
      out.push([...columns.map((c) => String(c[i])), hex(src.get(i)), hex(dst.get(i)), String(exporter.get(i) ?? '')].join('|'))
    }
    return out.sort()
  }

  it('writes flows.arrow that apache-arrow reads back with identical rows', async () => {
    const out = path.join(dir, 'arrow')
    const progress: number[] = []
    const r = await exportFlows(store, out, {format: 'arrow', onProgress: (n) => progress.push(n)})
    expect(r.files).toEqual([path.join(out, ARROW_FILE_NAME)])
    const table = tableFromIPC(readFileSync(r.files[0]!))
    expect(table.numRows).toBe(r.rows)
    expect(progress.at(-1)).toBe(r.rows)
    expect(table.schema.fields.find((f) => f.name === 'ts_start')?.type.toString()).toBe('Timestamp<MICROSECOND>')
    expect(arrowKeys(table)).toEqual(await storeKeys(store))
  })

  it('writes a readable file with the schema and no rows when nothing matches', async () => {
    const out = path.join(dir, 'arrow-empty')
    const r = await exportFlows(store, out, {format: 'arrow', network: 'nobody'})
    expect(r.rows).toBe(0)
    expect(existsSync(r.files[0]!)).toBe(true)
    const table = tableFromIPC(readFileSync(r.files[0]!))
    expect(table.numRows).toBe(0)
    expect(table.schema.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['network', 'ts_start', 'src_addr']))
  })
})
