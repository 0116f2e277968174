/**
 * nfdump-style filter expressions: a hand-written recursive-descent parser over `tokenize`.
 * The accepted language (keywords case-insensitive; FILTERS.md has the user-facing version):
 *
 *   filter     := [ or_expr ] EOF                    an empty filter matches every flow
 *   or_expr    := and_expr { ("or" | "||") and_expr }
 *   and_expr   := not_expr { ("and" | "&&") not_expr }
 *   not_expr   := ("not" | "!") not_expr | primary
 *   primary    := "(" or_expr ")"
 *               | "any"
 *               | ("inet" | "ipv4") | ("inet6" | "ipv6")
 *               | "sampled"                             sampling_rate > 1
 *               | "proto" (PROTO_NAME | NUMBER)
 *               | "flags" FLAG_LETTERS                  all listed flags set; implies proto tcp
 *               | COUNTER [cmp] NUMBER                  COUNTER := packets|bytes|duration|bpp|pps|bps
 *               | "network" NAME | "exporter" NAME     NAME := WORD | 'quoted' | "quoted"
 *               | [dir] ("ip" | "host") ADDRESS
 *               | [dir] "net" (ADDRESS "/" LENGTH | IPV4 DOTTED_MASK)
 *               | [dir] "port" num_test
 *               | [dir] "as" num_test                   needs ASN enrichment
 *   dir        := "src" [ ("or" | "||" | "and" | "&&") "dst" ]
 *               | "dst" [ ("or" | "||" | "and" | "&&") "src" ]
 *   num_test   := [cmp] NUMBER | NUMBER "-" NUMBER      range: a flowscope extension
 *               | "in" "[" NUMBER { [","] NUMBER } "]"
 *   cmp        := "=" | "==" | "!=" | "<" | ">" | "<=" | ">=" | eq | ne | lt | gt | le | ge
 *   NUMBER     := DIGITS [k|M|G|T] | 0xHEX               suffixes ×1000 (nfdump), any case
 *
 * Precedence is not > and > or, all left-associative, as in nfdump's grammar.y. Two terms side by
 * side without an operator are a syntax error (nfdump would reject them too). A qualifier with no
 * direction (`ip`, `port`, `net`, `as`) means "src or dst", as nfdump's DIR_UNSPEC does — for every
 * comparison, so `port != 80` is `src_port != 80 OR dst_port != 80`; write `not port 80` for "neither".
 */

import {ipv4ToString, ipv6ToString, parseIp, protocolNumber} from '../core/index.js'
import {FilterSyntaxError} from './filter-error.js'
import {type Token, tokenize} from './filter-tokens.js'

/** Which address/port column(s) a term tests: `either` = src or dst, `both` = src and dst. */
export type Direction = 'src' | 'dst' | 'either' | 'both'
export type Comparison = '=' | '!=' | '<' | '>' | '<=' | '>='
export type Counter = 'packets' | 'bytes' | 'duration' | 'bpp' | 'pps' | 'bps'
export const COUNTERS = ['packets', 'bytes', 'duration', 'bpp', 'pps', 'bps'] as const satisfies readonly Counter[]

/** A test on an integer column: a comparison, an inclusive range, or membership in a list. */
export type NumericTest =
  | {op: 'cmp'; cmp: Comparison; value: bigint}
  | {op: 'range'; lo: bigint; hi: bigint}
  | {op: 'in'; values: bigint[]}

/** Parsed filter. Leaves carry the 1-based `column` where the term starts (for later messages). */
export type FilterNode =
  | {kind: 'and' | 'or'; left: FilterNode; right: FilterNode}
  | {kind: 'not'; operand: FilterNode}
  | {kind: 'any'; column: number}
  | {kind: 'family'; family: 4 | 6; column: number}
  | {kind: 'sampled'; column: number}
  | {kind: 'proto'; proto: number; column: number}
  | {kind: 'flags'; mask: number; column: number}
  | {kind: 'counter'; counter: Counter; cmp: Comparison; value: bigint; column: number}
  | {kind: 'network'; name: string; column: number}
  | {kind: 'exporter'; name: string; column: number}
  | {kind: 'host'; dir: Direction; value: bigint; text: string; column: number}
  /** `lo`..`hi` inclusive over the 128-bit address number; `text` is the normalised CIDR. */
  | {kind: 'net'; dir: Direction; lo: bigint; hi: bigint; text: string; column: number}
  | {kind: 'port'; dir: Direction; test: NumericTest; column: number}
  | {kind: 'as'; dir: Direction; test: NumericTest; column: number}

