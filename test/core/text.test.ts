import {describe, expect, it} from 'vitest'

import {redactCredentials, terminalMessage, visible} from '../../src/core/index.js'

const ESC = '\u001b'

describe('terminal text', () => {
  it('visible shows every control character, line break and bidi override, and leaves the rest alone', () => {
    expect(visible(`a${ESC}[31mred${ESC}]0;title\u0007`)).toBe('a\\x1b[31mred\\x1b]0;title\\x07')
    expect(visible('row1\nrow2\r\tx')).toBe('row1\\nrow2\\r\\tx')
    expect(visible('abc\u202edef\u2066')).toBe('abc\\u202edef\\u2066')
    expect(visible('plain ünïcödé 漢字 é')).toBe('plain ünïcödé 漢字 é')
    // idempotent: what it returns has nothing left to show
    const once = visible(`${ESC}\u0085\u009b`)
    expect(visible(once)).toBe(once)
  })

  it('terminalMessage keeps the line breaks and tabs of a message, shows the rest, and redacts credentials', () => {
    expect(terminalMessage(`file ${ESC}[2Jx.pcap: bad\n\thint`)).toBe('file \\x1b[2Jx.pcap: bad\n\thint')
    expect(terminalMessage('over\rwrite')).toBe('over\\rwrite')
    expect(terminalMessage('reading at http://user:secret@127.0.0.1:9 now')).toBe('reading at http://***@127.0.0.1:9 now')
  })

  it('redactCredentials removes the user-info of every URL and nothing else', () => {
    expect(redactCredentials('a https://k:s@h.example/p and s3://AKIA:x%2Fy@bucket/key')).toBe('a https://***@h.example/p and s3://***@bucket/key')
    expect(redactCredentials('http://token@127.0.0.1:4567')).toBe('http://***@127.0.0.1:4567')
    // an @ after the host is a path, not user-info; mail addresses are not URLs
    expect(redactCredentials('s3://bucket/key@v2 and ops@example.org')).toBe('s3://bucket/key@v2 and ops@example.org')
    expect(redactCredentials('http://127.0.0.1:4567/')).toBe('http://127.0.0.1:4567/')
  })
})
