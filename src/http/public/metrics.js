// @ts-check
import { field, requestJson } from './api.js';
import { renderBarChart } from './barChart.js';
import { setupTrends } from './trends.js';
import { byId, byIdAs, el, formatCount, todayUtc } from './dom.js';

/** @typedef {import('./barChart.js').BarItem} BarItem */

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
// A batch can read `completed` a moment before the daily-metrics projector (which runs on its own
// schedule) has added its last counts. After a batch finishes, the day is reloaded every second until
// the answer has held still for STABLE_READS reads in a row (longer than the projector's 2 s poll),
// for at most SETTLE_MS; the Refresh button covers a projector slower than that.
const SETTLE_POLL_MS = 1000;
const STABLE_READS = 4;
const SETTLE_MS = 30_000;

/** The metrics card: one UTC day's counts per event type, as a table and as a bar chart. */
export function setupMetrics() {
  const form = byIdAs('metrics-form', HTMLFormElement);
  const input = byIdAs('metrics-date', HTMLInputElement);
  const message = byId('metrics-message');
  const alert = byId('metrics-alert');
  const results = byId('metrics-results');
  const tbody = byId('metrics-body');
  const total = byId('metrics-total');
  const chart = byId('metrics-chart');
  const section = byId('metrics-section');
  let seq = 0;
  /**
   * A watch started by settle().
   * @typedef {{ until: number, last: string | undefined, same: number, timer: ReturnType<typeof setTimeout> | undefined }} Settling
   * @type {Settling | null}
   */
  let settling = null;
  /** @type {string | null} */
  let shownKey = null;
  /** @type {{ date: string, items: BarItem[] } | null} */
  let shown = null;
  let drawnWidth = 0;

  input.value = todayUtc();
  input.addEventListener('change', () => void load());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });

  // The chart is drawn at its container's width; redraw when that changes (rotation, resize).
  new ResizeObserver(() => {
    if (shown && chart.clientWidth !== drawnWidth) requestAnimationFrame(draw);
  }).observe(chart);

  function draw() {
    if (!shown) return;
    drawnWidth = chart.clientWidth;
    renderBarChart(chart, shown.items, { title: `Events per type on ${shown.date} (UTC)` });
  }

  /** `quiet`: a background reload, which neither says "Loading" nor redraws an unchanged answer. */
  /**
   * @param {{ quiet?: boolean }} [options]
   * @returns {Promise<string | undefined>} the key of the answer shown, undefined when none
   */
  async function load({ quiet = false } = {}) {
    const date = input.value;
    if (!DATE_PATTERN.test(date)) {
      alert.replaceChildren(el('p', { text: 'Choose a day (year, month and day) to see its metrics.' }));
      return undefined;
    }
    const mine = ++seq;
    results.setAttribute('aria-busy', 'true');
    if (!quiet) message.textContent = `Loading metrics for ${date} (UTC)…`;
    try {
      const { body } = await requestJson('GET', `/api/metrics?date=${encodeURIComponent(date)}`, {
        notFound: 'This server has no metrics endpoint (404), so metrics cannot be shown.',
      });
      if (mine !== seq) return undefined;
      const metrics = field(body, 'metrics');
      if (!Array.isArray(metrics)) throw new Error('The server sent unexpected metrics.');
      alert.replaceChildren();
      const answeredDate = field(body, 'date');
      const shownDate = typeof answeredDate === 'string' ? answeredDate : date;
      const items = itemsOf(metrics);
      const key = JSON.stringify([shownDate, items]);
      if (!quiet || key !== shownKey) render(shownDate, items);
      shownKey = key;
      return key;
    } catch (error) {
      if (mine !== seq) return undefined;
      shown = null;
      shownKey = null;
      results.hidden = true;
      message.textContent = '';
      const reason = error instanceof Error ? error.message : String(error);
      alert.replaceChildren(el('p', { text: `Could not load metrics for ${date}. ${reason}` }));
      return undefined;
    } finally {
      if (mine === seq) results.removeAttribute('aria-busy');
    }
  }

  /**
   * @param {string} date
   * @param {BarItem[]} items
   */
  function render(date, items) {
    const at = new Date().toISOString().slice(11, 19);
    if (items.length === 0) {
      shown = null;
      results.hidden = true;
      chart.replaceChildren();
      message.textContent = `No events were counted for ${date} (UTC). Process a batch with events on that day, or pick another day. (Checked at ${at} UTC.)`;
      return;
    }
    const sum = items.reduce((acc, item) => acc + item.count, 0);
    message.textContent = `${formatCount(sum)} event${sum === 1 ? '' : 's'} of ${items.length} type${items.length === 1 ? '' : 's'} on ${date} (UTC). Updated at ${at} UTC.`;
    tbody.replaceChildren(
      ...items.map((item) =>
        el('tr', { dataset: { eventType: item.label, count: String(item.count) } }, [
          el('th', { scope: 'row', text: item.label }),
          el('td', { className: 'numeric', text: formatCount(item.count) }),
        ]),
      ),
    );
    total.textContent = formatCount(sum);
    results.hidden = false;
    shown = { date, items };
    draw();
  }

  /** Reloads until the counts stop changing (see SETTLE_MS); calling it again restarts the watch. */
  function settle() {
    void trends.load();
    if (settling) clearTimeout(settling.timer);
    settling = { until: Date.now() + SETTLE_MS, last: undefined, same: 0, timer: undefined };
    section.dataset.settling = 'true';
    void settleStep(settling);
  }

  /** @param {Settling} mine */
  async function settleStep(mine) {
    const key = await load({ quiet: true });
    if (settling !== mine) return;
    mine.same = key !== undefined && key === mine.last ? mine.same + 1 : 1;
    mine.last = key;
    if (mine.same >= STABLE_READS || Date.now() > mine.until) {
      settling = null;
      section.dataset.settling = 'false';
      return;
    }
    mine.timer = setTimeout(() => void settleStep(mine), SETTLE_POLL_MS);
  }

  /**
   * Shows the days a batch covers: its first day here, the whole range in the trends view (which
   * reads the same `#metrics?from=YYYY-MM-DD&to=YYYY-MM-DD` link itself), then watches it settle.
   * @param {string} from
   * @param {string} to
   */
  function showDays(from, to) {
    if (!DATE_PATTERN.test(from)) return;
    input.value = from;
    section.dataset.from = from;
    section.dataset.to = DATE_PATTERN.test(to) ? to : from;
    settle();
  }

  /** A `#metrics?from=…&to=…` link (a batch row's days) opens that day here. */
  function fromHash() {
    const [name, query = ''] = location.hash.slice(1).split('?');
    if (name !== 'metrics') return false;
    const params = new URLSearchParams(query);
    const from = params.get('from') ?? '';
    if (!DATE_PATTERN.test(from)) return false;
    showDays(from, params.get('to') ?? from);
    return true;
  }
  window.addEventListener('hashchange', () => {
    if (fromHash()) section.scrollIntoView({ block: 'start' });
  });

  section.dataset.settling = 'false';
  // Before the first settle(): it reloads the trends too.
  const trends = setupTrends();
  if (!fromHash()) void load();
  return { load, settle, showDays };
}

/**
 * Largest first, then by name, so the table and the chart read in the same order.
 * @param {unknown[]} metrics
 * @returns {BarItem[]}
 */
function itemsOf(metrics) {
  /** @type {BarItem[]} */
  const items = [];
  for (const metric of metrics) {
    const label = field(metric, 'eventType');
    const count = field(metric, 'count');
    if (typeof label === 'string' && typeof count === 'number' && Number.isFinite(count))
      items.push({ label, count });
  }
  return items.sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}
