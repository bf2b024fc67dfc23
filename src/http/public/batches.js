import { requestJson } from './api.js';
import { byId, el, formatCount, formatUtc } from './dom.js';

const PAGE_SIZE = 10;
const POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000;
// After Process the batch read model may lag: keep watching until the batch changes, at most this long.
const EXPECT_CHANGE_MS = 60_000;
const KNOWN_STATUSES = new Set(['uploaded', 'processing', 'completed', 'failed']);

/**
 * The batches table: newest first, paged by the server's cursor, polled while any batch on the page
 * is processing (or was just sent to processing) and left alone when everything is idle.
 */
export function setupBatches({ onBatchFinished }) {
  const section = byId('batches-section');
  const table = byId('batches-table');
  const tbody = byId('batches-body');
  const empty = byId('batches-empty');
  const info = byId('batches-info');
  const alert = byId('batches-alert');
  const newer = byId('batches-newer');
  const older = byId('batches-older');
  const pageLabel = byId('batches-page');

  const cursors = [null];
  let page = 0;
  let nextCursor = null;
  let timer = null;
  let seq = 0;
  let highlight = null;
  const rows = new Map();
  const lastStatus = new Map();
  const expecting = new Map();
  const starting = new Set();

  byId('batches-refresh').addEventListener('click', () => void load());
  newer.addEventListener('click', () => {
    if (page > 0) {
      page -= 1;
      void load();
    }
  });
  older.addEventListener('click', () => {
    if (nextCursor) {
      cursors[page + 1] = nextCursor;
      page += 1;
      void load();
    }
  });

  async function load() {
    const mine = ++seq;
    clearTimeout(timer);
    timer = null;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursors[page]) params.set('cursor', cursors[page]);
    section.setAttribute('aria-busy', 'true');
    try {
      const { body } = await requestJson('GET', `/api/batches?${params}`, {
        notFound: 'This server has no batches endpoint (404), so batches cannot be listed.',
      });
      if (mine !== seq) return;
      if (!body || !Array.isArray(body.batches))
        throw new Error('The server sent an unexpected list of batches.');
      nextCursor = typeof body.nextCursor === 'string' && body.nextCursor ? body.nextCursor : null;
      alert.replaceChildren();
      render(body.batches.filter((batch) => batch && typeof batch.batchId === 'string'));
    } catch (error) {
      if (mine !== seq) return;
      alert.replaceChildren(el('p', { text: `Could not load batches. ${error.message}` }));
    } finally {
      if (mine === seq) {
        section.removeAttribute('aria-busy');
        scheduleNext();
      }
    }
  }

  function scheduleNext() {
    const now = Date.now();
    for (const [id, expected] of expecting) if (expected.until < now) expecting.delete(id);
    const watching = [...rows.values()].filter(
      (row) => row.batch.status === 'processing' || expecting.has(row.batch.batchId),
    );
    // A batch just uploaded may not be in the list yet (its read model trails the upload): poll for it.
    for (const id of expecting.keys())
      if (!rows.has(id) && page === 0) watching.push({ batch: { batchId: id } });
    section.dataset.polling = String(watching.length > 0);
    if (watching.length === 0) return;
    info.textContent = `Watching ${watching.length} batch${watching.length === 1 ? '' : 'es'} being processed…`;
    timer = setTimeout(() => void load(), document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }

  function render(batches) {
    const finished = [];
    const seen = new Set();
    batches.forEach((batch, index) => {
      const id = batch.batchId;
      seen.add(id);
      const before = lastStatus.get(id);
      if (batch.status === 'completed' && before !== undefined && before !== 'completed')
        finished.push(batch);
      lastStatus.set(id, batch.status);
      const expected = expecting.get(id);
      if (expected && expected.snapshot !== snapshotOf(batch)) expecting.delete(id);

      let row = rows.get(id);
      if (!row) {
        row = createRow(id);
        rows.set(id, row);
      }
      row.batch = batch;
      updateRow(row);
      // Move rows only when out of order: re-inserting a row would take keyboard focus off its button.
      if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] ?? null);
    });
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    table.hidden = batches.length === 0;
    empty.hidden = batches.length > 0;
    newer.disabled = page === 0;
    older.disabled = !nextCursor;
    pageLabel.textContent = `Page ${page + 1}`;
    if (finished.length > 0) {
      info.textContent = finished
        .map((batch) => `${batch.fileName ?? batch.batchId} is processed.`)
        .join(' ');
      onBatchFinished(finished);
    }
  }

  function createRow(id) {
    const parts = {
      name: el('span', { className: 'file-name' }),
      id: el('code', { className: 'batch-id', text: id }),
      uploaded: el('span'),
      badge: el('span'),
      detail: el('p', { className: 'status-detail' }),
      progress: el('progress', { max: '1', value: '0' }),
      progressText: el('span', { className: 'progress-text' }),
      button: el('button', { type: 'button', className: 'button process-button' }),
    };
    parts.button.addEventListener('click', () => void process(id));
    const tr = el('tr', { dataset: { batchId: id } }, [
      el('td', { dataset: { label: 'File' } }, [parts.name, parts.id]),
      el('td', { dataset: { label: 'Uploaded' } }, [parts.uploaded]),
      el('td', { dataset: { label: 'Status' } }, [parts.badge, parts.detail]),
      el('td', { dataset: { label: 'Processed' } }, [
        el('div', { className: 'progress-cell' }, [parts.progress, parts.progressText]),
      ]),
      el('td', { dataset: { label: 'Action' } }, [parts.button]),
    ]);
    return { tr, parts, batch: null };
  }

  function updateRow({ tr, parts, batch }) {
    const status = KNOWN_STATUSES.has(batch.status) ? batch.status : 'unknown';
    const name = typeof batch.fileName === 'string' && batch.fileName ? batch.fileName : 'unnamed file';
    const total = count(batch.totalEvents);
    const done = Math.min(count(batch.processedEvents), total);
    tr.classList.toggle('is-new', batch.batchId === highlight);
    tr.dataset.status = status;
    parts.name.textContent = name;
    parts.uploaded.textContent = formatUtc(batch.uploadedAt);
    parts.badge.className = `badge badge-${status}`;
    parts.badge.textContent = typeof batch.status === 'string' ? batch.status : 'unknown';
    parts.detail.className = status === 'failed' ? 'status-detail failure-reason' : 'status-detail';
    parts.detail.textContent =
      status === 'failed'
        ? `Reason: ${batch.failedReason || 'not given by the server'}`
        : status === 'completed' && batch.processedAt
          ? `Finished ${formatUtc(batch.processedAt)}`
          : '';
    parts.detail.hidden = parts.detail.textContent === '';
    parts.progress.max = Math.max(total, 1);
    parts.progress.value = total === 0 ? (status === 'completed' ? 1 : 0) : done;
    parts.progress.setAttribute('aria-label', `Processed events of ${name}`);
    parts.progressText.textContent = `${formatCount(done)} / ${formatCount(total)}`;

    const pending = starting.has(batch.batchId) || expecting.has(batch.batchId);
    const [label, disabled] =
      status === 'processing'
        ? ['Processing…', true]
        : pending
          ? ['Starting…', true]
          : status === 'completed'
            ? ['Processed', true]
            : [status === 'failed' ? 'Process again' : 'Process', false];
    parts.button.textContent = label;
    parts.button.disabled = disabled;
    parts.button.setAttribute('aria-label', `${label.replace('…', '')} ${name}`);
  }

  async function process(id) {
    const row = rows.get(id);
    if (!row || starting.has(id)) return;
    const name = row.batch.fileName ?? id;
    const snapshot = snapshotOf(row.batch);
    starting.add(id);
    updateRow(row);
    try {
      const { status, body } = await requestJson('POST', `/api/batches/${encodeURIComponent(id)}/process`, {
        notFound: 'The server does not know this batch, or it cannot process batches (404).',
      });
      const jobs = Number(body?.jobsEnqueued ?? 0);
      if (status === 202 || jobs > 0) {
        expecting.set(id, { snapshot, until: Date.now() + EXPECT_CHANGE_MS });
        info.textContent = `Processing ${name}: ${formatCount(jobs)} job${jobs === 1 ? '' : 's'} queued.`;
      } else {
        info.textContent = body?.message || `Nothing left to process in ${name}.`;
      }
      alert.replaceChildren();
    } catch (error) {
      alert.replaceChildren(el('p', { text: `Could not start processing ${name}. ${error.message}` }));
    } finally {
      starting.delete(id);
    }
    await load();
  }

  return {
    load,
    showUploaded(batchId) {
      highlight = batchId ?? null;
      if (highlight) expecting.set(highlight, { snapshot: null, until: Date.now() + EXPECT_CHANGE_MS });
      page = 0;
      cursors.length = 1;
      void load();
    },
  };
}

function count(value) {
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? Math.floor(number) : 0;
}

function snapshotOf(batch) {
  return JSON.stringify([batch.status, batch.processedEvents, batch.processedAt, batch.failedReason]);
}