export interface ParsedFilter {
  ast: FilterNode
  /** Things the parser accepted but changed, e.g. host bits cleared from a CIDR. */
  warnings: string[]
}

const U16_MAX = 0xffffn
const U32_MAX = 0xffff_ffffn
const U64_MAX = 0xffff_ffff_ffff_ffffn
const I64_MAX = 0x7fff_ffff_ffff_ffffn
const V4_MAPPED = 0xffff_0000_0000n
const ALL_128 = (1n << 128n) - 1n

const CMP_WORDS: Record<string, Comparison> = {
  '=': '=',
  '==': '=',
  '!=': '!=',
  '<': '<',
  '>': '>',
  '<=': '<=',
  '>=': '>=',
  eq: '=',
  ne: '!=',
  lt: '<',
  gt: '>',
  le: '<=',
  ge: '>=',
}

/** TCP flag letters as nfdump prints them; X = the six classic flags (nfdump's 63). */
const FLAG_BITS: Record<string, number> = {F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128, X: 63}

/** Words that end a NAME rather than being one. */
const RESERVED_NAMES = new Set(['and', 'or', 'not'])

/** Parse a filter expression; throws FilterSyntaxError with the column of the first problem. */
export function parseFilter(input: string): ParsedFilter {
  return new Parser(input).parse()
}

class Parser {
  private readonly tokens: Token[]
  private pos = 0
  private readonly warnings: string[] = []

  constructor(private readonly input: string) {
    this.tokens = tokenize(input)
  }

  parse(): ParsedFilter {
    if (this.peek().kind === 'eof') return {ast: {kind: 'any', column: 1}, warnings: this.warnings}
    const ast = this.orExpr()
    const t = this.peek()
    if (t.kind !== 'eof') {
      const what = t.text === ')' ? "unbalanced ')'" : `expected 'and', 'or' or the end of the filter, found ${show(t)}`
      throw this.error(t, what)
    }
    return {ast, warnings: this.warnings}
  }

