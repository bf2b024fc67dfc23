import type { BatchStatusDoc } from '../../../src/projections/batchStatus';
import { evolveBatchStatus } from '../../../src/projections/batchStatus';
import { toBatchStatus } from '../../../src/queries/getBatch';
import type { AnyLogRecord } from '../../../src/events/eventLog';

const uploadedAt = new Date('2024-01-15T10:00:00Z');

function failedDoc(failedReason: string): BatchStatusDoc {
  return {
    _id: 'b1',
    batchId: 'b1',
    fileName: 'a.csv',
    totalEvents: 10,
    processedEvents: 5,
    status: 'failed',
    uploadedAt,
    processedAt: null,
    failedReason,
    uploadedPosition: 1,
    lastPosition: 4,
  };
}

describe('the failure reason a batch shows', () => {
  it('is the public wording, not the reason the job threw', () => {
    const uploaded = failedDoc('x');
    const record = {
      position: 5,
      type: 'BatchProcessingFailed',
      version: 1,
      key: 'BatchProcessingFailed:b1:1:3',
      streamId: 'batch:b1',
      data: {
        batchId: 'b1',
        round: 1,
        chunk: 3,
        reason: 'ZodError: [{"code":"invalid_string","path":["counts",0]}]',
      },
      metadata: { correlationId: 'c', recordedAt: uploadedAt },
    } as unknown as AnyLogRecord;
    const next = evolveBatchStatus({ ...uploaded, status: 'processing', failedReason: null }, record, []);
    expect(next?.failedReason).toMatch(/^Chunk 3 of this batch could not be processed; .*dead-letter queue/);
    expect(next?.failedReason).not.toMatch(/Zod|counts/);
  });

  it('hides an internal reason stored by an earlier version of the projection', () => {
    const shown = toBatchStatus(failedDoc('MongoServerError: connect ECONNREFUSED 10.0.0.5:27017'));
    expect(shown.failedReason).toMatch(/^A chunk of this batch could not be processed; /);
    const current = toBatchStatus(failedDoc('Chunk 2 of this batch could not be processed; see the DLQ'));
    expect(current.failedReason).toBe('Chunk 2 of this batch could not be processed; see the DLQ');
  });
});
