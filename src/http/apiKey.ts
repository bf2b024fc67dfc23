import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../errors';

export const API_KEY_HEADER = 'X-API-Key';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Admin endpoints want the key in the X-API-Key header only (a query string ends up in logs).
 * Both sides are hashed first, so timingSafeEqual compares equal-length buffers and the time taken
 * says nothing about the key's length or content.
 */
export function requireApiKey(expected: string): RequestHandler {
  const expectedDigest = digest(expected);
  return (req, _res, next) => {
    const given = req.get(API_KEY_HEADER);
    if (given === undefined || !timingSafeEqual(digest(given), expectedDigest)) {
      next(new UnauthorizedError(`A valid ${API_KEY_HEADER} header is required`));
      return;
    }
    next();
  };
}
