/**
 * Where flowscope's own files are: the package root, and the compiled entry files of its worker threads
 * and child processes. Every worker path is resolved here, so moving a module cannot break one: a
 * worker runs compiled JavaScript from `dist/` whether its parent runs from `dist/` (the CLI) or from
 * `src/` (vitest, which has no loader a worker or child process could use for .ts files).
 */
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/** The package root: this module is `src/core/package-paths.ts` or `dist/core/package-paths.js`. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** A file shipped with the package, by its path from the package root (`fixtures/model.onnx`). */
export function packageFile(relative: string): string {
  return path.join(PACKAGE_ROOT, relative)
}

/** The compiled entry of a worker, by its module path below `src/` written as `.js` (`io/ingest/ingest-worker.js`). */
export function workerEntry(moduleBelowSrc: string): string {
  return path.join(PACKAGE_ROOT, 'dist', moduleBelowSrc)
}

/** Whether the compiled build of this checkout is there (tests that need worker entries check it). */
export function hasCompiledBuild(moduleBelowSrc: string): boolean {
  return existsSync(workerEntry(moduleBelowSrc))
}
