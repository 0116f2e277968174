/**
 * Flow files built to hurt the reader (issue #20): a header of thousands of columns or of megabytes,
 * a gzip that is not one or ends inside its data, a UTF-8 BOM or a NUL in the header. Each is refused
 * as bad input (exit 3) naming the file, the store as it was — or, for the BOM, read as without it.
 * And the bounded DuckDB memory of a flow-file ingest: set during it, put back after, also on a throw.
 */
import path from 'node:path'
import {gzipSync} from 'node:zlib'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {EXIT, InputDataError} from '../../../src/core/errors.js'
import {MAX_FLOW_FILE_COLUMNS} from '../../../src/io/flowfile/index.js'
import {FLOW_FILE_MAX_THREADS, flowFileMemoryLimit, parseDuckDbSize, withFlowFileMemory} from '../../../src/io/flowfile/memory.js'
import {ingestFile, sniffIngestKind} from '../../../src/io/ingest/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {storeSnapshot, tempDir, writeTemp} from './helpers.js'

const HEADER = 'ts_start,ts_end,src_ip,src_port,dst_ip,dst_port,proto,packets,bytes'
const row = (i: number): string =>
  `2015-02-18 06:49:${String(i % 60).padStart(2, '0')},2015-02-18 06:50:00,10.0.${(i >> 8) & 255}.${i & 255},${1000 + (i % 50000)},10.1.0.2,80,6,${1 + (i % 7)},${100 + i}`
const csv = (rows: number, header = HEADER): string => [header, ...Array.from({length: rows}, (_, i) => row(i))].join('\n') + '\n'

