/**
 * `--rate-limit` and `--rate-limit-file` on `stream` and `collect` as a user meets them: a budget file
 * with bad content is a usage error (exit 2) naming the file and the key, before anything is read.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {runCli, tempDir} from '../helpers/cli.js'

describe('--rate-limit-file', () => {
  const dir = tempDir()
  const bad = path.join(dir, 'budgets.json')
  writeFileSync(bad, '{"default": 2000, "networks": {"core": 0}}')
  const notJson = path.join(dir, 'broken.json')
  writeFileSync(notJson, '{"default": ')

  it.each([
    ['stream', ['stream', '--stream', 'flows', '--endpoint', 'http://127.0.0.1:9', '--db', path.join(dir, 's.duckdb')]],
    ['collect', ['collect', '--listen', 'udp://127.0.0.1:0', '--db', path.join(dir, 'c.duckdb'), '--duration', '1']],
  ])('%s refuses a budget file with bad content (exit 2, file and key named)', (_name, args) => {
    const r = runCli([...args, '--rate-limit-file', bad, '--json'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.json!.error.message).toContain(`${bad}: 'networks.core' must be a positive number of records per second, got 0`)
    const broken = runCli([...args, '--rate-limit-file', notJson, '--json'])
    expect(broken.code).toBe(2)
    expect(broken.json!.error.message).toContain(`${notJson}: not JSON`)
    const negative = runCli([...args, '--rate-limit', '-5', '--json'])
    expect(negative.code).toBe(2)
  })

  it('both commands show the flags with examples in --help', () => {
    for (const command of ['stream', 'collect']) {
      const help = runCli([command, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain('--rate-limit=')
      expect(help.stdout).toContain('--rate-limit-file=')
      expect(help.stdout).toMatch(/--rate-limit \d+/)
      expect(help.stdout).toMatch(/--rate-limit-file budgets\.json/)
    }
  })
})
