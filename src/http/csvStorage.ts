import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { ValidationError } from '../errors';
import { parseCsvToSpool, type ParsedUpload } from '../commands/uploadBatch/parseCsv';
import type { ReadOptions } from '../commands/uploadBatch/readOptions';
import { newSpoolPath, removeSpool, SpoolWriter } from '../commands/uploadBatch/spool';
import { lateOptions, optionValues, readOptionsOf, type UploadOptionValues } from './uploadOptions';

/** What the storage engine learnt about the uploaded file, for the route to pass on. */
export interface SpooledUpload extends ParsedUpload {
  spoolPath: string;
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
   * The error for an upload option that the file was not read with (a form field sent after the
   * file), or undefined.
   */
  lateOption: (req: Request) => ValidationError | undefined;
} {
  const readWith = new WeakMap<Request, UploadOptionValues>();
  const names = new WeakMap<Request, string>();
  const results = new WeakMap<Request, SpooledUpload>();
  const failures = new WeakMap<Request, unknown>();
  const storage: StorageEngine = {
    _handleFile(req, file, callback) {
      names.set(req, file.originalname);
      file.stream.once('limit', () => {
        onFileTooLarge(req);
      });
      let options: ReadOptions;
      try {
        const values = optionValues(req);
        options = readOptionsOf(values);
        readWith.set(req, values);
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
            ...options,
            fileName: file.originalname,
            maxBytes: decompressed?.maxBytes,
            tooLarge: decompressed?.tooLarge,
          });
          await spool.close();
          results.set(req, { ...parsed, spoolPath });
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
    lateOption: (req) => {
      const before = readWith.get(req);
      if (before === undefined) return undefined;
      try {
        return lateOptions(before, optionValues(req));
      } catch (error) {
        return error instanceof ValidationError ? error : undefined;
      }
    },
  };
}
