/** Worker-thread entry of `startFileHash` (file-hash.ts): hashes `size` bytes of `file`, posts the hex digest. */
import {parentPort, workerData} from 'node:worker_threads'

import {sha256Range} from './file-hash.js'

const {file, size} = workerData as {file: string; size: number}
sha256Range(file, size).then(
  (sha256) => parentPort?.postMessage({sha256}),
  (error: unknown) => parentPort?.postMessage({error: error instanceof Error ? error.message : String(error)}),
)
