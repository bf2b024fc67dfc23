// @ts-check
import { byIdAs, el } from './dom.js';

const STORAGE_KEY = 'ems.timeZone';

/** @param {() => string | null} read */
function quietly(read) {
  try {
    return read();
  } catch {
    return null; // storage refused (private mode, blocked cookies): the zone is just not remembered
  }
}

/**
 * The one time zone of the page, used by the day and the trends: chosen in one select, remembered
 * in this browser (localStorage) once the user picks it, the browser's own zone until then.
 */
export function setupPageZone() {
  const select = byIdAs('page-tz', HTMLSelectElement);
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const zones = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];
  if (!zones.includes(browserZone)) zones.unshift(browserZone);
  select.replaceChildren(...zones.map((zone) => el('option', { value: zone, text: zone })));
  /** @type {((zone: string) => void)[]} */
  const listeners = [];

  /**
   * Selects a zone a link names. The list holds this browser's names, some of them older than the
   * ones the API and the README use (Asia/Calcutta for Asia/Kolkata), so a name it lacks is added
   * as it was written; the API decides whether it is a zone, and its refusal is shown.
   * @param {string} zone
   */
  function choose(zone) {
    if (!zones.includes(zone)) {
      zones.push(zone);
      select.append(el('option', { value: zone, text: zone }));
    }
    select.value = zone;
  }

  select.addEventListener('change', () => {
    quietly(() => {
      localStorage.setItem(STORAGE_KEY, select.value);
      return null;
    });
    for (const listener of listeners) listener(select.value);
  });
  choose(quietly(() => localStorage.getItem(STORAGE_KEY)) || browserZone);

  return {
    browserZone,
    choose,
    /** The zone chosen now. */
    value: () => select.value,
    /** @param {(zone: string) => void} listener called when the user picks another zone */
    onChange: (listener) => void listeners.push(listener),
  };
}

/** @typedef {ReturnType<typeof setupPageZone>} PageZone */

/**
 * Today in `tz`, as YYYY-MM-DD; '' when this browser does not know the zone.
 * @param {string} tz
 */
export function todayIn(tz) {
  try {
    return new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(new Date());
  } catch (error) {
    if (error instanceof RangeError) return '';
    throw error;
  }
}
