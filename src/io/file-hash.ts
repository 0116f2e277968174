/**
 * sha256 of a capture in a thread of its own, fed the bytes the decoder reads: the hash of a big
 * capture (~3 s of CPU for 5 GB at ~1.7 GB/s) runs beside its decoding instead of in the same thread,
 * and the file is still read once. The decoder copies each block it reads into one of a few pooled
 * buffers and hands it over (transferred, not copied again); the hasher hands the buffer back when it
 * is done, so at most `MAX_BLOCKS` blocks are in flight and a slow hasher holds the decoder back.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {MessageChannel, Worker} from 'node:worker_threads'
import type {MessagePort} from 'node:worker_threads'

/** A hash under way: give `port` to the decoder (a `HashFeed`); `digest` resolves to the hex sha256. */
export interface PendingHash {
  port: MessagePort
  digest: Promise<string>
  cancel(): Promise<void>
}

export type ToHasher = {type: 'block'; buf: ArrayBuffer; length: number} | {type: 'end'}
export type FromHasher = {type: 'block'; buf: ArrayBuffer}

/** Start the hash thread, or return undefined when its compiled entry is missing (tests from source without a build). */
export function startHashThread(file: string): PendingHash | undefined {
  const entry = hashWorkerPath()
  if (!existsSync(entry)) return undefined
  const {port1, port2} = new MessageChannel()
  const worker = new Worker(entry, {workerData: {port: port1}, transferList: [port1]})
  const digest = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: {sha256?: string; error?: string}) => (m.sha256 ? resolve(m.sha256) : reject(new Error(`${file}: cannot hash: ${m.error}`))))
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`${file}: the hash thread exited (${code}) before it finished`)))
  })
  digest.catch(() => undefined) // observed by the caller; never an unhandled rejection when cancelled
  return {
    port: port2,
    digest,
    cancel: async () => void (await worker.terminate()),
  }
}

/** The decoder's side: `push` every block of the file in order, then `end`. */
export class HashFeed {
  private readonly free: ArrayBuffer[] = []
  private allocated = 0
  private waiting: (() => void) | null = null

  constructor(private readonly port: MessagePort) {
    port.on('message', (m: FromHasher) => {
      this.free.push(m.buf)
      const w = this.waiting
      this.waiting = null
      w?.()
    })
  }

  async push(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += BLOCK) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + BLOCK))
      const buf = await this.block()
      new Uint8Array(buf).set(part)
      this.port.postMessage({type: 'block', buf, length: part.length} satisfies ToHasher, [buf])
    }
  }

  end(): void {
    this.port.postMessage({type: 'end'} satisfies ToHasher)
  }

  private async block(): Promise<ArrayBuffer> {
    for (;;) {
      const b = this.free.pop()
      if (b) return b
      if (this.allocated < MAX_BLOCKS) {
        this.allocated++
        return new ArrayBuffer(BLOCK)
      }
      await new Promise<void>((resolve) => (this.waiting = resolve))
    }
  }
}

const BLOCK = 4 << 20
const MAX_BLOCKS = 4

function hashWorkerPath(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'hash-worker.js')
  return path.resolve(path.dirname(here), '../../dist/io/hash-worker.js')
}
