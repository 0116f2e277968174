import {spawnSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const SHARED_DATA = path.resolve(ROOT, '../shared/data')
export const FIXTURES = path.join(ROOT, 'fixtures')

export interface CliRun {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON when it is JSON */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary result shapes
  json: {status: number; result: any; warnings: string[]; error?: any} | undefined
}

/** Runs the built CLI (`bin/run.js` over `dist/`) as a user would, with no TTY. */
export function runCli(args: string[], options: {cwd?: string; env?: Record<string, string>} = {}): CliRun {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/run.js'), ...args], {
    cwd: options.cwd ?? ROOT,
    env: {...process.env, NO_COLOR: '1', ...options.env},
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
  let json: CliRun['json']
  try {
    json = JSON.parse(r.stdout)
  } catch {
    json = undefined
  }
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json}
}

export function tempDir(prefix = 'flowscope-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix))
}
