// @ts-check
import { svgEl } from './dom.js';

/** What the bar chart and the trend chart share: an accessible SVG frame and short labels. */

let chartSeq = 0;

/**
 * An SVG chart drawn at `width` x `height` pixels (not scaled, so text keeps its size), named by
 * its title and described in words for screen readers. `role` is img unless its marks can be focused
 * one by one (group).
 * @param {{ className: string, width: number, height: number, title: string, description: string, role?: string }} frame
 * @param {import('./dom.js').Child[]} children
 * @returns {SVGSVGElement}
 */
export function chartSvg({ className, width, height, title, description, role = 'img' }, children) {
  const id = `chart-${++chartSeq}`;
  return svgEl(
    'svg',
    {
      className,
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role,
      'aria-labelledby': `${id}-title ${id}-desc`,
    },
    [
      svgEl('title', { id: `${id}-title`, text: title }),
      svgEl('desc', { id: `${id}-desc`, text: description }),
      ...children,
    ],
  );
}

/**
 * The text cut to `maxChars` with an ellipsis.
 * @param {string} text
 * @param {number} maxChars
 */
export function shorten(text, maxChars) {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, Math.max(1, maxChars - 1))}…`;
}

const tickFormats = {
  day: new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
  month: new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' }),
};

/**
 * A bucket's date as an axis tick: "Jan 15" for days and weeks, "Jan 2024" for months.
 * @param {string} date YYYY-MM-DD
 * @param {string} interval
 */
export function tickText(date, interval) {
  const format = interval === 'month' ? tickFormats.month : tickFormats.day;
  return format.format(new Date(`${date}T00:00:00Z`));
}

/**
 * Which buckets get a dated tick: the first, the last and evenly spaced ones between, at least
 * `spacing` pixels apart so their labels never overlap.
 * @param {number} count buckets
 * @param {number} plotWidth pixels
 * @param {number} spacing pixels
 * @returns {number[]}
 */
export function tickIndexes(count, plotWidth, spacing) {
  const ticks = Math.max(1, Math.min(count, Math.floor(plotWidth / spacing) + 1));
  if (ticks === 1 || count === 1) return [0];
  const indexes = new Set(/** @type {number[]} */ ([]));
  for (let k = 0; k < ticks; k++) indexes.add(Math.round((k * (count - 1)) / (ticks - 1)));
  return [...indexes];
}

/**
 * Makes a chart's marks (bars or points) readable one by one: each has an aria-label, the value
 * shows in a tip on hover and on keyboard focus, and the marks form one tab stop whose arrow keys
 * move along a row (left, right, Home, End) and between rows (up, down).
 * @param {HTMLElement} container positioned, holding the svg
 * @param {SVGElement[][]} grid marks by row, then by bucket
 */
export function valueTips(container, grid) {
  const tip = document.createElement('div');
  tip.className = 'chart-tip';
  tip.hidden = true;
  tip.setAttribute('aria-hidden', 'true');
  container.append(tip);
  /** @param {SVGElement} mark */
  const show = (mark) => {
    tip.textContent = mark.getAttribute('aria-label') ?? '';
    tip.hidden = false;
    const box = mark.getBoundingClientRect();
    const frame = container.getBoundingClientRect();
    const left = box.left - frame.left + box.width / 2 - tip.offsetWidth / 2;
    tip.style.left = `${Math.max(0, Math.min(left, frame.width - tip.offsetWidth))}px`;
    tip.style.top = `${Math.max(0, box.top - frame.top - tip.offsetHeight - 6)}px`;
  };
  const hide = () => {
    tip.hidden = true;
  };
  grid.forEach((row, r) => {
    row.forEach((mark, c) => {
      mark.setAttribute('tabindex', r === 0 && c === 0 ? '0' : '-1');
      mark.setAttribute('role', 'img');
      mark.addEventListener('mouseenter', () => {
        show(mark);
      });
      mark.addEventListener('mouseleave', hide);
      mark.addEventListener('focus', () => {
        show(mark);
      });
      mark.addEventListener('blur', hide);
      mark.addEventListener('keydown', (event) => {
        /** @type {Record<string, [number, number]>} */
        const moves = {
          ArrowRight: [r, c + 1],
          ArrowLeft: [r, c - 1],
          ArrowDown: [r + 1, c],
          ArrowUp: [r - 1, c],
          Home: [r, 0],
          End: [r, row.length - 1],
        };
        const to = moves[event.key];
        if (to === undefined) return;
        event.preventDefault();
        const next = grid[to[0]]?.[to[1]];
        if (next === undefined) return;
        mark.setAttribute('tabindex', '-1');
        next.setAttribute('tabindex', '0');
        next.focus();
      });
    });
  });
}
