/**
 * The `sources` table (schema.ts): one row per file ingested, sample stored, collector or stream run —
 * whatever gave the store its flows. Found by content (BLAKE3, or SHA-256 for schema-1 rows), written
 * once, and counted up by the sources that grow as they run (a collector, a stream).
 */
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'

import type {FlowStore} from './store.js'

/** The columns `findSource` reads unless told otherwise. */
export interface StoredSource {
  source_id: number
  format: string
  content: string
  packets: bigint
  flows: bigint
  bytes: bigint
}

/**
 * The source already stored with this file's content in this network, if any: found by BLAKE3, or —
 * for files a store recorded before it kept BLAKE3 (schema 1, SHA-256 only) — by the SHA-256 of the
 * file, computed only when such a source has the same size.
 */
export async function findSource<T extends Partial<StoredSource> = StoredSource>(
  store: FlowStore,
  file: string,
  size: number,
  blake3: string,
  network: string,
  columns = 'source_id, format, content, packets, flows, bytes',
): Promise<T | undefined> {
  const rows = await store.all<T>(`SELECT ${columns} FROM sources WHERE blake3 = $1 AND network = $2`, [blake3, network])
  if (rows[0]) return rows[0]
  const legacy = await store.all<{n: bigint}>('SELECT count(*) AS n FROM sources WHERE blake3 IS NULL AND sha256 IS NOT NULL AND size = $1 AND network = $2', [size, network])
  if (Number(legacy[0]?.n ?? 0) === 0) return undefined
  const sha256 = await sha256File(file)
  return (await store.all<T>(`SELECT ${columns} FROM sources WHERE blake3 IS NULL AND sha256 = $1 AND network = $2`, [sha256, network]))[0]
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, {highWaterMark: 4 << 20})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** A derived source (a sample, an evaluation copy) by the SHA-256 identity it was stored under. */
export async function findDerivedSource(store: FlowStore, sha256: string, network: string): Promise<{source_id: number; flows: bigint} | undefined> {
  return (await store.all<{source_id: number; flows: bigint}>('SELECT source_id, flows FROM sources WHERE sha256 = $1 AND network = $2', [sha256, network]))[0]
}

/** A new source id from `source_id_seq`: taken before the source's flows are appended, which carry it. */
export async function nextSourceId(store: FlowStore): Promise<number> {
  const [{id}] = (await store.all<{id: number}>("SELECT nextval('source_id_seq')::INTEGER AS id")) as [{id: number}]
  return id
}

/** A `sources` row to write. Times are µs since the epoch; counts left out are 0. */
export interface NewSource {
  /** the id its flows were appended under (`nextSourceId`); one is taken when left out */
  sourceId?: number
  path: string
  size?: number
  /** content identity of an ingested file */
  blake3?: string | null
  /** identity of a derived source (sample, stream, collector, evaluation) */
  sha256?: string | null
  format: string
  network: string
  packets?: number
  flows?: number
  bytes?: number
  skipped?: number
  tsFirstUs?: number | null
  tsLastUs?: number | null
  samplingRate?: number
  parentSource?: number | null
  ingestedAtUs: number
  /** what the flows were made from: 'packets', 'flow-export' (decoded or collected records), 'flow-records' (thinned records) */
  content: string
  /** SHA-256 of the file's first MiB: ingest's cheap look for candidates before hashing a whole file */
  headSha256?: string | null
}

/** Writes one `sources` row; returns its id. Runs in the caller's transaction, if any. */
export async function insertSource(store: FlowStore, s: NewSource): Promise<number> {
  const id = s.sourceId ?? (await nextSourceId(store))
  await store.run(
    `INSERT INTO sources (source_id, path, size, blake3, sha256, format, network, packets, flows, bytes, skipped,
       ts_first, ts_last, sampling_rate, parent_source, ingested_at, content, head_sha256)
     VALUES ($id, $path, $size, $blake3, $sha256, $format, $network, $packets, $flows, $bytes, $skipped,
       make_timestamp($tsFirst::BIGINT), make_timestamp($tsLast::BIGINT), $rate, $parent, make_timestamp($ingestedAt::BIGINT), $content, $head)`,
    {
      id,
      path: s.path,
      size: s.size ?? 0,
      blake3: s.blake3 ?? null,
      sha256: s.sha256 ?? null,
      format: s.format,
      network: s.network,
      packets: s.packets ?? 0,
      flows: s.flows ?? 0,
      bytes: s.bytes ?? 0,
      skipped: s.skipped ?? 0,
      tsFirst: s.tsFirstUs ?? null,
      tsLast: s.tsLastUs ?? null,
      rate: s.samplingRate ?? 1,
      parent: s.parentSource ?? null,
      ingestedAt: s.ingestedAtUs,
      content: s.content,
      head: s.headSha256 ?? null,
    },
  )
  return id
}

/** Flows added to a growing source (a collector's batch, a stream window). Times are µs since the epoch. */
export interface SourceAddition {
  flows: number
  packets: number
  bytes: number
  /** earliest flow start and latest flow end of the addition */
  firstUs: number
  lastUs: number
  /** largest sampling rate of the addition */
  samplingRate: number
}

/** Counts an addition into an existing source: totals grow, the time span widens, the rate is the largest seen. */
export async function addToSource(store: FlowStore, sourceId: number, a: SourceAddition): Promise<void> {
  await store.run(
    `UPDATE sources SET flows = flows + $2, packets = packets + $3, bytes = bytes + $4,
       ts_first = least(coalesce(ts_first, make_timestamp($5::BIGINT)), make_timestamp($5::BIGINT)),
       ts_last = greatest(coalesce(ts_last, make_timestamp($6::BIGINT)), make_timestamp($6::BIGINT)),
       sampling_rate = greatest(sampling_rate, $7)
     WHERE source_id = $1`,
    [sourceId, a.flows, a.packets, a.bytes, Math.floor(a.firstUs), Math.floor(a.lastUs), a.samplingRate],
  )
}
