import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {addrToString} from '../../../src/core/ip.js'
import {readFlowBatches} from '../../../src/io/store/flow-reader.js'
import {ingestCapture} from '../../../src/io/ingest/ingest.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {FIXTURES, tempDir} from '../../helpers/cli.js'

describe('readFlowBatches', () => {
  it('reads stored flows back into batches identical to what was stored', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'r.duckdb'))
    await ingestCapture(store, path.join(FIXTURES, 'small.pcapng'), {network: 'n'})
    const stored = await store.all<{k: string}>(
      `SELECT concat_ws(',', epoch_us(ts_start), epoch_us(ts_end), src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate) AS k
         FROM flows ORDER BY k`,
    )
    const back: string[] = []
    for await (const b of readFlowBatches(store, {network: 'n'})) {
      for (let i = 0; i < b.length; i++) {
        back.push([b.tsStart[i], b.tsEnd[i], addrToString(b.srcAddr, i, b.family[i]!), addrToString(b.dstAddr, i, b.family[i]!), b.srcPort[i], b.dstPort[i], b.proto[i], b.tcpFlags[i], b.packets[i], b.bytes[i], b.samplingRate[i]].join(','))
      }
    }
    expect(back.sort()).toEqual(stored.map((r) => r.k))
    let none = 0
    for await (const b of readFlowBatches(store, {network: 'other'})) none += b.length
    expect(none).toBe(0)
    await store.close()
  })
})
