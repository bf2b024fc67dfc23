// @ts-check
/**
 * Builds elements from data without ever parsing HTML: strings become text nodes, attributes go
 * through setAttribute. No markup is ever parsed here, so data can never become markup.
 */
/**
 * @typedef {Record<string, string | number | boolean | null | undefined | Record<string, string>>} Props
 *   `text` sets the text, `className` the class, `dataset`
 *   data attributes; any other key an attribute (`true` as an empty one; null, undefined, false none).
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {Child[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, children = []) {
  return build(document.createElement(tag), props, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {Child[]} [children]
 * @returns {SVGElementTagNameMap[K]}
 */
export function svgEl(tag, props = {}, children = []) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

/**
 * @template {HTMLElement | SVGElement} E
 * @param {E} node
 * @param {Props} props
 * @param {Child[]} children
 * @returns {E}
 */
function build(node, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'object') {
      if (key === 'dataset') Object.assign(node.dataset, value);
      continue;
    }
    const text = value === true ? '' : String(value);
    if (key === 'text') node.textContent = text;
    else if (key === 'className') node.setAttribute('class', text);
    else node.setAttribute(key, text);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return node;
}

/**
 * The page's element with that id, checked to be of the kind the caller expects.
 * @template {HTMLElement} E
 * @param {string} id
 * @param {new () => E} kind e.g. HTMLInputElement
 * @returns {E}
 */
export function byIdAs(id, kind) {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`The page has no ${kind.name} #${id}`);
  return node;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  return byIdAs(id, HTMLElement);
}

const numberFormat = new Intl.NumberFormat();

/** @param {number} value */
export function formatCount(value) {
  return numberFormat.format(value);
}

/** Dates are shown in UTC, like the metrics' daily buckets, so the two always agree. */
/** @param {unknown} iso */
export function formatUtc(iso) {
  if (typeof iso !== 'string') return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  // Binary units, named as such (KiB, MiB): the server states its upload limit in the same ones.
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * `n word` or `n words`.
 * @param {number} n
 * @param {string} word
 * @param {string} [many]
 */
export function plural(n, word, many = `${word}s`) {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}
