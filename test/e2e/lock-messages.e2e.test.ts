/**
 * Taking over the lock of a run that is gone is said, by every command that takes the store lock
 * (issue #20: "a stale lock taken over after kill -9 is not mentioned").
 */
import {spawnSync} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {FIXTURES, runCli, tempDir} from '../helpers/cli.js'

function staleLock(db: string, job: string): string {
  const pid = spawnSync(process.execPath, ['-e', '']).pid!
  writeFileSync(`${db}.lock`, JSON.stringify({pid, host: hostname(), job, startedAt: '2026-01-01T00:00:00.000Z', token: 'old'}))
  return `took over ${db}.lock: its holder '${job}' (pid ${pid} on ${hostname()}, since 2026-01-01T00:00:00.000Z) is gone`
}

describe('a stale lock taken over is a warning (issue #20)', () => {
  const small = path.join(FIXTURES, 'small.pcapng')
  let db: string
  beforeAll(() => {
    db = path.join(tempDir(), 's.duckdb')
    const r = runCli(['ingest', small, '--db', db, '--network', 'lab'])
    expect(r.code, r.stderr).toBe(0)
  })

  const cases: Array<[string, () => string[], number]> = [
    ['report', () => ['report', '--db', db, '--json'], 0],
    ['analyze', () => ['analyze', '--db', db, '--workers', '1', '--no-post', '--json'], 0],
    ['run', () => ['run', small, '--db', db, '--network', 'lab', '--no-analyze', '--json'], 0],
    // the stream stops at once (no checkpoint to resume from), after it took the lock
    ['stream', () => ['stream', '--stream', 'none', '--endpoint', 'http://127.0.0.1:9', '--start', 'checkpoint', '--db', db, '--json'], 2],
  ]
  for (const [name, args, code] of cases) {
    it(name, () => {
      const message = staleLock(db, 'killed-job')
      const r = runCli(args())
      expect(r.code, r.stderr + r.stdout.slice(0, 300)).toBe(code)
      expect(r.json!.warnings).toContain(message)
      expect(existsSync(`${db}.lock`)).toBe(false)
      // and for people, on stderr
      const human = runCli(args().filter((a) => a !== '--json'))
      expect(human.stderr).not.toContain('took over')
      staleLock(db, 'killed-job')
      expect(runCli(args().filter((a) => a !== '--json')).stderr).toContain(`warning: took over ${db}.lock`)
    })
  }
})

describe('a lock that cannot be judged stale (issue #20)', () => {
  it('the refusal names the lock file and flowscope doctor --unlock, which clears it', () => {
    const db = path.join(tempDir(), 'h.duckdb')
    expect(runCli(['ingest', path.join(FIXTURES, 'small.pcapng'), '--db', db]).code).toBe(0)
    writeFileSync(`${db}.lock`, JSON.stringify({pid: 1, host: 'cron-box-2', job: 'run', startedAt: '2026-01-01T00:00:00.000Z', token: 'x'}))
    const r = runCli(['report', '--db', db])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Error: ${db}: locked by 'run' (pid 1 on cron-box-2, since 2026-01-01T00:00:00.000Z)`)
    expect(r.stderr).toContain(`flowscope doctor --unlock --db ${db} (or remove ${db}.lock)`)
    expect(runCli(['doctor', '--unlock', '--db', db]).code).toBe(0)
    expect(runCli(['report', '--db', db]).code).toBe(0)
  })
})
