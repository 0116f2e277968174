import {randomBytes} from 'node:crypto'
import {rename, stat, unlink, writeFile} from 'node:fs/promises'
import path from 'node:path'

/**
 * Writes a report file so that a reader (a web server publishing it, a mail job attaching it) sees
 * the old file or the new one, never half of one: to a temporary file beside it, then renamed over
 * it. A target that exists and is not a regular file (`/dev/stdout`, a named pipe) is written in place.
 */
export async function writeReportFile(file: string, text: string): Promise<void> {
  const existing = await stat(file).catch(() => null)
  if (existing !== null && !existing.isFile()) {
    await writeFile(file, text)
    return
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await writeFile(tmp, text, {flag: 'wx'})
    await rename(tmp, file)
  } catch (error) {
    await unlink(tmp).catch(() => {})
    throw error
  }
}
