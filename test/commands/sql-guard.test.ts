import {existsSync, rmSync} from 'node:fs'
import path from 'node:path'

import {DuckDBInstance} from '@duckdb/node-api'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {buildSqlQuery} from '../../src/query/index.js'
import {tempDir} from '../helpers/cli.js'

describe('the sql guard refuses before DuckDB prepares anything (issue #20)', () => {
  let instance: DuckDBInstance
  let conn: Awaited<ReturnType<DuckDBInstance['connect']>>
  beforeAll(async () => {
    // a connection with file access allowed: the guard must not rely on the command having turned it off
    instance = await DuckDBInstance.create(':memory:')
    conn = await instance.connect()
    await conn.run('CREATE TABLE flows (bytes UBIGINT)')
  })
  afterAll(() => {
    conn.closeSync()
    instance.closeSync()
  })

  it("EXPORT DATABASE is refused and its target folder is not created", async () => {
    const parent = tempDir('flowscope-sqlguard-')
    for (const sql of [`EXPORT DATABASE '${path.join(parent, 'x')}'`, `  /* c */ export database '${path.join(parent, 'y')}' (FORMAT parquet)`]) {
      const err = await buildSqlQuery(sql, conn).catch((e: unknown) => e)
      expect(err, sql).toBeInstanceOf(UsageError)
      expect((err as Error).message).toMatch(/read-only: EXPORT statements are not allowed/)
    }
    expect(existsSync(path.join(parent, 'x'))).toBe(false)
    expect(existsSync(path.join(parent, 'y'))).toBe(false)
    rmSync(parent, {recursive: true, force: true})
  })

  it('a typo is still an SQL error, a query still passes', async () => {
    await expect(buildSqlQuery('SELEC 1', conn)).rejects.toThrow(/SQL error/)
    await expect(buildSqlQuery('SELECT count(*) FROM flows', conn)).resolves.toMatchObject({statementType: 'SELECT'})
  })
})
