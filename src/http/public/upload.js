// @ts-check
import { describeFailure, field, uploadFile } from './api.js';
import { byId, byIdAs, el, formatBytes, formatCount, plural } from './dom.js';
import { problemList, rowErrorsOf, rowErrorTable } from './rowProblems.js';

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
  const timezone = byIdAs('upload-timezone', HTMLInputElement);
  const skipInvalid = byIdAs('upload-skip-invalid', HTMLInputElement);
  // Sent only when filled in: an option left empty is not sent, so the server's default holds.
  const more = {
    ambiguous: byIdAs('upload-ambiguous', HTMLSelectElement),
    timestampFormat: byIdAs('upload-timestamp-format', HTMLInputElement),
    columns: byIdAs('upload-columns', HTMLInputElement),
  };
  const timezones = byId('upload-timezones');
  // The zones this browser knows, as suggestions; the server checks the name itself.
  timezones.replaceChildren(
    ...Intl.supportedValuesOf('timeZone').map((zone) => el('option', { value: zone })),
  );
  /** @type {File | null} */
  let file = null;
  let busy = false;
  /** When a 429's Retry-After runs out (ms since epoch); 0 when not waiting. */
  let waitUntil = 0;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let countdown;

  /** @param {File | null | undefined} next */
  function choose(next) {
    file = next ?? null;
    chosen.textContent = file ? `${file.name} (${formatBytes(file.size)})` : 'No file chosen yet.';
    button.disabled = busy || !file || waitUntil > Date.now();
  }

  /** After a 429: the button counts the server's Retry-After down, visibly, and only then enables. */
  /** @param {number} seconds */
  function waitOut(seconds) {
    clearInterval(countdown);
    waitUntil = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((waitUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(countdown);
        countdown = undefined;
        waitUntil = 0;
        button.textContent = 'Upload';
        delete button.dataset.waiting;
        choose(file);
        return;
      }
      button.textContent = `Upload (wait ${left} s)`;
      button.dataset.waiting = String(left);
      button.disabled = true;
    };
    tick();
    countdown = setInterval(tick, 250);
  }

  /** The notice just shown takes focus, so a keyboard or screen-reader user lands on the outcome. */
  /** @param {HTMLElement} notice */
  function show(notice) {
    notice.tabIndex = -1;
    result.replaceChildren(notice);
    notice.focus();
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

    const zone = timezone.value.trim();
    /** @type {Record<string, string>} */
    const options = {};
    if (zone) options.timezone = zone;
    if (skipInvalid.checked) options.invalidRows = 'skip';
    for (const [name, control] of Object.entries(more)) {
      if (control.value.trim()) options[name] = control.value.trim();
    }
    const answer = await uploadFile(
      '/api/uploads',
      sending,
      (loaded, total) => {
        progress.max = total;
        progress.value = loaded;
        progressText.textContent = `${Math.round((100 * loaded) / total)} %`;
      },
      options,
    );

    busy = false;
    form.removeAttribute('aria-busy');
    progressRow.hidden = true;
    if (answer.status === 201 || answer.status === 200) {
      show(successNotice(sending, answer.body));
      input.value = '';
      choose(null);
      const batchId = field(answer.body, 'batchId');
      onUploaded(typeof batchId === 'string' ? batchId : undefined);
    } else {
      show(failureNotice(sending, answer));
      choose(sending);
      if (answer.status === 429) {
        const wait = Number(field(answer.body, 'retryAfter') ?? answer.retryAfter);
        waitOut(Number.isFinite(wait) && wait > 0 ? Math.ceil(wait) : 60);
      }
    }
  }

  return {
    /**
     * Batches that finished processing: an upload notice telling to process one of them no longer applies.
     * @param {string[]} batchIds
     */
    batchesFinished(batchIds) {
      const notice = result.querySelector('[data-outcome="uploaded"]');
      if (notice instanceof HTMLElement && batchIds.includes(notice.dataset.batchId ?? '')) {
        notice.remove();
      }
    },
  };
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
  const nothingNew = fresh === 0;
  return el(
    'div',
    {
      className: 'notice notice-success',
      id: 'upload-notice',
      dataset: {
        outcome: 'uploaded',
        batchId: typeof batchId === 'string' ? batchId : '',
        nothingNew: String(nothingNew),
      },
    },
    [
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
        id: 'upload-next',
        text: nothingNew
          ? `Nothing new was stored: ${duplicates === 1 ? 'the row was' : `all ${plural(duplicates, 'row')} were`} stored before, so this batch adds nothing to count.`
          : `Next: press Process on this batch in the Batches table to count its ${plural(fresh, 'new event')}.`,
      }),
      ...skippedPart(body),
    ],
  );
}

