import { AsyncLocalStorage } from 'node:async_hooks';
import { types } from 'node:util';
import winston from 'winston';

/** Carries the correlation id of the request or job being handled, so every log line can name it. */
const correlation = new AsyncLocalStorage<string>();

export function runWithCorrelationId<T>(correlationId: string, fn: () => T): T {
  return correlation.run(correlationId, fn);
}

export function currentCorrelationId(): string | undefined {
  return correlation.getStore();
}

const addCorrelationId = winston.format((info) => {
  const id = correlation.getStore();
  if (id !== undefined && info['correlationId'] === undefined) info['correlationId'] = id;
  return info;
});

export type Logger = winston.Logger;

/** Properties worth an operator's eye that errors carry beside the message (driver, ioredis, node). */
const ERROR_FIELDS = ['code', 'codeName', 'errno', 'syscall', 'address', 'port', 'command', 'errorLabels'];

/**
 * An error as plain, loggable fields: JSON of an Error object keeps none of its useful parts, as its
 * message, stack and often its code are not enumerable. Reads them by name, follows `cause` and an
 * AggregateError's `errors`, and keeps whatever enumerable fields the error has of its own.
 */
export function describeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!isError(error)) return { message: String(error) };
  const described: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (value !== undefined && typeof value !== 'function') described[key] = loggable(value, depth + 1);
  }
  described['name'] = error.name;
  described['message'] = error.message;
  for (const field of ERROR_FIELDS) {
    const value: unknown = (error as unknown as Record<string, unknown>)[field];
    if (value !== undefined && typeof value !== 'function') described[field] = loggable(value, depth + 1);
  }
  if (error.stack !== undefined) described['stack'] = error.stack;
  if (depth < MAX_DEPTH) {
    if (error.cause !== undefined) described['cause'] = describeError(error.cause, depth + 1);
    if ('errors' in error && Array.isArray(error.errors)) {
      described['errors'] = (error.errors as unknown[]).map((e) => describeError(e, depth + 1));
    }
  }
  return described;
}

const MAX_DEPTH = 5;

/** Also an error made in another realm (a vm context), which `instanceof` does not recognise. */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** `value` with every Error inside it (within plain objects and arrays) described; the rest as it is. */
function loggable(value: unknown, depth: number): unknown {
  if (isError(value)) return describeError(value, depth);
  if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => loggable(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) copy[key] = loggable(v, depth + 1);
  return copy;
}

/** Every Error among a log entry's fields, however deep and whoever logged it, as describeError gives it. */
const describeErrors = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) {
    if (key === 'message' || key === 'level') continue;
    info[key] = loggable(value, 0);
  }
  return info;
});

export function createLogger(options: { level: string; role: string; silent?: boolean }): Logger {
  return winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    defaultMeta: { role: options.role },
    format: winston.format.combine(
      addCorrelationId(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      describeErrors(),
      winston.format.json(),
    ),
    // winston declares Console's instance type as an interface, which this rule cannot trace to its class.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    transports: [new winston.transports.Console()],
  });
}
