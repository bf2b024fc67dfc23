// @ts-check
import { describeFailure, field, uploadFile } from './api.js';
import { byId, byIdAs } from './dom.js';

const TYPES = [
  { type: 'page_view', perDay: 40 },
  { type: 'search', perDay: 14 },
  { type: 'add_to_cart', perDay: 7 },
  { type: 'purchase', perDay: 3 },
];
const DAYS = 14;
const USERS = 40;

/**
 * A small CSV of plausible events over the last DAYS days (UTC) up to now: busier on weekdays,
 * users returning. Seeded, so every click makes the same file for the same day, and uploading it
 * twice stores its events once.
 * @param {Date} now
 */
export function sampleCsv(now) {
  let seed = 26;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const lines = ['userId,eventType,timestamp'];
  for (let d = DAYS - 1; d >= 0; d--) {
    const day = today - d * 86_400_000;
    const weekday = new Date(day).getUTCDay();
    const busy = weekday === 0 || weekday === 6 ? 0.6 : 1;
    for (const { type, perDay } of TYPES) {
      const n = Math.round(perDay * busy * (0.7 + 0.6 * random()));
      for (let i = 0; i < n; i++) {
        const at = Math.min(day + Math.floor(random() * 86_400) * 1000, now.getTime() - 1000);
        const user = `user-${1 + Math.floor(random() * random() * USERS)}`;
        lines.push(`${user},${type},${new Date(at).toISOString()}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The empty page's "Load sample data": uploads a generated file through the normal path
 * (POST /api/uploads), then hands the batch to the batches card, which processes it
 * (POST /api/batches/:id/process) and shows its metrics when it is done.
 * @param {{ showUploaded: (batchId: string) => void, processListed: (batchId: string) => Promise<void> }} batches
 */
export function setupSampleData(batches) {
  const button = byIdAs('sample-data', HTMLButtonElement);
  const status = byId('sample-data-status');
  button.addEventListener('click', () => {
    void (async () => {
      button.disabled = true;
      status.textContent = 'Uploading sample data…';
      const file = new File([sampleCsv(new Date())], 'sample-events.csv', { type: 'text/csv' });
      const answer = await uploadFile('/api/uploads', file, () => undefined);
      const batchId = field(answer.body, 'batchId');
      if (answer.status !== 201 || typeof batchId !== 'string') {
        button.disabled = false;
        status.textContent = `Could not upload the sample data. ${describeFailure(answer.status, answer.body, answer.retryAfter)}`;
        return;
      }
      status.textContent = 'Sample data uploaded; processing it…';
      batches.showUploaded(batchId);
      await batches.processListed(batchId);
    })();
  });
}
