import {FilterSyntaxError} from './filter-error.js'

/**
 * Tokenizer for filter expressions. Deliberately small: words (keywords, numbers, addresses, CIDRs
 * and names share one character class, the parser decides what a word means from its position),
 * quoted strings, brackets and the comparison/boolean operators. Anything else — `;`, `*`, a lone
 * `&`, a backslash — is an error at its column, so SQL punctuation never reaches the parser.
 */

export type TokenKind = 'word' | 'string' | 'punct' | 'eof'

export interface Token {
  kind: TokenKind
  /** Text as written (for strings: the content between the quotes). */
  text: string
  /** 1-based column of the token's first character. */
  column: number
}

/** Characters a word may contain: letters, digits and what addresses, CIDRs and ranges need. */
const WORD_CHAR = /[A-Za-z0-9_.:/+-]/

/** Two-character operators first so `<=` is not read as `<` `=`. */
const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '=', '<', '>', '!', '(', ')', '[', ']', ','] as const

export function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const n = input.length
  while (i < n) {
    const ch = input[i]!
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++
      continue
    }
    if (ch === '"' || ch === "'") {
      const end = input.indexOf(ch, i + 1)
      if (end < 0) throw new FilterSyntaxError(input, i + 1, `unterminated string (no closing ${ch})`)
      const text = input.slice(i + 1, end)
      if (/[\r\n]/.test(text)) throw new FilterSyntaxError(input, i + 1, 'a quoted string may not span lines')
      tokens.push({kind: 'string', text, column: i + 1})
      i = end + 1
      continue
    }
    const op = OPERATORS.find((o) => input.startsWith(o, i))
    if (op !== undefined) {
      tokens.push({kind: 'punct', text: op, column: i + 1})
      i += op.length
      continue
    }
    if (WORD_CHAR.test(ch)) {
      let j = i + 1
      while (j < n && WORD_CHAR.test(input[j]!)) j++
      tokens.push({kind: 'word', text: input.slice(i, j), column: i + 1})
      i = j
      continue
    }
    throw new FilterSyntaxError(input, i + 1, `unexpected character ${JSON.stringify(ch)}`)
  }
  tokens.push({kind: 'eof', text: '', column: n + 1})
  return tokens
}
