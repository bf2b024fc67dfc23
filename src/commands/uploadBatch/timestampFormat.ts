import {
  instantInZone,
  wallMillis,
  type Ambiguous,
  type TimestampReading,
  type TimeZone,
} from './parseTimestamp';

/**
 * The `timestampFormat` option: the one form every timestamp of an upload is written in, declared
 * because forms such as 02.03.2024 cannot be told apart by looking (2 March or 3 February). A small
 * token set, no more:
 *
 * - a date `DD.MM.YYYY`, `DD/MM/YYYY`, `MM/DD/YYYY` or `YYYY-MM-DD` (day, month and hour may have
 *   one digit), optionally followed by a space or `T` and `HH:mm` or `HH:mm:ss`; read as a wall
 *   time in the upload's timezone (so the option requires one). A date alone means 00:00 there.
 * - `epoch_us`: microseconds since 1970-01-01T00:00:00Z, digits only (sub-milliseconds dropped).
 */

export const TIMESTAMP_FORMAT_OPTION = 'timestampFormat';

export const TIMESTAMP_FORMATS_TEXT =
  'DD.MM.YYYY, DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD, optionally followed by " HH:mm" or " HH:mm:ss" ' +
  '(e.g. "DD.MM.YYYY HH:mm"), or epoch_us';

export interface TimestampFormat {
  /** The format as declared. */
  name: string;
  /** True when the values carry no zone, so the upload must name one. */
  zoneless: boolean;
  read(text: string, zone: TimeZone | undefined, ambiguous: Ambiguous | undefined): TimestampReading;
}

const DATES: Record<string, { pattern: string; order: ['y' | 'm' | 'd', 'y' | 'm' | 'd', 'y' | 'm' | 'd'] }> =
  {
    'DD.MM.YYYY': { pattern: String.raw`(\d{1,2})\.(\d{1,2})\.(\d{4})`, order: ['d', 'm', 'y'] },
    'DD/MM/YYYY': { pattern: String.raw`(\d{1,2})/(\d{1,2})/(\d{4})`, order: ['d', 'm', 'y'] },
    'MM/DD/YYYY': { pattern: String.raw`(\d{1,2})/(\d{1,2})/(\d{4})`, order: ['m', 'd', 'y'] },
    'YYYY-MM-DD': { pattern: String.raw`(\d{4})-(\d{1,2})-(\d{1,2})`, order: ['y', 'm', 'd'] },
  };
const DECLARED = /^(DD\.MM\.YYYY|DD\/MM\/YYYY|MM\/DD\/YYYY|YYYY-MM-DD)(?:([ T])HH:mm(:ss)?)?$/;
const DIGITS = /^\d{1,19}$/;

const epochMicros: TimestampFormat = {
  name: 'epoch_us',
  zoneless: false,
  read(text) {
    if (!DIGITS.test(text)) {
      return { ok: false, message: 'does not match timestampFormat epoch_us (digits only)' };
    }
    return { ok: true, millis: Number(BigInt(text) / 1000n) };
  },
};

/** The declared format, or undefined when it is not one of the token set. */
export function timestampFormatNamed(declared: string): TimestampFormat | undefined {
  if (declared === 'epoch_us') return epochMicros;
  const m = DECLARED.exec(declared);
  const date = m?.[1] === undefined ? undefined : DATES[m[1]];
  if (m === null || date === undefined) return undefined;
  const [, , separator, seconds] = m;
  const time =
    separator === undefined
      ? ''
      : `${separator}(\\d{1,2}):(\\d{2})${seconds === undefined ? '' : ':(\\d{2})'}`;
  const matcher = new RegExp(`^${date.pattern}${time}$`);
  return {
    name: declared,
    zoneless: true,
    read(text, zone, ambiguous) {
      const parts = matcher.exec(text);
      if (parts === null) {
        return { ok: false, message: `does not match timestampFormat ${declared}` };
      }
      // Indexed, not sliced: a group the text did not reach (no seconds) is undefined.
      const numbers = [1, 2, 3, 4, 5, 6].map((at) => Number(parts[at] ?? 0));
      const of = (unit: 'y' | 'm' | 'd'): number => numbers[date.order.indexOf(unit)] ?? 0;
      const [hour = 0, minute = 0, second = 0] = numbers.slice(3);
      const wall = wallMillis([of('y'), of('m'), of('d')], [hour, minute, second, 0]);
      if (!wall.ok) return wall;
      if (zone === undefined) {
        const message = `has no zone: timestampFormat ${declared} is read in the zone the timezone option names`;
        return { ok: false, kind: 'noZone', message };
      }
      return instantInZone(wall.millis, zone, ambiguous);
    },
  };
}
