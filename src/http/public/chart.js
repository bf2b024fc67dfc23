// @ts-check
import { svgEl } from './dom.js';

/** What the bar chart and the trend chart share: an accessible SVG frame and short labels. */

let chartSeq = 0;

/**
 * An SVG chart drawn at `width` x `height` pixels (not scaled, so text keeps its size), named by
 * its title and described in words for screen readers.
 * @param {{ className: string, width: number, height: number, title: string, description: string }} frame
 * @param {import('./dom.js').Child[]} children
 * @returns {SVGSVGElement}
 */
export function chartSvg({ className, width, height, title, description }, children) {
  const id = `chart-${++chartSeq}`;
  return svgEl(
    'svg',
    {
      className,
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
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
