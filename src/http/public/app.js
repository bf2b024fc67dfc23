// @ts-check
import { setupBatches } from './batches.js';
import { setupMetrics } from './metrics.js';
import { setupPageZone } from './pageZone.js';
import { setupSampleData } from './sampleData.js';
import { setupUpload } from './upload.js';

// Wires the three cards together: an upload shows its batch, a finished batch shows its days' metrics.
const metrics = setupMetrics(setupPageZone());
const upload = setupUpload({
  onUploaded: (batchId) => {
    batches.showUploaded(batchId);
  },
});
const batches = setupBatches({
  // The metrics follow the data: the days of the batch that just finished, not today's calendar day.
  onBatchFinished: (finished) => {
    upload.batchesFinished(finished.map((batch) => batch.batchId));
    const withDays = finished.find((batch) => typeof batch.firstDay === 'string');
    if (withDays?.firstDay) metrics.showDays(withDays.firstDay, withDays.lastDay ?? withDays.firstDay);
    else metrics.settle();
  },
});
setupSampleData(batches);
void batches.load();
document.body.dataset.ready = 'true';
