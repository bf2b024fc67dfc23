import { ServiceBusyError } from '../../../src/errors';
import { createComputeSlots } from '../../../src/queries/computeSlots';

/** A computation that finishes when the test says so. */
function held(): { compute: () => Promise<string>; finish: (value: string) => void; started: boolean } {
  let finish: (value: string) => void = () => undefined;
  const gate = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const task = {
    started: false,
    compute: () => {
      task.started = true;
      return gate;
    },
    finish: (value: string) => {
      finish(value);
    },
  };
  return task;
}

describe('computeSlots', () => {
  it('runs `concurrent` at once, queues `waiting` more in order, and refuses the next with Retry-After', async () => {
    const slots = createComputeSlots({ concurrent: 1, waiting: 1, retryAfterSeconds: 7 });
    const first = held();
    const second = held();
    const running = slots.run(first.compute);
    const queued = slots.run(second.compute);
    expect(first.started).toBe(true);
    expect(second.started).toBe(false);

    const refused = slots.run(() => Promise.resolve('never'));
    await expect(refused).rejects.toBeInstanceOf(ServiceBusyError);
    await expect(refused).rejects.toMatchObject({ code: 'ServiceBusy', retryAfterSeconds: 7 });

    first.finish('a');
    await expect(running).resolves.toBe('a');
    await Promise.resolve();
    expect(second.started).toBe(true);
    second.finish('b');
    await expect(queued).resolves.toBe('b');
    // Every turn is free again.
    await expect(slots.run(() => Promise.resolve('c'))).resolves.toBe('c');
  });

  it('frees the turn of a computation that fails', async () => {
    const slots = createComputeSlots({ concurrent: 1, waiting: 0, retryAfterSeconds: 1 });
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(slots.run(() => Promise.resolve('ok'))).resolves.toBe('ok');
  });
});
