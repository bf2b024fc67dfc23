// @ts-check
import { field } from './api.js';
import { el, formatCount } from './dom.js';

/**
 * Reads a series answer (with its previous period, when compared) into chart rows, and fills the
 * table of totals: count, unique users and, when compared, the previous count and the change.
 * @typedef {import('./trendChart.js').TrendRow} TrendRow
 * @typedef {import('./trendChart.js').TrendBucket} TrendBucket
 * @typedef {{ count: number, users: number }} Total
 * @typedef {{ from: string, to: string, counts: Map<string, number[]>, totals: Map<string, number>, change: Map<string, number | null> }} Previous
 */

/** @param {unknown} totals */
function totalsOf(totals) {
  /** @type {Map<string, Total>} */
  const byType = new Map();
  for (const t of Array.isArray(totals) ? /** @type {unknown[]} */ (totals) : []) {
    const type = field(t, 'eventType');
    const count = field(t, 'count');
    const users = field(t, 'uniqueUsers');
    if (typeof type === 'string' && typeof count === 'number' && typeof users === 'number')
      byType.set(type, { count, users });
  }
  return byType;
}

/**
 * @param {unknown[]} series
 * @param {string} eventType
 */
function countsOf(series, eventType) {
  return series.map((bucket) => {
    const metrics = field(bucket, 'metrics');
    const m = Array.isArray(metrics)
      ? /** @type {unknown[]} */ (metrics).find((x) => field(x, 'eventType') === eventType)
      : undefined;
    const count = field(m, 'count');
    return typeof count === 'number' ? count : 0;
  });
}

/** @param {unknown} body */
function previousOf(body) {
  const previous = field(body, 'previous');
  const series = field(previous, 'series');
  if (previous === undefined || !Array.isArray(series)) return null;
  /** @type {Previous} */
  const result = {
    from: String(field(previous, 'from')),
    to: String(field(previous, 'to')),
    counts: new Map(),
    totals: new Map(),
    change: new Map(),
  };
  const change = field(previous, 'change');
  for (const c of Array.isArray(change) ? /** @type {unknown[]} */ (change) : []) {
    const type = String(field(c, 'eventType'));
    const percent = field(c, 'percentChange');
    result.totals.set(type, Number(field(c, 'previousCount')) || 0);
    result.change.set(type, typeof percent === 'number' ? percent : null);
    result.counts.set(type, countsOf(series, type));
  }
  return result;
}

/**
 * @param {unknown} body a series answer
 * @returns {{ buckets: TrendBucket[], rows: TrendRow[], totals: Map<string, Total>, previous: Previous | null }}
 */
export function readSeries(body) {
  const series = field(body, 'series');
  const totals = field(body, 'totals');
  if (!Array.isArray(series) || !Array.isArray(totals))
    throw new Error('The server sent an unexpected series.');
  const buckets = series.map((bucket) => ({
    date: String(field(bucket, 'date')),
    partial: field(bucket, 'partial') === true,
  }));
  const byType = totalsOf(totals);
  const previous = previousOf(body);
  const order = [...byType].sort(([a, x], [b, y]) => y.count - x.count || a.localeCompare(b));
  const rows = order.map(([eventType, t]) => ({
    eventType,
    total: t.count,
    counts: countsOf(series, eventType),
    ...(previous ? { previous: previous.counts.get(eventType) ?? series.map(() => 0) } : {}),
  }));
  return { buckets, rows, totals: byType, previous };
}

/** @param {number | null} percent */
export function changeText(percent) {
  if (percent === null) return 'new';
  return `${percent > 0 ? '+' : percent < 0 ? '−' : '±'}${Math.abs(percent).toLocaleString()}\u00a0%`;
}

/**
 * The table's rows, busiest first.
 * @param {TrendRow[]} rows
 * @param {Map<string, Total>} totals
 * @param {Previous | null} previous
 */
export function tableRows(rows, totals, previous) {
  return rows.map(({ eventType, total }) => {
    const users = totals.get(eventType)?.users ?? 0;
    const before = previous?.totals.get(eventType) ?? 0;
    const change = previous?.change.get(eventType) ?? null;
    return el('tr', { dataset: { eventType, count: String(total), uniqueUsers: String(users) } }, [
      el('th', { scope: 'row', text: eventType }),
      el('td', { className: 'numeric', text: formatCount(total) }),
      el('td', { className: 'numeric', text: formatCount(users) }),
      previous &&
        el('td', {
          className: 'numeric',
          dataset: { previousCount: String(before) },
          text: formatCount(before),
        }),
      previous &&
        el('td', {
          className: `numeric change${change === null || change === 0 ? '' : change > 0 ? ' change-up' : ' change-down'}`,
          dataset: { percentChange: change === null ? '' : String(change) },
          text: changeText(change),
        }),
    ]);
  });
}
