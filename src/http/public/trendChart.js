// @ts-check
import { chartSvg, shorten } from './chart.js';
import { formatCount, svgEl } from './dom.js';

/**
 * The trend over a range as small multiples: one row per event type, its buckets as columns
 * scaled to that type's own largest bucket (named at the row's end), so 20 types stay readable
 * where 20 overlapping lines would not, and a rare type's shape shows next to a common one's.
 * Drawn at the container's pixel width like the bar chart; call it again on resize.
 */
const ROW_HEIGHT = 30;
const ROW_GAP = 6;
const PADDING = 8;
const AXIS_HEIGHT = 22;
const CHAR_WIDTH = 7;

/**
 * @typedef {{ eventType: string, total: number, counts: number[] }} TrendRow
 * @param {HTMLElement} container
 * @param {string[]} dates the buckets' first dates, in order
 * @param {TrendRow[]} rows
 * @param {{ title: string }} options
 * @returns {SVGSVGElement | null}
 */
export function renderTrendChart(container, dates, rows, { title }) {
  container.replaceChildren();
  if (rows.length === 0 || dates.length === 0) return null;
  const width = Math.max(280, Math.floor(container.clientWidth || 600));
  const labelWidth = Math.min(150, Math.round(width * 0.3));
  const maxWidth = 56;
  const plotWidth = width - labelWidth - maxWidth - PADDING;
  const step = plotWidth / dates.length;
  const barWidth = Math.max(1, step - (step > 4 ? 1 : 0));
  const height = PADDING + rows.length * (ROW_HEIGHT + ROW_GAP) + AXIS_HEIGHT;

  const rowEls = rows.map((row, index) => {
    const top = PADDING + index * (ROW_HEIGHT + ROW_GAP);
    const max = Math.max(1, ...row.counts);
    const bars = row.counts.map((count, i) => {
      const h = count > 0 ? Math.max(1, Math.round((ROW_HEIGHT * count) / max)) : 0;
      return svgEl('rect', {
        className: 'trend-bar',
        x: labelWidth + i * step,
        y: top + ROW_HEIGHT - h,
        width: barWidth,
        height: h,
        dataset: { date: dates[i] ?? '', count: String(count) },
      });
    });
    return svgEl(
      'g',
      { className: 'trend-row', dataset: { eventType: row.eventType, total: String(row.total) } },
      [
        svgEl('title', {
          text: `${row.eventType}: ${formatCount(row.total)} in all, at most ${formatCount(max)} a bucket`,
        }),
        svgEl('text', {
          className: 'trend-label',
          x: labelWidth - 8,
          y: top + ROW_HEIGHT / 2,
          'text-anchor': 'end',
          'dominant-baseline': 'central',
          text: shorten(row.eventType, Math.floor((labelWidth - 8) / CHAR_WIDTH)),
        }),
        svgEl('line', {
          className: 'trend-baseline',
          x1: labelWidth,
          x2: labelWidth + plotWidth,
          y1: top + ROW_HEIGHT,
          y2: top + ROW_HEIGHT,
        }),
        ...bars,
        svgEl('text', {
          className: 'trend-max',
          x: labelWidth + plotWidth + 6,
          y: top + ROW_HEIGHT / 2,
          'dominant-baseline': 'central',
          text: `≤${formatCount(max)}`,
        }),
      ],
    );
  });

  const axisY = PADDING + rows.length * (ROW_HEIGHT + ROW_GAP) + 14;
  const first = dates[0] ?? '';
  const last = dates.at(-1) ?? '';
  const svg = chartSvg(
    {
      className: 'trend-chart',
      width,
      height,
      title: title,
      description: rows.map((row) => `${row.eventType}: ${formatCount(row.total)}`).join(', '),
    },
    [
      ...rowEls,
      svgEl('text', { className: 'trend-axis', x: labelWidth, y: axisY, text: first }),
      svgEl('text', {
        className: 'trend-axis',
        x: labelWidth + plotWidth,
        y: axisY,
        'text-anchor': 'end',
        text: last === first ? '' : last,
      }),
    ],
  );
  container.append(svg);
  return svg;
}
