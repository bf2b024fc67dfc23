// @ts-check
import { field, requestJson } from './api.js';
import { byId, byIdAs, el, formatCount } from './dom.js';
import { renderTrendChart } from './trendChart.js';

/** @typedef {import('./trendChart.js').TrendRow} TrendRow */

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const PRESETS = [7, 30, 90];
const HASH = '#metrics';

/**
 * The trends view of the metrics card: a range (last 7 / 30 / 90 days or custom), a time zone
 * (the browser's by default), an interval and an event-type filter; a chart per type, a table of
 * counts and unique users, and an Export CSV link. Its state lives in the location hash
 * (`#metrics?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=…&eventType=…&interval=…`), so a batch row can link to
 * a range and the back button and a reload keep it.
 */
export function setupTrends() {
  const form = byIdAs('trends-form', HTMLFormElement);
  const fromInput = byIdAs('trends-from', HTMLInputElement);
  const toInput = byIdAs('trends-to', HTMLInputElement);
  const tzSelect = byIdAs('trends-tz', HTMLSelectElement);
  const typeSelect = byIdAs('trends-type', HTMLSelectElement);
  const intervalSelect = byIdAs('trends-interval', HTMLSelectElement);
  const csvLink = byIdAs('trends-csv', HTMLAnchorElement);
  const message = byId('trends-message');
  const alert = byId('trends-alert');
  const results = byId('trends-results');
  const chart = byId('trends-chart');
  const tbody = byId('trends-body');
  const section = byId('metrics-section');
  const presets = [...document.querySelectorAll('#trends-presets button[data-days]')];
  let seq = 0;
  /** @type {{ dates: string[], rows: TrendRow[], title: string } | null} */
  let shown = null;
  let drawnWidth = 0;
  /** Types seen in answers without a filter, for the filter's options. */
  const knownTypes = new Set(/** @type {string[]} */ ([]));

  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const zones = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];
  if (!zones.includes(browserZone)) zones.unshift(browserZone);
  tzSelect.replaceChildren(...zones.map((zone) => el('option', { value: zone, text: zone })));

  /**
   * Selects a zone a link names. The list holds this browser's names, some of them older than the
   * ones the API and the README use (Asia/Calcutta for Asia/Kolkata), so a name it lacks is added
   * as it was written; the API decides whether it is a zone, and its refusal is shown.
   * @param {string} zone
   */
  function chooseZone(zone) {
    if (!zones.includes(zone)) {
      zones.push(zone);
      tzSelect.append(el('option', { value: zone, text: zone }));
    }
    tzSelect.value = zone;
  }

  /** Today in `tz`, as YYYY-MM-DD; '' when this browser does not know the zone. */
  function todayIn(/** @type {string} */ tz) {
    try {
      return new Intl.DateTimeFormat('en-CA', {
        timeZone: tz,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      }).format(new Date());
    } catch (error) {
      if (error instanceof RangeError) return '';
      throw error;
    }
  }

  /**
   * @param {string} date
   * @param {number} days
   */
  function addDays(date, days) {
    const d = new Date(`${date}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  /** @param {number} days */
  function applyPreset(days) {
    // A zone this browser does not know may still be one the API knows: its today is within a day of UTC's.
    const to = todayIn(tzSelect.value || browserZone) || todayIn('UTC');
    toInput.value = to;
    fromInput.value = addDays(to, -(days - 1));
  }

  function markPreset() {
    for (const button of presets) {
      const days = Number(button.getAttribute('data-days'));
      const on =
        toInput.value === todayIn(tzSelect.value) && fromInput.value === addDays(toInput.value, -(days - 1));
      button.setAttribute('aria-pressed', String(on));
    }
  }

  /** The query the controls describe (also the hash's). */
  function query() {
    const params = new URLSearchParams({ from: fromInput.value, to: toInput.value, tz: tzSelect.value });
    if (intervalSelect.value !== 'day') params.set('interval', intervalSelect.value);
    if (typeSelect.value !== '') params.set('eventType', typeSelect.value);
    return params;
  }

  /** Reads the hash into the controls; false when it does not name the metrics view. */
  function readHash() {
    const hash = location.hash;
    if (hash !== HASH && !hash.startsWith(`${HASH}?`)) return false;
    const params = new URLSearchParams(hash.slice(HASH.length + 1));
    const tz = params.get('tz');
    if (tz !== null && tz !== '') chooseZone(tz);
    const from = params.get('from');
    const to = params.get('to');
    if (from !== null && DATE_PATTERN.test(from)) fromInput.value = from;
    if (to !== null && DATE_PATTERN.test(to)) toInput.value = to;
    const interval = params.get('interval');
    intervalSelect.value = interval === 'week' || interval === 'month' ? interval : 'day';
    const type = params.get('eventType') ?? '';
    if (type !== '' && !knownTypes.has(type)) addTypeOption(type);
    typeSelect.value = type;
    return true;
  }

  /** @param {string} type */
  function addTypeOption(type) {
    knownTypes.add(type);
    const options = [...knownTypes].sort().map((t) => el('option', { value: t, text: t }));
    const chosen = typeSelect.value;
    typeSelect.replaceChildren(el('option', { value: '', text: 'All types' }), ...options);
    typeSelect.value = chosen;
  }

  function writeHash() {
    const hash = `${HASH}?${query().toString()}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }

  new ResizeObserver(() => {
    if (shown && chart.clientWidth !== drawnWidth) requestAnimationFrame(draw);
  }).observe(chart);

  function draw() {
    if (!shown) return;
    drawnWidth = chart.clientWidth;
    renderTrendChart(chart, shown.dates, shown.rows, { title: shown.title });
  }

  /**
   * `fromUser`: the controls changed, so the hash follows them; a load for a link or at start
   * leaves the address as it is (it may be a batch row's link, which the day view reads too).
   * @param {{ fromUser?: boolean }} [options]
   */
  async function load({ fromUser = false } = {}) {
    const from = fromInput.value;
    const to = toInput.value;
    if (!DATE_PATTERN.test(from) || !DATE_PATTERN.test(to)) {
      alert.replaceChildren(el('p', { text: 'Choose the first and the last day of the range.' }));
      return;
    }
    if (fromUser) writeHash();
    markPreset();
    const params = query();
    csvLink.href = `/api/metrics/series?${params.toString()}&format=csv`;
    csvLink.setAttribute('download', `metrics-${from}-${to}.csv`);
    const mine = ++seq;
    results.setAttribute('aria-busy', 'true');
    message.textContent = `Loading ${from} to ${to} (${tzSelect.value})…`;
    try {
      const { body } = await requestJson('GET', `/api/metrics/series?${params.toString()}`, {
        notFound: 'This server has no series endpoint (404), so trends cannot be shown.',
      });
      if (mine !== seq) return;
      alert.replaceChildren();
      render(body, params);
    } catch (error) {
      if (mine !== seq) return;
      shown = null;
      results.hidden = true;
      message.textContent = '';
      const reason = error instanceof Error ? error.message : String(error);
      alert.replaceChildren(el('p', { text: `Could not load trends for ${from} to ${to}. ${reason}` }));
    } finally {
      if (mine === seq) results.removeAttribute('aria-busy');
    }
  }

  /**
   * @param {unknown} body
   * @param {URLSearchParams} params
   */
  function render(body, params) {
    const series = field(body, 'series');
    const totals = field(body, 'totals');
    if (!Array.isArray(series) || !Array.isArray(totals))
      throw new Error('The server sent an unexpected series.');
    const dates = series.map((bucket) => String(field(bucket, 'date')));
    /** @type {Map<string, { count: number, users: number }>} */
    const byType = new Map();
    for (const t of totals) {
      const type = field(t, 'eventType');
      const count = field(t, 'count');
      const users = field(t, 'uniqueUsers');
      if (typeof type === 'string' && typeof count === 'number' && typeof users === 'number')
        byType.set(type, { count, users });
    }
    if (!params.has('eventType'))
      for (const type of byType.keys()) if (!knownTypes.has(type)) addTypeOption(type);
    const order = [...byType].sort(([a, x], [b, y]) => y.count - x.count || a.localeCompare(b));
    /** @type {TrendRow[]} */
    const rows = order.map(([eventType, t]) => ({
      eventType,
      total: t.count,
      counts: series.map((bucket) => {
        const metrics = field(bucket, 'metrics');
        /** @type {unknown} */
        const m = Array.isArray(metrics)
          ? /** @type {unknown[]} */ (metrics).find((x) => field(x, 'eventType') === eventType)
          : undefined;
        const count = field(m, 'count');
        return typeof count === 'number' ? count : 0;
      }),
    }));
    const range = `${params.get('from') ?? ''} to ${params.get('to') ?? ''} (${params.get('tz') ?? 'UTC'})`;
    if (rows.length === 0) {
      shown = null;
      results.hidden = true;
      chart.replaceChildren();
      message.textContent = `No events were counted from ${range}.`;
      return;
    }
    const sum = rows.reduce((acc, row) => acc + row.total, 0);
    message.textContent = `${formatCount(sum)} event${sum === 1 ? '' : 's'} of ${rows.length} type${rows.length === 1 ? '' : 's'} from ${range}, ${dates.length} ${intervalSelect.value}${dates.length === 1 ? '' : 's'}.`;
    tbody.replaceChildren(
      ...order.map(([eventType, t]) =>
        el('tr', { dataset: { eventType, count: String(t.count), uniqueUsers: String(t.users) } }, [
          el('th', { scope: 'row', text: eventType }),
          el('td', { className: 'numeric', text: formatCount(t.count) }),
          el('td', { className: 'numeric', text: formatCount(t.users) }),
        ]),
      ),
    );
    results.hidden = false;
    shown = { dates, rows, title: `Events per ${intervalSelect.value} and type, ${range}` };
    draw();
  }

  for (const button of presets) {
    button.addEventListener('click', () => {
      applyPreset(Number(button.getAttribute('data-days')));
      void load({ fromUser: true });
    });
  }
  for (const control of [fromInput, toInput, tzSelect, typeSelect, intervalSelect]) {
    control.addEventListener('change', () => void load({ fromUser: true }));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load({ fromUser: true });
  });
  window.addEventListener('hashchange', () => {
    if (readHash()) {
      section.scrollIntoView();
      void load();
    }
  });

  tzSelect.value = browserZone;
  applyPreset(PRESETS[1] ?? 30);
  const linked = readHash();
  if (linked) section.scrollIntoView();
  void load();
  return { load };
}
