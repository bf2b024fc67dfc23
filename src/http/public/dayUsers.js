// @ts-check
import { field, requestJson } from './api.js';

/**
 * Unique users per type that day; empty when the series cannot say (the counts still show).
 * @param {string} date
 * @param {string} tz
 * @returns {Promise<Map<string, number>>}
 */
export async function usersOn(date, tz) {
  const users = new Map();
  try {
    const query = new URLSearchParams({ from: date, to: date, tz });
    const { body } = await requestJson('GET', `/api/metrics/series?${query.toString()}`);
    const totals = field(body, 'totals');
    for (const t of Array.isArray(totals) ? /** @type {unknown[]} */ (totals) : []) {
      const n = field(t, 'uniqueUsers');
      if (typeof n === 'number') users.set(String(field(t, 'eventType')), n);
    }
  } catch {
    // The counts answer on their own; the users column then shows a dash.
  }
  return users;
}
