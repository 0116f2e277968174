/*
 * The flag parsers every command shares (src/flag-types.ts): a value a person could not have meant is a
 * usage error (exit 2) naming the value, never a RangeError or BigInt error from deeper down (issue #20,
 * "report --since 99999999999d exits 1").
 */
import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {FAIL_ON, minSeverityFlag, parseDurationSec, parseNetworkLabel, parseTimeSpec, REPORT_FORMATS, reportFormat} from '../../src/flag-types.js'

const NOW = Date.UTC(2026, 0, 5, 10, 0, 0)

describe('parseTimeSpec', () => {
  it('reads relative and absolute times', () => {
    expect(parseTimeSpec('24h', () => NOW).toISOString()).toBe('2026-01-04T10:00:00.000Z')
    expect(parseTimeSpec('90m', () => NOW).toISOString()).toBe('2026-01-05T08:30:00.000Z')
    expect(parseTimeSpec('2026-01-05').toISOString()).toBe('2026-01-05T00:00:00.000Z')
    expect(parseTimeSpec('2026-01-05T10:00:00Z').toISOString()).toBe('2026-01-05T10:00:00.000Z')
  })

  it.each(['99999999999d', '1e999h', 'yesterday', '24 hours', ''])('refuses %j as a usage error naming it', (spec) => {
    expect(() => parseTimeSpec(spec, () => NOW)).toThrow(UsageError)
    expect(() => parseTimeSpec(spec, () => NOW)).toThrow(`cannot read time '${spec}'`)
  })
})

describe('parseDurationSec and parseNetworkLabel', () => {
  it('read what they should and refuse the rest as usage errors', () => {
    expect(parseDurationSec('5m')).toBe(300)
    expect(parseDurationSec('30')).toBe(30)
    expect(() => parseDurationSec('five')).toThrow(UsageError)
    expect(parseNetworkLabel('site-a')).toBe('site-a')
    expect(() => parseNetworkLabel('a\u001b[31mred')).toThrow(UsageError)
    expect(() => parseNetworkLabel('x'.repeat(129))).toThrow(UsageError)
  })
})

describe('report formats, --fail-on and --min-severity', () => {
  it('md is markdown; the other formats are themselves', () => {
    expect(REPORT_FORMATS).toEqual(['table', 'markdown', 'md', 'csv'])
    expect(REPORT_FORMATS.map(reportFormat)).toEqual(['table', 'markdown', 'markdown', 'csv'])
  })

  it('--fail-on takes incidents (first) and detections; --min-severity is the 1..5 scale', () => {
    expect(FAIL_ON).toEqual(['incidents', 'detections'])
    expect(minSeverityFlag).toMatchObject({min: 1, max: 5})
  })
})
