import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {FIXTURES, runCli, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

const SMALL = path.join(FIXTURES, 'small.pcapng')
const DEMO = path.join(FIXTURES, 'demo.pcap')

function storeCounts(db: string): {flows: number; sources: number} {
  const r = runCli(['summary', '--db', db, '--json'])
  expectContract('summary', r)
  expect(r.code).toBe(0)
  return {flows: r.json!.result.flows, sources: r.json!.result.sources}
}

describe('flowscope ingest (CLI)', () => {
  it('ingests a capture, prints the JSON envelope, and a second run is a no-op', () => {
    const db = path.join(tempDir(), 'a.duckdb')
    const first = runCli(['ingest', SMALL, '--db', db, '--json'])
    expectContract('ingest', first)
    expect(first.code, first.stderr).toBe(0)
    expect(first.json?.status).toBe(0)
    const f = first.json!.result.files[0]
    expect(f.status).toBe('ingested')
    expect(f.format).toBe('pcapng')
    expect(f.packets).toBeGreaterThan(100)
    expect(f.flows).toBeGreaterThan(10)
    expect(f.bytes).toBeGreaterThan(f.packets * 20)
    expect(first.json!.warnings).toEqual([])

    const again = runCli(['ingest', SMALL, '--db', db, '--json'])
    expectContract('ingest', again)
    expect(again.code).toBe(0)
    expect(again.json!.result.files[0].status).toBe('unchanged')
    expect(again.json!.warnings.join(' ')).toMatch(/already in the store/)
    expect(storeCounts(db)).toEqual({flows: f.flows, sources: 1})
  })

  it('the same capture under another network label is stored again', () => {
    const db = path.join(tempDir(), 'a.duckdb')
    expect(runCli(['ingest', SMALL, '--db', db]).code).toBe(0)
    const r = runCli(['ingest', SMALL, '--db', db, '--network', 'lab', '--json'])
    expect(r.json!.result.files[0].status).toBe('ingested')
    expect(storeCounts(db).sources).toBe(2)
  })

  it('rejects a file that is not a capture with exit 3, naming file and offset, and leaves the store as it was', () => {
    const dir = tempDir()
    const db = path.join(dir, 'a.duckdb')
    expect(runCli(['ingest', SMALL, '--db', db]).code).toBe(0)
    const before = storeCounts(db)
    const bad = path.join(dir, 'notes.txt')
    writeFileSync(bad, 'this is not a capture file at all\n')
    const r = runCli(['ingest', bad, '--db', db, '--json'])
    expectContract('ingest', r)
    expect(r.code).toBe(3)
    expect(r.json!.status).toBe(3)
    expect(r.json!.error.file).toBe(bad)
    expect(r.json!.error.offset).toBe(0)
    expect(r.json!.error.message).toContain(bad)
    expect(storeCounts(db)).toEqual(before)
    const human = runCli(['ingest', bad, '--db', db])
    expect(human.code).toBe(3)
    expect(human.stderr).toMatch(/byte offset 0/)
    expect(human.stdout).toBe('')
  })

  it('a truncated last record fails the whole file (store unchanged); --skip-bad ingests the rest and counts it', () => {
    const dir = tempDir()
    const db = path.join(dir, 'a.duckdb')
    const cut = path.join(dir, 'cut.pcap')
    const bytes = readFileSync(DEMO)
    writeFileSync(cut, bytes.subarray(0, bytes.length - 7))
    const r = runCli(['ingest', cut, '--db', db, '--json'])
    expectContract('ingest', r)
    expect(r.code).toBe(3)
    expect(r.json!.error.message).toMatch(/truncated/)
    expect(r.json!.error.offset).toBeGreaterThan(24)
    expect(storeCounts(db)).toEqual({flows: 0, sources: 0})

    const skip = runCli(['ingest', cut, '--db', db, '--json', '--skip-bad'])
    expectContract('ingest', skip)
    expect(skip.code, skip.stderr).toBe(0)
    expect(skip.json!.result.files[0].badRecords).toBe(1)
    expect(skip.json!.warnings.join(' ')).toMatch(/skipped 1 bad record/)
    expect(storeCounts(db).sources).toBe(1)
  })

  it('stops at the first bad file: earlier files stay committed, the bad one adds nothing', () => {
    const dir = tempDir()
    const db = path.join(dir, 'a.duckdb')
    const bad = path.join(dir, 'bad.pcap')
    writeFileSync(bad, Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]))
    const r = runCli(['ingest', SMALL, bad, '--db', db])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(bad)
    expect(storeCounts(db).sources).toBe(1)
  })

  it('several captures in one call are ingested in the order given, each as it would be alone', () => {
    const dir = tempDir()
    const other = path.join(dir, 'other.pcap')
    const bytes = readFileSync(DEMO)
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01 // another content, same size and head
    writeFileSync(other, bytes)
    const db = path.join(dir, 'all.duckdb')
    const all = runCli(['ingest', DEMO, SMALL, DEMO, other, '--db', db, '--json'])
    expectContract('ingest', all)
    expect(all.code, all.stderr).toBe(0)
    const files = all.json!.result.files as {file: string; status: string; sourceId: number; packets: number; flows: number; bytes: number}[]
    expect(files.map((f) => [f.file, f.status, f.sourceId])).toEqual([
      [DEMO, 'ingested', 1],
      [SMALL, 'ingested', 2],
      [DEMO, 'unchanged', 1],
      [other, 'ingested', 3],
    ])
    for (const f of [files[0]!, files[1]!, files[3]!]) {
      const alone = runCli(['ingest', f.file, '--db', path.join(tempDir(), 'one.duckdb'), '--json'])
      expect(alone.code, alone.stderr).toBe(0)
      const a = alone.json!.result.files[0]
      expect([f.packets, f.flows, f.bytes]).toEqual([a.packets, a.flows, a.bytes])
    }
    expect(storeCounts(db).sources).toBe(3)

    // a bad file in the middle: the file before it stays, the one after (already decoding) adds nothing
    const bad = path.join(dir, 'bad.pcap')
    writeFileSync(bad, Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]))
    const db2 = path.join(dir, 'stop.duckdb')
    const stop = runCli(['ingest', SMALL, bad, DEMO, '--db', db2])
    expect(stop.code).toBe(3)
    expect(storeCounts(db2).sources).toBe(1)
  })

  it('a missing file is bad input (exit 3); an unknown flag is a usage error (exit 2)', () => {
    const db = path.join(tempDir(), 'a.duckdb')
    const missing = runCli(['ingest', '/nonexistent/x.pcap', '--db', db, '--json'])
    expectContract('ingest', missing)
    expect(missing.code).toBe(3)
    expect(missing.json!.error.message).toMatch(/nonexistent/)
    const usage = runCli(['ingest', SMALL, '--db', db, '--no-such-flag'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/no-such-flag/)
  })

  it('copies of the demo capture ingest with consistent totals', () => {
    const dir = tempDir()
    const db = path.join(dir, 'a.duckdb')
    const copy = path.join(dir, 'demo-copy.pcap')
    copyFileSync(DEMO, copy)
    const r = runCli(['ingest', copy, '--db', db, '--json'])
    expectContract('ingest', r)
    expect(r.code, r.stderr).toBe(0)
    const s = runCli(['summary', '--db', db, '--json']).json!.result
    expect(s.flows).toBe(r.json!.result.files[0].flows)
    expect(s.bytes).toBe(r.json!.result.files[0].bytes)
    expect(s.byProto.map((p: {proto: number}) => p.proto).sort()).toEqual(expect.arrayContaining([1, 6, 17]))
  })
})

describe('flowscope gen (CLI)', () => {
  it('hides low-and-slow attacks in a longer timeline when asked', () => {
    const out = path.join(tempDir(), 'slow.pcap')
    const r = runCli(['gen', '--out', out, '--packets', '5000', '--timeline', '1h', '--attacks', 'slow-beacon', '--json'])
    expectContract('gen', r)
    expect(r.code, r.stderr).toBe(0)
    const t = r.json!.result.truth
    expect(t.attacks.map((a: {kind: string}) => a.kind)).toEqual(['slow-beacon'])
    expect(t.endUs - t.startUs).toBeGreaterThan(55 * 60e6)
  })

  it('--fixtures writes the bundled fixtures and lists them', () => {
    const dir = tempDir()
    const r = runCli(['gen', '--fixtures', dir, '--json'])
    const fixtures = expectContract('gen', r).fixtures as {path: string; packets: number; flows: number}[]
    expect(fixtures.map((f) => path.basename(f.path))).toEqual(['demo.pcap', 'small.pcapng'])
    for (const f of fixtures) expect(readFileSync(f.path).equals(readFileSync(path.join(FIXTURES, path.basename(f.path)))), f.path).toBe(true)
  })
})