/** A Zeek conn.log of `rows` connections, as Zeek writes it (tab-separated, `#` header and trailer). */
function zeekLog(rows: number): string {
  const t = (cells: (string | number)[]): string => cells.join('\t')
  return [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    '#open\t2020-01-01-00-00-00',
    t(['#fields', 'ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes', 'resp_bytes',
      'conn_state', 'local_orig', 'local_resp', 'missed_bytes', 'history', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes', 'tunnel_parents']),
    t(['#types', 'time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'interval', 'count', 'count',
      'string', 'bool', 'bool', 'count', 'string', 'count', 'count', 'count', 'count', 'set[string]']),
    ...Array.from({length: rows}, (_, i) =>
      t([1577836800 + i + 0.25, `C${i}`, `10.0.0.${i & 255}`, 40000 + i, '10.1.0.2', 443, 'tcp', 'ssl', 1.5, 100 + i, 2000 + i,
        'SF', '-', '-', 0, 'ShADadFf', 5, 400 + i, 4, 2200 + i, '(empty)']),
    ),
    '#close\t2020-01-01-00-10-00',
  ].join('\n') + '\n'
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** The error `p` rejects with: an InputDataError of exit code 3 whose message starts with the file. */
async function badInput(p: Promise<unknown>, file: string): Promise<InputDataError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, 'the ingest was expected to fail').toBeInstanceOf(InputDataError)
  const e = error as InputDataError
  expect(e.exitCode).toBe(EXIT.badInput)
  expect(e.exitCode).toBe(3)
  expect(e.message).toMatch(new RegExp(`^${escapeRe(file)}: `))
  return e
}

let dir: string
let store: FlowStore
beforeEach(async () => {
  dir = tempDir('hostile-')
  store = await FlowStore.open(path.join(dir, 's.duckdb'))
})
afterEach(async () => {
  await store.close().catch(() => undefined)
})

/** A good file ingested first, so that "nothing stored" is checked on a store that holds something. */
async function seed(): Promise<Record<string, number>> {
  const r = await ingestFile(store, writeTemp(dir, 'good.csv', csv(3)), {network: 'n'})
  expect(r.status).toBe('ingested')
  const snap = await storeSnapshot(store)
  expect(snap.flows).toBe(3)
  expect(snap.sources).toBe(1)
  return snap
}

describe('a header too wide or too long', () => {
  it(`a CSV of ${MAX_FLOW_FILE_COLUMNS + 1} columns is refused naming the file and the count; nothing stored`, async () => {
    expect(MAX_FLOW_FILE_COLUMNS).toBe(1024)
    const before = await seed()
    const extra = Array.from({length: MAX_FLOW_FILE_COLUMNS + 1 - 9}, (_, i) => `x${i}`)
    const header = [HEADER, ...extra].join(',')
    const file = writeTemp(dir, 'wide.csv', `${header}\n${row(1)},${extra.map(() => '0').join(',')}\n`)
    expect(await sniffIngestKind(file)).toBe('flow-file')
    const e = await badInput(ingestFile(store, file, {network: 'n'}), file)
    expect(e.message).toBe(`${file}: line 1: the header has 1025 columns, more than the 1024 a flow file may have`)
    expect(await storeSnapshot(store)).toEqual(before)
    // skipBad skips bad records, not a file that is not a flow file
    await badInput(ingestFile(store, file, {network: 'n', skipBad: true}), file)
    expect(await storeSnapshot(store)).toEqual(before)
  })

  it('a header line longer than 1 MiB (few columns, one name of megabytes) is refused; nothing stored', async () => {
    const before = await seed()
    const file = writeTemp(dir, 'long.csv', `${HEADER},${'n'.repeat(1.5 * 2 ** 20)}\n${row(1)},0\n`)
    expect(await sniffIngestKind(file)).toBe('flow-file')
    const e = await badInput(ingestFile(store, file, {network: 'n'}), file)
    expect(e.message).toBe(`${file}: line 1: the header line is longer than 1 MiB; is this a flow file?`)
    expect(await storeSnapshot(store)).toEqual(before)
  })

  it('a header of megabytes and many columns says it has at least that many (it was cut at 1 MiB)', async () => {
    const before = await seed()
    const names = Array.from({length: 200_000}, (_, i) => `c${i}`)
    const file = writeTemp(dir, 'long-wide.csv', `${names.join(',')}\n`)
    const e = await badInput(ingestFile(store, file, {network: 'n'}), file)
    expect(e.message).toMatch(new RegExp(`^${escapeRe(file)}: line 1: the header has at least \\d+ columns, more than the 1024`))
    expect(await storeSnapshot(store)).toEqual(before)
  })
})

describe('a broken gzip', () => {
  // big enough that a cut in the middle leaves more than the sniffer's 1 MiB of text before it: only the
  // check of the whole stream sees the cut (DuckDB would ingest the rows before it quietly)
  const text = csv(40_000)
  const good = gzipSync(text)

  it('the whole gzip file ingests (the control: the cases below differ only by their damage)', async () => {
    const r = await ingestFile(store, writeTemp(dir, 'whole.csv.gz', good), {network: 'n'})
    expect([r.status, r.flows]).toEqual(['ingested', 40_000])
  })

  for (const skipBad of [false, true]) {
    it(`a gzip truncated in the middle is refused naming the file${skipBad ? ', also with skipBad' : ''}; nothing stored`, async () => {
      const before = await seed()
      const file = writeTemp(dir, 'cut.csv.gz', good.subarray(0, good.length >> 1))
      expect(await sniffIngestKind(file)).toBe('flow-file')
      const e = await badInput(ingestFile(store, file, {network: 'n', skipBad}), file)
      expect(e.message).toMatch(/: byte offset \d+: the gzip stream is truncated/)
      expect(await storeSnapshot(store)).toEqual(before)
    })

    it(`a .csv.gz of gzip's magic and then garbage is refused naming the file${skipBad ? ', also with skipBad' : ''}; nothing stored`, async () => {
      const before = await seed()
      const garbage = Buffer.alloc(4096)
      for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24
      garbage.set([0x1f, 0x8b], 0)
      const file = writeTemp(dir, 'garbage.csv.gz', garbage)
      expect(await sniffIngestKind(file)).toBe('flow-file')
      const e = await badInput(ingestFile(store, file, {network: 'n', skipBad}), file)
      expect(e.message).toMatch(/: byte offset \d+: (not a gzip stream|corrupt gzip stream)/)
      expect(await storeSnapshot(store)).toEqual(before)
    })

    it(`a gzip whose compressed data is overwritten in the middle is refused${skipBad ? ', also with skipBad' : ''}; nothing stored`, async () => {
      const before = await seed()
      const bytes = Buffer.from(good)
      bytes.fill(0xff, bytes.length >> 1, (bytes.length >> 1) + 64)
      const file = writeTemp(dir, 'corrupt.csv.gz', bytes)
      const e = await badInput(ingestFile(store, file, {network: 'n', skipBad}), file)
      expect(e.message).toMatch(/: byte offset \d+: /)
      expect(await storeSnapshot(store)).toEqual(before)
    })
  }
})

describe('what comes before or inside the header', () => {
  const flowsOf = async (s: FlowStore): Promise<unknown[]> =>
    s.all(`SELECT ts_start, ts_end, src_ip, src_port, dst_ip, dst_port, proto, packets::BIGINT AS packets, bytes::BIGINT AS bytes
      FROM flows ORDER BY ALL`)

  it('a UTF-8 BOM before the header: a flow file, ingested as without it (the same flows)', async () => {
    const text = csv(50)
    const plain = writeTemp(dir, 'plain.csv', text)
    const bom = writeTemp(dir, 'bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))
    expect(await sniffIngestKind(bom)).toBe('flow-file')
    const a = await ingestFile(store, plain, {network: 'n'})
    const other = await FlowStore.open(path.join(dir, 'other.duckdb'))
    try {
      const b = await ingestFile(other, bom, {network: 'n'})
      expect([b.status, b.flows]).toEqual(['ingested', 50])
      expect([b.status, b.flows, b.packets, b.bytes]).toEqual([a.status, a.flows, a.packets, a.bytes])
      expect(await flowsOf(other)).toEqual(await flowsOf(store))
    } finally {
      await other.close()
    }
  })

  it('a UTF-8 BOM before a Zeek log: a flow file, its # header read, ingested as without it', async () => {
    const text = zeekLog(20)
    const plain = writeTemp(dir, 'conn.log', text)
    const bom = writeTemp(dir, 'bom-conn.log', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))
    expect(await sniffIngestKind(plain)).toBe('flow-file')
    expect(await sniffIngestKind(bom)).toBe('flow-file')
    const a = await ingestFile(store, plain, {network: 'n'})
    expect([a.status, (a as {preset?: string}).preset]).toEqual(['ingested', 'zeek'])
    const other = await FlowStore.open(path.join(dir, 'other.duckdb'))
    try {
      const b = await ingestFile(other, bom, {network: 'n'})
      expect([b.status, (b as {preset?: string}).preset, b.flows, b.packets, b.bytes]).toEqual([a.status, 'zeek', a.flows, a.packets, a.bytes])
      expect(b.flows).toBeGreaterThan(0)
      expect(await flowsOf(other)).toEqual(await flowsOf(store))
    } finally {
      await other.close()
    }
  })

  it('a NUL byte in the header: a flow file whose error names the file and the column; nothing stored', async () => {
    const before = await seed()
    const file = writeTemp(dir, 'nul.csv', csv(3, HEADER.replace('src_ip', 'src\0ip')))
    expect(await sniffIngestKind(file)).toBe('flow-file')
    const e = await badInput(ingestFile(store, file, {network: 'n'}), file)
    expect(e.message).toMatch(new RegExp(`^${escapeRe(file)}: line 1: the header holds a NUL byte \\(in column 3\\)`))
    expect(await storeSnapshot(store)).toEqual(before)
  })

  it('a UTF-16LE file (BOM and a NUL after every letter) is the same error, not a capture', async () => {
    const before = await seed()
    const file = writeTemp(dir, 'utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv(3), 'utf16le')]))
    expect(await sniffIngestKind(file)).toBe('flow-file')
    const e = await badInput(ingestFile(store, file, {network: 'n'}), file)
    expect(e.message).toContain(': line 1: the header holds a NUL byte')
    expect(await storeSnapshot(store)).toEqual(before)
  })
})

describe('withFlowFileMemory', () => {
  interface Now {
    memory_limit: string
    threads: string
    allocator_flush_threshold: string
  }
  const now = async (s: FlowStore): Promise<Now> =>
    (await s.all<Now>(`SELECT current_setting('memory_limit') AS memory_limit, current_setting('threads')::VARCHAR AS threads,
      current_setting('allocator_flush_threshold') AS allocator_flush_threshold`))[0]!
  /** DuckDB shows the limit rounded to a tenth of its unit */
  const near = (shown: string, bytes: number): void => {
    expect(Math.abs(parseDuckDbSize(shown) - bytes), `${shown} vs ${bytes} bytes`).toBeLessThan(0.1 * 2 ** 20)
  }

  it('bounds memory_limit by the thread count during fn and puts both settings back after it returns', async () => {
    const old = await now(store)
    const threads = Math.min(Number(old.threads), FLOW_FILE_MAX_THREADS)
    // the bound applies only below DuckDB's default (80 % of the RAM), which on any test machine it is
    expect(parseDuckDbSize(old.memory_limit)).toBeGreaterThan(flowFileMemoryLimit(threads))
    let during: Now | undefined
    const r = await withFlowFileMemory(store, async () => {
      during = await now(store)
      return 42
    })
    expect(r).toBe(42)
    near(during!.memory_limit, flowFileMemoryLimit(threads))
    expect(during!.threads).toBe(String(threads))
    expect(during!.allocator_flush_threshold).not.toBe(old.allocator_flush_threshold)
    expect(await now(store)).toEqual(old)
  })

  it('with more threads than FLOW_FILE_MAX_THREADS: fewer during fn, the limit by that count, all put back after fn throws', async () => {
    await store.run(`SET threads = ${FLOW_FILE_MAX_THREADS * 2}`)
    await store.run("SET memory_limit = '7.5GiB'")
    const old = await now(store)
    expect(old.threads).toBe(String(FLOW_FILE_MAX_THREADS * 2))
    let during: Now | undefined
    const boom = new Error('the ingest failed')
    await expect(
      withFlowFileMemory(store, async () => {
        during = await now(store)
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(during!.threads).toBe(String(FLOW_FILE_MAX_THREADS))
    near(during!.memory_limit, flowFileMemoryLimit(FLOW_FILE_MAX_THREADS))
    expect(await now(store)).toEqual(old)
  })

  it('puts the settings back after a bad row made the ingest throw midway (through ingestFile)', async () => {
    const old = await now(store)
    const file = writeTemp(dir, 'bad-row.csv', `${csv(3)}2015-02-18 06:49:52,2015-02-18 06:49:53,10.0.0.1,1000,10.0.0.2,80,6,1152921504606846976,100\n`)
    const e = await badInput(ingestFile(store, file, {network: 'n'}), file)
    expect(e.message).toMatch(/: line 5: packet count outside/)
    expect(await now(store)).toEqual(old)
  })

  it('runs an ingest that ran out of its bounded memory again with twice the limit, up to four times it, then gives up', async () => {
    const old = await now(store)
    const oom = (): Error => new Error('Out of Memory Error: failed to pin block of size 256.0 KiB (63.8 MiB/64.0 MiB used)')
    const limits: number[] = []
    const r = await withFlowFileMemory(store, async () => {
      limits.push(parseDuckDbSize((await now(store)).memory_limit))
      if (limits.length < 2) throw oom()
      return 'stored'
    })
    expect(r).toBe('stored')
    const base = flowFileMemoryLimit(Math.min(Number(old.threads), FLOW_FILE_MAX_THREADS))
    expect(limits.map((l) => Math.round(l / base))).toEqual([1, 2])
    expect(await now(store)).toEqual(old)
    limits.length = 0
    await expect(
      withFlowFileMemory(store, async () => {
        limits.push(parseDuckDbSize((await now(store)).memory_limit))
        throw oom()
      }),
    ).rejects.toThrow(/Out of Memory Error/)
    expect(limits.map((l) => Math.round(l / base))).toEqual([1, 2, 4])
    expect(await now(store)).toEqual(old)
    // any other error is not retried
    limits.length = 0
    await expect(
      withFlowFileMemory(store, async () => {
        limits.push(0)
        throw new Error('line 3: bad row')
      }),
    ).rejects.toThrow('line 3: bad row')
    expect(limits).toHaveLength(1)
  })

  it('leaves a memory store alone', async () => {
    const mem = await FlowStore.open(':memory:')
    try {
      const old = await now(mem)
      let during: Now | undefined
      await withFlowFileMemory(mem, async () => {
        during = await now(mem)
      })
      expect(during).toEqual(old)
      expect(await now(mem)).toEqual(old)
    } finally {
      await mem.close()
    }
  })
})

describe('parseDuckDbSize', () => {
  it.each([
    ['1.5 GiB', 1.5 * 2 ** 30],
    ['953.6 MiB', 953.6 * 2 ** 20],
    ['512.0 KiB', 512 * 2 ** 10],
    ['18.8 GiB', 18.8 * 2 ** 30],
    ['96.0 MiB', 96 * 2 ** 20],
    ['1.0 TiB', 2 ** 40],
    ['2.0 GB', 2e9],
    ['0 bytes', 0],
    ['1 byte', 1],
    ['100', 100],
    [' 3.0 mib ', 3 * 2 ** 20],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseDuckDbSize(text)).toBeCloseTo(bytes, 0)
  })

  it.each(['', 'unlimited', '1.5 XiB', 'GiB', '-1 GiB', '1,5 GiB'])('%j is NaN', (text) => {
    expect(parseDuckDbSize(text)).toBeNaN()
  })
})
