// @ts-check
import { setupBatches } from './batches.js';
import { setupMetrics } from './metrics.js';
import { setupUpload } from './upload.js';

// Wires the three cards together: an upload shows its batch, a finished batch refreshes the metrics.
const metrics = setupMetrics();
const batches = setupBatches({
  onBatchFinished: () => {
    metrics.settle();
  },
});
setupUpload({
  onUploaded: (batchId) => {
    batches.showUploaded(batchId);
  },
});
void batches.load();
document.body.dataset.ready = 'true';
