/**
 * What is left behind by runs that are gone (issue #20): locks `flowscope doctor --unlock` clears, the
 * hint of a lock that cannot be judged stale, and the temporary folders of killed runs.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {claimTempDir, JobLockedError, lockPathFor, removeLock, withStoreLock} from '../../../src/io/store/lock.js'
import {tempDir} from '../../helpers/cli.js'

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!
}

function holder(pid: number, host = hostname(), job = 'run'): string {
  return JSON.stringify({pid, host, job, startedAt: '2026-01-01T00:00:00.000Z', token: `t${pid}`})
}

describe('a lock that cannot be judged stale names its file and flowscope doctor --unlock', () => {
  const cases: Array<[string, () => string]> = [
    ['held on another host', () => holder(1, 'cron-box-2')],
    ['unreadable', () => '{"pid": '],
    // a live pid of this host with no process start time: it may be the holder or a later process
    ['without a process start time', () => holder(process.pid)],
  ]
  for (const [name, content] of cases) {
    it(name, async () => {
      const db = path.join(tempDir(), 'a.duckdb')
      writeFileSync(lockPathFor(db), content())
      const err = (await withStoreLock(db, 'report', async () => 'ran').catch((e: unknown) => e)) as JobLockedError
      expect(err).toBeInstanceOf(JobLockedError)
      expect(err.hint).toContain(`flowscope doctor --unlock --db ${db}`)
      expect(err.hint).toContain(`${db}.lock`)
      expect(existsSync(lockPathFor(db))).toBe(true)
    })
  }
})

describe('removeLock (doctor --unlock)', () => {
  it('removes a lock whose holder is gone, of another host or unreadable, and returns what it removed', async () => {
    const db = path.join(tempDir(), 'b.duckdb')
    expect(await removeLock(db)).toEqual({file: `${db}.lock`, removed: false, holder: null})
    const pid = deadPid()
    writeFileSync(lockPathFor(db), holder(pid))
    expect(await removeLock(db)).toMatchObject({removed: true, holder: {pid, host: hostname(), job: 'run', startedAt: '2026-01-01T00:00:00.000Z'}})
    expect(existsSync(lockPathFor(db))).toBe(false)
    writeFileSync(lockPathFor(db), holder(1, 'cron-box-2'))
    expect(await removeLock(db)).toMatchObject({removed: true, holder: {host: 'cron-box-2'}})
    writeFileSync(lockPathFor(db), 'garbage')
    expect(await removeLock(db)).toEqual({file: `${db}.lock`, removed: true, holder: null})
    expect(existsSync(lockPathFor(db))).toBe(false)
  })

  it.skipIf(!existsSync('/proc/self/stat'))('removes a lock of a live pid without a process start time: it cannot be told from a later process', async () => {
    const db = path.join(tempDir(), 'd.duckdb')
    writeFileSync(lockPathFor(db), holder(process.pid))
    expect(await removeLock(db)).toMatchObject({removed: true, holder: {pid: process.pid}})
  })

  it('refuses while a live process of this host holds it', async () => {
    const db = path.join(tempDir(), 'c.duckdb')
    await withStoreLock(db, 'ingest', async () => {
      const err = await removeLock(db).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(JobLockedError)
      expect((err as JobLockedError).message).toContain(`locked by 'ingest' (pid ${process.pid}`)
      expect((err as JobLockedError).hint).toMatch(/alive on this host/)
      expect(existsSync(lockPathFor(db))).toBe(true)
    })
  })
})

describe('claimTempDir', () => {
  it('removes the folders of its prefix whose owner is gone, keeps the others, and owns the new one', async () => {
    const parent = tempDir()
    const make = (name: string, owner?: string): string => {
      const dir = path.join(parent, name)
      mkdirSync(dir)
      writeFileSync(path.join(dir, 'data.parquet'), 'x')
      if (owner !== undefined) writeFileSync(path.join(dir, 'owner.json'), owner)
      return dir
    }
    const orphan = make('flowscope-analyze-dead01', holder(deadPid(), hostname(), 'analyze'))
    const live = make('flowscope-analyze-live01', holder(process.pid, hostname(), 'analyze'))
    const remote = make('flowscope-analyze-host01', holder(1, 'cron-box-2', 'analyze'))
    const unowned = make('flowscope-analyze-none01')
    const otherPrefix = make('something-else-dead01', holder(deadPid()))

    const {dir, removedOrphans} = await claimTempDir(parent, 'flowscope-analyze-', 'analyze')
    expect(removedOrphans).toEqual([orphan])
    expect(existsSync(orphan)).toBe(false)
    for (const kept of [live, remote, unowned, otherPrefix]) expect(existsSync(kept), kept).toBe(true)
    expect(path.dirname(dir)).toBe(parent)
    expect(path.basename(dir)).toMatch(/^flowscope-analyze-/)
    expect(JSON.parse(readFileSync(path.join(dir, 'owner.json'), 'utf8'))).toMatchObject({pid: process.pid, host: hostname(), job: 'analyze'})

    // the next run keeps ours: we are alive
    const next = await claimTempDir(parent, 'flowscope-analyze-', 'analyze')
    expect(next.removedOrphans).toEqual([])
    expect(existsSync(dir)).toBe(true)
    expect(readdirSync(parent).filter((n) => n.startsWith('flowscope-analyze-'))).toHaveLength(5)
  })
})
