import {createHash} from 'node:crypto'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {DuckDBInstance} from '@duckdb/node-api'
import {createBLAKE3} from 'hash-wasm'
import {describe, expect, it, vi} from 'vitest'

import {contentHashFile, contentHashImplementation, createContentHasher} from '../../../src/io/ingest/content-hash.js'
import {ingestCapture} from '../../../src/io/ingest/ingest.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {FIXTURES, tempDir} from '../../helpers/cli.js'

const DEMO = path.join(FIXTURES, 'demo.pcap')

describe('content hash (BLAKE3)', () => {
  it('gives the published BLAKE3 digests and the same digest as the WebAssembly build, whatever the block boundaries', async () => {
    // BLAKE3 reference test vectors (test_vectors.json): input byte i = i mod 251
    const vector = (n: number): Uint8Array => Uint8Array.from({length: n}, (_, i) => i % 251)
    const h0 = await createContentHasher()
    expect(h0.digest()).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
    const h1 = await createContentHasher()
    h1.update(vector(1))
    expect(h1.digest()).toBe('2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213')
    expect(contentHashImplementation()).toBe('native')
    const bytes = vector(3_000_017)
    const wasm = await createBLAKE3()
    wasm.init()
    wasm.update(bytes)
    const want = wasm.digest('hex')
    for (const step of [1 << 20, 65_537, 1024]) {
      const h = await createContentHasher()
      for (let at = 0; at < bytes.length; at += step) h.update(bytes.subarray(at, Math.min(bytes.length, at + step)))
      expect(h.digest(), `blocks of ${step}`).toBe(want)
    }
  })

  it('falls back to the WebAssembly build (FLOWSCOPE_BLAKE3=wasm) with the same digests', async () => {
    vi.resetModules()
    process.env.FLOWSCOPE_BLAKE3 = 'wasm'
    try {
      const m = await import('../../../src/io/ingest/content-hash.js')
      expect(m.contentHashImplementation()).toBe('wasm')
      expect(await m.contentHashFile(DEMO)).toBe(await contentHashFile(DEMO))
    } finally {
      delete process.env.FLOWSCOPE_BLAKE3
      vi.resetModules()
    }
  })

  it('hashes a file as its bytes', async () => {
    const wasm = await createBLAKE3()
    wasm.init()
    wasm.update(readFileSync(DEMO))
    expect(await contentHashFile(DEMO)).toBe(wasm.digest('hex'))
  })
})

describe('a store made by schema 1 (SHA-256 identities)', () => {
  it('is migrated on open; a file it recorded by SHA-256 is still recognised, new files are recorded by BLAKE3', async () => {
    const dir = tempDir()
    const db = path.join(dir, 'v1.duckdb')
    // the sources table and meta row as flowscope 0.1 wrote them
    const inst = await DuckDBInstance.create(db)
    const c = await inst.connect()
    await c.run(`CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
      INSERT INTO meta VALUES ('schema_version', '1');
      CREATE SEQUENCE source_id_seq START 1;
      CREATE TABLE sources (source_id INTEGER PRIMARY KEY, path VARCHAR NOT NULL, size UBIGINT NOT NULL, sha256 VARCHAR NOT NULL,
        format VARCHAR NOT NULL, network VARCHAR NOT NULL, packets UBIGINT NOT NULL, flows UBIGINT NOT NULL, bytes UBIGINT NOT NULL,
        skipped UBIGINT NOT NULL, ts_first TIMESTAMP, ts_last TIMESTAMP, sampling_rate UINTEGER NOT NULL DEFAULT 1, parent_source INTEGER,
        ingested_at TIMESTAMP NOT NULL, content VARCHAR NOT NULL DEFAULT 'packets', head_sha256 VARCHAR, UNIQUE (sha256, network))`)
    const sha = createHash('sha256').update(readFileSync(DEMO)).digest('hex')
    const head = createHash('sha256').update(readFileSync(DEMO).subarray(0, 1 << 20)).digest('hex')
    await c.run(`INSERT INTO sources VALUES (nextval('source_id_seq'), '/old/demo.pcap', ${statSync(DEMO).size}, '${sha}', 'pcap', 'n', 1, 1, 1, 0,
      NULL, NULL, 1, NULL, now()::TIMESTAMP, 'packets', '${head}')`)
    c.closeSync()
    inst.closeSync()

    const store = await FlowStore.open(db)
    try {
      const [v] = await store.all<{value: string}>("SELECT value FROM meta WHERE key = 'schema_version'")
      expect(v?.value).toBe('2')
      const again = await ingestCapture(store, DEMO, {network: 'n'})
      expect(again.status).toBe('unchanged')
      expect(again.sourceId).toBe(1)
      // the same file in another network, and another file: new sources with BLAKE3 and no SHA-256
      const other = path.join(dir, 'other.pcap')
      const bytes = Buffer.from(readFileSync(DEMO))
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 1
      writeFileSync(other, bytes)
      const b = await ingestCapture(store, other, {network: 'n'})
      expect(b.status).toBe('ingested')
      const rows = await store.all<{source_id: number; sha256: string | null; blake3: string | null}>('SELECT source_id, sha256, blake3 FROM sources ORDER BY source_id')
      expect(rows).toEqual([
        {source_id: 1, sha256: sha, blake3: null},
        {source_id: b.sourceId, sha256: null, blake3: await contentHashFile(other)},
      ])
      expect((await ingestCapture(store, other, {network: 'n'})).status).toBe('unchanged')
    } finally {
      await store.close()
    }
    // opening it again leaves it as it is
    const reopened = await FlowStore.open(db)
    expect(await reopened.all<{n: bigint}>('SELECT count(*) AS n FROM sources')).toEqual([{n: 2n}])
    await reopened.close()
  })
})
