import {UsageError} from '../core/index.js'

/**
 * A filter expression that does not parse (or names a value out of range). Exit code 2 like every
 * usage error; `column` is 1-based over the expression's characters, and the message repeats the
 * expression with a caret under that column so a shell user sees where it went wrong.
 */
export class FilterSyntaxError extends UsageError {
  /** 1-based column of the offending character (input length + 1 for "unexpected end"). */
  readonly column: number
  /** The whole filter expression as given. */
  readonly input: string
  /** What went wrong, without the column and the caret picture. */
  readonly reason: string

  constructor(input: string, column: number, reason: string) {
    super(`${reason} at column ${column}\n${caretPicture(input, column)}`, {
      hint: 'filter syntax: see `flowscope flows --help` or src/query/FILTERS.md',
    })
    this.column = column
    this.input = input
    this.reason = reason
  }
}

/** The expression on one line (tabs and newlines shown as spaces so the caret lines up) and a caret. */
function caretPicture(input: string, column: number): string {
  const flat = input.replace(/[\t\r\n]/g, ' ')
  return `  ${flat}\n  ${' '.repeat(Math.max(0, column - 1))}^`
}
