// @ts-check
import { requestJson } from './api.js';
import { byId, byIdAs, el, formatCount } from './dom.js';
import { renderLineChart } from './lineChart.js';
import { todayIn } from './pageZone.js';
import { renderTrendChart } from './trendChart.js';
import { changeText, readSeries, tableRows } from './trendsResults.js';

/** @typedef {import('./trendChart.js').TrendRow} TrendRow */
/** @typedef {import('./trendChart.js').TrendBucket} TrendBucket */

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const PRESETS = [7, 30, 90];
const HASH = '#metrics';

/**
 * The trends view of the metrics card: a range (last 7 / 30 / 90 days or custom) in the page's
 * time zone, an interval, an event-type filter and a comparison with the previous period; bars per
 * type (one scale, or each its own) or lines, a table of counts and unique users, and an Export CSV
 * link. Its state lives in the location hash
 * (`#metrics?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=…&eventType=…&interval=…&compare=previous`), so a
 * batch row can link to a range and the back button and a reload keep it.
 * @param {import('./pageZone.js').PageZone} zone
 */
export function setupTrends(zone) {
  const form = byIdAs('trends-form', HTMLFormElement);
  const fromInput = byIdAs('trends-from', HTMLInputElement);
  const toInput = byIdAs('trends-to', HTMLInputElement);
  const typeSelect = byIdAs('trends-type', HTMLSelectElement);
  const intervalSelect = byIdAs('trends-interval', HTMLSelectElement);
  const scaleSelect = byIdAs('trends-scale', HTMLSelectElement);
  const viewSelect = byIdAs('trends-view', HTMLSelectElement);
  const compareBox = byIdAs('trends-compare', HTMLInputElement);
  const compareHeads = [...document.querySelectorAll('#trends-table .compare-col')];
  const csvLink = byIdAs('trends-csv', HTMLAnchorElement);
  const message = byId('trends-message');
  const alert = byId('trends-alert');
  const results = byId('trends-results');
  const chart = byId('trends-chart');
  const tbody = byId('trends-body');
  const section = byId('metrics-section');
  const presets = [...document.querySelectorAll('#trends-presets button[data-days]')];
  let seq = 0;
  /** @type {{ buckets: TrendBucket[], rows: TrendRow[], title: string } | null} */
  let shown = null;
  let drawnWidth = 0;
  /** Types seen in answers without a filter, for the filter's options. */
  const knownTypes = new Set(/** @type {string[]} */ ([]));

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
    const to = todayIn(zone.value() || zone.browserZone) || todayIn('UTC');
    toInput.value = to;
    fromInput.value = addDays(to, -(days - 1));
  }

  function markPreset() {
    for (const button of presets) {
      const days = Number(button.getAttribute('data-days'));
      const on =
        toInput.value === todayIn(zone.value()) && fromInput.value === addDays(toInput.value, -(days - 1));
      button.setAttribute('aria-pressed', String(on));
    }
  }

  /** The query the controls describe (also the hash's); the CSV leaves out the comparison. */
  function query({ csv = false } = {}) {
    const params = new URLSearchParams({ from: fromInput.value, to: toInput.value, tz: zone.value() });
    if (intervalSelect.value !== 'day') params.set('interval', intervalSelect.value);
    if (typeSelect.value !== '') params.set('eventType', typeSelect.value);
    if (compareBox.checked && !csv) params.set('compare', 'previous');
    return params;
  }

  /** Reads the hash into the controls; false when it does not name the metrics view. */
  function readHash() {
    const hash = location.hash;
    if (hash !== HASH && !hash.startsWith(`${HASH}?`)) return false;
    const params = new URLSearchParams(hash.slice(HASH.length + 1));
    const tz = params.get('tz');
    if (tz !== null && tz !== '') zone.choose(tz);
    const from = params.get('from');
    const to = params.get('to');
    if (from !== null && DATE_PATTERN.test(from)) fromInput.value = from;
    if (to !== null && DATE_PATTERN.test(to)) toInput.value = to;
    const interval = params.get('interval');
    intervalSelect.value = interval === 'week' || interval === 'month' ? interval : 'day';
    const type = params.get('eventType') ?? '';
    if (type !== '' && !knownTypes.has(type)) addTypeOption(type);
    typeSelect.value = type;
    compareBox.checked = params.get('compare') === 'previous';
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
    const options = {
      title: shown.title,
      interval: intervalSelect.value,
      perType: scaleSelect.value === 'type',
    };
    if (viewSelect.value === 'lines') renderLineChart(chart, shown.buckets, shown.rows, options);
    else renderTrendChart(chart, shown.buckets, shown.rows, options);
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
    csvLink.href = `/api/metrics/series?${query({ csv: true }).toString()}&format=csv`;
    csvLink.setAttribute('download', `metrics-${from}-${to}.csv`);
    const mine = ++seq;
    results.setAttribute('aria-busy', 'true');
    message.textContent = `Loading ${from} to ${to} (${zone.value()})…`;
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
    const { buckets, rows, totals, previous } = readSeries(body);
    if (!params.has('eventType'))
      for (const type of totals.keys()) if (!knownTypes.has(type)) addTypeOption(type);
    const range = `${params.get('from') ?? ''} to ${params.get('to') ?? ''} (${params.get('tz') ?? 'UTC'})`;
    const sum = rows.reduce((acc, row) => acc + row.total, 0);
    const before = previous ? [...previous.totals.values()].reduce((acc, n) => acc + n, 0) : 0;
    const compared = previous
      ? ` Previous period ${previous.from} to ${previous.to}: ${formatCount(before)} (${changeText(before === 0 ? null : Math.round(((sum - before) / before) * 1000) / 10)}).`
      : '';
    if (rows.length === 0) {
      shown = null;
      results.hidden = true;
      chart.replaceChildren();
      message.textContent = `No events were counted from ${range}.${compared}`;
      return;
    }
    const per = intervalSelect.value;
    message.textContent = `${formatCount(sum)} event${sum === 1 ? '' : 's'} of ${rows.length} type${rows.length === 1 ? '' : 's'} from ${range}, ${buckets.length} ${per}${buckets.length === 1 ? '' : 's'}.${compared}`;
    for (const head of compareHeads) head.toggleAttribute('hidden', previous === null);
    tbody.replaceChildren(...tableRows(rows, totals, previous));
    results.hidden = false;
    shown = { buckets, rows, title: `Events per ${per} and type, ${range}` };
    draw();
  }

  for (const button of presets) {
    button.addEventListener('click', () => {
      applyPreset(Number(button.getAttribute('data-days')));
      void load({ fromUser: true });
    });
  }
  for (const control of [fromInput, toInput, typeSelect, intervalSelect, compareBox]) {
    control.addEventListener('change', () => void load({ fromUser: true }));
  }
  for (const control of [scaleSelect, viewSelect]) control.addEventListener('change', draw);
  zone.onChange(() => void load({ fromUser: true }));
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

  applyPreset(PRESETS[1] ?? 30);
  const linked = readHash();
  if (linked) section.scrollIntoView();
  void load();
  return { load };
}
