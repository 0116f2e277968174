/**
 * A job lock beside the store (`<db>.lock`), so that two scheduled runs on one store — a cron job that
 * fires again while the previous run is still going — do not interfere: the second one stops at once
 * with a message that names the holder, instead of waiting on DuckDB's file lock or racing on outputs.
 *
 * The lock file is created atomically and complete: its content is written to a private temporary
 * file which is then hard-linked to the lock name (`link` fails with EEXIST when the lock exists, like
 * an O_EXCL create, but the lock is never seen half-written). It holds JSON: pid, host, job, start
 * time and, on Linux, the process's start time in clock ticks since boot, which tells a live holder
 * from an unrelated process that later got the same pid.
 *
 * A lock whose process is gone (same host, pid not running or running as another process) is stale:
 * it is removed (under a second, short-lived lock, so that of several runs finding it at once only one
 * removes it, and only while it is still the stale one) and the lock is taken again, and the caller is
 * told (`onStale`, which every command turns into a warning). A lock that cannot be judged stale (held
 * on another host, or unreadable) is never broken automatically; the message names the file and
 * `flowscope doctor --unlock`. One lock per store, whatever the job: a report while an ingest writes
 * would be refused by DuckDB anyway, and this way the message is clear.
 *
 * Temporary folders (the post pass's hand-off) carry an owner file of the same shape, so the next
 * run removes those a killed run left behind (`claimTempDir`).
 */
import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync, unlinkSync} from 'node:fs'
import {link, mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import path from 'node:path'

import {FlowscopeError, UsageError, EXIT} from '../../core/index.js'
import type {FlowscopeErrorOptions} from '../../core/index.js'

export interface LockHolder {
  pid: number
  host: string
  job: string
  /** ISO time the lock was taken */
  startedAt: string
  /** /proc/<pid>/stat start time (clock ticks since boot), Linux only */
  procStart?: string
  /** random, so a process can tell its own lock from one taken after it was broken */
  token: string
}

export interface StoreLockOptions {
  /** create the store's directory when it is missing (jobs that create the store); default true */
  createDir?: boolean
  /** called when a stale lock was broken, with its holder and the lock file (for `staleLockMessage`) */
  onStale?: (holder: LockHolder, lockFile: string) => void
  /**
   * For jobs that only read: when the lock file cannot be written (a read-only directory or file
   * system), run without the lock after telling this callback why, instead of failing.
   */
  allowUnlocked?: (reason: string) => void
}

/** Another run holds the store's job lock. Exit 1, like every "could not do it now" failure. */
export class JobLockedError extends FlowscopeError {
  readonly lockFile: string
  readonly holder: LockHolder | null

  constructor(db: string, lockFile: string, holder: LockHolder | null, options: FlowscopeErrorOptions = {}) {
    const who = holder
      ? `'${holder.job}' (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`
      : 'another flowscope run (its lock file cannot be read)'
    super('STORE_LOCKED', `${db}: locked by ${who}`, EXIT.failure, {
      hint:
        options.hint ??
        `wait for it to finish; if that run is gone (another host, a reboot), clear the lock with flowscope doctor --unlock --db ${db} (or remove ${lockFile})`,
      ...(options.cause === undefined ? {} : {cause: options.cause}),
    })
    this.lockFile = lockFile
    this.holder = holder
  }
}

/** What a command says when it took over the lock of a run that is gone. */
export function staleLockMessage(lockFile: string, h: LockHolder): string {
  return `took over ${lockFile}: its holder '${h.job}' (pid ${h.pid} on ${h.host}, since ${h.startedAt}) is gone`
}

/** The lock file of a store. */
export function lockPathFor(dbPath: string): string {
  return `${path.resolve(dbPath)}.lock`
}

/**
 * Runs `fn` holding the store's job lock, and releases it afterwards (also when `fn` throws, and on a
 * normal process exit). Throws `JobLockedError` at once when another live run holds it. An in-memory
 * store (`:memory:`) has nothing to share and is not locked.
 */
export async function withStoreLock<R>(dbPath: string, jobName: string, fn: () => Promise<R>, options: StoreLockOptions = {}): Promise<R> {
  if (dbPath === ':memory:') return fn()
  let lock: StoreLock
  try {
    lock = await acquireStoreLock(dbPath, jobName, options)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (options.allowUnlocked && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
      options.allowUnlocked(`cannot write ${lockPathFor(dbPath)} (${code}); running without the job lock`)
      return fn()
    }
    throw error
  }
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}

export interface StoreLock {
  file: string
  holder: LockHolder
  release(): Promise<void>
}

export async function acquireStoreLock(dbPath: string, jobName: string, options: StoreLockOptions = {}): Promise<StoreLock> {
  const file = lockPathFor(dbPath)
  const dir = path.dirname(file)
  if (options.createDir ?? true) await mkdir(dir, {recursive: true})
  else if (!existsSync(dir)) throw new UsageError(`${dbPath}: no such store`, {hint: 'check the --db path'})

  const holder = thisProcess(jobName)
  const content = `${JSON.stringify(holder)}\n`

  // each round takes the lock, finds a live holder, or clears a stale lock (waiting when another
  // process is clearing it); the bound only guards against a lock that keeps changing hands
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await createExclusive(file, content)) {
      const releaseOnExit = (): void => releaseSync(file, holder.token)
      process.once('exit', releaseOnExit)
      return {
        file,
        holder,
        release: async () => {
          process.removeListener('exit', releaseOnExit)
          await releaseIfOurs(file, holder.token)
        },
      }
    }
    const raw = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)))
    if (raw === null) continue // released between our attempt and the read: try again
    const current = parseHolder(raw)
    if (current === null || !isStale(current)) throw new JobLockedError(dbPath, file, current)
    if (await breakStale(file, raw, content)) options.onStale?.(current, file)
  }
  throw new JobLockedError(dbPath, file, parseHolder(await readFile(file, 'utf8').catch(() => '')))
}

