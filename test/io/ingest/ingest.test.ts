import {appendFileSync, copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {createBLAKE3} from 'hash-wasm'

import {contentHashFile} from '../../../src/io/ingest/content-hash.js'
import {CaptureLookahead, ingestCapture, prefetchCapture} from '../../../src/io/ingest/ingest.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {FIXTURES, tempDir} from '../../helpers/cli.js'

const DEMO = path.join(FIXTURES, 'demo.pcap')

/** BLAKE3 by hash-wasm's WebAssembly build: an implementation independent of the native one ingest uses */
async function wasmBlake3(bytes: Uint8Array): Promise<string> {
  const h = await createBLAKE3()
  h.init()
  h.update(bytes)
  return h.digest('hex')
}

describe('ingestCapture content dedup', () => {
  it('recognises the same content under another name, and records the BLAKE3 of the whole file', async () => {
    const dir = tempDir()
    const copy = path.join(dir, 'renamed.pcap')
    copyFileSync(DEMO, copy)
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const a = await ingestCapture(store, DEMO, {network: 'n'})
    expect(a.status).toBe('ingested')
    expect(a.blake3).toBe(await wasmBlake3(readFileSync(DEMO)))
    const [row] = await store.all<{blake3: string; sha256: string | null}>('SELECT blake3, sha256 FROM sources')
    expect(row).toEqual({blake3: a.blake3, sha256: null})
    const b = await ingestCapture(store, copy, {network: 'n'})
    expect(b.status).toBe('unchanged')
    expect(b.sourceId).toBe(a.sourceId)
    expect(b.flows).toBe(a.flows)
    await store.close()
  })

  it('a file with the same first MiB and size but other content is a new source', async () => {
    const dir = tempDir()
    const bytes = readFileSync(DEMO)
    const other = Buffer.from(bytes)
    // flip a bit in the last record's payload: same head, same size, different content
    other[other.length - 3] = other[other.length - 3]! ^ 0x01
    const otherPath = path.join(dir, 'other.pcap')
    writeFileSync(otherPath, other)
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const a = await ingestCapture(store, DEMO, {network: 'n'})
    const b = await ingestCapture(store, otherPath, {network: 'n'})
    expect(b.status).toBe('ingested')
    expect(b.blake3).not.toBe(a.blake3)
    expect(b.blake3).toBe(await contentHashFile(otherPath))
    const [{n}] = (await store.all<{n: bigint}>('SELECT count(*) AS n FROM sources')) as [{n: bigint}]
    expect(n).toBe(2n)
    await store.close()
  })
})

describe('ingestCapture decode paths', () => {
  it('the worker-thread and in-line decoders store the same flows', async () => {
    const rows: string[][] = []
    for (const threads of ['1', '0']) {
      process.env.FLOWSCOPE_INGEST_THREADS = threads
      try {
        const store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
        const r = await ingestCapture(store, DEMO, {network: 'n'})
        expect(r.status).toBe('ingested')
        const got = await store.all<{k: string}>(
          "SELECT concat_ws(',', epoch_us(ts_start), src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes) AS k FROM flows ORDER BY k",
        )
        rows.push(got.map((x) => x.k))
        await store.close()
      } finally {
        delete process.env.FLOWSCOPE_INGEST_THREADS
      }
    }
    expect(rows[0]!.length).toBeGreaterThan(1000)
    expect(rows[0]).toEqual(rows[1])
  })

  it('a big file hashed in its own thread gets the same BLAKE3, and dedups the same way', async () => {
    const dir = tempDir()
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const a = await ingestCapture(store, DEMO, {network: 'n', hashThreadMinBytes: 0})
    expect(a.status).toBe('ingested')
    expect(a.blake3).toBe(await wasmBlake3(readFileSync(DEMO)))
    const b = await ingestCapture(store, DEMO, {network: 'n', hashThreadMinBytes: 0})
    expect(b.status).toBe('unchanged')
    const c = await ingestCapture(store, DEMO, {network: 'other'})
    expect(c.blake3).toBe(a.blake3)
    await store.close()
  })

  it('a file that grows while it is ingested fails and leaves the store as it was', async () => {
    const dir = tempDir()
    const growing = path.join(dir, 'growing.pcap')
    copyFileSync(DEMO, growing)
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    let grown = false
    await expect(
      ingestCapture(store, growing, {
        network: 'n',
        hashThreadMinBytes: 0,
        onProgress: () => {
          if (!grown) appendFileSync(growing, Buffer.alloc(16))
          grown = true
        },
      }),
    ).rejects.toThrow(/growing\.pcap: the file changed size while it was being ingested/)
    expect(await store.all('SELECT (SELECT count(*) FROM flows) AS f, (SELECT count(*) FROM sources) AS s')).toEqual([{f: 0n, s: 0n}])
    await store.close()
  })

  it('a capture prefetched before the store opens stores the same flows; prefetching a stored capture is cancelled', async () => {
    const dir = tempDir()
    const plain = await FlowStore.open(path.join(dir, 'a.duckdb'))
    await ingestCapture(plain, DEMO, {network: 'n'})
    const want = await plain.all('SELECT src_ip, dst_ip, src_port, dst_port, proto, packets, bytes FROM flows ORDER BY ALL')
    await plain.close()

    const prefetched = await prefetchCapture(DEMO, {network: 'n'})
    await new Promise((resolve) => setTimeout(resolve, 100)) // let the decoder run ahead
    const store = await FlowStore.open(path.join(dir, 'b.duckdb'))
    const r = await ingestCapture(store, DEMO, {network: 'n', prefetched})
    expect(r.status).toBe('ingested')
    expect(await store.all('SELECT src_ip, dst_ip, src_port, dst_port, proto, packets, bytes FROM flows ORDER BY ALL')).toEqual(want)
    const again = await ingestCapture(store, DEMO, {network: 'n', prefetched: await prefetchCapture(DEMO, {network: 'n'})})
    expect(again.status).toBe('unchanged')
    await store.close()
  })
  it('the next capture of the same process is decoded by the same worker, with the same results; a failed decoding is not reused', async () => {
    const dir = tempDir()
    const SMALL = path.join(FIXTURES, 'small.pcapng')
    const flows = async (store: FlowStore): Promise<unknown[]> =>
      store.all("SELECT concat_ws(',', epoch_us(ts_start), src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes) AS k FROM flows ORDER BY k")
    // what each capture stores when decoded in-line (no worker at all)
    const want: unknown[][] = []
    process.env.FLOWSCOPE_INGEST_THREADS = '0'
    try {
      for (const file of [DEMO, SMALL]) {
        const store = await FlowStore.open(path.join(dir, `inline-${want.length}.duckdb`))
        await ingestCapture(store, file, {network: 'n'})
        want.push(await flows(store))
        await store.close()
      }
    } finally {
      delete process.env.FLOWSCOPE_INGEST_THREADS
    }

    const store = await FlowStore.open(path.join(dir, 'both.duckdb'))
    const first = await prefetchCapture(DEMO, {network: 'n'})
    expect(first.run.threadId).toBeGreaterThan(0)
    expect((await ingestCapture(store, DEMO, {network: 'n', prefetched: first})).status).toBe('ingested')
    const second = await prefetchCapture(SMALL, {network: 'n'})
    expect(second.run.threadId).toBe(first.run.threadId)
    expect((await ingestCapture(store, SMALL, {network: 'n', prefetched: second})).status).toBe('ingested')
    await store.close()
    const a = await FlowStore.open(path.join(dir, 'a.duckdb'))
    const b = await FlowStore.open(path.join(dir, 'b.duckdb'))
    await ingestCapture(a, DEMO, {network: 'n'})
    await ingestCapture(b, SMALL, {network: 'n'})
    expect(await flows(a)).toEqual(want[0])
    expect(await flows(b)).toEqual(want[1])
    await a.close()
    await b.close()

    // a capture that fails part-way: its worker is not kept
    const bad = path.join(dir, 'bad.pcap')
    const bytes = readFileSync(DEMO)
    writeFileSync(bad, bytes.subarray(0, bytes.length - 5))
    const failing = await prefetchCapture(bad, {network: 'n'})
    const c = await FlowStore.open(path.join(dir, 'c.duckdb'))
    await expect(ingestCapture(c, bad, {network: 'n', prefetched: failing})).rejects.toThrow(/truncated record/)
    const after = await prefetchCapture(DEMO, {network: 'n'})
    expect(after.run.threadId).not.toBe(failing.run.threadId)
    expect((await ingestCapture(c, DEMO, {network: 'n', prefetched: after})).status).toBe('ingested')
    expect(await flows(c)).toEqual(want[0])
    await c.close()
  })
  it('a store error while taking batches a finished worker left waiting fails the consumer, and that worker is not reused', async () => {
    const run = (await prefetchCapture(DEMO, {network: 'n'})).run
    // let the worker decode the whole capture before anything consumes it
    await new Promise((resolve) => setTimeout(resolve, 1000))
    let calls = 0
    await expect(
      run.consume(() => {
        calls++
        throw new Error('no space left on device')
      }),
    ).rejects.toThrow(/no space left on device/)
    expect(calls).toBe(1)
    await run.cancel()
    const next = (await prefetchCapture(DEMO, {network: 'n'})).run
    expect(next.threadId).toBeGreaterThan(0)
    expect(next.threadId).not.toBe(run.threadId)
    await next.cancel()
  })
  it('CaptureLookahead decodes captures ahead, one at a time, and leaves flow files to their ingest', async () => {
    const dir = tempDir()
    const csv = path.join(dir, 'flows.csv')
    writeFileSync(csv, 'src_ip,dst_ip,src_port,dst_port,proto,packets,bytes,ts_start\n10.0.0.1,10.0.0.2,1,2,6,3,180,1700000000\n')
    const lookahead = new CaptureLookahead({network: 'n'})
    lookahead.ahead(csv)
    expect(await lookahead.take(csv)).toBeUndefined()
    lookahead.ahead(DEMO)
    lookahead.ahead(path.join(FIXTURES, 'small.pcapng')) // one at a time: ignored while DEMO waits
    expect(await lookahead.take(path.join(FIXTURES, 'small.pcapng'))).toBeUndefined()
    const demo = await lookahead.take(DEMO)
    expect(demo?.file).toBe(DEMO)
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const r = await ingestCapture(store, DEMO, {network: 'n', prefetched: demo!})
    expect(r.status).toBe('ingested')
    expect(r.flows).toBeGreaterThan(1000)
    lookahead.ahead(path.join(dir, 'missing.pcap')) // unreadable: left to its ingest, which reports it
    expect(await lookahead.take(path.join(dir, 'missing.pcap'))).toBeUndefined()
    lookahead.ahead(DEMO)
    await lookahead.cancel()
    expect(await lookahead.take(DEMO)).toBeUndefined()
    await store.close()
  })
})
