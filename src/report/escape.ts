/**
 * Escaping for every output the report writes. Strings in the store come from captures, flow files,
 * the ASN data set and users (network names, model names), so any of them may carry markup, quotes,
 * spreadsheet formulas or terminal escape sequences; each renderer passes every such string through
 * one of these before it reaches its output.
 */

// the terminal rule lives in core, for every message of every layer; the report's renderers use it from here
export {visible} from '../core/index.js'
import {visible} from '../core/index.js'

const HTML_ENTITIES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}

/** Text for HTML element content and quoted attribute values (control characters made visible first). */
export function escapeHtml(s: string): string {
  return visible(s).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c)
}

/**
 * Text for a Markdown table cell or inline text: backslash-escapes the characters that start emphasis,
 * code, links, math (GitHub's `$`) or a cell boundary, and writes `<`, `>`, `&` as entities so that raw HTML in the data is
 * shown, not rendered, by renderers that allow HTML (GitHub's, most static-site generators).
 */
export function escapeMarkdown(s: string): string {
  return visible(s)
    .replace(/[\\`*_[\]|~$]/g, (c) => `\\${c}`)
    .replace(/[&<>]/g, (c) => HTML_ENTITIES[c] ?? c)
}

/**
 * One CSV field (RFC 4180 quoting). A text field that a spreadsheet would read as a formula
 * (starting with `=`, `+`, `-`, `@`, tab or carriage return — OWASP's CSV injection list) gets a
 * leading `'`; numbers are written as numbers, so negative values stay numeric. Control characters
 * other than the line breaks and tabs that quoting protects are made visible, as for a terminal,
 * because CSV reports are read with `cat` as often as with a spreadsheet.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v)
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v)
  // eslint-disable-next-line no-control-regex -- see UNSAFE_CHARS; \t \n \r are kept for quoting
  s = s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (c) => visible(c))
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** One CSV record, CRLF-free (`\n` line ends, as the other CSV outputs of flowscope). */
export function csvRecord(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\n`
}

/**
 * Display width of a string in a monospaced terminal: code points, with East Asian wide and emoji
 * ranges counted as two columns and combining marks as none. An approximation of wcwidth that is
 * good enough for padding table cells.
 */
export function displayWidth(s: string): number {
  let w = 0
  for (const ch of s) w += charWidth(ch.codePointAt(0) ?? 0)
  return w
}

function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200d) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2
  }
  return 1
}

/** `s` cut to at most `width` display columns, with `…` when something was cut. */
export function truncate(s: string, width: number): string {
  if (displayWidth(s) <= width) return s
  if (width <= 0) return ''
  let out = ''
  let w = 0
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0) ?? 0)
    if (w + cw > width - 1) break
    out += ch
    w += cw
  }
  return `${out}…`
}

/** `s` padded with spaces to `width` display columns. */
export function pad(s: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)))
  return align === 'right' ? fill + s : s + fill
}
