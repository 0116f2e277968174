import {existsSync} from 'node:fs'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {EXIT, FLOW_TIME_MAX_US, FLOW_TIME_MIN_US, UsageError} from '../core/index.js'
import {
  badFlowRows,
  countBadFlows,
  FlowStore,
  isStale,
  QUARANTINE_TABLE,
  quarantineBadFlows,
  readLockHolder,
  removeLock,
  staleLockMessage,
  withStoreLock,
} from '../io/index.js'
import type {BadFlowCount, BadFlowRow, LockHolder} from '../io/index.js'
import {renderTable} from '../report/index.js'

/** A lock holder as doctor shows it (without the token that tells a process its own lock). */
export interface DoctorLockHolder {
  job: string
  pid: number
  host: string
  startedAt: string
}

export interface DoctorResult {
  db: string
  /** every row of `flows` (before a --fix) */
  flows: number
  /** rows outside the rule of what a stored flow may hold (before a --fix) */
  bad: number
  byProblem: BadFlowCount[]
  /** the first --limit bad rows, every value as text */
  rows: BadFlowRow[]
  /** with --fix: what was moved to the quarantine table */
  fixed: {quarantined: number; table: string; sourcesUpdated: number} | null
  lock: {
    file: string
    /** a lock file was there when doctor looked */
    present: boolean
    /** who it names; null when there is none or it cannot be read */
    holder: DoctorLockHolder | null
    /** its holder is a process of this host that is gone (the next run takes it over) */
    stale: boolean
    /** removed by --unlock */
    removed: boolean
  }
}

export default class Doctor extends BaseCommand<typeof Doctor> {
  static summary = 'Check a store: flows no query can take, and its lock.'
  static description = `Lists the stored flows outside the rule of what a flow record may hold (times from ${new Date(FLOW_TIME_MIN_US / 1000).getUTCFullYear()} to ${new Date(FLOW_TIME_MAX_US / 1000).getUTCFullYear()}, an end not before its start, a bounded duration, packet and byte counts and sampling rate within their limits: rows an older flowscope stored from malformed input, which make queries fail), counted by problem, with the first of them. Also shows the store's job lock.

Exit status: 0 when the store is healthy (or --fix moved every bad row), 1 when bad rows are found and not fixed, 2 on a usage error.

--fix moves the bad rows, in one transaction, to the table ${QUARANTINE_TABLE} (the columns of flows plus problem and quarantined_at; see it with flowscope sql), holding the store's lock. --unlock removes the store's lock file when its holder is gone or cannot be judged (another host, a lock without a readable holder); it refuses while a live process of this host holds it.`

