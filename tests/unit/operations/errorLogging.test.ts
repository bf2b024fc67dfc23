import { readFileSync } from 'node:fs';
import { ReplyError } from 'ioredis';
import { MongoServerError } from 'mongodb';
import { createLogger } from '../../../src/logging';

/** Every Error in a log entry's fields reaches the log line with its name, message and code. */

const MESSAGE = Symbol.for('message');
// ioredis declares its re-export of redis-errors' ReplyError without a type.
const RedisReplyError = ReplyError as unknown as new (message: string) => Error;

function logged(fields: Record<string, unknown>): Record<string, unknown> {
  const logger = createLogger({ level: 'info', role: 'test' });
  for (const transport of logger.transports) transport.silent = true;
  let line: string | undefined;
  logger.on('data', (info: Record<string | symbol, unknown>) => {
    const text = info[MESSAGE];
    if (typeof text === 'string') line = text;
  });
  logger.warn('projection catch-up failed; will try again', fields);
  if (line === undefined) throw new Error('nothing was logged');
  return JSON.parse(line) as Record<string, unknown>;
}

describe('logged errors', () => {
  it('keep message, name and a code that is not enumerable', () => {
    const error = new Error('Connection is closed.');
    Object.defineProperty(error, 'code', { value: 'ECONNCLOSED', enumerable: false });
    expect(logged({ err: error })['err']).toMatchObject({
      name: 'Error',
      message: 'Connection is closed.',
      code: 'ECONNCLOSED',
    });
  });

  it('follow cause and the errors of an AggregateError', () => {
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    Object.defineProperty(refused, 'code', { value: 'ECONNREFUSED', enumerable: false });
    const aggregate = new AggregateError([refused, new TypeError('bad reply')], 'all attempts failed');
    const outer = new Error('catch-up failed', { cause: aggregate });
    expect(logged({ err: outer })['err']).toMatchObject({
      message: 'catch-up failed',
      cause: {
        name: 'AggregateError',
        message: 'all attempts failed',
        errors: [
          { message: 'connect ECONNREFUSED 127.0.0.1:6379', code: 'ECONNREFUSED' },
          { name: 'TypeError', message: 'bad reply' },
        ],
      },
    });
  });

  it('keep the MongoServerError code, the ioredis reply and a system error nested in a field', () => {
    const mongo = new MongoServerError({
      message: 'E11000 duplicate key',
      code: 11000,
      codeName: 'DuplicateKey',
    });
    const redis = new RedisReplyError('OOM command not allowed when used memory > maxmemory');
    let system: unknown;
    try {
      readFileSync('/no/such/file');
    } catch (error) {
      system = error;
    }
    const entry = logged({ err: mongo, detail: { redis, attempts: [system] } });
    expect(entry['err']).toMatchObject({
      name: 'MongoServerError',
      message: 'E11000 duplicate key',
      code: 11000,
    });
    expect(entry['detail']).toMatchObject({
      redis: { name: 'ReplyError', message: 'OOM command not allowed when used memory > maxmemory' },
      attempts: [{ name: 'Error', code: 'ENOENT', syscall: 'open' }],
    });
  });
});
