/**
 * `flowscope report` run as cron runs it: no TTY, standard input closed, a minimal environment (no
 * TERM, no NO_COLOR). The store is the demo capture plus the hand-made detections, runs and estimates
 * of test/report/fixture.ts (hostile strings included); the HTML report is opened in headless Chromium.
 */
import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/index.js'
import {FIXTURES, ROOT, runCli, tempDir} from '../helpers/cli.js'
import {parseCsv} from '../report/csv-reader.js'
import {DETECTIONS, fillFixture, HOSTILE} from '../report/fixture.js'
import {validate} from '../helpers/json-schema.js'
import type {Schema} from '../helpers/json-schema.js'

const BIN = path.join(ROOT, 'bin/run.js')
const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = path.join(tmpdir(), 'flowscope-report.png')
const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas/report.schema.json'), 'utf8')) as Schema

/** cron's environment: no terminal, no colour preference, a short PATH */
const CRON_ENV = {PATH: '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir(), LANG: 'C.UTF-8', LOGNAME: 'cron', SHELL: '/bin/sh'}
/** stdin closed (not /dev/null), as `0<&-` in a crontab line */
const CRON_SHELL = ['-c', 'exec "$0" "$@" 0<&-', process.execPath, BIN]

interface Run {
  code: number
  stdout: string
  stderr: string
}

function cron(args: string[]): Run {
  const r = spawnSync('/bin/bash', [...CRON_SHELL, ...args], {env: CRON_ENV, cwd: tmpdir(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

function cronJson(args: string[]): Run & {json: {status: number; result: any; warnings: string[]; error?: any}} { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = cron([...args, '--json'])
  return {...r, json: JSON.parse(r.stdout)}
}

async function waitFor(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('flowscope report (CLI, as a cron job)', () => {
  let dir: string
  let db: string
  let json: ReturnType<typeof cronJson>
  let htmlFile: string
  let htmlRun: Run
  const children: ChildProcess[] = []
  beforeAll(async () => {
    dir = tempDir('flowscope-report-')
    db = path.join(dir, 'store.duckdb')
    const ingest = runCli(['ingest', path.join(FIXTURES, 'demo.pcap'), '--db', db, '--network', 'demo'])
    expect(ingest.code, ingest.stderr).toBe(0)
    const store = await FlowStore.open(db)
    await fillFixture(store)
    await store.close()
    json = cronJson(['report', '--db', db])
    htmlFile = path.join(dir, 'out', '..', 'report.html')
    htmlRun = cron(['report', '--db', db, '--html', htmlFile])
  })
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  })

  it('--json: the envelope, valid against schemas/report.schema.json', () => {
    expect(json.code, json.stderr).toBe(0)
    expect(validate(schema, json.json)).toEqual([])
    expect(json.json.status).toBe(0)
    expect(json.json.result.detections.total).toBe(DETECTIONS.length)
    expect(json.json.result.summary.networks).toEqual(expect.arrayContaining(['demo', 'lab', HOSTILE.network]))
    expect(json.stderr).toBe('')
  })

  it('--fail-on detections: exit 4 and the table on stdout (no colour without a terminal, nothing on stderr)', () => {
    const hit = cron(['report', '--db', db, '--fail-on', 'detections'])
    expect(hit.code).toBe(4)
    expect(hit.stdout).toContain('DETECTIONS')
    expect(hit.stdout).toContain('SAMPLING ACCURACY')
    expect(hit.stdout).not.toContain('\u001b')
    expect(hit.stderr).toBe('')
    const scans = cronJson(['report', '--db', db, '--fail-on', 'detections', '--type', 'scan'])
    expect(scans.code).toBe(4)
    expect(scans.json.status).toBe(4)
    expect(scans.json.result.detections.total).toBe(2)
    expect(validate(schema, scans.json)).toEqual([])
  })

  it('--fail-on detections: exit 0 when no detection passes the filter; relative and absolute times', () => {
    for (const quiet of [['--min-score', '100'], ['--since', '24h']]) {
      const r = cron(['report', '--db', db, '--fail-on', 'detections', ...quiet])
      expect(r.code, quiet.join(' ')).toBe(0)
      expect(r.stdout).toContain('No detections pass the filter.')
      expect(r.stderr).toBe('')
    }
    // the fixture's windows end at 7, 10, 12, 15, 16 and 18 minutes past midnight
    expect(cronJson(['report', '--db', db, '--since', '2026-01-05T00:10:00Z']).json.result.detections.total).toBe(4)
  })

  it('--html alone writes the page and prints nothing; --csv TABLE prints that table', () => {
    expect(htmlRun.code, htmlRun.stderr).toBe(0)
    expect(htmlRun.stdout).toBe('')
    expect(htmlRun.stderr).toBe('')
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8').startsWith('<!doctype html>')).toBe(true)
    const csv = parseCsv(cron(['report', '--db', db, '--csv', 'runs']).stdout)
    expect(csv[0]).toContain('peak_rss_mb')
    expect(csv).toHaveLength(1 + 4)
    const both = cron(['report', '--db', db, '--csv', 'runs', '--format', 'markdown'])
    expect(both.code).toBe(2)
    expect(both.stderr).toMatch(/--csv runs prints CSV/)
  })

  it('a missing store is a usage error, and leaves no lock file or directory behind', () => {
    const missing = path.join(dir, 'nope', 'store.duckdb')
    const r = cron(['report', '--db', missing])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no such store/)
    expect(existsSync(path.join(dir, 'nope'))).toBe(false)
  })

  it('two runs at once: the second stops with exit 1 and names the first; the first finishes', async () => {
    // the first run writes its HTML into a named pipe, so it holds the lock until the test reads it
    const fifo = path.join(dir, 'slow.html')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const first = spawn('/bin/bash', [...CRON_SHELL, 'report', '--db', db, '--html', fifo], {env: CRON_ENV, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe']})
    children.push(first)
    let firstErr = ''
    first.stderr!.on('data', (b: Buffer) => (firstErr += b.toString()))
    const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)))
    const lock = `${db}.lock`
    await waitFor(() => existsSync(lock))
    const holder = JSON.parse(readFileSync(lock, 'utf8'))
    expect(holder).toMatchObject({pid: first.pid, host: hostname(), job: 'report'})

    const second = cron(['report', '--db', db])
    expect(second.code).toBe(1)
    expect(second.stdout).toBe('')
    expect(second.stderr).toContain(`${db}: locked by 'report' (pid ${first.pid} on ${hostname()}, since ${holder.startedAt})`)
    expect(second.stderr).toMatch(/Hint: wait for it to finish; if that run is gone .*remove .*store\.duckdb\.lock/)
    const json = cronJson(['report', '--db', db])
    expect(json.code).toBe(1)
    expect(json.json.error).toMatchObject({code: 'STORE_LOCKED', name: 'JobLockedError'})
    expect(validate(schema, json.json)).toEqual([])

    const html = readFileSync(fifo, 'utf8')
    expect(await exited, firstErr).toBe(0)
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(existsSync(lock)).toBe(false)
  })

  it('a lock left by a run that died is taken over', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    writeFileSync(`${db}.lock`, JSON.stringify({pid: dead, host: hostname(), job: 'run', startedAt: '2026-01-05T07:00:00.000Z', token: 'x'}))
    const r = cron(['report', '--db', db, '--log-level', 'debug'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`warning: took over ${db}.lock: its holder 'run' (pid ${dead} on ${hostname()}, since 2026-01-05T07:00:00.000Z) is gone`)
    expect(existsSync(`${db}.lock`)).toBe(false)
  })

  it.skipIf(!existsSync(CHROMIUM))('the HTML report in headless Chromium: charts drawn, no console errors, no network requests', async () => {
    const file = path.join(dir, 'report.html')
    const report = json.json.result
    const {chromium} = await import('playwright-core')
    const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'flowscope-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: {width: 1400, height: 1000},
    })
    try {
      const page = await context.newPage()
      const requests: string[] = []
      const problems: string[] = []
      page.on('request', (req) => requests.push(req.url()))
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`)
      })
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`)
        void d.dismiss()
      })
      const url = pathToFileURL(file).href
      await page.goto(url, {waitUntil: 'load'})

      const count = (selector: string): Promise<number> => page.locator(selector).count()
      expect(await count('script')).toBe(0)
      for (const name of ['timeline', 'types', 'talkers', 'runs', 'sampling']) {
        const box = await page.locator(`figure[data-chart="${name}"] svg`).boundingBox()
        expect(box?.width ?? 0, name).toBeGreaterThan(300)
        expect(box?.height ?? 0, name).toBeGreaterThan(100)
      }
      // data marks: the traffic area and one rule and one triangle per (bucket, type) of detections
      const areaPath = await page.locator('figure[data-chart="timeline"] .mark-area.role-mark path').first().getAttribute('d')
      expect((areaPath ?? '').split(/[LH]/).length).toBeGreaterThan(20)
      expect(await count('figure[data-chart="timeline"] .mark-rule.role-mark line')).toBe(report.detections.timeline.length)
      expect(await count('figure[data-chart="timeline"] .mark-symbol.role-mark path')).toBe(report.detections.timeline.length)
      expect(await count('figure[data-chart="types"] [aria-roledescription="bar"]')).toBe(report.detections.byType.length)
      expect(await count('figure[data-chart="talkers"] [aria-roledescription="bar"]')).toBe(report.traffic.topTalkers.length)
      expect(await count('figure[data-chart="runs"] .mark-symbol.role-mark path')).toBeGreaterThanOrEqual(report.runs.length)
      const scored = report.sampling.cells.filter((c: {relRmse: number | null}) => c.relRmse !== null && c.relRmse > 0).length
      expect(await count('figure[data-chart="sampling"] .mark-symbol.role-mark path')).toBe(scored)
      expect(await count('figure[data-chart="sampling"] .mark-line.role-mark path')).toBe(2)

      // the incidents come first, and no table runs off the page: each fits its box (wrapping, not scrolling)
      expect(await page.locator('main section').first().getAttribute('id')).toBe('incidents')
      // a string, evaluated in the page: the test is compiled without the DOM's types
      const overflow = (await page.evaluate(`({
        page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        tables: [...document.querySelectorAll('.table-wrap')].map((t) => t.scrollWidth - t.clientWidth),
      })`)) as {page: number; tables: number[]}
      expect(overflow.tables.length).toBeGreaterThanOrEqual(2)
      expect(overflow.page).toBeLessThanOrEqual(0)
      for (const extra of overflow.tables) expect(extra).toBeLessThanOrEqual(1)

      // hostile strings are shown as text, not run
      const text = await page.locator('body').innerText()
      expect(text).toContain(HOSTILE.network)
      expect(text).toContain(HOSTILE.feature)
      await page.screenshot({path: SCREENSHOT, fullPage: true})

      expect(problems).toEqual([])
      expect(requests).toEqual([url])
    } finally {
      await context.close()
    }
  })
})
