import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

describe('flowscope asn (CLI)', () => {
  it('--json: one entry per address, in the order given; private and reserved ranges are named', () => {
    const rows = expectContract('asn', runCli(['asn', '8.8.8.8', '10.1.2.3', '2001:db8::1', '--json']))
    expect(rows).toEqual([
      {ip: '8.8.8.8', asn: 15169, name: expect.stringMatching(/google/i), scope: 'public', note: null},
      {ip: '10.1.2.3', asn: null, name: null, scope: 'private', note: 'RFC 1918'},
      {ip: '2001:db8::1', asn: null, name: null, scope: 'reserved', note: 'documentation'},
    ])
  })

  it('needs at least one address (exit 2)', () => {
    const r = runCli(['asn', '--json'])
    expect(expectContract('asn', r)).toBeNull()
    expect(r.code).toBe(2)
  })
})
