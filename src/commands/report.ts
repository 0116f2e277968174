import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {EXIT, UsageError} from '../core/index.js'
import {openStoreForReading, staleLockMessage, withStoreLock} from '../io/index.js'
import {
  buildReport,
  DEFAULT_REPORT_TOP,
  DEFAULT_TERMINAL_WIDTH,
  DETECTION_PASS_NAMES,
  renderReportCsv,
  renderReportHtml,
  renderReportMarkdown,
  renderReportText,
  REPORT_CSV_TABLES,
  shouldColor,
  writeReportFile,
} from '../report/index.js'
import type {ReportData, ReportOptions, ReportResult} from '../report/index.js'
import {FAIL_ON, minSeverityFlag, networkFlag, REPORT_FORMATS, reportFormat, timeFlag} from '../flag-types.js'

const scoreFlag = Flags.custom<number>({
  parse: async (input) => {
    const n = Number(input)
    if (input.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--min-score: not a number: '${input}'`)
    return n
  },
})

export default class Report extends BaseCommand<typeof Report> {
  static summary = 'Report incidents, the window detections behind them, resource use of runs and sampling accuracy: table, Markdown, CSV, JSON or one HTML file.'
  static description = `Reads the store (read-only): first the incidents that pass the filter, most severe first (type, the entity and its role, when, how big with 95% intervals, confidence, counterparts, severity 1..5, status; --min-severity keeps the more severe ones); then, for drill-down, the window detections, sorted by score (address, AS, window, score against the threshold, attack type, the features that drove the score and the incident each belongs to); the resource use of recent runs; the accuracy of sampling estimates against their ground truth; what is in the store; traffic and detections over time, top talkers and detections by type.

--html FILE writes one self-contained page (charts as inline SVG, no scripts, no network fetches). With --html alone nothing else is printed; add --format to print a table as well.

For cron: when stdout is not a terminal only the report itself is printed (no progress or info lines; warnings and errors still go to stderr). --fail-on incidents exits 4 when any incident passes the filter (with --min-severity N: any of severity N or more), --fail-on detections when any window detection does, and 0 otherwise. A lock file beside the store (<db>.lock) keeps two runs of report, ingest or a pipeline on one store from overlapping: the second run stops with exit 1 and names the holder. Exit codes: 0 ok, 1 failure (also: store locked), 2 usage, 3 bad input data, 4 incidents or detections found (with --fail-on).`

  static examples = [
    {description: 'Detections of the last 24 hours and the rest of the report, in the terminal', command: '<%= config.bin %> <%= command.id %> --since 24h'},
    {description: 'The morning report of one network as a web page', command: '<%= config.bin %> <%= command.id %> --network lab --since 24h --html report.html'},
    {
      description: 'Alerting job: exit 4 when an incident of severity 3 or more was active in the last hour',
      command: '<%= config.bin %> <%= command.id %> --since 1h --min-severity 3 --fail-on incidents',
    },
    {
      description: 'Alerting job: exit 4 when a scan scored 5 or more in the last hour',
      command: '<%= config.bin %> <%= command.id %> --since 1h --type scan --min-score 5 --fail-on detections',
    },
    {description: 'The top 20 detections as Markdown, for a ticket', command: '<%= config.bin %> <%= command.id %> --since 7d --top 20 --format md'},
    {description: 'Resource use of recent runs as CSV', command: '<%= config.bin %> <%= command.id %> --csv runs'},
    {
      description: 'In a crontab: every morning at 07:00, a report page of the last day',
      command: '0 7 * * * <%= config.bin %> <%= command.id %> --db /var/lib/flowscope/flows.duckdb --since 24h --html /var/www/flowscope/report.html',
    },
  ]

  static flags = {
    network: networkFlag({summary: 'Only this network (tenant).'}),
    since: timeFlag({summary: 'Detections and flows from this time on (24h, 7d or ISO 8601).'}),
    until: timeFlag({summary: 'Detections and flows before this time (24h, 7d or ISO 8601).'}),
    type: Flags.string({summary: 'Only incidents and detections of this attack type (syn_flood, udp_amplification, horizontal_scan, scan, flood, brute_force, beaconing, exfiltration, unknown, …).'}),
    'min-severity': minSeverityFlag,
    'min-score': scoreFlag({summary: 'Only detections scoring at least this.'}),
    pass: Flags.option({summary: 'Only detections of this pass.', options: DETECTION_PASS_NAMES})(),
    top: Flags.integer({summary: 'How many detections to list (all of them count in the totals).', default: DEFAULT_REPORT_TOP, min: 1}),
    format: Flags.option({summary: 'What to print on stdout (default table; none with --html alone).', options: REPORT_FORMATS, helpGroup: 'OUTPUT'})(),
    csv: Flags.option({summary: 'CSV of this table (implies --format csv; default incidents).', options: REPORT_CSV_TABLES, helpGroup: 'OUTPUT'})(),
    html: Flags.string({summary: 'Write the report as one self-contained HTML file.', helpGroup: 'OUTPUT'}),
    'fail-on': Flags.option({summary: 'Exit 4 when any of these passes the filter (for alerting jobs).', options: FAIL_ON})(),
  }

  async run(): Promise<ReportResult> {
    const f = this.flags
    if (f.csv !== undefined && f.format !== undefined && f.format !== 'csv') {
      throw new UsageError(`--csv ${f.csv} prints CSV; it cannot be combined with --format ${f.format}`)
    }
    const format = f.csv !== undefined ? 'csv' : f.format !== undefined ? reportFormat(f.format) : f.html === undefined ? 'table' : undefined
    const options: ReportOptions = {
      top: f.top,
      ...(f.network === undefined ? {} : {network: f.network}),
      ...(f.since === undefined ? {} : {since: f.since}),
      ...(f.until === undefined ? {} : {until: f.until}),
      ...(f.type === undefined ? {} : {type: f.type}),
      ...(f['min-score'] === undefined ? {} : {minScore: f['min-score']}),
      ...(f['min-severity'] === undefined ? {} : {minSeverity: f['min-severity']}),
      ...(f.pass === undefined ? {} : {pass: f.pass}),
    }
    const htmlFile = f.html === undefined ? null : path.resolve(f.html)

    const data = await withStoreLock(
      f.db,
      'report',
      async (): Promise<ReportData> => {
        const store = await openStoreForReading(f.db, {onBadFlows: (m) => this.note(m)})
        let report: ReportData
        try {
          report = await buildReport(store, options)
        } finally {
          await store.close()
        }
        if (htmlFile !== null) await writeReportFile(htmlFile, await renderReportHtml(report))
        return report
      },
      {createDir: false, allowUnlocked: (why) => this.note(why), onStale: (h, file) => this.note(staleLockMessage(file, h))},
    )

    if (format === 'table') {
      // 100 columns, or fewer on a narrower terminal
      const width = process.stdout.isTTY && process.stdout.columns > 0 ? Math.min(DEFAULT_TERMINAL_WIDTH, process.stdout.columns) : DEFAULT_TERMINAL_WIDTH
      this.out(renderReportText(data, {color: shouldColor(process.stdout), width}))
    }
    else if (format === 'markdown') this.out(renderReportMarkdown(data))
    else if (format === 'csv') this.out(renderReportCsv(data, f.csv ?? 'incidents'))
    if (htmlFile !== null) this.say(`wrote ${htmlFile}`)

    const found = f['fail-on'] === undefined ? 0 : f['fail-on'] === 'incidents' ? data.incidents.total : data.detections.total
    if (found > 0) {
      // not an error: the report was made; the status tells the scheduler there is something to act on
      this.exitSucceededWith(EXIT.detections)
      const what = f['fail-on'] === 'incidents' ? 'incident' : 'detection'
      this.say(`${found} ${what}${found === 1 ? '' : 's'} pass the filter: exit ${EXIT.detections} (--fail-on ${f['fail-on']})`)
    }
    return {...data, htmlFile}
  }

  /** Info for someone at a terminal; nothing in cron (stdout not a TTY) unless --log-level debug. */
  private say(message: string): void {
    if (process.stdout.isTTY || this.flags['log-level'] === 'debug') this.info(message)
  }
}
