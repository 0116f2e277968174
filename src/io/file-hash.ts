/**
 * sha256 of a file in a worker thread, so the hash of a big capture runs beside its decoding instead
 * of after it or interleaved with it on one core (at ~1.7 GB/s, hashing a 5 GB capture takes ~3 s of
 * CPU). The worker reads the file itself — a second read from the page cache is cheaper than passing
 * every buffer across threads — and hashes exactly `size` bytes: the caller compares that size with
 * what its parser consumed, so a file that changes under the ingest is caught.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {open} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'

/** A hash under way; `digest` resolves to the hex sha256 of the first `size` bytes. */
export interface PendingHash {
  digest: Promise<string>
  cancel(): Promise<void>
}

/** Hash `size` bytes of `file` in a worker thread when the compiled worker exists, in-line otherwise. */
export function startFileHash(file: string, size: number): PendingHash {
  const entry = hashWorkerPath()
  if (!existsSync(entry)) {
    const digest = sha256Range(file, size)
    return {digest, cancel: async () => void (await digest.catch(() => undefined))}
  }
  const worker = new Worker(entry, {workerData: {file, size}})
  const digest = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: {sha256?: string; error?: string}) => (m.sha256 ? resolve(m.sha256) : reject(new Error(`${file}: cannot hash: ${m.error}`))))
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`${file}: the hash worker exited (${code}) before it finished`)))
  })
  digest.catch(() => undefined) // observed by the caller; never an unhandled rejection when cancelled
  return {digest, cancel: async () => void (await worker.terminate())}
}

/** sha256 of the first `size` bytes of `file`, read in 4 MiB blocks into one reused buffer. */
export async function sha256Range(file: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const fh = await open(file, 'r')
  try {
    const buf = new Uint8Array(BLOCK)
    let at = 0
    while (at < size) {
      const {bytesRead} = await fh.read(buf, 0, Math.min(BLOCK, size - at), at)
      if (bytesRead === 0) throw new Error(`the file ended at byte ${at}, before the ${size} bytes it had when the ingest began`)
      hash.update(buf.subarray(0, bytesRead))
      at += bytesRead
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

const BLOCK = 4 << 20

function hashWorkerPath(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'hash-worker.js')
  return path.resolve(path.dirname(here), '../../dist/io/hash-worker.js')
}
