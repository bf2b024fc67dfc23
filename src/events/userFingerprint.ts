import { createHash } from 'node:crypto';

/**
 * A user as metrics count them: the first 64 bits of SHA-256 of the userId, as an unsigned
 * bigint. Unique-user counts are distinct fingerprints, so they are exact unless two users share
 * one: among n users the chance that any two do is at most n²/2^65 (10 million users: 3 in a
 * million), and a collision can only make a count one lower.
 */
export type UserFingerprint = bigint;

export function userFingerprint(userId: string): UserFingerprint {
  return createHash('sha256').update(userId, 'utf8').digest().readBigUInt64BE(0);
}
