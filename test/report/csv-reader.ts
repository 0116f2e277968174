/** RFC 4180 reader, strict: a quote inside an unquoted field or an unterminated quote is an error. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let i = 0
  let quoted = false
  let wasQuoted = false
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i += 2
        continue
      }
      if (c === '"') {
        quoted = false
        i++
        continue
      }
      field += c
      i++
      continue
    }
    if (c === '"') {
      if (field !== '' || wasQuoted) throw new Error(`quote inside an unquoted field at ${i}`)
      quoted = true
      wasQuoted = true
      i++
    } else if (c === ',') {
      row.push(field)
      field = ''
      wasQuoted = false
      i++
    } else if (c === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
      wasQuoted = false
      i++
    } else {
      if (wasQuoted) throw new Error(`text after a closing quote at ${i}`)
      field += c
      i++
    }
  }
  if (quoted) throw new Error('unterminated quoted field')
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}
