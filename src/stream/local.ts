/**
 * Local stand-ins for Kinesis and DynamoDB (kinesalite, dynalite) on 127.0.0.1, for trying `stream`
 * without AWS and for tests. They are development dependencies: loaded only when asked for.
 */
import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient} from '@aws-sdk/client-kinesis'

import {UsageError} from '../core/index.js'

export interface LocalServer {
  /** http://127.0.0.1:PORT */
  endpoint: string
  close(): Promise<void>
}

export interface LocalServers {
  kinesis: LocalServer
  dynamo: LocalServer
  close(): Promise<void>
}

async function load<T>(name: string): Promise<T> {
  try {
    return ((await import(name)) as {default: T}).default
  } catch (error) {
    throw new UsageError(`${name} is not installed`, {cause: error, hint: `install the development dependencies (npm install) to run ${name} locally`})
  }
}

function listen(server: Server, port: number): Promise<LocalServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address() as AddressInfo
      resolve({
        endpoint: `http://127.0.0.1:${address.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections?.()
            server.close(() => done())
          }),
      })
    })
  })
}

/** kinesalite on 127.0.0.1 (port 0: a free port), streams created and resharded at once. */
export async function startLocalKinesis(options: {port?: number; shardLimit?: number} = {}): Promise<LocalServer> {
  const kinesalite = await load<typeof import('kinesalite').default>('kinesalite')
  return listen(kinesalite({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: options.shardLimit ?? 100}), options.port ?? 0)
}

/** dynalite on 127.0.0.1 (port 0: a free port), tables created at once. */
export async function startLocalDynamo(options: {port?: number} = {}): Promise<LocalServer> {
  const dynalite = await load<typeof import('dynalite').default>('dynalite')
  return listen(dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}), options.port ?? 0)
}

export async function startLocalServers(options: {kinesisPort?: number; dynamoPort?: number} = {}): Promise<LocalServers> {
  const kinesis = await startLocalKinesis(options.kinesisPort === undefined ? {} : {port: options.kinesisPort})
  const dynamo = await startLocalDynamo(options.dynamoPort === undefined ? {} : {port: options.dynamoPort})
  return {
    kinesis,
    dynamo,
    close: async () => {
      await Promise.all([kinesis.close(), dynamo.close()])
    },
  }
}
/** A stream created on a fresh local kinesalite (`stream --local`, the benches), once it is active. */
export async function createLocalStream(kinesis: KinesisClient, name: string, shards: number): Promise<void> {
  await kinesis.send(new CreateStreamCommand({StreamName: name, ShardCount: shards}))
  for (let i = 0; i < 200; i++) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({StreamName: name}))
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new UsageError(`the local stream ${name} did not become active`)
}

