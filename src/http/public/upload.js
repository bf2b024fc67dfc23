// @ts-check
import { describeFailure, field, uploadFile } from './api.js';
import { byId, byIdAs, el, formatBytes, formatCount } from './dom.js';

/** @typedef {import('./api.js').UploadAnswer} UploadAnswer */

const MAX_ERROR_ROWS_SHOWN = 100;

/** The upload card: choose or drop a CSV, send it with a progress bar, explain the answer. */
/**
 * @param {{ onUploaded: (batchId: string | undefined) => void }} hooks
 */
export function setupUpload({ onUploaded }) {
  const form = byIdAs('upload-form', HTMLFormElement);
  const input = byIdAs('file-input', HTMLInputElement);
  const zone = byId('drop-zone');
  const chosen = byId('chosen-file');
  const button = byIdAs('upload-button', HTMLButtonElement);
  const progress = byIdAs('upload-progress', HTMLProgressElement);
  const progressText = byId('upload-progress-text');
  const progressRow = byId('upload-progress-row');
  const result = byId('upload-result');
  /** @type {File | null} */
  let file = null;
  let busy = false;

  /** @param {File | null | undefined} next */
  function choose(next) {
    file = next ?? null;
    chosen.textContent = file ? `${file.name} (${formatBytes(file.size)})` : 'No file chosen yet.';
    button.disabled = busy || !file;
  }

  input.addEventListener('change', () => {
    choose(input.files?.[0]);
  });

  for (const type of /** @type {const} */ (['dragenter', 'dragover'])) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
      zone.classList.add('drag-over');
    });
  }
  zone.addEventListener('dragleave', (event) => {
    if (!(event.relatedTarget instanceof Node && zone.contains(event.relatedTarget)))
      zone.classList.remove('drag-over');
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('drag-over');
    const dropped = event.dataTransfer?.files[0];
    if (dropped) choose(dropped);
  });
  // A file dropped beside the zone would otherwise replace the page with the file's contents.
  for (const type of /** @type {const} */ (['dragover', 'drop'])) {
    window.addEventListener(type, (event) => {
      if (!(event.target instanceof Node && zone.contains(event.target))) event.preventDefault();
    });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (file && !busy) void send(file);
  });

  /** @param {File} sending */
  async function send(sending) {
    busy = true;
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    progressRow.hidden = false;
    progress.max = 1;
    progress.value = 0;
    progressText.textContent = '0 %';
    result.replaceChildren(el('p', { text: `Uploading ${sending.name}…` }));

    const answer = await uploadFile('/api/uploads', sending, (loaded, total) => {
      progress.max = total;
      progress.value = loaded;
      progressText.textContent = `${Math.round((100 * loaded) / total)} %`;
    });

    busy = false;
    form.removeAttribute('aria-busy');
    progressRow.hidden = true;
    if (answer.status === 201 || answer.status === 200) {
      result.replaceChildren(successNotice(sending, answer.body));
      input.value = '';
      choose(null);
      const batchId = field(answer.body, 'batchId');
      onUploaded(typeof batchId === 'string' ? batchId : undefined);
    } else {
      result.replaceChildren(failureNotice(sending, answer));
      choose(sending);
    }
  }
}

/**
 * @param {unknown} value
 * @returns {number}
 */
