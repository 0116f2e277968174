/**
 * Plain aligned text tables for the terminal: numbers right-aligned, everything else left. Text cells
 * come from the store (file names, network labels, AS names, SQL results), so control characters are
 * shown (`visible`), never sent to the terminal, and widths are display columns.
 */
import {displayWidth, pad, visible} from './escape.js'

export interface Column<R> {
  header: string
  value: (row: R) => string | number | null | undefined
  align?: 'left' | 'right'
}

export function renderTable<R>(columns: Column<R>[], rows: R[]): string {
  const cells = rows.map((r) => columns.map((c) => formatCell(c.value(r))))
  const headers = columns.map((c) => visible(c.header))
  const widths = headers.map(displayWidth)
  for (const row of cells) row.forEach((v, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(v))))
  const alignOf = (c: Column<R>, i: number): 'left' | 'right' => {
    if (c.align) return c.align
    const sample = rows.length > 0 ? c.value(rows[0] as R) : ''
    return typeof sample === 'number' || i < 0 ? 'right' : 'left'
  }
  const aligns = columns.map(alignOf)
  const line = (values: string[]): string =>
    values
      .map((v, i) => pad(v, widths[i] ?? 0, aligns[i] ?? 'left'))
      .join('  ')
      .trimEnd()
  return [line(headers), ...cells.map(line)].join('\n')
}

function formatCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2)
  return visible(v)
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

/** 1234567 -> '1.2 MB' (decimal units, as flow tools print them). */
export function humanBytes(n: number): string {
  let v = n
  let u = 0
  while (Math.abs(v) >= 1000 && u < UNITS.length - 1) {
    v /= 1000
    u++
  }
  return u === 0 ? `${v} ${UNITS[u]}` : `${v.toFixed(1)} ${UNITS[u]}`
}

/** 1234567 -> '1.2 M' */
export function humanCount(n: number): string {
  if (Math.abs(n) < 1000) return String(Math.round(n * 100) / 100)
  const units = ['', 'k', 'M', 'G', 'T']
  let v = n
  let u = 0
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${v.toFixed(1)} ${units[u]}`
}
