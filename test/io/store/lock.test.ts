import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {UsageError} from '../../../src/core/errors.js'
import {acquireStoreLock, JobLockedError, lockPathFor, withStoreLock} from '../../../src/io/store/lock.js'
import {tempDir} from '../../helpers/cli.js'

/** A pid that certainly ran on this host and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''])
  return r.pid!
}

describe('withStoreLock', () => {
  it('holds <db>.lock with the holder while the job runs, and removes it afterwards, also on failure', async () => {
    const db = path.join(tempDir(), 'a.duckdb')
    const file = lockPathFor(db)
    expect(file).toBe(`${db}.lock`)
    await withStoreLock(db, 'ingest', async () => {
      const holder = JSON.parse(readFileSync(file, 'utf8'))
      expect(holder).toMatchObject({pid: process.pid, host: hostname(), job: 'ingest'})
      expect(Date.parse(holder.startedAt)).toBeGreaterThan(0)
    })
    expect(existsSync(file)).toBe(false)
    await expect(withStoreLock(db, 'ingest', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(existsSync(file)).toBe(false)
  })

  it('a second run is refused at once with a message naming the holder', async () => {
    const db = path.join(tempDir(), 'b.duckdb')
    await withStoreLock(db, 'run', async () => {
      const err = await withStoreLock(db, 'report', async () => 'ran').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(JobLockedError)
      const e = err as JobLockedError
      expect(e.exitCode).toBe(1)
      expect(e.code).toBe('STORE_LOCKED')
      expect(e.message).toMatch(new RegExp(`locked by 'run' \\(pid ${process.pid} on ${hostname()}, since \\d{4}-`))
      expect(e.hint).toContain(`${db}.lock`)
    })
  })

  it('exactly one of many simultaneous attempts gets the lock', async () => {
    const db = path.join(tempDir(), 'c.duckdb')
    const results = await Promise.allSettled(
      Array.from({length: 12}, (_, i) => withStoreLock(db, `job${i}`, async () => new Promise((resolve) => setTimeout(() => resolve(i), 50)))),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(JobLockedError)
  })

  it('takes over a stale lock of this host (its process is gone); of many racing for it, one wins', async () => {
    const db = path.join(tempDir(), 'd.duckdb')
    const stale = {pid: deadPid(), host: hostname(), job: 'run', startedAt: '2026-01-01T00:00:00.000Z', token: 'old'}
    writeFileSync(lockPathFor(db), JSON.stringify(stale))
    const seen: number[] = []
    await withStoreLock(db, 'report', async () => {
      expect(JSON.parse(readFileSync(lockPathFor(db), 'utf8')).job).toBe('report')
    }, {onStale: (h) => seen.push(h.pid)})
    expect(seen).toEqual([stale.pid])

    writeFileSync(lockPathFor(db), JSON.stringify(stale))
    const results = await Promise.allSettled(
      Array.from({length: 12}, (_, i) => withStoreLock(db, `job${i}`, async () => new Promise((resolve) => setTimeout(() => resolve(i), 50)))),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(existsSync(`${lockPathFor(db)}.break`)).toBe(false)
  })

  it.skipIf(!existsSync('/proc/self/stat'))('a live pid that started after the lock was taken is another process: stale', async () => {
    const db = path.join(tempDir(), 'e.duckdb')
    writeFileSync(lockPathFor(db), JSON.stringify({pid: process.pid, host: hostname(), job: 'run', startedAt: '2026-01-01T00:00:00.000Z', procStart: '1', token: 'x'}))
    await expect(withStoreLock(db, 'report', async () => 'ok')).resolves.toBe('ok')
  })

  it('never breaks a lock of another host, nor one it cannot read', async () => {
    const db = path.join(tempDir(), 'f.duckdb')
    writeFileSync(lockPathFor(db), JSON.stringify({pid: 1, host: 'cron-box-2', job: 'run', startedAt: '2026-01-01T00:00:00.000Z', token: 'x'}))
    const err = (await withStoreLock(db, 'report', async () => 'ran').catch((e: unknown) => e)) as JobLockedError
    expect(err).toBeInstanceOf(JobLockedError)
    expect(err.message).toContain("'run' (pid 1 on cron-box-2")
    expect(err.hint).toContain('remove')
    writeFileSync(lockPathFor(db), 'not json')
    await expect(withStoreLock(db, 'report', async () => 'ran')).rejects.toThrow(/its lock file cannot be read/)
  })

  it('an in-memory store is not locked; a missing store directory is a usage error unless the job creates it', async () => {
    await expect(withStoreLock(':memory:', 'report', async () => 'ok')).resolves.toBe('ok')
    const missing = path.join(tempDir(), 'no', 'such', 'x.duckdb')
    await expect(acquireStoreLock(missing, 'report', {createDir: false})).rejects.toBeInstanceOf(UsageError)
    expect(existsSync(path.dirname(missing))).toBe(false)
    await withStoreLock(missing, 'ingest', async () => expect(existsSync(lockPathFor(missing))).toBe(true))
  })
})
