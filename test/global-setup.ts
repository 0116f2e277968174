/*
 * Runs once before the suite. The end-to-end tests run the built CLI (`bin/run.js` over `dist/`) and
 * the worker pools start compiled entry files, so a checkout that was never built fails here, with
 * what to do, rather than as dozens of unrelated-looking failures. `npm test` and `npm run test:unit`
 * build first; a direct `npx vitest run` after editing `src/` is warned that `dist/` is older.
 */
import {existsSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function newestMtime(dir: string, ext: string): number {
  let newest = 0
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext))
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs)
  }
  return newest
}

export default function setup(): void {
  const dist = path.join(root, 'dist')
  if (!existsSync(path.join(dist, 'base-command.js')) || !existsSync(path.join(root, 'oclif.manifest.json'))) {
    throw new Error(`${dist}: no compiled build. Run \`npm run build\` first (\`npm test\` and \`npm run test:unit\` build for you).`)
  }
  if (newestMtime(path.join(root, 'src'), '.ts') > newestMtime(dist, '.js')) {
    process.stderr.write(`warning: ${path.join(root, 'src')} changed after the last build; the end-to-end tests run ${dist} (npm run build)\n`)
  }
}
