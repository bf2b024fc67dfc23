import { detailOf } from '../../src/events/chunkDetail';
import { daySpanOf } from '../../src/events/dailyCounts';
import type { EventLog } from '../../src/events/eventLog';

/** An event as a chunk's detail takes it: type, UTC milliseconds, user fingerprint. */
export type CountedEvent = [eventType: string, utcMillis: number, user: bigint];

/** Appends the EventsProcessed of chunk `chunk` of batch `b` counting `events` (revision 0). */
export async function appendProcessedChunk(
  log: EventLog,
  chunk: number,
  events: CountedEvent[],
): Promise<void> {
  await log.append({
    type: 'EventsProcessed',
    key: `EventsProcessed:b:${chunk}`,
    streamId: 'batch:b',
    data: {
      batchId: 'b',
      chunk,
      events: events.length,
      ...daySpanOf(events),
      detail: detailOf(events),
      revision: 0,
    },
    correlationId: 'test',
  });
}
