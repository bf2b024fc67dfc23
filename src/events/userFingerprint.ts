import { createHash, type Hash } from 'node:crypto';

/**
 * A user as metrics count them: the first 64 bits of HMAC-SHA256(key, userId), as an unsigned
 * bigint. Keyed, so that nobody who reads the log or a chunk document can recompute the
 * fingerprint of a guessed userId (a bare hash of an email address is found by hashing guesses).
 * Unique-user counts are distinct fingerprints, so they are exact unless two users share one:
 * among n users the chance that any two do is at most n²/2^65 (10 million users: 3 in a million),
 * and a collision can only make a count one lower. The key is in service_keys (userHashKey.ts).
 */
export type UserFingerprint = bigint;

/** Fingerprints of userIds under one key. */
export type FingerprintOf = (userId: string) => UserFingerprint;

const BLOCK_BYTES = 64;
/** Fingerprints remembered per function: an upload repeats its users many times over. */
const MEMO_SIZE = 50_000;

/**
 * HMAC-SHA256 with the inner and outer hash states computed once: each call copies them, which
 * saves two of the four compressions createHmac would run for a short userId.
 */
export function keyedDigest(key: Buffer): (message: string | Buffer) => Buffer {
  const block = Buffer.alloc(BLOCK_BYTES);
  (key.length > BLOCK_BYTES ? createHash('sha256').update(key).digest() : key).copy(block);
  const padded = (pad: number): Hash =>
    createHash('sha256').update(Buffer.from(block.map((byte) => byte ^ pad)));
  const inner = padded(0x36);
  const outer = padded(0x5c);
  return (message) => {
    const innerDigest = inner.copy().update(message).digest();
    return outer.copy().update(innerDigest).digest();
  };
}

export function createUserFingerprint(key: Buffer): FingerprintOf {
  const digest = keyedDigest(key);
  let memo = new Map<string, UserFingerprint>();
  return (userId) => {
    let fingerprint = memo.get(userId);
    if (fingerprint === undefined) {
      fingerprint = digest(Buffer.from(userId, 'utf8')).readBigUInt64BE(0);
      // Dropped whole when full: cheaper than an LRU, and a cold start costs one digest per user.
      if (memo.size >= MEMO_SIZE) memo = new Map();
      memo.set(userId, fingerprint);
    }
    return fingerprint;
  };
}

/** The fingerprint as records and collections name a user: 16 hex digits. */
export function fingerprintHex(fingerprint: UserFingerprint): string {
  return fingerprint.toString(16).padStart(16, '0');
}
