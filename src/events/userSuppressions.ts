import type { Collection, Db } from 'mongodb';
import { fingerprintHex, type UserFingerprint } from './userFingerprint';

/**
 * Users whose events are no longer accepted: one document per erased user, keyed by the
 * fingerprint (never the userId). An event of such a user timed at or before `erasedAt` is dropped
 * before it is stored (a re-upload of erased events does not bring them back); later ones too when
 * the erasure asked for `all` (suppress: true).
 *
 * Read exactly, with no cache: every part an upload inserts (up to PART_EVENTS events) asks once
 * for the fingerprints it holds (`_id: {$in: [...]}`), so an entry written by an erasure in another
 * process applies to every part inserted after it (the erasure waits for the parts already past
 * their check: the uploads still storing when it began).
 */

export const USER_SUPPRESSIONS_COLLECTION = 'user_suppressions';

export interface UserSuppression {
  /** The user's fingerprint, 16 hex digits. */
  _id: string;
  erasedAt: Date;
  all: boolean;
}

export function userSuppressions(db: Db): Collection<UserSuppression> {
  return db.collection<UserSuppression>(USER_SUPPRESSIONS_COLLECTION);
}

/** Writes (or widens) a user's suppression; idempotent, so an erasure resumed writes it again. */
export async function suppressUser(
  suppressions: Collection<UserSuppression>,
  entry: UserSuppression,
): Promise<void> {
  await suppressions.updateOne(
    { _id: entry._id },
    // A later erasure moves the boundary on; `all` once asked stays.
    {
      $max: { erasedAt: entry.erasedAt },
      ...(entry.all ? { $set: { all: true } } : { $setOnInsert: { all: false } }),
    },
    { upsert: true },
  );
}

/** Tells whether an event is suppressed; one query for all the users of `users`. */
export async function suppressionCheck(
  suppressions: Collection<UserSuppression>,
  users: Iterable<UserFingerprint>,
): Promise<(user: UserFingerprint, utcMillis: number) => boolean> {
  const ids = [...new Set([...users].map(fingerprintHex))];
  const found = ids.length === 0 ? [] : await suppressions.find({ _id: { $in: ids } }).toArray();
  if (found.length === 0) return () => false;
  const byUser = new Map(found.map((entry) => [entry._id, entry]));
  return (user, utcMillis) => {
    const entry = byUser.get(fingerprintHex(user));
    return entry !== undefined && (entry.all || utcMillis <= entry.erasedAt.getTime());
  };
}
