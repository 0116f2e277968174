import {spawn} from 'node:child_process'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {StoreLockedError} from '../../src/errors.js'
import {appendFlowRecord, createFlowBatch} from '../../src/io/flow-batch.js'
import {FlowStore} from '../../src/io/store.js'
import {ROOT, tempDir} from '../helpers/cli.js'

function sampleBatch() {
  const b = createFlowBatch(4)
  appendFlowRecord(b, {
    tsStart: 1_700_000_000_000_000,
    tsEnd: 1_700_000_001_500_000,
    family: 4,
    src: [0x0a010203],
    dst: [0xc0a80001],
    srcPort: 51234,
    dstPort: 443,
    proto: 6,
    tcpFlags: 0x1b,
    packets: 12,
    bytes: 4_000,
  })
  appendFlowRecord(b, {
    tsStart: 1_700_000_002_000_000,
    tsEnd: 1_700_000_002_000_000,
    family: 6,
    src: [0x20010db8, 0, 0, 1],
    dst: [0x20010db8, 0, 0, 2],
    srcPort: 0,
    dstPort: 128 * 256,
    proto: 58,
    tcpFlags: 0,
    packets: 1,
    bytes: 104,
    samplingRate: 100,
    exporter: '192.0.2.1',
  })
  return b
}

describe('FlowStore', () => {
  it('stores flow batches with text and numeric addresses', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
    const appender = await store.createFlowAppender()
    appender.append(sampleBatch(), 'lab', 7)
    appender.close()
    const rows = await store.all<Record<string, unknown>>(
      `SELECT network, exporter, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate,
              source_id, family, src_addr, epoch_us(ts_start) AS s, epoch_us(ts_end) AS e FROM flows ORDER BY ts_start`,
    )
    expect(rows).toEqual([
      {network: 'lab', exporter: null, src_ip: '10.1.2.3', dst_ip: '192.168.0.1', src_port: 51234, dst_port: 443, proto: 6, tcp_flags: 0x1b,
        packets: 12n, bytes: 4000n, sampling_rate: 1, source_id: 7, family: 4, src_addr: 0xffff0a010203n, s: 1_700_000_000_000_000n, e: 1_700_000_001_500_000n},
      {network: 'lab', exporter: '192.0.2.1', src_ip: '2001:db8::1', dst_ip: '2001:db8::2', src_port: 0, dst_port: 32768, proto: 58, tcp_flags: 0,
        packets: 1n, bytes: 104n, sampling_rate: 100, source_id: 7, family: 6, src_addr: 0x20010db8000000000000000000000001n, s: 1_700_000_002_000_000n, e: 1_700_000_002_000_000n},
    ])
    await store.close()
  })

  it('rolls back everything a failed transaction appended', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 's.duckdb'))
    await expect(
      store.transaction(async () => {
        const appender = await store.createFlowAppender()
        appender.append(sampleBatch(), 'lab', 1)
        appender.close()
        throw new Error('decoder failed half-way')
      }),
    ).rejects.toThrow('decoder failed half-way')
    expect(await store.all('SELECT count(*) AS n FROM flows')).toEqual([{n: 0n}])
    await store.close()
  })

  it('refuses a second writer with StoreLockedError', async () => {
    const db = path.join(tempDir(), 'locked.duckdb')
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `import {DuckDBInstance} from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(db)}); await i.connect(); console.log('ready'); setTimeout(() => {}, 20000)`],
      {cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit']},
    )
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
        holder.on('exit', (code) => reject(new Error(`lock holder exited ${code}`)))
      })
      await expect(FlowStore.open(db)).rejects.toBeInstanceOf(StoreLockedError)
    } finally {
      holder.kill()
    }
  })
})
