/*
 * Text for a terminal: what every layer's tables, messages and progress labels pass their strings
 * through. Strings from captures, flow files, the ASN data set and users (file names, network labels,
 * AS names) may carry escape sequences, bidi overrides or line breaks; here they are shown, never
 * acted on. The report's HTML, Markdown and CSV escaping (report/escape.ts) builds on `visible`.
 */

/**
 * C0 and C1 control characters, DEL, and the Unicode bidirectional overrides/isolates (which reorder
 * what a terminal or editor shows: "Trojan Source", CVE-2021-42574) and the line/paragraph separators.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/**
 * The string with every control character written out visibly (`\x1b`, `\n`, `\u202e`), so an escape
 * sequence in the data is shown instead of acted on by a terminal, and a newline cannot fake a row.
 */
export function visible(s: string): string {
  return s.replace(UNSAFE_CHARS, showChar)
}

function showChar(c: string): string {
  const named = NAMED[c]
  if (named) return named
  const code = c.codePointAt(0) ?? 0
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/** UNSAFE_CHARS but for the line feed and tab that lay out a message of several lines. */
// eslint-disable-next-line no-control-regex -- see UNSAFE_CHARS
const MESSAGE_UNSAFE_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

/** The user:password part of URLs (`http://user:secret@host` becomes `http://***@host`). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/giu

/** `s` with the credentials of every URL in it replaced by `***`: for every message and log line. */
export function redactCredentials(s: string): string {
  return s.replace(URL_CREDENTIALS, '$1***@')
}

/**
 * A message for stderr (warnings, info, errors, progress labels): credentials redacted and every
 * control character made visible as `visible` does, but for the line breaks and tabs of its layout.
 * File names, network labels and AS names inside a message cannot move the cursor or recolour the
 * terminal.
 */
export function terminalMessage(s: string): string {
  return redactCredentials(s).replace(MESSAGE_UNSAFE_CHARS, showChar)
}

