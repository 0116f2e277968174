import {spawnSync} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {acquireStoreLock} from '../../src/io/store/lock.js'
import {FlowStore} from '../../src/io/store/store.js'
import {runCli, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'
import {IPFIX_REPRO_BAD, IPFIX_REPRO_FILE, poisonLikeIpfixRepro, poisonSynthetic, SYNTHETIC_BAD} from '../io/store/poisoned-store.js'

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!
}

/** The query commands that failed for good on a poisoned store (issue #20) all work once it is fixed. */
function expectQueriesWork(db: string): void {
  for (const args of [['summary'], ['top', 'srcip'], ['flows', '--limit', '5'], ['report']]) {
    const r = runCli([...args, '--db', db, '--json'])
    expect(r.code, `${args.join(' ')}: ${r.stderr}${r.stdout.slice(0, 400)}`).toBe(0)
  }
}

describe('flowscope doctor (issue #20)', () => {
  it('a healthy store: exit 0, nothing to list', async () => {
    const db = path.join(tempDir(), 'ok.duckdb')
    await (await FlowStore.open(db)).close()
    const r = runCli(['doctor', '--db', db, '--json'])
    const result = expectContract('doctor', r)
    expect(r.code).toBe(0)
    expect(result).toMatchObject({flows: 0, bad: 0, byProblem: [], rows: [], fixed: null, lock: {present: false, removed: false}})
    expect(runCli(['doctor', '--db', db]).stdout).toMatch(/healthy/)
  })

  it('a poisoned store: lists the bad rows (exit 1); --fix quarantines them and says how many; then every query works', async () => {
    const db = path.join(tempDir(), 'p.duckdb')
    await poisonSynthetic(db)
    const human = runCli(['doctor', '--db', db])
    expect(human.code, human.stderr).toBe(1)
    expect(human.stdout).toContain(`${SYNTHETIC_BAD} of 5 flows are outside the limits`)
    expect(human.stdout).toContain('16602433577848307712')
    expect(human.stdout).toContain('290255-03-01 (BC) 00:00:00')
    expect(human.stdout).toContain('flow end before its start')
    expect(human.stdout).toContain(`flowscope doctor --fix --db ${db}`)

    const listed = runCli(['doctor', '--db', db, '--json', '--limit', '2'])
    const found = expectContract('doctor', listed)
    expect(listed.code).toBe(1)
    expect(found.bad).toBe(SYNTHETIC_BAD)
    expect(found.rows).toHaveLength(2)
    expect(found.rows[0]).toMatchObject({source: '/captures/synthetic.pcap', packets: '16602433577848307712', problem: 'packet count outside 0 .. 2^48'})
    expect(found.fixed).toBeNull()

    const fix = runCli(['doctor', '--db', db, '--fix'])
    expect(fix.code, fix.stderr).toBe(0)
    expect(fix.stdout).toMatch(/quarantined 3 flows: moved to flows_quarantine, 1 source corrected/)
    expect(existsSync(`${db}.lock`)).toBe(false)

    const after = runCli(['doctor', '--db', db, '--json'])
    expect(expectContract('doctor', after)).toMatchObject({flows: 2, bad: 0, fixed: null})
    expect(after.code).toBe(0)
    const q = runCli(['sql', 'SELECT problem, count(*)::INTEGER AS n FROM flows_quarantine GROUP BY 1 ORDER BY 1', '--db', db, '--json'])
    expect(q.json!.result.rows).toHaveLength(3)
    expectQueriesWork(db)
  })

  it('--fix --json gives what it moved', async () => {
    const db = path.join(tempDir(), 'j.duckdb')
    await poisonSynthetic(db)
    const r = runCli(['doctor', '--db', db, '--fix', '--json'])
    expect(expectContract('doctor', r)).toMatchObject({bad: SYNTHETIC_BAD, fixed: {quarantined: SYNTHETIC_BAD, table: 'flows_quarantine', sourcesUpdated: 1}})
    expect(r.code).toBe(0)
  })

  it.skipIf(!existsSync(IPFIX_REPRO_FILE))('the store the mutated IPFIX capture of the audit poisoned heals', async () => {
    const dir = tempDir()
    const db = path.join(dir, 'ipfix.duckdb')
    const file = await poisonLikeIpfixRepro(db, dir)
    const r = runCli(['doctor', '--db', db, '--json'])
    const found = expectContract('doctor', r)
    expect(r.code).toBe(1)
    expect(found).toMatchObject({flows: 9, bad: IPFIX_REPRO_BAD})
    expect(found.rows.every((x: {source: string}) => x.source === file)).toBe(true)
    expect(found.rows.map((x: {packets: string}) => x.packets)).toContain('16602433577848307712')
    expect(runCli(['doctor', '--db', db, '--fix']).stdout).toContain(`quarantined ${IPFIX_REPRO_BAD} flows`)
    expectQueriesWork(db)
  })

  it('--unlock removes a lock whose holder is gone or cannot be judged and says what it removed; never a live one of this host', async () => {
    const db = path.join(tempDir(), 'l.duckdb')
    await (await FlowStore.open(db)).close()
    const lock = `${db}.lock`

    const pid = deadPid()
    writeFileSync(lock, JSON.stringify({pid, host: hostname(), job: 'run', startedAt: '2026-01-01T00:00:00.000Z', token: 'old'}))
    const look = runCli(['doctor', '--db', db, '--json'])
    expect(expectContract('doctor', look).lock).toMatchObject({present: true, stale: true, removed: false, holder: {job: 'run', pid}})
    const stale = runCli(['doctor', '--db', db, '--unlock'])
    expect(stale.code, stale.stderr).toBe(0)
    expect(stale.stdout).toContain(`removed ${lock}: held by 'run' (pid ${pid} on ${hostname()}, since 2026-01-01T00:00:00.000Z)`)
    expect(existsSync(lock)).toBe(false)

    writeFileSync(lock, JSON.stringify({pid: 1, host: 'cron-box-2', job: 'report', startedAt: '2026-01-02T00:00:00.000Z', token: 'x'}))
    const other = runCli(['doctor', '--db', db, '--unlock', '--json'])
    expect(expectContract('doctor', other).lock).toMatchObject({present: true, removed: true, stale: false, holder: {host: 'cron-box-2', job: 'report'}})
    expect(existsSync(lock)).toBe(false)

    writeFileSync(lock, 'not json')
    const unreadable = runCli(['doctor', '--db', db, '--unlock'])
    expect(unreadable.code).toBe(0)
    expect(unreadable.stdout).toContain(`removed ${lock}: its holder could not be read`)

    expect(runCli(['doctor', '--db', db, '--unlock']).stdout).toContain(`no lock to remove: ${lock} does not exist`)

    // held by this test's own process: alive, on this host
    const held = await acquireStoreLock(db, 'ingest')
    try {
      const live = runCli(['doctor', '--db', db, '--unlock', '--json'])
      expectContract('doctor', live)
      expect(live.code).toBe(1)
      expect(live.json!.error).toMatchObject({code: 'STORE_LOCKED'})
      expect(live.json!.error.message).toContain(`'ingest' (pid ${process.pid}`)
      expect(existsSync(lock)).toBe(true)

      // and --fix, which takes the lock, is refused while it is held
      const fix = runCli(['doctor', '--db', db, '--fix'])
      expect(fix.code).toBe(1)
      expect(fix.stderr).toContain(`locked by 'ingest' (pid ${process.pid}`)
    } finally {
      await held.release()
    }
  })

  it('--fix takes over a stale lock and says so', async () => {
    const db = path.join(tempDir(), 's.duckdb')
    await poisonSynthetic(db)
    const pid = deadPid()
    writeFileSync(`${db}.lock`, JSON.stringify({pid, host: hostname(), job: 'analyze', startedAt: '2026-01-01T00:00:00.000Z', token: 'old'}))
    const r = runCli(['doctor', '--db', db, '--fix', '--json'])
    expectContract('doctor', r)
    expect(r.code).toBe(0)
    expect(r.json!.warnings).toEqual([`took over ${db}.lock: its holder 'analyze' (pid ${pid} on ${hostname()}, since 2026-01-01T00:00:00.000Z) is gone`])
    expect(existsSync(`${db}.lock`)).toBe(false)
  })

  it('a missing store is a usage error', () => {
    const r = runCli(['doctor', '--db', path.join(tempDir(), 'none.duckdb'), '--json'])
    expectContract('doctor', r)
    expect(r.code).toBe(2)
  })
})
