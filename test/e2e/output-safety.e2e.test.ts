/*
 * Strings from captures, flow files and users reach tables, messages and CSV. Through the CLI: none of
 * them can drive the terminal, fake a row, run as a spreadsheet formula, or print a URL's credentials;
 * a network label with control characters is refused where it is given.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

const ESC = '\u001b'
// raw control characters (bar the line feeds and tabs of the layout) and bidi overrides
// eslint-disable-next-line no-control-regex -- matching them is the point
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u
const MAP = 'src_ip=sa,dst_ip=da,src_port=sp,dst_port=dp,proto=pr,packets=pkts,bytes=octets,ts_start=start:ms'

describe('output safety (CLI)', () => {
  let dir: string
  let db: string
  let csv: string
  beforeAll(() => {
    dir = tempDir()
    db = path.join(dir, 's.duckdb')
    // a file name and labels made to attack whoever reads the output
    csv = path.join(dir, `flows${ESC}]0;owned${ESC}\\${ESC}[2J\u202etxt.csv`)
    writeFileSync(
      csv,
      'start,sa,da,sp,dp,pr,pkts,octets,verdict\n' +
        '1767571200000,10.0.0.1,10.0.0.2,40000,443,6,10,5000,"=HYPERLINK(""http://x"",""y"")"\n' +
        `1767571260000,10.0.0.3,10.0.0.4,40001,53,17,1,80,"fake\n10.9.9.9  row ${ESC}[31mred"\n`,
    )
  })

  it('the ingest table, its messages and the sql table show control characters instead of sending them', () => {
    const r = runCli(['ingest', csv, '--db', db, '--map', MAP])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).not.toMatch(RAW)
    expect(r.stderr).not.toMatch(RAW)
    expect(r.stdout).toContain('\\x1b]0;owned')
    const t = runCli(['sql', "SELECT extra->>'verdict' AS verdict FROM flows_with_extra ORDER BY ts_start", '--db', db])
    expect(t.code, t.stderr).toBe(0)
    expect(t.stdout).not.toMatch(RAW)
    // a header and two rows: the newline in the label did not make a third
    expect(t.stdout.trim().split('\n')).toHaveLength(3)
    expect(t.stdout).toContain('fake\\n10.9.9.9  row \\x1b[31mred')
  })

  it('sql --csv neutralises a formula from a flow file; the JSON keeps the value as stored', () => {
    const q = "SELECT extra->>'verdict' AS verdict FROM flows_with_extra ORDER BY ts_start"
    const c = runCli(['sql', q, '--db', db, '--csv'])
    expect(c.code, c.stderr).toBe(0)
    expect(c.stdout.split('\n')[1]).toBe(`"'=HYPERLINK(""http://x"",""y"")"`)
    const j = runCli(['sql', q, '--db', db, '--json'])
    expect(expectContract('sql', j).rows[0].verdict).toBe('=HYPERLINK("http://x","y")')
  })

  it('a network label with control characters is a usage error where it is given', () => {
    for (const args of [['ingest', csv, '--map', MAP], ['summary'], ['report']]) {
      const r = runCli([...args, '--db', path.join(dir, 'never.duckdb'), '--network', `site${ESC}[8m`, '--json'])
      expectContract(args[0]!, r)
      expect(r.code).toBe(2)
      expect(r.json!.error.message).toContain('site\\x1b[8m')
    }
  })

  it('credentials in an endpoint URL are never printed', () => {
    const r = runCli(['stream', '--endpoint', 'http://user:secret@127.0.0.1:9', '--stream', 's', '--duration', '2s', '--db', path.join(dir, 'st.duckdb')])
    expect(r.stderr).toContain('http://***@127.0.0.1:9')
    expect(`${r.stdout}${r.stderr}`).not.toContain('secret')
    const j = runCli(['stream', '--endpoint', 'http://user:secret@127.0.0.1:9', '--stream', 's', '--duration', '2s', '--db', path.join(dir, 'st.duckdb'), '--json'])
    expect(j.json, j.stderr).toBeDefined()
    expect(`${j.stdout}${j.stderr}`).not.toContain('secret')
  })
})
