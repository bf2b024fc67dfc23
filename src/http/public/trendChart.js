// @ts-check
import { chartSvg, shorten, tickIndexes, tickText, valueTips } from './chart.js';
import { formatCount, svgEl } from './dom.js';

/**
 * The trend over a range as small multiples: one row per event type, its buckets as columns. By
 * default every row shares one scale, so types can be compared; `perType` scales each row to its
 * own busiest bucket (named at the row's end), so a rare type's shape shows next to a common one's.
 * Every bar tells its value on hover and keyboard focus. Drawn at the container's pixel width; call
 * it again on resize.
 */
const ROW_HEIGHT = 30;
const ROW_GAP = 6;
const PADDING = 8;
const HEAD_HEIGHT = 18;
const AXIS_HEIGHT = 26;
const CHAR_WIDTH = 7;
const TICK_SPACING = 72;

/**
 * @typedef {{ eventType: string, total: number, counts: number[], previous?: number[] }} TrendRow
 * @typedef {{ date: string, partial: boolean }} TrendBucket
 * @typedef {{ title: string, interval: string, perType?: boolean }} TrendOptions
 */

/**
 * What a mark says: type, bucket, value, and the previous period's value when compared.
 * @param {TrendRow} row
 * @param {TrendBucket} bucket
 * @param {number} i
 * @param {string} interval
 */
export function markLabel(row, bucket, i, interval) {
  const when = interval === 'day' ? bucket.date : `${interval} of ${bucket.date}`;
  const partial = bucket.partial ? ` (partial ${interval})` : '';
  const before = row.previous ? `, previous period ${formatCount(row.previous[i] ?? 0)}` : '';
  return `${row.eventType}, ${when}${partial}: ${formatCount(row.counts[i] ?? 0)}${before}`;
}

/**
 * Dated ticks under a plot of `count` columns `step` wide starting at `left`.
 * @param {TrendBucket[]} buckets
 * @param {{ left: number, step: number, width: number, y: number, interval: string }} at
 */
export function axisTicks(buckets, { left, step, width, y, interval }) {
  return tickIndexes(buckets.length, width, TICK_SPACING).flatMap((i, k, all) => {
    const x = left + (i + 0.5) * step;
    const anchor = all.length > 1 && k === 0 ? 'start' : k === all.length - 1 && k > 0 ? 'end' : 'middle';
    const textX = anchor === 'start' ? left + i * step : anchor === 'end' ? left + (i + 1) * step : x;
    return [
      svgEl('line', { className: 'trend-tick', x1: x, x2: x, y1: y - 4, y2: y }),
      svgEl('text', {
        className: 'trend-axis',
        x: textX,
        y: y + 12,
        'text-anchor': anchor,
        dataset: { date: buckets[i]?.date ?? '' },
        text: tickText(buckets[i]?.date ?? '', interval),
      }),
    ];
  });
}

/**
 * @param {HTMLElement} container
 * @param {TrendBucket[]} buckets in order
 * @param {TrendRow[]} rows
 * @param {TrendOptions} options
 * @returns {SVGSVGElement | null}
 */
export function renderTrendChart(container, buckets, rows, { title, interval, perType = false }) {
  container.replaceChildren();
  if (rows.length === 0 || buckets.length === 0) return null;
  const width = Math.max(280, Math.floor(container.clientWidth || 600));
  const labelWidth = Math.min(150, Math.round(width * 0.28));
  const rightWidth = perType ? 56 : 8;
  const plotWidth = width - labelWidth - rightWidth - PADDING;
  const step = plotWidth / buckets.length;
  const barWidth = Math.max(1, step - (step > 4 ? 1 : 0));
  const top0 = PADDING + HEAD_HEIGHT;
  const height = top0 + rows.length * (ROW_HEIGHT + ROW_GAP) + AXIS_HEIGHT;
  // Previous-period marks share the scale, so neither they nor the bars run past the row.
  const rowMax = (/** @type {TrendRow} */ row) => Math.max(1, ...row.counts, ...(row.previous ?? []));
  const sharedMax = Math.max(...rows.map(rowMax));

  /** @type {SVGElement[][]} */
  const grid = [];
  const rowEls = rows.map((row, index) => {
    const top = top0 + index * (ROW_HEIGHT + ROW_GAP);
    const max = perType ? rowMax(row) : sharedMax;
    const bars = row.counts.map((count, i) => {
      const h = count > 0 ? Math.max(1, Math.round((ROW_HEIGHT * count) / max)) : 0;
      const bucket = buckets[i] ?? { date: '', partial: false };
      // A zero bucket still gets a full-height, see-through mark so it can be hovered and focused.
      return svgEl('rect', {
        className: `trend-bar${bucket.partial ? ' trend-bar-partial' : ''}${count === 0 ? ' trend-bar-zero' : ''}`,
        x: labelWidth + i * step,
        y: count > 0 ? top + ROW_HEIGHT - h : top,
        width: barWidth,
        height: count > 0 ? h : ROW_HEIGHT,
        'aria-label': markLabel(row, bucket, i, interval),
        dataset: { date: bucket.date, count: String(count) },
      });
    });
    grid.push(bars);
    // The previous period's value of each bucket, as a short dark line across its bar.
    const before = (row.previous ?? []).flatMap((count, i) => {
      if (count === 0) return [];
      const y = top + ROW_HEIGHT - Math.round((ROW_HEIGHT * count) / max);
      const x1 = labelWidth + i * step;
      return [
        svgEl('line', {
          className: 'trend-prev',
          x1,
          x2: x1 + barWidth,
          y1: y,
          y2: y,
          dataset: { count: String(count) },
        }),
      ];
    });
    return svgEl(
      'g',
      { className: 'trend-row', dataset: { eventType: row.eventType, total: String(row.total) } },
      [
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
        ...before,
        perType &&
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

  const svg = chartSvg(
    {
      className: 'trend-chart',
      role: 'group',
      width,
      height,
      title,
      description: rows.map((row) => `${row.eventType}: ${formatCount(row.total)}`).join(', '),
    },
    [
      svgEl('text', {
        className: 'trend-scale',
        x: labelWidth,
        y: PADDING + 10,
        text: perType
          ? 'Each row scaled to its own busiest bucket'
          : `One scale: a full row is ${formatCount(sharedMax)}`,
      }),
      ...rowEls,
      ...axisTicks(buckets, {
        left: labelWidth,
        step,
        width: plotWidth,
        y: top0 + rows.length * (ROW_HEIGHT + ROW_GAP) + 2,
        interval,
      }),
    ],
  );
  container.append(svg);
  valueTips(container, grid);
  return svg;
}
