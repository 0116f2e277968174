/** Worker-thread entry of `startHashThread` (file-hash.ts): hashes the blocks fed through its port, hands each back, posts the hex digest. */
import {createHash} from 'node:crypto'
import {parentPort, workerData} from 'node:worker_threads'
import type {MessagePort} from 'node:worker_threads'

import type {FromHasher, ToHasher} from './file-hash.js'

const {port} = workerData as {port: MessagePort}
const hash = createHash('sha256')
port.on('message', (m: ToHasher) => {
  if (m.type === 'end') {
    parentPort?.postMessage({sha256: hash.digest('hex')})
    port.close()
    return
  }
  hash.update(new Uint8Array(m.buf, 0, m.length))
  port.postMessage({type: 'block', buf: m.buf} satisfies FromHasher, [m.buf])
})
