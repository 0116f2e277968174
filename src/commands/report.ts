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
import {timeFlag, networkFlag} from '../flag-types.js'

const REPORT_FORMATS = ['table', 'markdown', 'csv'] as const
const FAIL_ON = ['detections'] as const

const scoreFlag = Flags.custom<number>({
  parse: async (input) => {
    const n = Number(input)
    if (input.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--min-score: not a number: '${input}'`)
    return n
  },
})

export default class Report extends BaseCommand<typeof Report> {
  static summary = 'Report detections, resource use of runs and sampling accuracy: table, Markdown, CSV, JSON or one HTML file.'
  static description = `Reads the store (read-only): the detections that pass the filter, sorted by score (address, AS, window, score against the threshold, attack type and the features that drove the score); the resource use of recent runs; the accuracy of sampling estimates against their ground truth; what is in the store; traffic and detections over time, top talkers and detections by type.

--html FILE writes one self-contained page (charts as inline SVG, no scripts, no network fetches). With --html alone nothing else is printed; add --format to print a table as well.

For cron: when stdout is not a terminal only the report itself is printed (no progress or info lines; warnings and errors still go to stderr). --fail-on detections exits 4 when any detection passes the filter, and 0 otherwise. A lock file beside the store (<db>.lock) keeps two runs of report, ingest or a pipeline on one store from overlapping: the second run stops with exit 1 and names the holder. Exit codes: 0 ok, 1 failure (also: store locked), 2 usage, 3 bad input data, 4 detections found (with --fail-on detections).`

  static examples = [
    {description: 'Detections of the last 24 hours and the rest of the report, in the terminal', command: '<%= config.bin %> <%= command.id %> --since 24h'},
    {description: 'The morning report of one network as a web page', command: '<%= config.bin %> <%= command.id %> --network lab --since 24h --html report.html'},
    {
      description: 'Alerting job: exit 4 when a scan scored 5 or more in the last hour',
      command: '<%= config.bin %> <%= command.id %> --since 1h --type scan --min-score 5 --fail-on detections',
    },
    {description: 'The top 20 detections as Markdown, for a ticket', command: '<%= config.bin %> <%= command.id %> --since 7d --top 20 --format markdown'},
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
    type: Flags.string({summary: 'Only detections of this attack type (scan, flood, amplification, brute_force, beaconing, exfiltration, unknown).'}),
    'min-score': scoreFlag({summary: 'Only detections scoring at least this.'}),
    pass: Flags.option({summary: 'Only detections of this pass.', options: DETECTION_PASS_NAMES})(),
    top: Flags.integer({summary: 'How many detections to list (all of them count in the totals).', default: DEFAULT_REPORT_TOP, min: 1}),
    format: Flags.option({summary: 'What to print on stdout (default table; none with --html alone).', options: REPORT_FORMATS, helpGroup: 'OUTPUT'})(),
    csv: Flags.option({summary: 'CSV of this table (implies --format csv; default detections).', options: REPORT_CSV_TABLES, helpGroup: 'OUTPUT'})(),
    html: Flags.string({summary: 'Write the report as one self-contained HTML file.', helpGroup: 'OUTPUT'}),
    'fail-on': Flags.option({summary: 'Exit 4 when this is found (for alerting jobs).', options: FAIL_ON})(),
  }

  async run(): Promise<ReportResult> {
    const f = this.flags
    if (f.csv !== undefined && f.format !== undefined && f.format !== 'csv') {
      throw new UsageError(`--csv ${f.csv} prints CSV; it cannot be combined with --format ${f.format}`)
    }
    const format = f.csv !== undefined ? 'csv' : (f.format ?? (f.html === undefined ? 'table' : undefined))
    const options: ReportOptions = {
      top: f.top,
      ...(f.network === undefined ? {} : {network: f.network}),
      ...(f.since === undefined ? {} : {since: f.since}),
      ...(f.until === undefined ? {} : {until: f.until}),
      ...(f.type === undefined ? {} : {type: f.type}),
      ...(f['min-score'] === undefined ? {} : {minScore: f['min-score']}),
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
    else if (format === 'csv') this.out(renderReportCsv(data, f.csv ?? 'detections'))
    if (htmlFile !== null) this.say(`wrote ${htmlFile}`)

    if (f['fail-on'] === 'detections' && data.detections.total > 0) {
      // not an error: the report was made; the status tells the scheduler there is something to act on
      this.exitSucceededWith(EXIT.detections)
      this.say(`${data.detections.total} detection${data.detections.total === 1 ? '' : 's'} pass the filter: exit ${EXIT.detections} (--fail-on detections)`)
    }
    return {...data, htmlFile}
  }

  /** Info for someone at a terminal; nothing in cron (stdout not a TTY) unless --log-level debug. */
  private say(message: string): void {
    if (process.stdout.isTTY || this.flags['log-level'] === 'debug') this.info(message)
  }
}
