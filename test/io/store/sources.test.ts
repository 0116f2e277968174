import {createHash} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {addToSource, findDerivedSource, findSource, insertSource, nextSourceId} from '../../../src/io/store/index.js'
import type {NewSource} from '../../../src/io/store/index.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {tempDir} from '../../helpers/cli.js'

const T0 = 1_767_571_200_000_000

const FILE_SOURCE: NewSource = {
  path: '/captures/a.pcap',
  size: 1234,
  blake3: 'b3-a',
  format: 'pcap',
  network: 'lab',
  packets: 10,
  flows: 4,
  bytes: 5000,
  skipped: 1,
  tsFirstUs: T0,
  tsLastUs: T0 + 60e6,
  samplingRate: 1,
  ingestedAtUs: T0 + 3600e6,
  content: 'packets',
  headSha256: 'head-a',
}

describe('sources', () => {
  let dir: string
  let store: FlowStore
  beforeEach(async () => {
    dir = tempDir()
    store = await FlowStore.open(path.join(dir, 's.duckdb'))
  })
  afterEach(async () => {
    await store.close()
  })

  const row = async (id: number): Promise<Record<string, unknown> | undefined> =>
    (
      await store.all(
        `SELECT source_id, path, size, blake3, sha256, format, network, packets, flows, bytes, skipped, epoch_us(ts_first) AS first,
                epoch_us(ts_last) AS last, sampling_rate, parent_source, epoch_us(ingested_at) AS at, content, head_sha256
         FROM sources WHERE source_id = $1`,
        [id],
      )
    )[0]

  it('inserts a source under a new id, every column as given', async () => {
    const id = await insertSource(store, FILE_SOURCE)
    expect(id).toBe(1)
    expect(await row(id)).toEqual({
      source_id: 1, path: '/captures/a.pcap', size: 1234n, blake3: 'b3-a', sha256: null, format: 'pcap', network: 'lab',
      packets: 10n, flows: 4n, bytes: 5000n, skipped: 1n, first: BigInt(T0), last: BigInt(T0 + 60e6), sampling_rate: 1,
      parent_source: null, at: BigInt(T0 + 3600e6), content: 'packets', head_sha256: 'head-a',
    })
  })

  it('uses the id taken before the flows were appended, and leaves out counts as 0', async () => {
    const taken = await nextSourceId(store)
    expect(await nextSourceId(store)).toBe(taken + 1)
    const id = await insertSource(store, {sourceId: taken, path: 'udp://0.0.0.0:2055', sha256: 'collect:x', format: 'udp-collector', network: 'n', ingestedAtUs: T0, content: 'flow-export'})
    expect(id).toBe(taken)
    expect(await row(id)).toMatchObject({size: 0n, blake3: null, sha256: 'collect:x', packets: 0n, flows: 0n, bytes: 0n, skipped: 0n, first: null, last: null, sampling_rate: 1, parent_source: null, head_sha256: null})
    const sample = await insertSource(store, {path: 'x#sample', sha256: 'sample-1', format: 'sample', network: 'n', parentSource: id, samplingRate: 100, ingestedAtUs: T0, content: 'packets'})
    expect(await row(sample)).toMatchObject({parent_source: id, sampling_rate: 100})
  })

  it('writes nothing when the transaction it runs in rolls back', async () => {
    await expect(
      store.transaction(async () => {
        await insertSource(store, FILE_SOURCE)
        throw new Error('ingest failed')
      }),
    ).rejects.toThrow('ingest failed')
    expect(await store.all('SELECT count(*) AS n FROM sources')).toEqual([{n: 0n}])
  })

  it('refuses the same content twice in one network', async () => {
    await insertSource(store, FILE_SOURCE)
    await expect(insertSource(store, FILE_SOURCE)).rejects.toThrow(/constraint/i)
    await insertSource(store, {...FILE_SOURCE, network: 'other'})
    expect(await store.all('SELECT count(*) AS n FROM sources')).toEqual([{n: 2n}])
  })

  it('finds a file by BLAKE3 in its network only', async () => {
    const file = path.join(dir, 'a.pcap')
    writeFileSync(file, 'not read: found by BLAKE3')
    const id = await insertSource(store, FILE_SOURCE)
    expect(await findSource(store, file, 1234, 'b3-a', 'lab')).toEqual({source_id: id, format: 'pcap', content: 'packets', packets: 10n, flows: 4n, bytes: 5000n})
    expect(await findSource<{source_id: number}>(store, file, 1234, 'b3-a', 'lab', 'source_id')).toEqual({source_id: id})
    expect(await findSource(store, file, 1234, 'b3-a', 'elsewhere')).toBeUndefined()
    expect(await findSource(store, file, 1234, 'b3-b', 'lab')).toBeUndefined()
  })

  it('finds a file a schema-1 store recorded by its SHA-256, when one of the same size has no BLAKE3', async () => {
    const file = path.join(dir, 'old.pcap')
    const content = Buffer.from('a capture ingested by an older flowscope')
    writeFileSync(file, content)
    const sha256 = createHash('sha256').update(content).digest('hex')
    const id = await insertSource(store, {...FILE_SOURCE, blake3: null, sha256, size: content.length})
    expect((await findSource(store, file, content.length, 'b3-of-old', 'lab'))?.source_id).toBe(id)
    expect(await findSource(store, file, content.length + 1, 'b3-of-old', 'lab')).toBeUndefined()
    writeFileSync(file, Buffer.from('another capture, of the same length'.padEnd(content.length, '.')))
    expect(await findSource(store, file, content.length, 'b3-of-other', 'lab')).toBeUndefined()
  })

  it('finds a derived source by the SHA-256 identity it was stored under', async () => {
    const id = await insertSource(store, {path: 'x#sample', sha256: 'sample-1', format: 'sample', network: 'n', flows: 7, ingestedAtUs: T0, content: 'packets'})
    expect(await findDerivedSource(store, 'sample-1', 'n')).toEqual({source_id: id, flows: 7n})
    expect(await findDerivedSource(store, 'sample-1', 'm')).toBeUndefined()
  })

  it('adds to a growing source: totals, time span and the largest rate', async () => {
    const id = await insertSource(store, {path: 'kinesis://s', sha256: 'run-1', format: 'kinesis', network: 'n', ingestedAtUs: T0, content: 'flow-export'})
    await addToSource(store, id, {flows: 3, packets: 30, bytes: 3000, firstUs: T0 + 10e6, lastUs: T0 + 20e6 + 0.7, samplingRate: 1})
    await addToSource(store, id, {flows: 2, packets: 20, bytes: 2000, firstUs: T0 + 5e6, lastUs: T0 + 15e6, samplingRate: 64})
    await addToSource(store, id, {flows: 1, packets: 10, bytes: 1000, firstUs: T0 + 12e6, lastUs: T0 + 40e6, samplingRate: 8})
    expect(await row(id)).toMatchObject({flows: 6n, packets: 60n, bytes: 6000n, first: BigInt(T0 + 5e6), last: BigInt(T0 + 40e6), sampling_rate: 64})
  })
})
