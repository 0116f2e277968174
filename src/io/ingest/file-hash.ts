/**
 * The content hash (BLAKE3, content-hash.ts) of a big capture in a thread of its own that reads the
 * file itself, beside the thread that decodes it: the decoder does no hashing and no copying for it.
 * The second read comes from the page cache the first one filled (the two readers go at about the same
 * pace), so the disk is still read once.
 */
import {existsSync} from 'node:fs'
import {Worker} from 'node:worker_threads'
import {workerEntry} from '../../core/index.js'

/** A hash under way: `digest` resolves to the hex BLAKE3 digest of the whole file. */
export interface PendingHash {
  digest: Promise<string>
  cancel(): Promise<void>
}

/** Start the hash thread, or return undefined when its compiled entry is missing (tests from source without a build). */
export function startHashThread(file: string): PendingHash | undefined {
  const entry = hashWorkerPath()
  if (!existsSync(entry)) return undefined
  const worker = new Worker(entry, {workerData: {file}})
  const digest = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: {digest?: string; error?: string}) => (m.digest ? resolve(m.digest) : reject(new Error(`${file}: cannot hash: ${m.error}`))))
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`${file}: the hash thread exited (${code}) before it finished`)))
  })
  digest.catch(() => undefined) // observed by the caller; never an unhandled rejection when cancelled
  return {
    digest,
    cancel: async () => void (await worker.terminate()),
  }
}

function hashWorkerPath(): string {
  return workerEntry('io/ingest/hash-worker.js')
}
