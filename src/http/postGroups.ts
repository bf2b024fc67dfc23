import type { UploadBatch, UploadBatchResult } from '../commands/uploadBatch/uploadBatch';
import { newSpoolPath, removeSpool, SpoolWriter } from '../commands/uploadBatch/spool';
import type { ValidEvent } from '../commands/uploadBatch/validateRow';
import { ServiceBusyError } from '../errors';
import type { Logger } from '../logging';

/**
 * Group commit for POST /api/events. Posts that arrive while a group waits for a store slot, or
 * within `windowMs` of its first post, share one spool, one UploadBatch (one batch, named in each
 * answer) and one processing request, so a post of ten events does not pay the whole upload
 * protocol by itself. Each answer keeps its own exact counts: an event the batch stored is new for
 * the first post of the group that holds it and a duplicate for any later one; every other event is
 * a duplicate.
 *
 *   post validated ─► joins the open group (or opens one; a full group is sealed first)
 *     ─► window over and a store slot free: the group is sealed and stored ─► processing requested
 *     ─► each post answered with its own counts (or every post with the group's error)
 */

export interface PostGroupsDeps {
  uploadBatch: UploadBatch;
  spoolDir: string;
  logger: Logger;
  /** How long a group stays open for more posts after its first (EVENTS_GROUP_WINDOW_MS). */
  windowMs: number;
  /** Events one group may hold (EVENTS_GROUP_MAX_EVENTS); a bigger post is stored alone. */
  maxEvents: number;
  /** Events accepted but not yet stored before posts get 503 (EVENTS_MAX_WAITING). */
  maxWaiting: number;
  /** Groups being stored at once by this process. */
  storesInFlight: number;
}

export type PostResult = UploadBatchResult & { processingStarted: boolean };

interface Post {
  events: readonly ValidEvent[];
  correlationId: string;
  resolve: (result: PostResult) => void;
  reject: (error: unknown) => void;
}

interface Group {
  posts: Post[];
  events: number;
  ready: boolean;
}

export const POSTS_BATCH_NAME = 'POST /api/events';
const BUSY_RETRY_AFTER_SECONDS = 2;

/**
 * Each post's own counts from the keys the group's batch stored, first post first. An erased
 * user's event is suppressed in every post that holds it (`suppressed` may be left out).
 */
export function countPerPost(
  posts: readonly { events: readonly ValidEvent[] }[],
  stored: Set<string>,
  suppressed: ReadonlySet<string> = new Set(),
) {
  return posts.map(({ events }) => {
    let newEvents = 0;
    let suppressedEvents = 0;
    for (const { key } of events) {
      if (stored.delete(key)) newEvents += 1;
      else if (suppressed.has(key)) suppressedEvents += 1;
    }
    return { newEvents, duplicates: events.length - newEvents - suppressedEvents, suppressedEvents };
  });
}

export function createPostGroups(deps: PostGroupsDeps) {
  const waitingGroups: Group[] = [];
  let open: Group | undefined;
  let waitingEvents = 0;
  let storing = 0;

  async function store(group: Group): Promise<void> {
    const correlationId = group.posts[0]?.correlationId ?? 'group';
    const spoolPath = newSpoolPath(deps.spoolDir);
    try {
      const spool = new SpoolWriter(spoolPath);
      for (const post of group.posts) for (const event of post.events) await spool.write(event);
      await spool.close();
      const stored = new Set<string>();
      const suppressed = new Set<string>();
      const startedAt = performance.now();
      const result = await deps.uploadBatch({
        spoolPath,
        fileName: POSTS_BATCH_NAME,
        totalRows: group.events,
        correlationId,
        onNewEvents: (keys) => {
          for (const key of keys) stored.add(key);
        },
        onSuppressedEvents: (keys) => {
          for (const key of keys) suppressed.add(key);
        },
        process: true,
      });
      const processingStarted = result.processingStarted === true;
      const counts = countPerPost(group.posts, stored, suppressed);
      group.posts.forEach((post, i) => {
        const own = counts[i] ?? { newEvents: 0, duplicates: post.events.length, suppressedEvents: 0 };
        post.resolve({ batchId: result.batchId, ...own, processingStarted });
      });
      deps.logger.info('posts stored together', {
        correlationId,
        batchId: result.batchId,
        posts: group.posts.length,
        // Each post's own request id, so that every client's id finds the group its events went to.
        correlationIds: group.posts.map((post) => post.correlationId),
        events: group.events,
        storeMs: Math.round(performance.now() - startedAt),
      });
    } catch (error) {
      for (const post of group.posts) post.reject(error);
    } finally {
      await removeSpool(spoolPath).catch(() => undefined);
    }
  }

  function next(): void {
    while (storing < deps.storesInFlight && waitingGroups[0]?.ready === true) {
      const group = waitingGroups.shift() as Group;
      if (group === open) open = undefined;
      storing += 1;
      void store(group).finally(() => {
        storing -= 1;
        waitingEvents -= group.events;
        next();
      });
    }
  }

  function seal(group: Group): void {
    group.ready = true;
    next();
  }

  /** Stores a post's validated events with those of the posts around it; answers its own counts. */
  function submit(events: readonly ValidEvent[], correlationId: string): Promise<PostResult> {
    if (waitingEvents + events.length > deps.maxWaiting && waitingEvents > 0) {
      throw new ServiceBusyError(
        `The database is behind: ${waitingEvents} posted events are waiting to be stored; retry in ${BUSY_RETRY_AFTER_SECONDS} s`,
        BUSY_RETRY_AFTER_SECONDS,
      );
    }
    if (open !== undefined && open.events + events.length > deps.maxEvents) {
      seal(open);
      open = undefined;
    }
    if (open === undefined) {
      const group: Group = { posts: [], events: 0, ready: false };
      open = group;
      waitingGroups.push(group);
      setTimeout(() => {
        seal(group);
      }, deps.windowMs);
    }
    waitingEvents += events.length;
    const group = open;
    return new Promise<PostResult>((resolve, reject) => {
      group.posts.push({ events, correlationId, resolve, reject });
      group.events += events.length;
    });
  }

  return { submit };
}

export type PostGroups = ReturnType<typeof createPostGroups>;
