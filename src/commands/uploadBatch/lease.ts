import { DependencyUnavailableError } from '../../errors';
import type { Logger } from '../../logging';
import type { LiveSessionState, UploadSessions } from './uploadSessions';

/**
 * Keeps an upload's session alive while it works. If renewals stop succeeding for most of a
 * lease, another upload may already treat this one as dead and purge its events, so the upload
 * must stop instead of committing.
 */
export class Lease {
  private lastRenewed = Date.now();
  private lost = false;
  private busy = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sessions: UploadSessions,
    private readonly batchId: string,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(
      () => {
        void this.beat();
      },
      Math.max(50, Math.floor(sessions.leaseMs / 4)),
    );
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.busy || this.lost) return;
    this.busy = true;
    try {
      await this.renew();
    } catch (error) {
      this.logger.debug('upload lease renewal failed', { batchId: this.batchId, err: String(error) });
    } finally {
      this.busy = false;
    }
  }

  /** Renews now (optionally moving to another state); throws if the session is gone. */
  async renew(state?: LiveSessionState): Promise<void> {
    const started = Date.now();
    if (!(await this.sessions.renew(this.batchId, state))) this.lost = true;
    else if (!this.lost) this.lastRenewed = started;
    this.check();
  }

  check(): void {
    const stale = Date.now() - this.lastRenewed > this.sessions.leaseMs * 0.75;
    if (this.lost || stale) {
      this.lost = true;
      throw new DependencyUnavailableError('mongo', 'The upload lost its lease on the database; retry it');
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