  // ---- token helpers -------------------------------------------------------------------------

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!
  }

  private next(): Token {
    const t = this.peek()
    if (t.kind !== 'eof') this.pos++
    return t
  }

  /** True when the token is the (case-insensitive) keyword or operator, e.g. isWord(t, 'and', '&&'). */
  private is(t: Token, ...words: string[]): boolean {
    if (t.kind === 'word') return words.includes(t.text.toLowerCase())
    if (t.kind === 'punct') return words.includes(t.text)
    return false
  }

  private error(t: Token, reason: string): FilterSyntaxError {
    return new FilterSyntaxError(this.input, t.column, reason)
  }

  // ---- boolean structure ---------------------------------------------------------------------

  private orExpr(): FilterNode {
    return this.chain('or', '||', () => this.andExpr())
  }

  private andExpr(): FilterNode {
    return this.chain('and', '&&', () => this.notExpr())
  }

  /** `operand (kind operand)*`, grouped from the left; the operator is the keyword `kind` or `symbol`. */
  private chain(kind: 'and' | 'or', symbol: string, operand: () => FilterNode): FilterNode {
    let left = operand()
    while (this.is(this.peek(), kind, symbol)) {
      this.next()
      left = {kind, left, right: operand()}
    }
    return left
  }

  private notExpr(): FilterNode {
    if (this.is(this.peek(), 'not', '!')) {
      this.next()
      return {kind: 'not', operand: this.notExpr()}
    }
    return this.primary()
  }

  // ---- terms ---------------------------------------------------------------------------------

  private primary(): FilterNode {
    const t = this.peek()
    if (t.kind === 'eof') throw this.error(t, 'unexpected end of filter: expected a filter term')
    if (t.kind === 'punct') {
      if (t.text === '(') {
        this.next()
        if (this.peek().text === ')' && this.peek().kind === 'punct') throw this.error(this.peek(), 'empty parentheses')
        const inner = this.orExpr()
        const close = this.peek()
        if (!(close.kind === 'punct' && close.text === ')')) {
          throw this.error(close, `expected ')' to close the '(' at column ${t.column}, found ${show(close)}`)
        }
        this.next()
        return inner
      }
      throw this.error(t, `expected a filter term, found ${show(t)}`)
    }
    if (t.kind === 'string') throw this.error(t, 'a quoted string must follow a keyword such as network or exporter')
    const word = t.text.toLowerCase()
    switch (word) {
      case 'any':
        this.next()
        return {kind: 'any', column: t.column}
      case 'inet':
      case 'ipv4':
        this.next()
        return {kind: 'family', family: 4, column: t.column}
      case 'inet6':
      case 'ipv6':
        this.next()
        return {kind: 'family', family: 6, column: t.column}
      case 'sampled':
        this.next()
        return {kind: 'sampled', column: t.column}
      case 'proto':
        return this.proto()
      case 'flags':
        return this.flags()
      case 'network':
      case 'exporter':
        return this.nameTerm(word)
      case 'src':
      case 'dst':
      case 'ip':
      case 'host':
      case 'net':
      case 'port':
      case 'as':
        return this.directional()
      default:
        if ((COUNTERS as readonly string[]).includes(word)) return this.counter(word as Counter)
        if (parseIp(t.text) !== undefined) throw this.error(t, `expected a filter term, found an address (did you mean 'ip ${t.text}'?)`)
        throw this.error(t, `unknown filter keyword ${show(t)}`)
    }
  }

  private proto(): FilterNode {
    const kw = this.next()
    const t = this.peek()
    if (t.kind !== 'word') throw this.error(t, "expected a protocol name or number after 'proto'")
    let proto: number | undefined
    if (/^[0-9]/.test(t.text)) {
      proto = Number(this.number(t, 'protocol number', 255n))
    } else {
      proto = protocolNumber(t.text)
      if (proto === undefined) throw this.error(t, `unknown protocol ${show(t)} (use a name such as tcp, udp, icmp, icmp6, gre, esp, sctp, or a number 0..255)`)
    }
    this.next()
    return {kind: 'proto', proto, column: kw.column}
  }

  private flags(): FilterNode {
    const kw = this.next()
    const t = this.peek()
    if (t.kind !== 'word' || !/^[A-Za-z]+$/.test(t.text)) {
      throw this.error(t, "expected TCP flag letters (F S R P A U E C, or X) after 'flags'")
    }
    let mask = 0
    for (let i = 0; i < t.text.length; i++) {
      const bit = FLAG_BITS[t.text[i]!.toUpperCase()]
      if (bit === undefined) {
        throw new FilterSyntaxError(this.input, t.column + i, `unknown TCP flag letter '${t.text[i]}' (use F S R P A U E C, or X for FSRPAU)`)
      }
      mask |= bit
    }
    this.next()
    return {kind: 'flags', mask, column: kw.column}
  }

  private counter(counter: Counter): FilterNode {
    const kw = this.next()
    const cmp = this.comparison() ?? '='
    const t = this.peek()
    const max = counter === 'duration' ? I64_MAX : U64_MAX
    const what = counter === 'duration' ? 'duration in milliseconds' : `number of ${counter}`
    if (t.kind !== 'word') throw this.error(t, `expected a number after '${kw.text}'`)
    const value = this.number(t, what, max)
    this.next()
    return {kind: 'counter', counter, cmp, value, column: kw.column}
  }

  private nameTerm(which: 'network' | 'exporter'): FilterNode {
    const kw = this.next()
    const t = this.peek()
    if (!(t.kind === 'string' || (t.kind === 'word' && !RESERVED_NAMES.has(t.text.toLowerCase())))) {
      throw this.error(t, `expected a name after '${kw.text}' (quote it if it has spaces or symbols)`)
    }
    this.next()
    if (which === 'network') return {kind: 'network', name: t.text, column: kw.column}
    // Exporters are stored as address text; an address given here is normalised to that form.
    const ip = parseIp(t.text)
    return {kind: 'exporter', name: ip === undefined ? t.text : addressText(ip.family, ip.value), column: kw.column}
  }

  private direction(): Direction | undefined {
    const t = this.peek()
    if (!this.is(t, 'src', 'dst')) return undefined
    this.next()
    const first = t.text.toLowerCase() as 'src' | 'dst'
    const other = first === 'src' ? 'dst' : 'src'
    const conj = this.peek()
    if (this.is(conj, 'or', '||', 'and', '&&') && this.is(this.peek(1), other)) {
      this.next()
      this.next()
      return this.is(conj, 'or', '||') ? 'either' : 'both'
    }
    return first
  }

  private directional(): FilterNode {
    const start = this.peek()
    const dir = this.direction()
    const kwTok = this.peek()
    const kw = kwTok.kind === 'word' ? kwTok.text.toLowerCase() : ''
    const d = dir ?? 'either'
    switch (kw) {
      case 'ip':
      case 'host': {
        this.next()
        const t = this.peek()
        const ip = t.kind === 'word' ? parseIp(t.text) : undefined
        if (ip === undefined) throw this.error(t, `expected an IPv4 or IPv6 address after '${kwTok.text}'`)
        this.next()
        return {kind: 'host', dir: d, value: ip.value, text: addressText(ip.family, ip.value), column: start.column}
      }
      case 'net':
        this.next()
        return this.net(d, start.column)
      case 'port':
        this.next()
        return {kind: 'port', dir: d, test: this.numericTest(kwTok, 'port number', U16_MAX), column: start.column}
      case 'as':
        this.next()
        return {kind: 'as', dir: d, test: this.numericTest(kwTok, 'AS number', U32_MAX), column: start.column}
      default:
        throw this.error(kwTok, `expected ip, host, net, port or as after '${this.tokens[this.pos - 1]!.text}'`)
    }
  }

  private net(dir: Direction, column: number): FilterNode {
    const t = this.peek()
    if (t.kind !== 'word') throw this.error(t, "expected a network (A/N, or A M with a dotted netmask) after 'net'")
    let base: {family: 4 | 6; value: bigint}
    let prefix: number
    const slash = t.text.indexOf('/')
    if (slash >= 0) {
      const addrText = t.text.slice(0, slash)
      const lenText = t.text.slice(slash + 1)
      const parsed = netAddress(addrText)
      if (parsed === undefined) throw this.error(t, `expected a network address before '/', found '${addrText}'`)
      const max = parsed.family === 4 ? 32 : 128
      const lenCol = t.column + slash + 1
      if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
        throw new FilterSyntaxError(this.input, lenCol, `expected a prefix length 0..${max} after '/'`)
      }
      base = parsed
      prefix = Number(lenText)
      this.next()
    } else {
      const parsed = netAddress(t.text)
      if (parsed === undefined) throw this.error(t, "expected a network (A/N, or A M with a dotted netmask) after 'net'")
      this.next()
      const m = this.peek()
      const mask = m.kind === 'word' ? parseIp(m.text) : undefined
      if (parsed.family !== 4 || mask === undefined || mask.family !== 4) {
        throw this.error(m, `expected '/length' or a dotted IPv4 netmask after the network address '${t.text}'`)
      }
      const bits = Number(mask.value & U32_MAX)
      prefix = contiguousPrefix(bits)
      if (prefix < 0) throw this.error(m, `netmask ${m.text} is not contiguous`)
      base = parsed
      this.next()
    }
    // Addresses live in one 128-bit space with IPv4 mapped at ::ffff:0:0/96, so an IPv4 /N is a /(96+N).
    const len128 = base.family === 4 ? 96 + prefix : prefix
    const hostBits = (1n << BigInt(128 - len128)) - 1n
    const lo = base.value & (ALL_128 ^ hostBits)
    const hi = lo | hostBits
    const text = `${addressText(base.family, lo)}/${prefix}`
    if (lo !== base.value) {
      this.warnings.push(`net ${t.text}: host bits set, using ${text} (as nfdump does)`)
    }
    return {kind: 'net', dir, lo, hi, text, column}
  }

  /** `[cmp] N`, `A-B`, or `in [ N N … ]`; `kw` is the keyword token for messages. */
  private numericTest(kw: Token, what: string, max: bigint): NumericTest {
    if (this.is(this.peek(), 'in')) {
      this.next()
      const open = this.peek()
      if (!(open.kind === 'punct' && open.text === '[')) throw this.error(open, `expected '[' after '${kw.text} in'`)
      this.next()
      const values: bigint[] = []
      for (;;) {
        const t = this.peek()
        if (t.kind === 'punct' && t.text === ']' && values.length > 0) {
          this.next()
          return {op: 'in', values}
        }
        if (t.kind === 'punct' && t.text === ',' && values.length > 0) {
          this.next()
          continue
        }
        if (t.kind !== 'word') throw this.error(t, values.length === 0 ? `expected a ${what} in the list` : `expected a ${what} or ']'`)
        values.push(this.number(t, what, max))
        this.next()
      }
    }
    const cmp = this.comparison()
    const t = this.peek()
    if (t.kind !== 'word') throw this.error(t, `expected a ${what} after '${kw.text}'`)
    const range = /^([^-]+)-([^-]+)$/.exec(t.text)
    if (range && cmp === undefined) {
      const loText = range[1]!
      const hiText = range[2]!
      const lo = this.number({...t, text: loText}, what, max)
      const hi = this.number({...t, text: hiText, column: t.column + loText.length + 1}, what, max)
      if (lo > hi) throw this.error(t, `empty range ${t.text}: the first ${what} is larger than the second`)
      this.next()
      return {op: 'range', lo, hi}
    }
    const value = this.number(t, what, max)
    this.next()
    return {op: 'cmp', cmp: cmp ?? '=', value}
  }

  private comparison(): Comparison | undefined {
    const t = this.peek()
    if (t.kind !== 'punct' && t.kind !== 'word') return undefined
    const key = t.kind === 'word' ? t.text.toLowerCase() : t.text
    const cmp = Object.hasOwn(CMP_WORDS, key) ? CMP_WORDS[key] : undefined
    if (cmp !== undefined) this.next()
    return cmp
  }

  /** An unsigned integer word: decimal with an optional k/M/G/T (×1000) suffix, or 0x hex. */
  private number(t: Token, what: string, max: bigint): bigint {
    let value: bigint
    const dec = /^(\d+)([kKmMgGtT]?)$/.exec(t.text)
    if (dec) {
      const scale = {'': 1n, k: 1000n, m: 1_000_000n, g: 1_000_000_000n, t: 1_000_000_000_000n}[dec[2]!.toLowerCase()]!
      value = BigInt(dec[1]!) * scale
    } else if (/^0[xX][0-9a-fA-F]+$/.test(t.text)) {
      value = BigInt(t.text)
    } else {
      throw this.error(t, `expected a ${what}, found ${show(t)}`)
    }
    if (value > max) throw this.error(t, `${what} ${t.text} out of range 0..${max}`)
    return value
  }
}

