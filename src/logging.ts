import { AsyncLocalStorage } from 'node:async_hooks';
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

/** An error as plain, loggable fields: JSON of an Error object keeps none of its useful parts. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const described: Record<string, unknown> = { name: error.name, message: error.message };
  if ('code' in error && error.code !== undefined) described['code'] = error.code;
  if (error.stack !== undefined) described['stack'] = error.stack;
  if (error.cause !== undefined) described['cause'] = describeError(error.cause);
  return described;
}

export function createLogger(options: { level: string; role: string; silent?: boolean }): Logger {
  return winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    defaultMeta: { role: options.role },
    format: winston.format.combine(
      addCorrelationId(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    // winston declares Console's instance type as an interface, which this rule cannot trace to its class.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    transports: [new winston.transports.Console()],
  });
}
