// @ts-check
import { field, requestJson } from './api.js';
import { renderBarChart } from './barChart.js';
import { setupTrends } from './trends.js';
import { byId, byIdAs, el, formatCount } from './dom.js';
import { todayIn } from './pageZone.js';
import { usersOn } from './dayUsers.js';

/** @typedef {import('./barChart.js').BarItem & { users?: number }} BarItem */

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
// A batch can read `completed` a moment before the daily-metrics projector (which runs on its own
// schedule) has added its last counts. After a batch finishes, the day is reloaded every second until
// the answer has held still for STABLE_READS reads in a row (longer than the projector's 2 s poll),
// for at most SETTLE_MS; the Refresh button covers a projector slower than that.
const SETTLE_POLL_MS = 1000;
const STABLE_READS = 4;
const SETTLE_MS = 30_000;

/**
 * The metrics card: one day's counts and unique users per event type in the page's time zone, as a
 * table and as a bar chart (counts from GET /api/metrics, users from the one-day series).
 * @param {import('./pageZone.js').PageZone} zone
 */
export function setupMetrics(zone) {
  const form = byIdAs('metrics-form', HTMLFormElement);
  const input = byIdAs('metrics-date', HTMLInputElement);
  const label = byId('metrics-date-label');
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
  /** @type {{ date: string, tz: string, items: BarItem[] } | null} */
  let shown = null;
  let drawnWidth = 0;

  input.value = todayIn(zone.value()) || todayIn('UTC');
  zone.onChange(() => void load());
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
    renderBarChart(chart, shown.items, { title: `Events per type on ${shown.date} (${shown.tz})` });
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
    const tz = zone.value();
    label.textContent = `Day (${tz})`;
    results.setAttribute('aria-busy', 'true');
    if (!quiet) message.textContent = `Loading metrics for ${date} (${tz})…`;
    try {
      const day = new URLSearchParams({ date, tz });
      const users = usersOn(date, tz);
      const { body } = await requestJson('GET', `/api/metrics?${day.toString()}`, {
        notFound: 'This server has no metrics endpoint (404), so metrics cannot be shown.',
      });
      const usersByType = await users;
      if (mine !== seq) return undefined;
      const metrics = field(body, 'metrics');
      if (!Array.isArray(metrics)) throw new Error('The server sent unexpected metrics.');
      alert.replaceChildren();
      const answeredDate = field(body, 'date');
      const shownDate = typeof answeredDate === 'string' ? answeredDate : date;
      const items = itemsOf(metrics).map((item) => ({ ...item, users: usersByType.get(item.label) }));
      const key = JSON.stringify([shownDate, tz, items]);
      if (!quiet || key !== shownKey) render(shownDate, tz, items);
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
   * @param {string} tz
   * @param {BarItem[]} items
   */
  function render(date, tz, items) {
    const at = new Date().toLocaleTimeString();
    if (items.length === 0) {
      shown = null;
      results.hidden = true;
      chart.replaceChildren();
      message.textContent = `No events were counted for ${date} (${tz}). Process a batch with events on that day, or pick another day. (Checked at ${at}.)`;
      return;
    }
    const sum = items.reduce((acc, item) => acc + item.count, 0);
    message.textContent = `${formatCount(sum)} event${sum === 1 ? '' : 's'} of ${items.length} type${items.length === 1 ? '' : 's'} on ${date} (${tz}). Updated at ${at}.`;
    tbody.replaceChildren(
      ...items.map((item) =>
        el(
          'tr',
          {
            dataset: {
              eventType: item.label,
              count: String(item.count),
              ...(item.users === undefined ? {} : { uniqueUsers: String(item.users) }),
            },
          },
          [
            el('th', { scope: 'row', text: item.label }),
            el('td', { className: 'numeric', text: formatCount(item.count) }),
            el('td', {
              className: 'numeric',
              text: item.users === undefined ? '–' : formatCount(item.users),
            }),
          ],
        ),
      ),
    );
    total.textContent = formatCount(sum);
    results.hidden = false;
    shown = { date, tz, items };
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
    const tz = params.get('tz');
    if (tz) zone.choose(tz);
    showDays(from, params.get('to') ?? from);
    return true;
  }
  window.addEventListener('hashchange', () => {
    if (fromHash()) section.scrollIntoView({ block: 'start' });
  });

  section.dataset.settling = 'false';
  // Before the first settle(): it reloads the trends too.
  const trends = setupTrends(zone);
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