function show(t: Token): string {
  if (t.kind === 'eof') return 'the end of the filter'
  if (t.kind === 'string') return 'a quoted string'
  return `'${t.text}'`
}

/** Address text as the store writes it: dotted quad for IPv4, RFC 5952 for IPv6. */
export function addressText(family: 4 | 6, value: bigint): string {
  if (family === 4) return ipv4ToString(Number(value & U32_MAX))
  const w = (i: number): number => Number((value >> BigInt(96 - 32 * i)) & U32_MAX)
  return ipv6ToString(w(0), w(1), w(2), w(3))
}

/** A network address: IPv6, a full IPv4 address, or nfdump's abbreviated IPv4 (`172.16`, `10`). */
function netAddress(text: string): {family: 4 | 6; value: bigint} | undefined {
  if (text.includes(':')) return parseIp(text)
  const parts = text.split('.')
  if (parts.length > 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  while (parts.length < 4) parts.push('0')
  const v = parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n)
  return {family: 4, value: V4_MAPPED | v}
}

/** Prefix length of a contiguous 32-bit netmask, or -1. */
function contiguousPrefix(mask: number): number {
  const inverted = ~mask >>> 0
  if ((inverted & (inverted + 1)) !== 0) return -1
  return 32 - Math.log2(inverted + 1)
}
