import {spawn} from 'node:child_process'
import dgram from 'node:dgram'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {readCapture} from '../../src/io/capture/capture-reader.js'
import {udpPayload} from '../../src/io/flowexport/export-records.js'
import {createDecodedPacket, decodePacket, DECODE_OK} from '../../src/io/capture/packet-decoder.js'
import {ROOT, runCli, SHARED_DATA, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

const PMACCT = path.join(SHARED_DATA, 'pmacct-flowexport')

async function exportPayloads(file: string): Promise<Buffer[]> {
  const out: Buffer[] = []
  const p = createDecodedPacket()
  for await (const b of readCapture(file)) {
    for (let i = 0; i < b.count; i++) {
      if (decodePacket(b.buf, b.offset[i]!, b.caplen[i]!, b.origLen[i]!, b.linktype[i]!, p) !== DECODE_OK || p.proto !== 17) continue
      const payload = udpPayload(b.buf, p.l4Offset, p.l4End)
      if (payload) out.push(Buffer.from(payload))
    }
  }
  return out
}

async function send(from: string, port: number, payloads: Buffer[]): Promise<void> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, from, () => resolve()))
  for (const [i, p] of payloads.entries()) {
    await new Promise<void>((resolve, reject) => socket.send(p, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())))
    // pace the burst so the loopback receive buffer never overflows
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5))
  }
  socket.close()
}

describe.skipIf(!existsSync(PMACCT))('flowscope collect', () => {
  it('stores what exporters send over UDP on 127.0.0.1, the same flows as ingesting the capture, and flushes on SIGTERM', async () => {
    const dir = tempDir()
    const db = path.join(dir, 'c.duckdb')
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), 'collect', '--listen', 'udp://127.0.0.1:0', '--db', db, '--network', 'core', '--json', '--flush-interval', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        const m = /listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)
        if (m) resolve(Number(m[1]))
      })
      child.on('exit', (code) => reject(new Error(`collector exited early (${code}): ${stderr}`)))
    })
    // two exporters, as in the captures: one per source address
    await send('127.0.0.1', port, await exportPayloads(path.join(PMACCT, '401-traffic-00.pcap')))
    await send('127.0.0.2', port, await exportPayloads(path.join(PMACCT, '401-traffic-01.pcap')))
    await new Promise((r) => setTimeout(r, 300))
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c))
      child.kill('SIGTERM')
    })
    expect(code, stderr).toBe(0)
    const result = expectContract('collect', {code: code ?? -1, stdout, stderr, json: JSON.parse(stdout)})
    expect(result.records).toBe(1464)

    // the same captures ingested as files give the same flows (exporter address aside)
    const fileDb = path.join(dir, 'f.duckdb')
    expect(runCli(['ingest', path.join(PMACCT, '401-traffic-00.pcap'), path.join(PMACCT, '401-traffic-01.pcap'), '--db', fileDb]).code).toBe(0)
    const q = `SELECT src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, packets, bytes, sampling_rate, epoch_us(ts_start) AS s, epoch_us(ts_end) AS e
               FROM flows ORDER BY ALL`
    const live = runCli(['sql', q, '--db', db, '--json'])
    const file = runCli(['sql', q, '--db', fileDb, '--json'])
    expect(live.code, live.stderr).toBe(0)
    expect(live.json!.result.rows).toHaveLength(1464)
    expect(live.json!.result.rows).toEqual(file.json!.result.rows)
  })

  it('refuses a listen address it cannot read (exit 2)', () => {
    const r = runCli(['collect', '--listen', 'tcp://x', '--db', path.join(tempDir(), 'x.duckdb')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/udp:\/\/HOST:PORT/)
  })
})
