import {readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * flowscope's version from its package.json, found by walking up from this module (the same code
 * runs from `src/` under vitest and from `dist/src/` when built, at different depths).
 */
export function flowscopeVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let depth = 0; depth < 6; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {name?: string; version?: string}
      if (pkg.name === 'flowscope' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // no package.json at this level: keep walking up
    }
    dir = path.dirname(dir)
  }
  return 'unknown'
}
