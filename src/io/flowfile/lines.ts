/**
 * Line numbers for error messages. DuckDB reads the file in parallel and numbers only the records it
 * accepts (row_number over the scan); the physical line of a bad record is found afterwards, on the
 * error path only, by walking the file the way DuckDB's reader does: header lines (or Zeek's `#`
 * lines), empty lines and the lines DuckDB rejected do not count as records, and a double-quoted CSV
 * field may run over several lines.
 */
import type {SniffedFile} from './sniff.js'
import {textLines} from './sniff.js'

function quoteCount(line: string): number {
  let n = 0
  for (let i = line.indexOf('"'); i >= 0; i = line.indexOf('"', i + 1)) n++
  return n
}

/** Map each wanted record ordinal (1-based, as `rn`) to the physical line (1-based) it starts on. */
export async function locateRecordLines(
  file: string,
  sniffed: SniffedFile,
  rejectedLines: ReadonlySet<number>,
  ordinals: readonly number[],
): Promise<Map<number, number>> {
  const wanted = new Set(ordinals)
  const found = new Map<number, number>()
  if (wanted.size === 0 || sniffed.container === 'parquet') return found
  const quotes = sniffed.container === 'csv'
  const {lines, close} = textLines(file, sniffed.gzip)
  let lineNo = 0
  let ordinal = 0
  let openQuote = false
  try {
    for await (const line of lines) {
      lineNo++
      if (openQuote) {
        if (quoteCount(line) % 2 === 1) openQuote = false
        continue
      }
      if (lineNo <= sniffed.headerLines) continue
      if (sniffed.comment !== undefined && line.startsWith(sniffed.comment)) continue
      if (line === '' || rejectedLines.has(lineNo)) continue
      ordinal++
      if (wanted.has(ordinal)) {
        found.set(ordinal, lineNo)
        if (found.size === wanted.size) break
      }
      if (quotes && quoteCount(line) % 2 === 1) openQuote = true
    }
  } finally {
    close()
  }
  return found
}
