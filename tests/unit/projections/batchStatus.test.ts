import { detailOf } from '../../../src/events/chunkDetail';
import type { AnyLogRecord } from '../../../src/events/eventLog';
import {
  evolveBatchStatus,
  publicFailureReason,
  type BatchStatusDoc,
} from '../../../src/projections/batchStatus';
import { evolveSpecification } from '../../support/evolveSpecification';

/** The batch-status read model's evolve function, record by record (no database: it is pure). */

const BATCH = '3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c';
let position = 0;
const at = (p: number) => new Date(Date.UTC(2024, 0, 15, 10, 0, p));

function record<T extends AnyLogRecord['type']>(
  type: T,
  data: Extract<AnyLogRecord, { type: T }>['data'],
): AnyLogRecord {
  position += 1;
  return {
    position,
    key: `${type}:${position}`,
    type,
    version: 1,
    streamId: `batch:${data.batchId}`,
    data,
    metadata: { correlationId: 'spec', recordedAt: at(position) },
  } as AnyLogRecord;
}

const uploaded = (newEvents: number, batchId = BATCH) =>
  record('BatchUploaded', {
    batchId,
    fileName: 'a.csv',
    totalRows: newEvents + 1,
    newEvents,
    duplicates: 1,
    eventsPerChunk: 2,
  });
const started = (round = 1) =>
  record('BatchProcessingStarted', { batchId: BATCH, round, chunks: 2, totalEvents: 3 });
const processed = (chunk: number, events: number, dates: string[] = ['2024-01-15']) =>
  record('EventsProcessed', {
    batchId: BATCH,
    chunk,
    events,
    firstDay: [...dates].sort()[0] ?? null,
    lastDay: [...dates].sort().at(-1) ?? null,
    detail: detailOf(dates.map((date) => ['click', Date.parse(`${date}T12:00:00Z`), 1n] as const)),
    revision: 0,
  });
const failed = (chunk: number) =>
  record('BatchProcessingFailed', {
    batchId: BATCH,
    round: 1,
    chunk,
    reason: 'ZodError: [{"code":"invalid_type"}]',
  });

/** Without corrections, a record counts what it processed (see corrections for the rest). */
const spec = evolveSpecification((state: BatchStatusDoc | null, r: AnyLogRecord) =>
  evolveBatchStatus(
    state,
    r,
    r.type === 'EventsProcessed' ? [{ sign: 1, detail: r.data.detail, events: r.data.events }] : [],
  ),
);

describe('evolveBatchStatus', () => {
  beforeEach(() => {
    position = 0;
  });

  it('starts an uploaded batch from BatchUploaded', () => {
    const upload = uploaded(3);
    spec
      .given()
      .when(upload)
      .then({
        _id: BATCH,
        batchId: BATCH,
        fileName: 'a.csv',
        totalEvents: 3,
        processedEvents: 0,
        status: 'uploaded',
        uploadedAt: at(1),
        processedAt: null,
        failedReason: null,
        uploadedPosition: 1,
        lastPosition: 1,
        firstDay: null,
        lastDay: null,
        processingStartedAt: null,
        countedPosition: null,
      });
  });

  it('completes a batch with no new events at once', () => {
    spec
      .given()
      .when(uploaded(0))
      .thenMatches({ status: 'completed', processedAt: at(1), totalEvents: 0 });
  });

  it('ignores a second BatchUploaded of the same batch', () => {
    spec.given(uploaded(3)).when(uploaded(5)).thenUnchanged();
  });

  it('ignores records of a batch it never saw uploaded', () => {
    spec.given().when(started()).then(null);
  });

  it('turns processing when a round starts, and counts processed chunks', () => {
    spec.given(uploaded(3)).when(started()).thenMatches({ status: 'processing', lastPosition: 2 });
    spec
      .given(uploaded(3), started())
      .when(processed(0, 2))
      .thenMatches({ status: 'processing', processedEvents: 2 });
  });

  it('completes when the last chunk is processed, at that record’s time', () => {
    spec
      .given(uploaded(3), started(), processed(0, 2))
      .when(processed(1, 1))
      .thenMatches({ status: 'completed', processedEvents: 3, processedAt: at(4), failedReason: null });
  });

  it('remembers the position of the last EventsProcessed, which the metric read models must reach', () => {
    const last = processed(1, 1);
    spec
      .given(uploaded(3), started(), processed(0, 2))
      .when(last)
      .thenMatches({ status: 'completed', countedPosition: last.position });
  });

  it('fails with a public reason (never the job’s error text) when a chunk fails', () => {
    spec
      .given(uploaded(3), started(), processed(0, 2))
      .when(failed(1))
      .thenMatches({ status: 'failed', failedReason: publicFailureReason(1), processedEvents: 2 });
  });

  it('clears the failure when a new round starts, and completes it then', () => {
    spec.given(uploaded(3), started(), processed(0, 2), failed(1)).when(started(2)).thenMatches({
      status: 'processing',
      failedReason: null,
    });
    spec
      .given(uploaded(3), started(), processed(0, 2), failed(1), started(2))
      .when(processed(1, 1))
      .thenMatches({ status: 'completed', processedEvents: 3 });
  });

  it('records when processing started and the first and last UTC day of the processed events', () => {
    const round = started();
    spec
      .given(uploaded(3))
      .when(round)
      .thenMatches({ processingStartedAt: at(round.position) });
    spec
      .given(uploaded(3), started(), processed(0, 2, ['2024-02-10', '2024-01-31']))
      .when(processed(1, 1, ['2024-02-29', '2024-02-01']))
      .thenMatches({ status: 'completed', firstDay: '2024-01-31', lastDay: '2024-02-29' });
    // Documents projected before these fields existed lack them: the span starts from the record.
    spec
      .given(uploaded(3), started())
      .when(processed(0, 2, ['2024-03-05']))
      .thenMatches({ firstDay: '2024-03-05', lastDay: '2024-03-05' });
  });

  it('stays completed when a late failure record or round arrives', () => {
    const history = [uploaded(3), started(), processed(0, 3)];
    const lateFailure = failed(1);
    spec
      .given(...history)
      .when(lateFailure)
      .thenMatches({ status: 'completed', lastPosition: lateFailure.position });
    const lateRound = started(2);
    spec
      .given(...history)
      .when(lateRound)
      .thenMatches({ status: 'completed', lastPosition: lateRound.position });
  });
});