/**
 * What an upload sent with "skip invalid rows" left out: the summary per kind first, then the rows.
 * @param {unknown} body the 201 answer
 */
function skippedPart(body) {
  const skipped = countOf(field(body, 'skippedRows'));
  if (skipped === 0) return [];
  const { rows } = rowErrorsOf({ details: field(body, 'skipped') });
  return [
    el('p', {
      id: 'skipped-count',
      text: `${plural(skipped, 'invalid row')} skipped and not stored${rows.length < skipped ? `; the first ${rows.length} problems are listed` : ''}.`,
    }),
    problemList(body, 'Why rows were skipped'),
    rows.length > 0 ? rowErrorTable(rows.slice(0, MAX_ERROR_ROWS_SHOWN), 'Rows skipped') : null,
  ];
}

/**
 * The limit a 413's message names ("… upload limit of 10 MiB …") in bytes, or null.
 * @param {unknown} body
 * @returns {number | null}
 */
function limitOf(body) {
  const message = field(body, 'message');
  const match = typeof message === 'string' ? /limit of (\d+(?:\.\d+)?) (MiB|KiB|bytes)/.exec(message) : null;
  if (!match) return null;
  const unit = match[2] === 'MiB' ? 1024 * 1024 : match[2] === 'KiB' ? 1024 : 1;
  return Number(match[1]) * unit;
}

/**
 * @param {File} file
 * @param {UploadAnswer} answer
 */
function failureNotice(file, answer) {
  const message = describeFailure(answer.status, answer.body, answer.retryAfter, {
    notFound: 'This server does not accept uploads: it has no upload endpoint (404).',
  });
  // A 413 states the limit in the unit the chosen file's size is shown in.
  const limit = answer.status === 413 ? limitOf(answer.body) : null;
  const said =
    limit === null
      ? message
      : `The file (${formatBytes(file.size)}) is larger than the server's upload limit of ${formatBytes(limit)} (413). Split it into smaller CSV files and upload them one at a time.`;
  /** @type {(HTMLElement | null)[]} */
  const children = [el('p', {}, [el('strong', { text: `${file.name} was not uploaded. ` }), said])];
  if (answer.status === 400) {
    const { rows, errorCount } = rowErrorsOf(answer.body);
    children.push(problemList(answer.body, 'Problems found'));
    if (errorCount > 0) {
      const shown = rows.slice(0, MAX_ERROR_ROWS_SHOWN);
      const more = errorCount > shown.length ? ` The first ${shown.length} are listed.` : '';
      children.push(
        el('p', {
          id: 'row-error-count',
          text: `${plural(errorCount, 'row error')} found.${more} Fix ${errorCount === 1 ? 'it' : 'them'} and upload the file again, or tick "Skip invalid rows" to upload the rest.`,
        }),
      );
    }
    if (rows.length > 0) {
      children.push(rowErrorTable(rows.slice(0, MAX_ERROR_ROWS_SHOWN), 'Rows the server rejected'));
    }
  }
  return el(
    'div',
    {
      className: 'notice notice-error',
      id: 'upload-notice',
      role: 'alert',
      dataset: { outcome: 'failed', status: String(answer.status) },
    },
    children,
  );
}
