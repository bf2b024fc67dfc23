import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { ValidationError } from '../errors';
import { parseCsvToSpool, type ParsedUpload } from '../commands/uploadBatch/parseCsv';
import { TimeZone, TIMEZONE_OPTION } from '../commands/uploadBatch/parseTimestamp';
import { newSpoolPath, removeSpool, SpoolWriter } from '../commands/uploadBatch/spool';
import { echoed } from '../commands/uploadBatch/validateRow';

/** What the storage engine learnt about the uploaded file, for the route to pass on. */
export interface SpooledUpload extends ParsedUpload {
  spoolPath: string;
  /** The timezone option the file was read with, if any. */
  timezone: string | undefined;
}

/**
 * The upload's timezone option: the query parameter, or a form field sent before the file (the
 * file is read as it arrives, so a field after it comes too late; the route refuses that).
 */
export function timezoneOption(req: Request): string | undefined {
  const fromQuery: unknown = req.query[TIMEZONE_OPTION];
  const body = req.body as Record<string, unknown> | undefined;
  const fromField: unknown = body?.[TIMEZONE_OPTION];
  if (fromQuery !== undefined && typeof fromQuery !== 'string') {
    throw new ValidationError(`The ${TIMEZONE_OPTION} option may be given once`);
  }
  if (fromField !== undefined && typeof fromField !== 'string') {
    throw new ValidationError(`The ${TIMEZONE_OPTION} option may be given once`);
  }
  if (fromQuery !== undefined && fromField !== undefined && fromQuery !== fromField) {
    throw new ValidationError(
      `The ${TIMEZONE_OPTION} option is given twice with different values ("${echoed(fromQuery)}" and "${echoed(fromField)}")`,
    );
  }
  const name = fromQuery ?? fromField;
  return name === undefined || name.trim() === '' ? undefined : name.trim();
}

/** The named zone, or a ValidationError saying what a zone name looks like. */
export function timeZoneNamed(name: string): TimeZone {
  const zone = TimeZone.named(name);
  if (zone === undefined) {
    throw new ValidationError(
      `${TIMEZONE_OPTION} "${echoed(name)}" is not an IANA time zone name; use one such as Europe/Berlin, America/New_York or UTC`,
    );
  }
  return zone;
}

/**
 * A multer storage engine that streams the file part straight into csv-parse and validation,
 * writing only validated events to a spool file; the CSV itself is never held in memory or on disk.
 */
export function csvSpoolStorage(
  spoolDir: string,
  /** Told when the file part passes multer's size limit, which multer itself reports only at the end. */
  onFileTooLarge: (req: Request) => void = () => undefined,
  /** MAX_UPLOAD_BYTES for what a gzip file decompresses to, and the error past it. */
  decompressed?: { maxBytes: number; tooLarge: () => Error },
): {
  storage: StorageEngine;
  spooled: (req: Request) => SpooledUpload | undefined;
  /** True when `error` came from reading the file here, not from multer's reading of the body. */
  failedHere: (req: Request, error: unknown) => boolean;
  /** The name the client gave the file part, once it has arrived (for the logs). */
  fileNameOf: (req: Request) => string | undefined;
  /**
   * The error for a timezone option that the file was not read with (a form field sent after the
   * file), or undefined.
   */
  lateTimezone: (req: Request) => ValidationError | undefined;
} {
  const readWith = new WeakMap<Request, string | undefined>();
  const names = new WeakMap<Request, string>();
  const results = new WeakMap<Request, SpooledUpload>();
  const failures = new WeakMap<Request, unknown>();
  const storage: StorageEngine = {
    _handleFile(req, file, callback) {
      names.set(req, file.originalname);
      file.stream.once('limit', () => {
        onFileTooLarge(req);
      });
      let timezone: string | undefined;
      let zone: TimeZone | undefined;
      try {
        timezone = timezoneOption(req);
        zone = timezone === undefined ? undefined : timeZoneNamed(timezone);
        readWith.set(req, timezone);
      } catch (error) {
        failures.set(req, error);
        file.stream.resume();
        callback(error);
        return;
      }
      const spoolPath = newSpoolPath(spoolDir);
      const spool = new SpoolWriter(spoolPath);
      const run = async (): Promise<void> => {
        try {
          const parsed = await parseCsvToSpool(file.stream, spool, {
            zone,
            fileName: file.originalname,
            maxBytes: decompressed?.maxBytes,
            tooLarge: decompressed?.tooLarge,
          });
          await spool.close();
          results.set(req, { ...parsed, spoolPath, timezone });
        } catch (error) {
          await spool.discard().catch(() => undefined);
          failures.set(req, error);
          callback(error);
          return;
        }
        callback(null, { path: spoolPath });
      };
      void run();
    },
    _removeFile(_req, file, callback) {
      void removeSpool(file.path)
        .catch(() => undefined)
        .then(() => {
          callback(null);
        });
    },
  };
  return {
    storage,
    spooled: (req) => results.get(req),
    failedHere: (req, error) => failures.get(req) === error,
    fileNameOf: (req) => names.get(req),
    lateTimezone: (req) => {
      if (!readWith.has(req)) return undefined;
      let now: string | undefined;
      try {
        now = timezoneOption(req);
      } catch (error) {
        return error instanceof ValidationError ? error : undefined;
      }
      if (now === readWith.get(req)) return undefined;
      return new ValidationError(
        `The ${TIMEZONE_OPTION} field came after the file, too late for its rows: send it before the file field ` +
          `(or as the query parameter ?${TIMEZONE_OPTION}=…)`,
      );
    },
  };
}
