/**
 * The AWS SDK's Node-version warning (its releases after the first week of January 2027 need
 * Node >= 22): not silenced by flowscope, printed at most once per process however many clients are
 * made, and absent on Node >= 22. Run in a child process, since the SDK remembers it warned.
 */
import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, expect, it} from 'vitest'

import {ROOT} from '../helpers/cli.js'

const script = `
const {createKinesisClient, createDynamoClient} = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/stream/aws.js')).href)})
for (let i = 0; i < 3; i++) {
  createKinesisClient({endpoint: 'http://127.0.0.1:1'})
  createDynamoClient({endpoint: 'http://127.0.0.1:1'})
  createKinesisClient({region: 'eu-west-1'})
}
`

describe('the AWS SDK Node-version warning', () => {
  it('is printed once per process on Node < 22 and not at all on Node >= 22', () => {
    const env = {...process.env}
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {env, encoding: 'utf8'})
    expect(r.status, r.stderr).toBe(0)
    const warnings = r.stderr.match(/NodeVersionSupportWarning/g)?.length ?? 0
    const major = Number(process.versions.node.split('.')[0])
    expect(warnings, r.stderr).toBe(major < 22 ? 1 : 0)
  })
})
