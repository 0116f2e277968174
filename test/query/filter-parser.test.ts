import {UHUGEINT, USMALLINT, VARCHAR} from '@duckdb/node-api'
import {describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {compileFilter, FilterSyntaxError, type FilterNode, parseFilter} from '../../src/query/index.js'

const ast = (text: string): FilterNode => parseFilter(text).ast

/** Compact rendering of an AST for structural assertions. */
function shape(n: FilterNode): string {
  switch (n.kind) {
    case 'and':
    case 'or':
      return `${n.kind}(${shape(n.left)}, ${shape(n.right)})`
    case 'not':
      return `not(${shape(n.operand)})`
    case 'proto':
      return `proto${n.proto}`
    case 'port':
      return `${n.dir}.port`
    case 'host':
      return `${n.dir}.host(${n.text})`
    case 'net':
      return `${n.dir}.net(${n.text})`
    default:
      return n.kind
  }
}

function syntaxError(text: string): FilterSyntaxError {
  try {
    parseFilter(text)
  } catch (err) {
    expect(err).toBeInstanceOf(FilterSyntaxError)
    return err as FilterSyntaxError
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`)
}

describe('filter grammar', () => {
  it('treats an empty filter as any', () => {
    expect(ast('')).toEqual({kind: 'any', column: 1})
    expect(ast('   ').kind).toBe('any')
    expect(ast('any').kind).toBe('any')
  })

  it('gives not > and > or precedence, left-associative', () => {
    expect(shape(ast('proto tcp or proto udp and not proto icmp'))).toBe('or(proto6, and(proto17, not(proto1)))')
    expect(shape(ast('proto tcp and proto udp or proto icmp'))).toBe('or(and(proto6, proto17), proto1)')
    expect(shape(ast('proto 1 or proto 2 or proto 3'))).toBe('or(or(proto1, proto2), proto3)')
    expect(shape(ast('not not proto 1'))).toBe('not(not(proto1))')
  })

  it('accepts symbol operators and parentheses', () => {
    expect(shape(ast('!(proto tcp || proto udp) && inet'))).toBe('and(not(or(proto6, proto17)), family)')
    expect(shape(ast('((proto tcp))'))).toBe('proto6')
    expect(shape(ast('(proto tcp or proto udp) and port 53'))).toBe('and(or(proto6, proto17), either.port)')
  })

  it('is case-insensitive for keywords', () => {
    expect(shape(ast('PROTO TCP AND Src Port 22 OR NOT Inet6'))).toBe('or(and(proto6, src.port), not(family))')
  })

  it('parses protocols by name and number', () => {
    const protos: Array<[string, number]> = [
      ['tcp', 6],
      ['udp', 17],
      ['icmp', 1],
      ['icmp6', 58],
      ['gre', 47],
      ['esp', 50],
      ['sctp', 132],
      ['47', 47],
      ['0x11', 17],
    ]
    for (const [p, n] of protos) expect(ast(`proto ${p}`)).toMatchObject({kind: 'proto', proto: n})
  })

  it('parses address families and the simple terms', () => {
    expect(ast('inet')).toMatchObject({kind: 'family', family: 4})
    expect(ast('ipv4')).toMatchObject({kind: 'family', family: 4})
    expect(ast('inet6')).toMatchObject({kind: 'family', family: 6})
    expect(ast('ipv6')).toMatchObject({kind: 'family', family: 6})
    expect(ast('sampled').kind).toBe('sampled')
    expect(ast('network acme-eu')).toMatchObject({kind: 'network', name: 'acme-eu'})
    expect(ast('network "two words"')).toMatchObject({kind: 'network', name: 'two words'})
    expect(ast("network 'x'")).toMatchObject({kind: 'network', name: 'x'})
  })

  it('normalises exporter addresses to the stored text form', () => {
    expect(ast('exporter 192.0.2.1')).toMatchObject({kind: 'exporter', name: '192.0.2.1'})
    expect(ast('exporter 2001:0DB8:0:0::1')).toMatchObject({kind: 'exporter', name: '2001:db8::1'})
    expect(ast('exporter router-7')).toMatchObject({kind: 'exporter', name: 'router-7'})
  })

  it('parses direction qualifiers like nfdump', () => {
    expect(shape(ast('ip 10.0.0.1'))).toBe('either.host(10.0.0.1)')
    expect(shape(ast('host 10.0.0.1'))).toBe('either.host(10.0.0.1)')
    expect(shape(ast('src ip 10.0.0.1'))).toBe('src.host(10.0.0.1)')
    expect(shape(ast('dst host 10.0.0.1'))).toBe('dst.host(10.0.0.1)')
    expect(shape(ast('src or dst ip 10.0.0.1'))).toBe('either.host(10.0.0.1)')
    expect(shape(ast('src and dst net 10.0.0.0/8'))).toBe('both.net(10.0.0.0/8)')
    expect(shape(ast('dst || src port 22'))).toBe('either.port')
    // `src or …` not followed by dst is an ordinary or after a missing term
    expect(syntaxError('src or port 22').column).toBe(5)
  })

  it('parses IPv4 and IPv6 addresses into the mapped 128-bit space', () => {
    expect(ast('ip 10.0.0.1')).toMatchObject({value: 0xffff0a000001n})
    expect(ast('ip ::ffff:10.0.0.1')).toMatchObject({value: 0xffff0a000001n})
    expect(ast('ip fe80::1')).toMatchObject({value: 0xfe80n << 112n | 1n, text: 'fe80::1'})
  })

  it('parses CIDRs, dotted masks and abbreviated IPv4 networks', () => {
    expect(ast('net 10.0.0.0/8')).toMatchObject({lo: 0xffff0a000000n, hi: 0xffff0affffffn, text: '10.0.0.0/8'})
    expect(ast('net 10.0.0.0 255.0.0.0')).toMatchObject({lo: 0xffff0a000000n, hi: 0xffff0affffffn})
    expect(ast('net 10/8')).toMatchObject({lo: 0xffff0a000000n, hi: 0xffff0affffffn})
    expect(ast('net 172.16/12')).toMatchObject({lo: 0xffffac100000n, hi: 0xffffac1fffffn, text: '172.16.0.0/12'})
    expect(ast('net 10.1.2.3/32')).toMatchObject({lo: 0xffff0a010203n, hi: 0xffff0a010203n})
    expect(ast('net 0.0.0.0/0')).toMatchObject({lo: 0xffff00000000n, hi: 0xffffffffffffn})
    const v6 = ast('net 2001:db8::/32')
    expect(v6).toMatchObject({lo: 0x20010db8n << 96n, hi: (0x20010db8n << 96n) | ((1n << 96n) - 1n), text: '2001:db8::/32'})
    // the mapped IPv6 spelling of 10.0.0.0/8 selects the same range
    const mapped = ast('net ::ffff:10.0.0.0/104')
    expect(mapped).toMatchObject({lo: 0xffff0a000000n, hi: 0xffff0affffffn})
    expect(ast('net ::/0')).toMatchObject({lo: 0n, hi: (1n << 128n) - 1n})
  })

  it('clears host bits of a CIDR like nfdump, with a warning', () => {
    const parsed = parseFilter('net 10.1.2.3/8')
    expect(parsed.ast).toMatchObject({lo: 0xffff0a000000n, hi: 0xffff0affffffn, text: '10.0.0.0/8'})
    expect(parsed.warnings).toEqual(['net 10.1.2.3/8: host bits set, using 10.0.0.0/8 (as nfdump does)'])
    expect(parseFilter('net 2001:db8::1/32').warnings[0]).toContain('2001:db8::/32')
    expect(parseFilter('net 10.0.0.0/8').warnings).toEqual([])
  })

  it('parses port comparisons, ranges and lists', () => {
    expect(ast('port 22')).toMatchObject({test: {op: 'cmp', cmp: '=', value: 22n}})
    const ops: Array<[string, string]> = [
      ['=', '='],
      ['==', '='],
      ['!=', '!='],
      ['<', '<'],
      ['>', '>'],
      ['<=', '<='],
      ['>=', '>='],
      ['eq', '='],
      ['ne', '!='],
      ['lt', '<'],
      ['gt', '>'],
      ['le', '<='],
      ['ge', '>='],
    ]
    for (const [op, cmp] of ops) expect(ast(`dst port ${op} 1024`)).toMatchObject({dir: 'dst', test: {op: 'cmp', cmp, value: 1024n}})
    expect(ast('port>1024')).toMatchObject({test: {op: 'cmp', cmp: '>', value: 1024n}})
    expect(ast('port 1000-2000')).toMatchObject({test: {op: 'range', lo: 1000n, hi: 2000n}})
    expect(ast('port in [ 22 80 443 ]')).toMatchObject({test: {op: 'in', values: [22n, 80n, 443n]}})
    expect(ast('src port in [22,80, 443]')).toMatchObject({dir: 'src', test: {op: 'in', values: [22n, 80n, 443n]}})
  })

  it('parses flags as nfdump letters', () => {
    expect(ast('flags S')).toMatchObject({mask: 2})
    expect(ast('flags SA')).toMatchObject({mask: 18})
    expect(ast('flags FSRPAUEC')).toMatchObject({mask: 255})
    expect(ast('flags X')).toMatchObject({mask: 63})
    expect(ast('flags sa')).toMatchObject({mask: 18})
  })

  it('parses counters with k/M/G/T suffixes (x1000) and hex', () => {
    expect(ast('bytes > 10k')).toMatchObject({counter: 'bytes', cmp: '>', value: 10_000n})
    expect(ast('packets 5')).toMatchObject({counter: 'packets', cmp: '=', value: 5n})
    expect(ast('bytes >= 2M')).toMatchObject({value: 2_000_000n})
    expect(ast('bytes < 3g')).toMatchObject({value: 3_000_000_000n})
    expect(ast('bytes < 1T')).toMatchObject({value: 1_000_000_000_000n})
    expect(ast('duration > 1500')).toMatchObject({counter: 'duration', value: 1500n})
    expect(ast('bpp < 0x40')).toMatchObject({counter: 'bpp', value: 64n})
    expect(ast('pps > 1k')).toMatchObject({counter: 'pps', value: 1000n})
    expect(ast('bps > 1G')).toMatchObject({counter: 'bps', value: 1_000_000_000n})
  })

  it('parses as terms', () => {
    expect(ast('src as 65000')).toMatchObject({kind: 'as', dir: 'src', test: {op: 'cmp', value: 65000n}})
    expect(ast('as in [1 2]')).toMatchObject({kind: 'as', dir: 'either', test: {op: 'in', values: [1n, 2n]}})
  })
})

describe('filter syntax errors', () => {
  const cases: Array<[string, number, string]> = [
    ['proto tcp and port', 19, "expected a port number after 'port'"],
    ['proto tcp and port x', 20, "expected a port number, found 'x'"],
    ['proto tcp port 22', 11, "expected 'and', 'or' or the end of the filter, found 'port'"],
    ['proto tcp proto udp', 11, "expected 'and', 'or' or the end of the filter"],
    ['(proto tcp', 11, "expected ')' to close the '(' at column 1"],
    ['proto tcp)', 10, "unbalanced ')'"],
    ['()', 2, 'empty parentheses'],
    ['port 70000', 6, 'port number 70000 out of range 0..65535'],
    ['port 2000-1000', 6, 'empty range'],
    ['port 1000-99999', 11, 'out of range'],
    ['port in []', 10, 'expected a port number in the list'],
    ['port in [22 80', 15, "expected a port number or ']'"],
    ['port in 22', 9, "expected '['"],
    ['net 10.0.0.0/33', 14, 'expected a prefix length 0..32'],
    ['net 2001:db8::/129', 16, 'expected a prefix length 0..128'],
    ['net 10.0.0.0 255.0.255.0', 14, 'netmask 255.0.255.0 is not contiguous'],
    ['net 10.0.0.0', 13, "expected '/length' or a dotted IPv4 netmask"],
    ['net 2001:db8:: ffff::', 16, "expected '/length'"],
    ['net 10.0.0.256/8', 5, 'expected a network address'],
    ['flags SZ', 8, "unknown TCP flag letter 'Z'"],
    ['flags 2', 7, 'expected TCP flag letters'],
    ['src foo 1', 5, "expected ip, host, net, port or as after 'src'"],
    ['src or dst bytes 1', 12, "expected ip, host, net, port or as after 'dst'"],
    ['proto tcpx', 7, "unknown protocol 'tcpx'"],
    ['proto 256', 7, 'protocol number 256 out of range 0..255'],
    ['10.0.0.1', 1, "did you mean 'ip 10.0.0.1'?"],
    ['ip 300.1.1.1', 4, 'expected an IPv4 or IPv6 address'],
    ['ip example.com', 4, 'expected an IPv4 or IPv6 address'],
    ['bytes > 1.5M', 9, "expected a number of bytes, found '1.5M'"],
    ['bytes > -5', 9, 'expected a number of bytes'],
    ['bytes > 18446744073709551616', 9, 'out of range'],
    ['duration >', 11, "expected a number after 'duration'"],
    ['not', 4, 'unexpected end of filter'],
    ['proto tcp and', 14, 'unexpected end of filter'],
    ['network and', 9, "expected a name after 'network'"],
    ['network', 8, "expected a name after 'network'"],
    ['network "abc', 9, 'unterminated string'],
    ['foo', 1, "unknown filter keyword 'foo'"],
    ['proto tcp & port 22', 11, 'unexpected character "&"'],
    ['"tcp"', 1, 'a quoted string must follow a keyword'],
    ['and proto tcp', 1, "unknown filter keyword 'and'"],
  ]
  for (const [input, column, reason] of cases) {
    it(`${JSON.stringify(input)} → column ${column}`, () => {
      const err = syntaxError(input)
      expect(err.column).toBe(column)
      expect(err.reason).toContain(reason)
      expect(err.input).toBe(input)
      expect(err.message).toContain(`at column ${column}`)
    })
  }

  it('is a usage error (exit code 2) whose message draws a caret under the column', () => {
    const err = syntaxError('proto tcp and port')
    expect(err).toBeInstanceOf(UsageError)
    expect(err.exitCode).toBe(2)
    expect(err.code).toBe('USAGE')
    expect(err.message).toBe(["expected a port number after 'port' at column 19", '  proto tcp and port', `  ${' '.repeat(18)}^`].join('\n'))
  })

  it('keeps the caret aligned when the filter spans lines', () => {
    const err = syntaxError('proto tcp\n\tand prot udp')
    expect(err.column).toBe(16)
    expect(err.message.split('\n').slice(1)).toEqual(['  proto tcp  and prot udp', `  ${' '.repeat(15)}^`])
  })
})

describe('injection attempts', () => {
  const rejected: Array<[string, number]> = [
    ["ip 10.0.0.1'; DROP TABLE flows; --", 12],
    ["network x'; DROP TABLE flows; --", 10],
    ['port 22; DROP TABLE flows', 8],
    ['proto tcp /* comment */', 12],
    ['proto tcp -- comment', 11],
    ['network "a"; DELETE FROM flows', 12],
    ['proto tcp) OR (1=1', 10],
    ['exporter a\\b', 11],
    ['port 22 UNION SELECT 1', 9],
  ]
  for (const [input, column] of rejected) {
    it(`rejects ${JSON.stringify(input)} at column ${column}`, () => {
      expect(syntaxError(input).column).toBe(column)
    })
  }

  const accepted = [
    `network "x' OR 1=1"`,
    `network "'; DROP TABLE flows; --"`,
    `network '/* */ OR TRUE --'`,
    `exporter "1.2.3.4' OR '1'='1"`,
    `network "$f2"`,
    `network "); DELETE FROM flows; SELECT ("`,
  ]
  for (const input of accepted) {
    it(`keeps ${JSON.stringify(input)} as data`, () => {
      const f = compileFilter(input)
      const value = input.slice(input.indexOf(' ') + 2, -1)
      expect(f.sql).not.toContain(value)
      expect(f.sql).toMatch(/^\((network|exporter) = \$f1\)$/)
      expect(f.params).toEqual({f1: value})
      expect(f.types.f1).toBe(VARCHAR)
    })
  }

  it('never writes a user literal into SQL text', () => {
    const f = compileFilter('src ip 10.11.12.13 and dst port in [ 4321 5432 ] and bytes > 987654 and net 2001:db8::/32 and proto 99')
    for (const literal of ['10.11.12.13', '4321', '5432', '987654', '2001', '99']) expect(f.sql).not.toContain(literal)
  })
})

describe('compileFilter', () => {
  it('binds addresses as UHUGEINT and ports as USMALLINT', () => {
    const f = compileFilter('src net 10.0.0.0/8 and dst port 22 and host fe80::1')
    expect(f.sql).toBe('(((src_addr BETWEEN $f1 AND $f2) AND (dst_port = $f3)) AND (src_addr = $f4 OR dst_addr = $f4))')
    expect(f.params).toEqual({f1: 0xffff0a000000n, f2: 0xffff0affffffn, f3: 22, f4: (0xfe80n << 112n) | 1n})
    expect(f.types).toEqual({f1: UHUGEINT, f2: UHUGEINT, f3: USMALLINT, f4: UHUGEINT})
    expect(f.needs).toEqual([])
  })

  it('shares one parameter between the src and dst halves', () => {
    const f = compileFilter('port in [22 80]')
    expect(f.sql).toBe('(src_port IN ($f1, $f2) OR dst_port IN ($f1, $f2))')
    expect(compileFilter('src and dst port 1-9').sql).toBe('(src_port BETWEEN $f1 AND $f2 AND dst_port BETWEEN $f1 AND $f2)')
  })

  it('marks as terms as needing the ASN enrichment', () => {
    const f = compileFilter('proto tcp and dst as 65000')
    expect(f.needs).toEqual(['asn'])
    expect(f.sql).toContain('dst_as = $f2')
  })

  it('implies proto tcp for flags, like nfdump', () => {
    expect(compileFilter('flags SA').sql).toBe('(proto = 6 AND (tcp_flags & $f1) = $f1)')
  })

  it('compiles an empty filter to TRUE', () => {
    expect(compileFilter('').sql).toBe('TRUE')
  })
})
