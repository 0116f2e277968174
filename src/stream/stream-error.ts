import {EXIT, FlowscopeError, type FlowscopeErrorOptions} from '../core/index.js'

/**
 * A Kinesis/DynamoDB operation that failed for good (after its retries), or a stream that is not
 * there. Exit status 1 (failure); the message names the operation and the stream or shard.
 */
export class StreamError extends FlowscopeError {
  constructor(message: string, options: FlowscopeErrorOptions = {}) {
    // ErrorCode has no stream-specific member yet; INTERNAL maps to exit status 1 like STORE does.
    super('INTERNAL', message, EXIT.failure, options)
  }
}
