// @ts-check
import { el, formatCount, formatUtc } from './dom.js';

const KNOWN_STATUSES = new Set(['uploaded', 'processing', 'completed', 'failed', 'retracted']);

/**
 * A batch as GET /api/batches and GET /api/batches/:id send it (BatchStatusResponse).
 * @typedef {{
 *   batchId: string,
 *   fileName: string,
 *   totalEvents: number,
 *   processedEvents: number,
 *   status: string,
 *   uploadedAt: string,
 *   processedAt: string | null,
 *   failedReason: string | null,
 *   firstDay?: string | null,
 *   lastDay?: string | null,
 *   retractedAt?: string | null,
 *   retractionReason?: string | null,
 * }} Batch
 */

/**
 * A batch from an answer's body, or null when it has no id (the rest is shown defensively).
 * @param {unknown} value
 * @returns {Batch | null}
 */
export function asBatch(value) {
  if (typeof value !== 'object' || value === null) return null;
  return typeof (/** @type {{ batchId?: unknown }} */ (value).batchId) === 'string'
    ? /** @type {Batch} */ (value)
    : null;
}

/**
 * @typedef {ReturnType<typeof createParts>} RowParts
 * @typedef {{ tr: HTMLTableRowElement, parts: RowParts, batch: Batch | null }} Row
 */

function createParts() {
  return {
    name: el('span', { className: 'file-name' }),
    id: el('code', { className: 'batch-id' }),
    uploaded: el('span', { className: 'when' }),
    badge: el('span'),
    detail: el('p', { className: 'status-detail' }),
    days: el('a', { className: 'days-link' }),
    progress: el('progress', { max: '1', value: '0' }),
    progressText: el('span', { className: 'progress-text' }),
    button: el('button', { type: 'button', className: 'button process-button' }),
    retract: el('button', {
      type: 'button',
      className: 'button button-secondary retract-button',
      text: 'Retract',
    }),
  };
}

/** One row of the batches table, built once per batch and updated in place on every poll. */
/**
 * @param {string} id
 * @param {(id: string) => void} onProcess
 * @param {(id: string) => void} onRetract
 * @returns {Row}
 */
export function createRow(id, onProcess, onRetract) {
  const parts = createParts();
  parts.id.textContent = id;
  parts.button.addEventListener('click', () => {
    onProcess(id);
  });
  parts.retract.addEventListener('click', () => {
    onRetract(id);
  });
  const tr = el('tr', { dataset: { batchId: id } }, [
    el('td', { className: 'cell-file', dataset: { label: 'File' } }, [parts.name, parts.id]),
    el('td', { dataset: { label: 'Uploaded' } }, [parts.uploaded]),
    el('td', { dataset: { label: 'Status' } }, [parts.badge, parts.detail, parts.days]),
    el('td', { dataset: { label: 'Processed' } }, [
      el('div', { className: 'progress-cell' }, [parts.progress, parts.progressText]),
    ]),
    el('td', { className: 'cell-action', dataset: { label: 'Action' } }, [parts.button, parts.retract]),
  ]);
  return { tr, parts, batch: null };
}

/** `pending`: Process was pressed and the read model has not shown the change yet. */
/**
 * @param {Row & { batch: Batch }} row
 * @param {{ highlighted: boolean, pending: boolean }} state
 */
export function updateRow({ tr, parts, batch }, { highlighted, pending }) {
  const status = KNOWN_STATUSES.has(batch.status) ? batch.status : 'unknown';
  const name = typeof batch.fileName === 'string' && batch.fileName ? batch.fileName : 'unnamed file';
  const total = count(batch.totalEvents);
  const done = Math.min(count(batch.processedEvents), total);
  tr.classList.toggle('is-new', highlighted);
  tr.dataset.status = status;
  parts.name.textContent = name;
  parts.uploaded.textContent = formatUtc(batch.uploadedAt);
  parts.badge.className = `badge badge-${status}`;
  parts.badge.textContent = typeof batch.status === 'string' ? batch.status : 'unknown';
  parts.detail.className = status === 'failed' ? 'status-detail failure-reason' : 'status-detail';
  // A re-upload that stored nothing: say so, rather than a "0 / 0" batch with a full bar.
  const nothingNew = total === 0 && status === 'completed';
  tr.dataset.nothingNew = String(nothingNew);
  parts.detail.textContent =
    status === 'failed'
      ? `Reason: ${batch.failedReason || 'not given by the server'}`
      : status === 'retracted'
        ? `Retracted ${batch.retractedAt ? formatUtc(batch.retractedAt) : ''}: its events count nowhere.` +
          (batch.retractionReason ? ` Reason: ${batch.retractionReason}` : '')
        : nothingNew
          ? 'Nothing new: every event in it was already stored.'
          : status === 'completed' && batch.processedAt
            ? `Finished ${formatUtc(batch.processedAt)}`
            : '';
  parts.detail.hidden = parts.detail.textContent === '';
  // The UTC days its events fall on, linked to the metrics view (#metrics?from=…&to=…).
  const first = isDay(batch.firstDay) ? batch.firstDay : null;
  const last = isDay(batch.lastDay) ? batch.lastDay : first;
  parts.days.hidden = first === null;
  if (first !== null && last !== null) {
    parts.days.href = `#metrics?${new URLSearchParams({ from: first, to: last })}`;
    // Each date in one piece: a wrap at its hyphens would read as two dates.
    const day = (/** @type {string} */ text) => el('span', { className: 'day', text });
    parts.days.replaceChildren(
      ...(first === last
        ? ['Events on ', day(first), ' (UTC)']
        : ['Events ', day(first), ' to ', day(last), ' (UTC)']),
    );
    parts.days.setAttribute('aria-label', `Show metrics of ${name}: ${parts.days.textContent}`);
  }
  parts.progress.hidden = nothingNew;
  parts.progress.max = Math.max(total, 1);
  parts.progress.value = total === 0 ? 0 : done;
  parts.progress.setAttribute('aria-label', `Processed events of ${name}`);
  parts.progressText.textContent = nothingNew
    ? 'no new events'
    : `${formatCount(done)} / ${formatCount(total)}`;

  const [label, disabled] =
    status === 'retracted'
      ? ['Retracted', true]
      : status === 'processing'
        ? ['Processing…', true]
        : pending
          ? ['Starting…', true]
          : status === 'completed'
            ? ['Processed', true]
            : [status === 'failed' ? 'Process again' : 'Process', false];
  parts.button.textContent = label;
  parts.button.disabled = disabled;
  parts.button.setAttribute('aria-label', `${label.replace('…', '')} ${name}`);
  // Retracted batches stay listed, marked so; they cannot be retracted again.
  parts.retract.hidden = status === 'retracted';
  parts.retract.setAttribute('aria-label', `Retract ${name}`);
}

/**
 * @param {unknown} value
 * @returns {value is string}
 */
function isDay(value) {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
}

/** @param {unknown} value */
function count(value) {
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? Math.floor(number) : 0;
}
