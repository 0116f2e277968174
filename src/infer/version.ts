import {readFileSync} from 'node:fs'
import {packageFile} from '../core/index.js'

/** flowscope's version from its package.json. */
export function flowscopeVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as {name?: string; version?: string}
    if (pkg.name === 'flowscope' && typeof pkg.version === 'string') return pkg.version
  } catch {
    // a package without its package.json (a bundled copy): say so rather than fail
  }
  return 'unknown'
}