  static examples = [
    {description: 'Check the default store', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Move the bad rows of a store to the quarantine table', command: '<%= config.bin %> <%= command.id %> --db /var/lib/flowscope/site.duckdb --fix'},
    {description: 'Clear the lock a run on a rebooted host left behind, then check', command: '<%= config.bin %> <%= command.id %> --db /var/lib/flowscope/site.duckdb --unlock'},
    {description: 'As JSON, listing at most 5 bad rows', command: '<%= config.bin %> <%= command.id %> --limit 5 --json'},
  ]

  static flags = {
    fix: Flags.boolean({summary: `Move the bad rows to ${QUARANTINE_TABLE} (one transaction, under the store lock).`}),
    unlock: Flags.boolean({summary: "Remove the store's lock when its holder is gone or cannot be judged; never a live one of this host."}),
    limit: Flags.integer({summary: 'How many bad rows to list.', default: 20, min: 0}),
  }

  async run(): Promise<DoctorResult> {
    const db = this.flags.db
    if (db === ':memory:') throw new UsageError('doctor checks a store file; :memory: has nothing stored', {hint: 'name the store with --db'})

    let removed = false
    const before = await readLockHolder(db)
    if (this.flags.unlock) {
      const r = await removeLock(db)
      removed = r.removed
      // said at once: the check that follows may fail (no such store) after the lock is gone
      this.out(r.removed ? `removed ${r.file}: ${r.holder === null ? 'its holder could not be read' : `held by ${who(r.holder)}`}` : `no lock to remove: ${r.file} does not exist`)
    }
    if (!existsSync(db)) throw new UsageError(`${db}: no such store`, {hint: 'name the store with --db'})

    const check = async (store: FlowStore): Promise<Omit<DoctorResult, 'db' | 'lock' | 'fixed'>> => {
      const counts = await countBadFlows(store)
      const rows = counts.bad === 0 ? [] : await badFlowRows(store, this.flags.limit)
      return {flows: counts.flows, bad: counts.bad, byProblem: counts.byProblem, rows}
    }

    let found: Omit<DoctorResult, 'db' | 'lock' | 'fixed'>
    let fixed: DoctorResult['fixed'] = null
    if (this.flags.fix) {
      ;({found, fixed} = await withStoreLock(
        db,
        'doctor',
        async () => {
          const store = await FlowStore.open(db, {mustExist: true})
          try {
            const f = await check(store)
            const q = f.bad === 0 ? null : await quarantineBadFlows(store)
            return {found: f, fixed: q === null ? null : {quarantined: q.quarantined, table: q.table, sourcesUpdated: q.sourcesUpdated}}
          } finally {
            await store.close()
          }
        },
        {createDir: false, onStale: (h, file) => this.note(staleLockMessage(file, h))},
      ))
    } else {
      const store = await FlowStore.open(db, {readOnly: true, mustExist: true}) // the stored rows as they are: openStoreForReading leaves the bad ones out
      try {
        found = await check(store)
      } finally {
        await store.close()
      }
    }

    const holder = before.holder
    const result: DoctorResult = {
      db,
      ...found,
      fixed,
      lock: {
        file: before.file,
        present: before.exists,
        holder: holder === null ? null : {job: holder.job, pid: holder.pid, host: holder.host, startedAt: holder.startedAt},
        stale: holder !== null && isStale(holder),
        removed,
      },
    }
    this.out(render(result))
    if (result.bad > 0 && fixed === null) this.exitSucceededWith(EXIT.failure)
    return result
  }
}

function who(h: LockHolder | DoctorLockHolder): string {
  return `'${h.job}' (pid ${h.pid} on ${h.host}, since ${h.startedAt})`
}

function render(r: DoctorResult): string {
  const lines: string[] = []
  const l = r.lock
  if (l.present && !l.removed) {
    lines.push(
      l.holder === null
        ? `lock: ${l.file} exists but its holder cannot be read (flowscope doctor --unlock removes it)`
        : `lock: ${l.file} held by ${who(l.holder)}${l.stale ? ', which is gone: the next run takes it over' : ''}`,
    )
  }
  if (r.bad === 0) {
    lines.push(`${r.db}: healthy, all ${r.flows} flows are within the limits of a stored flow record`)
    return lines.join('\n')
  }
  lines.push(`${r.db}: ${r.bad} of ${r.flows} flows are outside the limits of a stored flow record`)
  lines.push(renderTable([{header: 'flows', value: (p: BadFlowCount) => p.flows}, {header: 'problem', value: (p) => p.problem}], r.byProblem))
  if (r.rows.length > 0) {
    lines.push('', r.rows.length < r.bad ? `the first ${r.rows.length}:` : 'they are:')
    lines.push(
      renderTable(
        [
          {header: 'network', value: (x: BadFlowRow) => x.network},
          {header: 'source', value: (x) => x.source ?? `#${x.sourceId}`},
          {header: 'ts_start', value: (x) => x.tsStart},
          {header: 'ts_end', value: (x) => x.tsEnd},
          {header: 'packets', value: (x) => x.packets, align: 'right'},
          {header: 'bytes', value: (x) => x.bytes, align: 'right'},
          {header: 'sampling', value: (x) => x.samplingRate, align: 'right'},
          {header: 'problem', value: (x) => x.problem},
        ],
        r.rows,
      ),
    )
  }
  lines.push('')
  if (r.fixed !== null) {
    lines.push(
      `quarantined ${r.fixed.quarantined} flow${r.fixed.quarantined === 1 ? '' : 's'}: moved to ${r.fixed.table}` +
        `${r.fixed.sourcesUpdated > 0 ? `, ${r.fixed.sourcesUpdated} source${r.fixed.sourcesUpdated === 1 ? '' : 's'} corrected` : ''}` +
        ` (flowscope sql "SELECT problem, count(*) FROM ${r.fixed.table} GROUP BY 1" --db ${r.db})`,
    )
  } else {
    lines.push(`to move them to ${QUARANTINE_TABLE}: flowscope doctor --fix --db ${r.db}`)
  }
  return lines.join('\n')
}
