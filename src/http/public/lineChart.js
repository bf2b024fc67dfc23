// @ts-check
import { chartSvg, shorten, valueTips } from './chart.js';
import { el, formatCount, svgEl } from './dom.js';
import { axisTicks, markLabel } from './trendChart.js';

/**
 * The trend as lines on one scale: the busiest types (at most MAX_LINES, so colours stay apart)
 * overlaid, with a legend naming each colour. Every point tells its value on hover and keyboard
 * focus, like the bars.
 */
export const MAX_LINES = 10;
const PLOT_HEIGHT = 200;
const PADDING = 10;
const AXIS_HEIGHT = 26;
const CHAR_WIDTH = 7;

/**
 * @param {HTMLElement} container
 * @param {import('./trendChart.js').TrendBucket[]} buckets
 * @param {import('./trendChart.js').TrendRow[]} allRows busiest first
 * @param {import('./trendChart.js').TrendOptions} options
 * @returns {SVGSVGElement | null}
 */
export function renderLineChart(container, buckets, allRows, { title, interval }) {
  container.replaceChildren();
  const rows = allRows.slice(0, MAX_LINES);
  if (rows.length === 0 || buckets.length === 0) return null;
  const width = Math.max(280, Math.floor(container.clientWidth || 600));
  const max = Math.max(1, ...rows.flatMap((row) => row.counts));
  const left = Math.max(32, formatCount(max).length * CHAR_WIDTH + 10);
  const plotWidth = width - left - PADDING;
  const step = plotWidth / buckets.length;
  const top = PADDING + 6;
  const bottom = top + PLOT_HEIGHT;
  const y = (/** @type {number} */ count) => bottom - (PLOT_HEIGHT * count) / max;

  /** @type {SVGElement[][]} */
  const grid = [];
  const lines = rows.map((row, index) => {
    const points = row.counts.map((count, i) => [left + (i + 0.5) * step, y(count)]);
    const marks = points.map(([px, py], i) =>
      svgEl('circle', {
        className: `trend-point series-${index}${buckets[i]?.partial ? ' trend-point-partial' : ''}`,
        cx: px,
        cy: py,
        r: step >= 8 ? 3.5 : 2.5,
        'aria-label': markLabel(row, buckets[i] ?? { date: '', partial: false }, i, interval),
        dataset: { date: buckets[i]?.date ?? '', count: String(row.counts[i] ?? 0) },
      }),
    );
    grid.push(marks);
    return svgEl('g', { className: 'trend-series', dataset: { eventType: row.eventType } }, [
      svgEl('polyline', {
        className: `trend-line series-${index}`,
        points: points.map(([px, py]) => `${px},${py}`).join(' '),
      }),
      ...marks,
    ]);
  });

  const svg = chartSvg(
    {
      className: 'trend-chart trend-lines',
      role: 'group',
      width,
      height: bottom + AXIS_HEIGHT,
      title,
      description: rows.map((row) => `${row.eventType}: ${formatCount(row.total)}`).join(', '),
    },
    [
      ...[0, 0.5, 1].flatMap((share) => [
        svgEl('line', {
          className: 'trend-grid',
          x1: left,
          x2: left + plotWidth,
          y1: y(max * share),
          y2: y(max * share),
        }),
        svgEl('text', {
          className: 'trend-axis',
          x: left - 6,
          y: y(max * share),
          'text-anchor': 'end',
          'dominant-baseline': 'central',
          text: formatCount(Math.round(max * share)),
        }),
      ]),
      ...lines,
      ...axisTicks(buckets, { left, step, width: plotWidth, y: bottom + 2, interval }),
    ],
  );
  const legend = el(
    'ul',
    { className: 'chart-legend', 'aria-label': 'Legend' },
    rows.map((row, index) =>
      el('li', { dataset: { eventType: row.eventType } }, [
        el('span', { className: `legend-swatch series-${index}`, 'aria-hidden': 'true' }),
        `${shorten(row.eventType, 40)} (${formatCount(row.total)})`,
      ]),
    ),
  );
  const more =
    allRows.length > rows.length &&
    el('p', {
      className: 'hint',
      text: `The ${rows.length} busiest of ${allRows.length} types; bars show them all.`,
    });
  container.append(svg, legend);
  if (more) container.append(more);
  valueTips(container, grid);
  return svg;
}
