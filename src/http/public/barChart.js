// @ts-check
import { chartSvg, shorten } from './chart.js';
import { formatCount, svgEl } from './dom.js';

/**
 * A small horizontal SVG bar chart: one labelled bar per item, longest bar = largest count.
 * Horizontal bars keep long event-type names readable on narrow screens. It is drawn at the
 * container's pixel width (not scaled by a viewBox) so text keeps its size; call it again on resize.
 * Colours and fonts come from styles.css classes, so it needs no inline styles.
 */
const BAR_HEIGHT = 24;
const BAR_GAP = 10;
const PADDING = 8;
const VALUE_WIDTH = 72;
const CHAR_WIDTH = 7.5; // an estimate for the 13px label font; only used to shorten long labels

/**
 * @typedef {{ label: string, count: number }} BarItem
 * @param {HTMLElement} container
 * @param {BarItem[]} items
 * @param {{ title: string }} options
 * @returns {SVGSVGElement | null}
 */
export function renderBarChart(container, items, { title }) {
  container.replaceChildren();
  if (items.length === 0) return null;

  const width = Math.max(260, Math.floor(container.clientWidth || 600));
  const labelWidth = Math.min(180, Math.round(width * 0.35));
  const barSpace = width - labelWidth - VALUE_WIDTH - PADDING;
  const height = PADDING * 2 + items.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP;
  const max = Math.max(1, ...items.map((item) => item.count));

  const bars = items.map((item, index) => {
    const y = PADDING + index * (BAR_HEIGHT + BAR_GAP);
    const barWidth = item.count > 0 ? Math.max(2, Math.round((barSpace * item.count) / max)) : 0;
    const middle = y + BAR_HEIGHT / 2;
    const full = `${item.label}: ${formatCount(item.count)}`;
    return svgEl('g', { className: 'bar', dataset: { label: item.label, count: String(item.count) } }, [
      svgEl('title', { text: full }),
      svgEl('text', {
        className: 'bar-label',
        x: labelWidth - 8,
        y: middle,
        'text-anchor': 'end',
        'dominant-baseline': 'central',
        text: shorten(item.label, Math.floor((labelWidth - 8) / CHAR_WIDTH)),
      }),
      svgEl('rect', { className: 'bar-rect', x: labelWidth, y, width: barWidth, height: BAR_HEIGHT, rx: 3 }),
      svgEl('text', {
        className: 'bar-value',
        x: labelWidth + barWidth + 6,
        y: middle,
        'dominant-baseline': 'central',
        text: formatCount(item.count),
      }),
    ]);
  });

  const svg = chartSvg(
    {
      className: 'bar-chart',
      width,
      height,
      title,
      description: items.map((item) => `${item.label}: ${formatCount(item.count)}`).join(', '),
    },
    [svgEl('line', { className: 'bar-axis', x1: labelWidth, x2: labelWidth, y1: 0, y2: height }), ...bars],
  );
  container.append(svg);
  return svg;
}
