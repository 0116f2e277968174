/**
 * `flowscope incidents`, and the incidents of `flowscope report`, run as a user or a cron job runs
 * them (no TTY): the `--json` envelope against schemas/incidents.schema.json, the filters, `--fail-on
 * incidents` (exit 4) and `--format md`. The store is the hand-made fixture of test/report/fixture.ts:
 * incidents in the full shape and in the old one (role, confidence, counterparts NULL).
 */
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/index.js'
import {expectContract} from '../helpers/contract.js'
import {runCli, tempDir} from '../helpers/cli.js'
import {parseCsv} from '../report/csv-reader.js'
import {fillFixture, HOSTILE, INCIDENTS} from '../report/fixture.js'

describe('flowscope incidents', () => {
  let db: string
  beforeAll(async () => {
    db = path.join(tempDir('flowscope-incidents-'), 'store.duckdb')
    const store = await FlowStore.open(db)
    await fillFixture(store)
    await store.close()
  })

  const json = (...args: string[]) => expectContract('incidents', runCli(['incidents', '--db', db, '--json', ...args]))
  const ids = (...args: string[]): string[] => json(...args).items.map((i: {id: string}) => i.id)

  it('--json: the envelope, most severe first, with both shapes of row and the filter as applied', () => {
    const r = json()
    expect(r.total).toBe(INCIDENTS.length)
    expect(r.open).toBe(3)
    expect(r.items.map((i: {id: string}) => i.id)).toEqual(['inc-scan-old', 'inc-synflood', 'inc-amp', 'inc-hostile'])
    expect(r.items[0]).toMatchObject({role: null, confidence: null, counterparts: null, status: 'closed'})
    expect(r.items[1].counterparts).toMatchObject({total: 545, likelySpoofed: true})
    expect(r.filter).toEqual({network: null, since: null, until: null, type: null, minSeverity: null, open: false, top: 50})
  })

  it('filters: --network, --since, --until, --type, --min-severity, --open, --top', () => {
    expect(ids('--network', 'lab')).toEqual(['inc-scan-old', 'inc-synflood', 'inc-amp'])
    expect(ids('--since', '2026-01-05T00:12:00Z')).toEqual(['inc-amp', 'inc-hostile'])
    expect(ids('--until', '2026-01-05T00:05:00Z')).toEqual(['inc-scan-old'])
    expect(ids('--type', 'udp_amplification')).toEqual(['inc-amp'])
    expect(ids('--min-severity', '4')).toEqual(['inc-scan-old', 'inc-synflood'])
    expect(ids('--open')).toEqual(['inc-synflood', 'inc-amp', 'inc-hostile'])
    expect(ids('--open', '--min-severity', '2', '--network', 'lab')).toEqual(['inc-synflood', 'inc-amp'])
    const top = json('--top', '1')
    expect(top.items).toHaveLength(1)
    expect(top.total).toBe(INCIDENTS.length)
  })

  it('--fail-on incidents: exit 4 when any incident passes the filter, 0 when none does', () => {
    const hit = runCli(['incidents', '--db', db, '--open', '--min-severity', '3', '--fail-on', 'incidents'])
    expect(hit.code, hit.stderr).toBe(4)
    expect(hit.stdout).toContain('syn_flood')
    expect(hit.stderr).toBe('')
    expect(expectContract('incidents', runCli(['incidents', '--db', db, '--json', '--fail-on', 'incidents', '--type', 'scan']))).toMatchObject({total: 1})
    const quiet = runCli(['incidents', '--db', db, '--open', '--min-severity', '5', '--fail-on', 'incidents'])
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stdout).toContain('No incidents pass the filter.')
  })

  it('the table: type, who, when, confidence, status, and under it how big, counterparts and why', () => {
    const r = runCli(['incidents', '--db', db])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^INCIDENTS\n4 incidents pass the filter, 3 open/)
    expect(r.stdout).toContain('victim fd00:1::beef')
    expect(r.stdout).toContain('545 sources, 99% seen once, likely spoofed')
    expect(r.stdout).toContain('12 reflectors, 25% seen once: DNS/53 80%, NTP/123 20%')
    expect(r.stdout).toContain('≈120.0 k packets (95%: 96.0 k–150.0 k)')
    expect(r.stdout).toContain('drivers: distinct_dst_ports +14.2')
    // eslint-disable-next-line no-control-regex -- escape sequences in the data are shown, not sent
    expect(r.stdout).not.toMatch(/\u001b/)
  })

  it('--format md is --format markdown; --format csv reads back one row per incident', () => {
    const md = runCli(['incidents', '--db', db, '--format', 'md'])
    expect(md.code, md.stderr).toBe(0)
    expect(md.stdout).toBe(runCli(['incidents', '--db', db, '--format', 'markdown']).stdout)
    expect(md.stdout).toMatch(/^# Incidents\n/)
    expect(md.stdout).not.toContain('<script')
    const [header, ...rows] = parseCsv(runCli(['incidents', '--db', db, '--format', 'csv']).stdout)
    expect(rows).toHaveLength(INCIDENTS.length)
    const col = (name: string): number => header!.indexOf(name)
    expect(rows[1]![col('est_packets_low')]).toBe('96000')
    expect(rows[1]![col('counterparts_likely_spoofed')]).toBe('true')
    expect(rows[0]![col('role')]).toBe('')
    expect(rows[3]![col('entity')]).toBe(`'${HOSTILE.address}`)
  })

  it('a severity outside 1..5 or a bad format is a usage error: exit 2', () => {
    for (const bad of [['--min-severity', '6'], ['--min-severity', '0'], ['--format', 'html']]) {
      const r = runCli(['incidents', '--db', db, ...bad])
      expect(r.code, bad.join(' ')).toBe(2)
    }
  })
})

