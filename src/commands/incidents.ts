import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {EXIT} from '../core/index.js'
import {openStoreForReading, staleLockMessage, withStoreLock} from '../io/index.js'
import {
  DEFAULT_INCIDENTS_TOP,
  DEFAULT_TERMINAL_WIDTH,
  readIncidents,
  renderIncidentsCsv,
  renderIncidentsMarkdown,
  renderIncidentsText,
  shouldColor,
} from '../report/index.js'
import type {IncidentFilter, IncidentList} from '../report/index.js'
import {minSeverityFlag, networkFlag, REPORT_FORMATS, reportFormat, timeFlag} from '../flag-types.js'

/** What `flowscope incidents --json` returns: the filter as applied and the incidents passing it. */
export interface IncidentsResult extends IncidentList {
  filter: {
    network: string | null
    since: string | null
    until: string | null
    type: string | null
    minSeverity: number | null
    open: boolean
    top: number
  }
}

export default class Incidents extends BaseCommand<typeof Incidents> {
  static summary = 'List the incidents: merged, typed detections of one entity, most severe first; filter them; alert on them.'
  static description = `Reads the store (read-only): the incidents analyze built from its window detections (overlapping and consecutive windows of one entity merged into one, typed from its flows, with the attack's other ends folded in: src/infer/INCIDENTS.md), most severe first: attack type, the entity and its role, when it was active, how big (extrapolated packets and bytes with their 95% intervals), how sure, the counterparts (e.g. the spoofed sources of a flood, the reflectors of an amplification), severity (1..5) and status (open until the data runs an idle time past it). The window detections behind an incident are in 'flowscope report' (each with its incident id).

For cron: --fail-on incidents exits 4 when any incident passes the filter (e.g. --open --min-severity 3), and 0 otherwise. Exit codes: 0 ok, 1 failure (also: store locked), 2 usage, 3 bad input data, 4 incidents found (with --fail-on incidents).`

  static examples = [
    {description: 'The incidents of the last 24 hours, most severe first', command: '<%= config.bin %> <%= command.id %> --since 24h'},
    {description: 'Open SYN floods of one network', command: '<%= config.bin %> <%= command.id %> --network lab --type syn_flood --open'},
    {
      description: 'Alerting job: exit 4 when an open incident of severity 3 or more is in the store',
      command: '<%= config.bin %> <%= command.id %> --open --min-severity 3 --fail-on incidents',
    },
    {description: 'The top 10 of the week as Markdown, for a ticket', command: '<%= config.bin %> <%= command.id %> --since 7d --top 10 --format md'},
    {description: 'All incidents as CSV, for a spreadsheet', command: '<%= config.bin %> <%= command.id %> --format csv > incidents.csv'},
  ]

  static flags = {
    network: networkFlag({summary: 'Only this network (tenant).'}),
    since: timeFlag({summary: 'Incidents still active after this time (last seen after it; 24h, 7d or ISO 8601).'}),
    until: timeFlag({summary: 'Incidents that began before this time (first seen before it; 24h, 7d or ISO 8601).'}),
    type: Flags.string({summary: 'Only incidents of this attack type (syn_flood, udp_amplification, horizontal_scan, brute_force, beaconing, …).'}),
    'min-severity': minSeverityFlag,
    open: Flags.boolean({summary: 'Only open incidents (not yet closed by the idle time).'}),
    top: Flags.integer({summary: 'How many incidents to list (all of them count in the totals).', default: DEFAULT_INCIDENTS_TOP, min: 1}),
    format: Flags.option({summary: 'What to print on stdout.', options: REPORT_FORMATS, default: 'table' as const, helpGroup: 'OUTPUT'})(),
    'fail-on': Flags.option({summary: 'Exit 4 when any incident passes the filter (for alerting jobs).', options: ['incidents'] as const})(),
  }

  async run(): Promise<IncidentsResult> {
    const f = this.flags
    const filter: IncidentFilter = {
      ...(f.network === undefined ? {} : {network: f.network}),
      ...(f.since === undefined ? {} : {since: f.since}),
      ...(f.until === undefined ? {} : {until: f.until}),
      ...(f.type === undefined ? {} : {type: f.type}),
      ...(f['min-severity'] === undefined ? {} : {minSeverity: f['min-severity']}),
      ...(f.open ? {open: true} : {}),
    }
    const list = await withStoreLock(
      f.db,
      'incidents',
      async (): Promise<IncidentList> => {
        const store = await openStoreForReading(f.db, {onBadFlows: (m) => this.note(m)})
        try {
          return await readIncidents(store, filter, f.top)
        } finally {
          await store.close()
        }
      },
      {createDir: false, allowUnlocked: (why) => this.note(why), onStale: (h, file) => this.note(staleLockMessage(file, h))},
    )

    const format = reportFormat(f.format)
    if (format === 'table') {
      const width = process.stdout.isTTY && process.stdout.columns > 0 ? Math.min(DEFAULT_TERMINAL_WIDTH, process.stdout.columns) : DEFAULT_TERMINAL_WIDTH
      this.out(renderIncidentsText(list, {color: shouldColor(process.stdout), width}))
    } else if (format === 'markdown') this.out(renderIncidentsMarkdown(list, '# Incidents'))
    else this.out(renderIncidentsCsv(list))

    if (f['fail-on'] === 'incidents' && list.total > 0) {
      // not an error: the list was made; the status tells the scheduler there is something to act on
      this.exitSucceededWith(EXIT.detections)
      if (process.stdout.isTTY || f['log-level'] === 'debug') {
        this.info(`${list.total} incident${list.total === 1 ? '' : 's'} pass the filter: exit ${EXIT.detections} (--fail-on incidents)`)
      }
    }
    return {
      filter: {
        network: f.network ?? null,
        since: f.since?.toISOString() ?? null,
        until: f.until?.toISOString() ?? null,
        type: f.type ?? null,
        minSeverity: f['min-severity'] ?? null,
        open: f.open === true,
        top: f.top,
      },
      ...list,
    }
  }
}
