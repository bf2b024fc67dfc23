// @ts-check
import { ApiError, field, requestJson } from './api.js';
import { asBatch, createRow, updateRow } from './batchRow.js';
import { byId, byIdAs, el, formatCount } from './dom.js';

/**
 * @typedef {import('./batchRow.js').Batch} Batch
 * @typedef {import('./batchRow.js').Row & { batch: Batch }} ShownRow
 */

const PAGE_SIZE = 10;
const POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000;
// After Process the batch read model may lag: keep watching until the batch changes, at most this long.
const EXPECT_CHANGE_MS = 60_000;
const NO_JOB_CHANGE_MS = 10_000;
// A new batch is in the event log at once but reaches the list's read model only when the projector
// next runs: show it from GET /api/batches/:id (which falls back to the log) and poll the list until
// the list has it, at most this long.
const PIN_MS = 60_000;
const ADMIN_KEY_ITEM = 'adminApiKey';

/**
 * The batches table: newest first, paged by the server's cursor, polled while any batch on the page
 * is processing, was just sent to processing or was just uploaded, and left alone when all is idle.
 */
/**
 * @param {{ onBatchFinished: (batches: Batch[]) => void }} hooks
 */
export function setupBatches({ onBatchFinished }) {
  const section = byId('batches-section');
  const table = byId('batches-table');
  const tbody = byId('batches-body');
  const empty = byId('batches-empty');
  const info = byId('batches-info');
  const alert = byId('batches-alert');
  const newer = byIdAs('batches-newer', HTMLButtonElement);
  const older = byIdAs('batches-older', HTMLButtonElement);
  const pageLabel = byId('batches-page');

  /** @type {(string | null)[]} the cursor of each page seen, by page index */
  const cursors = [null];
  let page = 0;
  /** @type {string | null} */
  let nextCursor = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let seq = 0;
  /** @type {string | null} */
  let highlight = null;
  /** @type {Map<string, ShownRow>} */
  const rows = new Map();
  /** @type {Map<string, string>} */
  const lastStatus = new Map();
  /** @type {Map<string, { snapshot: string, until: number }>} */
  const expecting = new Map();
  /** @type {Set<string>} */
  const starting = new Set();
  /** @type {Map<string, number>} batch id -> until when it is shown before the list has it */
  const pinned = new Map();
  /** @type {Map<string, number>} retracted batch id -> until when the list is polled to show it so */
  const retracting = new Map();

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
    timer = undefined;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const cursor = cursors[page];
    if (cursor) params.set('cursor', cursor);
    section.setAttribute('aria-busy', 'true');
    try {
      const { body } = await requestJson('GET', `/api/batches?${params}`, {
        notFound: 'This server has no batches endpoint (404), so batches cannot be listed.',
      });
      if (mine !== seq) return;
      const batches = field(body, 'batches');
      if (!Array.isArray(batches)) throw new Error('The server sent an unexpected list of batches.');
      const listed = batches.map(asBatch).filter((batch) => batch !== null);
      const early = page === 0 ? await pinnedBatches(listed) : [];
      if (mine !== seq) return;
      const next = field(body, 'nextCursor');
      nextCursor = typeof next === 'string' && next ? next : null;
      alert.replaceChildren();
      render([...early, ...listed]);
    } catch (error) {
      if (mine !== seq) return;
      alert.replaceChildren(el('p', { text: `Could not load batches. ${reasonOf(error)}` }));
    } finally {
      if (mine === seq) {
        section.removeAttribute('aria-busy');
        scheduleNext();
      }
    }
  }

  /** Just-uploaded batches the list does not show yet, newest first, as GET /api/batches/:id has them. */
  /**
   * @param {Batch[]} listed
   * @returns {Promise<Batch[]>}
   */
  async function pinnedBatches(listed) {
    const now = Date.now();
    const inList = new Set(listed.map((batch) => batch.batchId));
    for (const [id, until] of pinned) if (inList.has(id) || until < now) pinned.delete(id);
    const found = await Promise.all(
      [...pinned.keys()].reverse().map(async (id) => {
        try {
          const { body } = await requestJson('GET', `/api/batches/${encodeURIComponent(id)}`);
          const batch = asBatch(body);
          return batch?.batchId === id ? batch : null;
        } catch {
          return null; // the list will show it, or the pin runs out
        }
      }),
    );
    return found.filter((batch) => batch !== null);
  }

  function scheduleNext() {
    const now = Date.now();
    for (const [id, expected] of expecting) if (expected.until < now) expecting.delete(id);
    for (const [id, until] of retracting) if (until < now) retracting.delete(id);
    const watching = [...rows.values()].filter(
      (row) => row.batch.status === 'processing' || expecting.has(row.batch.batchId),
    );
    const waitingForList = (page === 0 && pinned.size > 0) || retracting.size > 0;
    section.dataset.polling = String(watching.length > 0 || waitingForList);
    if (watching.length === 0 && !waitingForList) return;
    if (watching.length > 0)
      info.textContent = `Watching ${watching.length} batch${watching.length === 1 ? '' : 'es'} being processed…`;
    timer = setTimeout(() => void load(), document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }

  /** @param {Batch[]} batches */
  function render(batches) {
    /** @type {Batch[]} */
    const finished = [];
    const seen = new Set();
    batches.forEach((batch, index) => {
      const id = batch.batchId;
      seen.add(id);
      const before = lastStatus.get(id);
      if (batch.status === 'completed' && before !== undefined && before !== 'completed')
        finished.push(batch);
      lastStatus.set(id, batch.status);
      if (batch.status === 'retracted') retracting.delete(id);
      const expected = expecting.get(id);
      if (expected && expected.snapshot !== snapshotOf(batch)) expecting.delete(id);

      const row = {
        ...(rows.get(id) ??
          createRow(
            id,
            (clicked) => void process(clicked),
            (clicked) => void retract(clicked),
          )),
        batch,
      };
      rows.set(id, row);
      refresh(row);
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
        .map((batch) => `${batch.fileName || batch.batchId} is processed.`)
        .join(' ');
      onBatchFinished(finished);
    }
  }

  /** @param {ShownRow} row */
  function refresh(row) {
    const id = row.batch.batchId;
    updateRow(row, { highlighted: id === highlight, pending: starting.has(id) || expecting.has(id) });
  }

  /** @param {string} id */
  async function process(id) {
    const row = rows.get(id);
    if (!row || starting.has(id)) return;
    const name = row.batch.fileName || id;
    const snapshot = snapshotOf(row.batch);
    starting.add(id);
    refresh(row);
    try {
      const { status, body } = await requestJson('POST', `/api/batches/${encodeURIComponent(id)}/process`, {
        notFound: 'The server does not know this batch, or it cannot process batches (404).',
      });
      const jobs = Number(field(body, 'jobsEnqueued') ?? 0);
      if (status === 202 || jobs > 0) {
        expecting.set(id, { snapshot, until: Date.now() + EXPECT_CHANGE_MS });
        info.textContent = `Processing ${name}: ${formatCount(jobs)} job${jobs === 1 ? '' : 's'} queued.`;
      } else {
        // No job (an empty batch, or every chunk already counted): its status may still move on.
        expecting.set(id, { snapshot, until: Date.now() + NO_JOB_CHANGE_MS });
        const said = field(body, 'message');
        info.textContent = typeof said === 'string' && said ? said : `Nothing left to process in ${name}.`;
      }
      alert.replaceChildren();
    } catch (error) {
      alert.replaceChildren(el('p', { text: `Could not start processing ${name}. ${reasonOf(error)}` }));
    } finally {
      starting.delete(id);
    }
    await load();
  }

  /**
   * Retract, after a confirmation that asks for the reason; the admin key is asked for once per tab
   * (kept in sessionStorage, dropped when the server refuses it).
   * @param {string} id
   */
  async function retract(id) {
    const row = rows.get(id);
    if (!row) return;
    const name = row.batch.fileName || id;
    const reason = window.prompt(
      `Retract ${name}? Its events stop counting in every metric and its stored events are deleted; ` +
        'upload the corrected file afterwards as a new batch.\n\nReason (optional):',
      '',
    );
    if (reason === null) return;
    const key = sessionStorage.getItem(ADMIN_KEY_ITEM) ?? window.prompt('Admin API key (X-API-Key):', '');
    if (!key) return;
    try {
      const { body } = await requestJson(
        'POST',
        `/api/batches/${encodeURIComponent(id)}/retract`,
        { notFound: 'The server does not know this batch (404).' },
        { headers: { 'X-API-Key': key }, json: { reason } },
      );
      sessionStorage.setItem(ADMIN_KEY_ITEM, key);
      const withdrawn = Number(field(body, 'eventsWithdrawn') ?? 0);
      info.textContent = `Retracted ${name}: ${formatCount(withdrawn)} event${withdrawn === 1 ? '' : 's'} withdrawn.`;
      alert.replaceChildren();
      // The list's read model shows the retraction a moment later: poll until it does.
      retracting.set(id, Date.now() + EXPECT_CHANGE_MS);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) sessionStorage.removeItem(ADMIN_KEY_ITEM);
      alert.replaceChildren(el('p', { text: `Could not retract ${name}. ${reasonOf(error)}` }));
    }
    await load();
  }

  return {
    load,
    /** @param {string | undefined} batchId */
    showUploaded(batchId) {
      // "x is processed." was about an earlier batch: it no longer applies to what is shown now.
      info.textContent = '';
      highlight = batchId ?? null;
      if (highlight) pinned.set(highlight, Date.now() + PIN_MS);
      page = 0;
      cursors.length = 1;
      void load();
    },
    /** Processes a batch as its Process button would, once listed (the sample data). @param {string} id */
    processListed: async (id) => {
      await load();
      await process(id);
    },
  };
}

const reasonOf = (/** @type {unknown} */ error) => (error instanceof Error ? error.message : String(error));

/** @param {Batch} batch */
function snapshotOf(batch) {
  return JSON.stringify([batch.status, batch.processedEvents, batch.processedAt, batch.failedReason]);
}
