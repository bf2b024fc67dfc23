import { randomBytes } from 'node:crypto';
import { Binary, type Db } from 'mongodb';
import { bytesOfBinary, isDuplicateKey } from '../mongo';
import { keyedDigest } from './userFingerprint';

/**
 * The key of user fingerprints. USER_HASH_KEY when set; else a random key made once by whichever
 * process starts first and kept in `service_keys` (insert-if-absent, so every process agrees).
 * Either way the document holds a check value, HMAC(key, CHECK_MESSAGE): every fingerprint stored
 * so far was made with that key, so a process holding another one would count every user twice
 * and could not find a user to erase. It refuses to start instead.
 */

export const SERVICE_KEYS_COLLECTION = 'service_keys';
const USER_HASH_ID = 'userHash';
const CHECK_MESSAGE = 'event-metrics user fingerprint key check';

interface KeyDoc {
  _id: string;
  /** Present only when the service generated the key (USER_HASH_KEY unset at the first start). */
  key?: Binary;
  check: string;
  createdAt: Date;
}

export class UserHashKeyMismatchError extends Error {}

function checkOf(key: Buffer): string {
  return keyedDigest(key)(CHECK_MESSAGE).toString('hex');
}

/** The key every fingerprint is made with; throws UserHashKeyMismatchError when `configured` is not it. */
export async function resolveUserHashKey(db: Db, configured: string | undefined): Promise<Buffer> {
  const keys = db.collection<KeyDoc>(SERVICE_KEYS_COLLECTION);
  const candidate = configured === undefined ? randomBytes(32) : Buffer.from(configured, 'utf8');
  const fresh: KeyDoc = {
    _id: USER_HASH_ID,
    ...(configured === undefined ? { key: new Binary(candidate) } : {}),
    check: checkOf(candidate),
    createdAt: new Date(),
  };
  try {
    await keys.insertOne(fresh);
    return candidate;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const stored = await keys.findOne({ _id: USER_HASH_ID });
  if (stored === null) throw new Error('service_keys: the user hash key vanished while it was read');
  if (configured === undefined) {
    if (stored.key === undefined) {
      throw new UserHashKeyMismatchError(
        'USER_HASH_KEY is not set, but the stored data was written with a configured USER_HASH_KEY: set it again',
      );
    }
    const key = Buffer.from(bytesOfBinary(stored.key));
    if (checkOf(key) !== stored.check) throw new Error('service_keys: the stored user hash key is damaged');
    return key;
  }
  if (stored.check !== fresh.check) {
    throw new UserHashKeyMismatchError(
      'USER_HASH_KEY does not match the key the stored data was written with' +
        (stored.key === undefined ? '' : ' (a key the service generated; unset USER_HASH_KEY to use it)'),
    );
  }
  return candidate;
}
