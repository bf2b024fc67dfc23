// @ts-check
import { field } from './api.js';
import { el, formatCount } from './dom.js';

/**
 * The row errors of an upload answer, and their summary per kind of problem: a 400 refusing the
 * file, or a 201 that skipped invalid rows. The summary comes first and wraps at any width, so one
 * systematic mistake reads as one line even on a phone, where the row table scrolls sideways.
 */

/**
 * @typedef {{ row: unknown, field: unknown, message: unknown, value: unknown }} RowError
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
      value: field(item, 'value'),
    }));
  const declared = field(details, 'errorCount') ?? field(body, 'errorCount');
  return {
    rows,
    errorCount: typeof declared === 'number' && Number.isFinite(declared) ? declared : rows.length,
  };
}

/**
 * One line per kind of problem with its first rows, or null when the answer has none.
 * @param {unknown} body
 * @param {string} heading
 */
export function problemList(body, heading) {
  const problems = field(body, 'problems');
  if (!Array.isArray(problems) || problems.length === 0) return null;
  /** @type {unknown[]} */
  const listed = problems;
  let total = 0;
  const items = listed.map((problem) => {
    const rows = field(problem, 'rows');
    const count = field(problem, 'count');
    const message = field(problem, 'message');
    if (typeof count === 'number') total += count;
    const first = Array.isArray(rows) && rows.length > 0 ? rows.map(String).join(', ') : '';
    const more = typeof count === 'number' && Array.isArray(rows) && count > rows.length ? ', …' : '';
    return el('li', {}, [
      typeof message === 'string' ? message : '',
      first ? el('span', { className: 'problem-rows', text: ` (rows ${first}${more})` }) : null,
    ]);
  });
  return el('div', { className: 'problem-summary', id: 'problem-summary' }, [
    el('p', { className: 'problem-heading', text: `${heading} (${formatCount(total)}):` }),
    el('ul', { id: 'problem-list' }, items),
  ]);
}

/**
 * @param {RowError[]} rows
 * @param {string} caption
 */
export function rowErrorTable(rows, caption) {
  return el('div', { className: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption }, [
    el('p', {
      className: 'scroll-cue',
      id: 'row-errors-scroll-cue',
      'aria-hidden': 'true',
      text: 'Scroll sideways for every column →',
    }),
    el('table', { className: 'row-errors', id: 'row-errors' }, [
      el('caption', { text: caption }),
      el('thead', {}, [
        el('tr', {}, [
          el('th', { scope: 'col', text: 'Row' }),
          el('th', { scope: 'col', text: 'Field' }),
          el('th', { scope: 'col', text: 'Value' }),
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
            el(
              'td',
              { className: 'row-value' },
              typeof row.value === 'string' ? [el('code', { text: row.value })] : [],
            ),
            el('td', { text: String(row.message) }),
          ]),
        ),
      ),
    ]),
  ]);
}