describe('flowscope report: incidents first, --fail-on incidents, --format md', () => {
  let db: string
  beforeAll(async () => {
    db = path.join(tempDir('flowscope-report-incidents-'), 'store.duckdb')
    const store = await FlowStore.open(db)
    await fillFixture(store)
    await store.close()
  })

  it('--fail-on incidents with --min-severity: exit 4 when an incident of that severity passes the filter, 0 when none does', () => {
    const hit = expectContract('report', runCli(['report', '--db', db, '--json', '--fail-on', 'incidents', '--min-severity', '4']))
    expect(hit.incidents.items.map((i: {id: string}) => i.id)).toEqual(['inc-scan-old', 'inc-synflood'])
    expect(hit.filter.minSeverity).toBe(4)
    // the severity filters incidents only: the window detections are all there
    expect(hit.detections.total).toBe(6)
    const table = runCli(['report', '--db', db, '--fail-on', 'incidents', '--min-severity', '2', '--network', 'lab'])
    expect(table.code, table.stderr).toBe(4)
    expect(table.stdout.indexOf('INCIDENTS')).toBeLessThan(table.stdout.indexOf('DETECTIONS'))
    const none = runCli(['report', '--db', db, '--fail-on', 'incidents', '--min-severity', '5', '--type', 'syn_flood'])
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toContain('No incidents pass the filter.')
    // --fail-on detections still counts window detections
    expect(runCli(['report', '--db', db, '--fail-on', 'detections', '--min-severity', '5', '--type', 'syn_flood']).code).toBe(0)
    expect(runCli(['report', '--db', db, '--fail-on', 'detections', '--type', 'scan']).code).toBe(4)
    expect(runCli(['report', '--db', db, '--min-severity', '9']).code).toBe(2)
  })

  it('--format md is --format markdown, and leads with the incidents; --csv defaults to the incidents', () => {
    const md = runCli(['report', '--db', db, '--format', 'md'])
    expect(md.code, md.stderr).toBe(0)
    const markdown = runCli(['report', '--db', db, '--format', 'markdown']).stdout
    // the same report but for the time it was generated
    const strip = (t: string): string => t.replace(/Generated [^\n]+/, '')
    expect(strip(md.stdout)).toBe(strip(markdown))
    expect(md.stdout.indexOf('## Incidents')).toBeLessThan(md.stdout.indexOf('## Detections'))
    const [header] = parseCsv(runCli(['report', '--db', db, '--format', 'csv']).stdout)
    expect(header![0]).toBe('incident_id')
  })
})