function thisProcess(job: string): LockHolder {
  const holder: LockHolder = {pid: process.pid, host: hostname(), job, startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex')}
  const procStart = processStartTicks(process.pid)
  if (procStart !== undefined) holder.procStart = procStart
  return holder
}

/** The holder written in a lock file, or null when there is none (or it cannot be read). */
export async function readLockHolder(dbPath: string): Promise<{file: string; holder: LockHolder | null; exists: boolean}> {
  const file = lockPathFor(dbPath)
  const raw = await readFile(file, 'utf8').catch(() => null)
  return {file, exists: raw !== null, holder: raw === null ? null : parseHolder(raw)}
}

/**
 * Removes the store's lock for `flowscope doctor --unlock`: always when its holder is gone or cannot
 * be judged (another host, unreadable, or — where every lock this flowscope writes has one — without
 * a process start time to tell its process from a later one with the same pid); never while a
 * process of this host holds it.
 */
export async function removeLock(dbPath: string): Promise<{file: string; removed: boolean; holder: LockHolder | null}> {
  const {file, holder, exists} = await readLockHolder(dbPath)
  if (!exists) return {file, removed: false, holder: null}
  if (holder !== null && holdsAlive(holder)) throw new JobLockedError(dbPath, file, holder, {hint: 'that run is alive on this host: wait for it to finish or stop it'})
  await unlink(file).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)))
  return {file, removed: true, holder}
}

const TEMP_OWNER = 'owner.json'

/**
 * A new temporary folder `<parent>/<prefix>XXXXXX` owned by this process, after removing the folders
 * of that prefix whose owner is gone (a run killed with -9 or by the OOM killer cannot clean up after
 * itself). Returns the folder and the orphans it removed.
 */
export async function claimTempDir(parent: string, prefix: string, job: string): Promise<{dir: string; removedOrphans: string[]}> {
  const removedOrphans: string[] = []
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue
    const dir = path.join(parent, name)
    const owner = parseHolder(await readFile(path.join(dir, TEMP_OWNER), 'utf8').catch(() => ''))
    if (owner !== null && isStale(owner)) {
      await rm(dir, {recursive: true, force: true})
      removedOrphans.push(dir)
    }
  }
  const dir = await mkdtemp(path.join(parent, prefix))
  await writeFile(path.join(dir, TEMP_OWNER), `${JSON.stringify(thisProcess(job))}\n`)
  return {dir, removedOrphans}
}

/** Creates `file` with `content` if it does not exist; false when it does. */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, content, {flag: 'wx', mode: 0o644})
  try {
    await link(tmp, file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

/**
 * Removes a stale lock, if it is still the one we read. Several processes may find the same stale lock
 * at once; only the one holding the breaker (`<lock>.break`, taken like the lock itself) may remove it,
 * and it checks first that the lock file still holds what was read as stale — so a lock taken a moment
 * ago by another process is never removed. A breaker left by a process that died is cleared.
 */
async function breakStale(file: string, staleRaw: string, content: string): Promise<boolean> {
  const breaker = `${file}.break`
  if (!(await createExclusive(breaker, content))) {
    const other = parseHolder(await readFile(breaker, 'utf8').catch(() => ''))
    if (other === null || isStale(other)) await unlink(breaker).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20))
    return false
  }
  try {
    const now = await readFile(file, 'utf8').catch(() => null)
    if (now !== staleRaw) return false
    await unlink(file)
    return true
  } finally {
    await unlink(breaker).catch(() => {})
  }
}

async function releaseIfOurs(file: string, token: string): Promise<void> {
  const raw = await readFile(file, 'utf8').catch(() => null)
  if (raw !== null && parseHolder(raw)?.token === token) await unlink(file).catch(() => {})
}

function releaseSync(file: string, token: string): void {
  try {
    if (parseHolder(readFileSync(file, 'utf8'))?.token === token) unlinkSync(file)
  } catch {
    // nothing to release
  }
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const o = JSON.parse(raw) as Partial<LockHolder>
    if (typeof o.pid !== 'number' || typeof o.host !== 'string' || typeof o.job !== 'string' || typeof o.startedAt !== 'string') return null
    return {
      pid: o.pid,
      host: o.host,
      job: o.job,
      startedAt: o.startedAt,
      token: typeof o.token === 'string' ? o.token : '',
      ...(typeof o.procStart === 'string' ? {procStart: o.procStart} : {}),
    }
  } catch {
    return null
  }
}

/** A holder of this host known to be alive: its pid runs, as the process that took the lock when that can be told. */
function holdsAlive(h: LockHolder): boolean {
  if (h.host !== hostname() || isStale(h)) return false
  return h.procStart !== undefined || processStartTicks(process.pid) === undefined
}

/** A lock of this host whose process is gone, or whose pid now belongs to another process. */
export function isStale(h: LockHolder): boolean {
  if (h.host !== hostname()) return false
  if (!pidAlive(h.pid)) return true
  if (h.procStart === undefined) return false
  const now = processStartTicks(h.pid)
  return now !== undefined && now !== h.procStart
}

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, as another user's process
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19]
  } catch {
    return undefined
  }
}