function countOf(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * @param {File} file
 * @param {unknown} body the 201 answer (UploadResponse)
 */
function successNotice(file, body) {
  const fresh = countOf(field(body, 'totalEvents'));
  const duplicates = countOf(field(body, 'duplicates'));
  const message = field(body, 'message');
  const batchId = field(body, 'batchId');
  return el('div', { className: 'notice notice-success', dataset: { outcome: 'uploaded' } }, [
    el('p', {}, [
      el('strong', { text: `Uploaded ${file.name}.` }),
      typeof message === 'string' && message ? ` ${message}` : '',
    ]),
    el('dl', { className: 'facts' }, [
      el('div', {}, [
        el('dt', { text: 'Batch' }),
        el('dd', {}, [
          el('code', { id: 'uploaded-batch-id', text: typeof batchId === 'string' ? batchId : '?' }),
        ]),
      ]),
      el('div', {}, [
        el('dt', { text: 'New events' }),
        el('dd', { id: 'uploaded-new', text: formatCount(fresh) }),
      ]),
      el('div', {}, [
        el('dt', { text: 'Duplicates skipped' }),
        el('dd', { id: 'uploaded-duplicates', text: formatCount(duplicates) }),
      ]),
    ]),
    el('p', {
      text:
        fresh > 0
          ? 'Next: press Process on this batch in the Batches table to count its events.'
          : 'Every row was stored before, so this batch adds nothing to count.',
    }),
  ]);
}

/**
 * @typedef {{ row: unknown, field: unknown, message: unknown }} RowError
 */

/**
 * The row errors of a 400, wherever the server put them: details, details.errors or errors.
 * @param {unknown} body
 * @returns {{ rows: RowError[], errorCount: number }}
 */
export function rowErrorsOf(body) {
  const details = field(body, 'details');
  const candidates = [details, field(details, 'errors'), field(details, 'rows'), field(body, 'errors')];
  /** @type {unknown[]} */
  const list = candidates.find((candidate) => Array.isArray(candidate)) ?? [];
  const rows = list
    .filter((item) => typeof item === 'object' && item !== null)
    .map((item) => ({
      row: field(item, 'row') ?? field(item, 'line') ?? '',
      field: field(item, 'field') ?? field(item, 'column') ?? '',
      message: field(item, 'message') ?? '',
    }));
  const declared = field(details, 'errorCount') ?? field(body, 'errorCount');
  return {
    rows,
    errorCount: typeof declared === 'number' && Number.isFinite(declared) ? declared : rows.length,
  };
}

/**
 * @param {File} file
 * @param {UploadAnswer} answer
 */
function failureNotice(file, answer) {
  const message = describeFailure(answer.status, answer.body, answer.retryAfter, {
    notFound: 'This server does not accept uploads: it has no upload endpoint (404).',
  });
  const children = [el('p', {}, [el('strong', { text: `${file.name} was not uploaded. ` }), message])];
  if (answer.status === 400) {
    const { rows, errorCount } = rowErrorsOf(answer.body);
    if (errorCount > 0) {
      const shown = rows.slice(0, MAX_ERROR_ROWS_SHOWN);
      const more = errorCount > shown.length ? ` The first ${shown.length} are listed.` : '';
      children.push(
        el('p', {
          id: 'row-error-count',
          text: `${formatCount(errorCount)} row error${errorCount === 1 ? '' : 's'} found.${more} Fix them and upload the file again.`,
        }),
      );
    }
    if (rows.length > 0) children.push(rowErrorTable(rows.slice(0, MAX_ERROR_ROWS_SHOWN)));
  }
  return el(
    'div',
    {
      className: 'notice notice-error',
      role: 'alert',
      dataset: { outcome: 'failed', status: String(answer.status) },
    },
    children,
  );
}

/** @param {RowError[]} rows */
function rowErrorTable(rows) {
  return el('div', { className: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Row errors' }, [
    el('table', { className: 'row-errors', id: 'row-errors' }, [
      el('caption', { text: 'Rows the server rejected' }),
      el('thead', {}, [
        el('tr', {}, [
          el('th', { scope: 'col', text: 'Row' }),
          el('th', { scope: 'col', text: 'Field' }),
          el('th', { scope: 'col', text: 'Problem' }),
        ]),
      ]),
      el(
        'tbody',
        {},
        rows.map((row) =>
          el('tr', {}, [
            el('td', { text: String(row.row) }),
            el('td', {}, [el('code', { text: String(row.field) })]),
            el('td', { text: String(row.message) }),
          ]),
        ),
      ),
    ]),
  ]);
}
