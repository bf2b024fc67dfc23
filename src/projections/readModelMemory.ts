import type { PositionedDoc } from './projection';

/**
 * The read-model documents a live projector wrote, kept so that its next page need not read them
 * back (a series document of a busy month is about a megabyte: reading the documents a page
 * touches was half of what an erasure's page cost). It follows the rule LogMemory follows: it is
 * valid only while pages of one read model follow one another in this process. A page that does
 * not start where the last one ended (a restart, another process that held the lease meanwhile, a
 * page tried again after a failure) starts it afresh.
 *
 * A document remembered is exactly what is stored: the memory only holds what its own writes put
 * there, and a write planned from it is conditional on the remembered `lastPosition`. Should a
 * document have moved on anyway (a writer that lost its lease), that write throws
 * StaleReadModelMemoryError, and the projector forgets everything and plans the page again from the
 * database.
 *
 * A memory begun on a collection its writer created empty (a rebuild's fresh version: see
 * startEmpty) also knows which documents are not there, until it lets one go: then a page need not
 * even ask for the documents it is the first to write.
 */
export class ReadModelMemory {
  private collection = '';
  private next = 0;
  private docs = new Map<string, { doc: PositionedDoc; bytes: number }>();
  private bytes = 0;
  /** Every document of the collection is in `docs`: it was empty and nothing was let go since. */
  private complete = false;

  constructor(private readonly maxBytes: number) {}

  /**
   * Called before each page is planned: forgets everything unless it follows the last one that
   * ended. Until this page ends, none does: a page begun again (after a failure) starts afresh.
   */
  startPage(collection: string, first: number): void {
    const follows = collection === this.collection && first === this.next;
    this.next = -1;
    if (follows) return;
    this.forget();
    this.collection = collection;
  }

  /** Begins on a collection the caller just created empty, with its first page starting at `first`. */
  startEmpty(collection: string, first: number): void {
    this.forget();
    this.collection = collection;
    this.next = first;
    this.complete = true;
  }

  /** Called once a page's writes and checkpoint landed: the next page starts at `next`. */
  endPage(next: number): void {
    this.next = next;
  }

  private forget(): void {
    this.docs = new Map();
    this.bytes = 0;
    this.next = -1;
    this.complete = false;
  }

  /** The document as stored; null when it is known not to be; undefined when not known. */
  recall(id: string): PositionedDoc | null | undefined {
    const entry = this.docs.get(id);
    if (entry !== undefined) return entry.doc;
    return this.complete ? null : undefined;
  }

  /** Keeps a document just written, dropping the least recently written beyond the byte budget. */
  remember(doc: PositionedDoc, bytes: number): void {
    if (bytes > this.maxBytes) {
      this.drop(doc._id);
      return;
    }
    this.unset(doc._id);
    this.docs.set(doc._id, { doc, bytes });
    this.bytes += bytes;
    for (const id of this.docs.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(id);
    }
  }

  /** Knows that a document its writer deleted is not there. */
  deleted(id: string): void {
    this.unset(id);
  }

  /** Forgets a document (one another writer may have changed). */
  drop(id: string): void {
    this.complete = false;
    this.unset(id);
  }

  private unset(id: string): void {
    const entry = this.docs.get(id);
    if (entry === undefined) return;
    this.docs.delete(id);
    this.bytes -= entry.bytes;
  }
}

/** A write planned from memory found its document moved on: plan the page again from the database. */
export class StaleReadModelMemoryError extends Error {
  constructor(id: string) {
    super(`read model document ${id} moved on since this projector wrote it`);
    this.name = 'StaleReadModelMemoryError';
  }
}
