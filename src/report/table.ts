/** Plain aligned text tables for the terminal: numbers right-aligned, everything else left. */

export interface Column<R> {
  header: string
  value: (row: R) => string | number | null | undefined
  align?: 'left' | 'right'
}

export function renderTable<R>(columns: Column<R>[], rows: R[]): string {
  const cells = rows.map((r) => columns.map((c) => formatCell(c.value(r))))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => (row[i] ?? '').length)))
  const alignOf = (c: Column<R>, i: number): 'left' | 'right' => {
    if (c.align) return c.align
    const sample = rows.length > 0 ? c.value(rows[0] as R) : ''
    return typeof sample === 'number' || i < 0 ? 'right' : 'left'
  }
  const aligns = columns.map(alignOf)
  const line = (values: string[]): string =>
    values
      .map((v, i) => (aligns[i] === 'right' ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')
}

function formatCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2)
  return v
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
