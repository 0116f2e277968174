import {PassThrough} from 'node:stream'

import {describe, expect, it} from 'vitest'

import {renderTable, writeRowStream} from '../../src/report/index.js'

const ESC = '\u001b'

async function csvOf(columns: string[], rows: Record<string, unknown>[]): Promise<string> {
  const out = new PassThrough()
  let text = ''
  out.on('data', (d: Buffer) => (text += d.toString('utf8')))
  async function* chunks(): AsyncIterable<Record<string, unknown>[]> {
    yield rows
  }
  await writeRowStream(columns, chunks(), 'csv', out)
  return text
}

describe('every table and CSV output is safe for a terminal and a spreadsheet', () => {
  it('renderTable shows control characters in cells and headers, so no row can be faked or the terminal driven', () => {
    const rows = [
      {name: `evil${ESC}[2J${ESC}]0;owned\u0007`, n: 1},
      {name: 'two\nlines | fake 2', n: 22},
      {name: 'rtl\u202eexe.pdf', n: 333},
    ]
    const text = renderTable([{header: `na${ESC}me`, value: (r: (typeof rows)[number]) => r.name}, {header: 'n', value: (r) => r.n}], rows)
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/u)
    const lines = text.split('\n')
    expect(lines).toHaveLength(4)
    expect(lines[0]).toContain('na\\x1bme')
    expect(lines[1]).toContain('evil\\x1b[2J\\x1b]0;owned\\x07')
    expect(lines[2]).toContain('two\\nlines')
    expect(lines[3]).toContain('rtl\\u202eexe.pdf')
  })

  it('renderTable aligns by display columns: wide characters take two', () => {
    const rows = [{a: '漢字', b: 1}, {a: 'abcd', b: 2}]
    const lines = renderTable([{header: 'a', value: (r: (typeof rows)[number]) => r.a}, {header: 'b', value: (r) => r.b}], rows).split('\n')
    expect(lines[1]).toBe('漢字  1')
    expect(lines[2]).toBe('abcd  2')
  })

  it('query CSV (flows --csv, sql --csv) neutralises formula prefixes and keeps numbers numeric', async () => {
    const csv = await csvOf(['label', 'bytes', 'delta'], [
      {label: '=HYPERLINK("http://x","click")', bytes: 10, delta: -5},
      {label: "=cmd|' /C calc'!A0", bytes: 1, delta: 0},
      {label: '@SUM(1)', bytes: 2, delta: 1},
      {label: '+1', bytes: 3, delta: 2},
      {label: 'plain', bytes: 4, delta: 3},
    ])
    expect(csv.split('\n')).toEqual([
      'label,bytes,delta',
      `"'=HYPERLINK(""http://x"",""click"")",10,-5`,
      `'=cmd|' /C calc'!A0,1,0`,
      "'@SUM(1),2,1",
      "'+1,3,2",
      'plain,4,3',
      '',
    ])
  })
})
