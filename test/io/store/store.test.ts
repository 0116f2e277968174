import {spawn} from 'node:child_process'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {StoreLockedError} from '../../../src/core/errors.js'
import {appendFlowRecord, createFlowBatch} from '../../../src/core/flow-batch.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {ROOT, tempDir} from '../../helpers/cli.js'

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

  it('stores every row of batches that span chunks exactly: 64-bit counts, old times, mixed exporters, many addresses', async () => {
    // 5,000 rows cross two 2,048-row chunk boundaries; the exporter is '' (NULL) on some rows and two
    // different exporters elsewhere within one chunk, the same on every row of another; 3,000 distinct
    // IPv4 addresses exercise the text cache's collisions; counts beyond 2^32 and the epoch itself
    // (the earliest time a store holds) check the 64-bit word splitting.
    const n = 5000
    const b = createFlowBatch(n)
    for (let i = 0; i < n; i++) {
      appendFlowRecord(b, {
        tsStart: i === 0 ? 0 : 1_700_000_000_000_000 + i * 1_000_003,
        tsEnd: i === 0 ? 7 : 1_700_000_000_000_000 + i * 1_000_003 + 7,
        family: i % 7 === 0 ? 6 : 4,
        // texts of 7 to 15 bytes (DuckDB inlines up to 12) in both families
        src: i % 7 === 0 ? [0x20010db8, i, 0, 0] : [(((i >> 11) + i) % 2 ? 0x0a000000 + ((i * 2654435761) % 3000) : 0xc6336400 + (i % 256)) >>> 0],
        dst: i % 14 === 0 ? [0, 0, 0, 1 + (i % 9)] : i % 7 === 0 ? [0xfe800000, 0, 0x0a0b0c0d, i] : [i % 3 ? (0xc0000200 + (i % 256)) >>> 0 : 0xffffffff - (i % 3)],
        srcPort: i % 65536,
        dstPort: (i * 7) % 65536,
        proto: i % 7 === 0 ? 17 : 6,
        tcpFlags: i % 256,
        packets: i === 1 ? 2 ** 40 + 3 : i + 1,
        bytes: i === 1 ? 2 ** 52 + 1 : (i + 1) * 60,
        samplingRate: 1 + (i % 3),
        exporter: i < 2048 ? (i % 3 === 0 ? '' : i % 3 === 1 ? '192.0.2.1' : '2001:db8::9') : i < 4096 ? '198.51.100.7' : '',
      })
    }
    const store = await FlowStore.open(path.join(tempDir(), 'chunks.duckdb'))
    const appender = await store.createFlowAppender()
    appender.append(b, 'lab', 3)
    appender.close()
    const rows = await store.all<{src_ip: string; dst_ip: string; exporter: string | null; packets: bigint; bytes: bigint; s: bigint; e: bigint; src_addr: bigint; sampling_rate: number; src_port: number; tcp_flags: number; network: string; source_id: number; src_as: number | null}>(
      `SELECT src_ip, dst_ip, exporter, packets, bytes, epoch_us(ts_start) AS s, epoch_us(ts_end) AS e, src_addr, sampling_rate, src_port, tcp_flags,
              network, source_id, src_as FROM flows ORDER BY src_port`,
    )
    expect(rows).toHaveLength(n)
    const {addrToString, addrToBigInt} = await import('../../../src/core/ip.js')
    for (let i = 0; i < n; i++) {
      const r = rows[i]!
      const f = b.family[i]!
      expect(r.src_ip).toBe(addrToString(b.srcAddr, i, f))
      expect(r.dst_ip).toBe(addrToString(b.dstAddr, i, f))
      expect(r.src_addr).toBe(addrToBigInt(b.srcAddr, i))
      expect(r.exporter).toBe(b.exporter[i] === '' ? null : b.exporter[i])
      expect(r.packets).toBe(BigInt(b.packets[i]!))
      expect(r.bytes).toBe(BigInt(b.bytes[i]!))
      expect(r.s).toBe(BigInt(b.tsStart[i]!))
      expect(r.e).toBe(BigInt(b.tsEnd[i]!))
      expect([r.sampling_rate, r.src_port, r.tcp_flags, r.network, r.source_id, r.src_as]).toEqual([b.samplingRate[i], b.srcPort[i], b.tcpFlags[i], 'lab', 3, null])
    }
    expect(rows[7]!.src_ip).toBe('2001:db8:0:7::')
    expect(rows[14]!.dst_ip).toBe('::6')
    expect(rows[2]!.src_ip).toBe('198.51.100.2')
    expect(rows[3]!.dst_ip).toBe('255.255.255.255')
    // inlined texts must be zero padded, or equal texts compare unequal: grouping and equality see it
    for (const column of ['src_ip', 'dst_ip'] as const) {
      const texts = rows.map((r) => r[column])
      const grouped = await store.all<{t: string; n: bigint}>(`SELECT ${column} AS t, count(*) AS n FROM flows GROUP BY ${column}`)
      expect(grouped.length).toBe(new Set(texts).size)
      for (const g of grouped) expect(Number(g.n)).toBe(texts.filter((t) => t === g.t).length)
    }
    const lengths = new Set(rows.flatMap((r) => [r.src_ip.length, r.dst_ip.length]))
    for (const len of [3, 10, 11, 12, 13, 14, 15, 18]) expect(lengths).toContain(len)
    expect(rows[0]!.s).toBe(0n)
    await store.close()
  })

  it('refuses a batch with a row no store may hold, before writing any of it', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'gate.duckdb'))
    const cases: [string, Partial<Parameters<typeof appendFlowRecord>[1]>, RegExp][] = [
      ['before 1970', {tsStart: -1_500_000, tsEnd: -1}, /flow start .* outside 1970-01-01/],
      ['after 2200', {tsStart: Date.UTC(2200, 0, 2) * 1000, tsEnd: Date.UTC(2200, 0, 2) * 1000}, /outside 1970-01-01 \.\. 2200-01-01/],
      ['ending before it starts', {tsStart: 1_700_000_000_000_000, tsEnd: 1_699_999_999_000_000}, /before its start/],
      ['packets beyond 2^48', {packets: 16_602_433_577_848_307_712}, /packet count .* outside 0 \.\. 2\^48/],
      ['bytes beyond 2^56', {bytes: 2 ** 60}, /byte count .* outside 0 \.\. 2\^56/],
    ]
    for (const [what, change, message] of cases) {
      const b = createFlowBatch(3)
      for (let i = 0; i < 3; i++) {
        appendFlowRecord(b, {
          tsStart: 1_700_000_000_000_000, tsEnd: 1_700_000_000_500_000, family: 4, src: [0x0a000001], dst: [0x0a000002],
          srcPort: 1000 + i, dstPort: 80, proto: 6, tcpFlags: 2, packets: 3, bytes: 180,
          ...(i === 2 ? change : {}),
        })
      }
      const appender = await store.createFlowAppender()
      expect(() => appender.append(b, 'lab', 1), what).toThrow(message)
      appender.close()
      const [r] = await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')
      expect(r!.n, what).toBe(0n)
    }
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
