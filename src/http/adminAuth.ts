import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../errors';

export const API_KEY_HEADER = 'X-API-Key';

// Comparing fixed-length digests keeps the time independent of where (or whether) the keys differ,
// including their lengths, which timingSafeEqual on the raw strings would reveal.
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Lets a request through only with the admin key in X-API-Key; otherwise 401 via errorMapping. */
export function requireAdminApiKey(apiKey: string): RequestHandler {
  const expected = digest(apiKey);
  return (req, _res, next) => {
    const given = req.get(API_KEY_HEADER);
    if (given === undefined || given === '') {
      next(new UnauthorizedError(`The ${API_KEY_HEADER} header is required`));
      return;
    }
    if (!timingSafeEqual(digest(given), expected)) {
      next(new UnauthorizedError(`The ${API_KEY_HEADER} header is not valid`));
      return;
    }
    next();
  };
}
