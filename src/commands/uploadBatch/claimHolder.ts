import type { Logger } from '../../logging';
import { DependencyUnavailableError } from '../../errors';
import type { BatchClaims } from './batchClaims';

/**
 * Keeps one upload's claim alive while it works. Its heartbeat is renewed every few seconds; once
 * the last renewal that landed is older than half the expiry, the upload stops writing: by the full
 * expiry anyone may declare the claim abandoned and delete its events.
 */
export class ClaimHolder {
  private lastBeat: number;
  private readonly timer: NodeJS.Timeout;
  private beating = false;

  constructor(
    private readonly claims: BatchClaims,
    readonly batchId: string,
    private readonly holder: string,
    private readonly expiryMs: number,
    private readonly logger: Logger,
  ) {
    this.lastBeat = Date.now();
    this.timer = setInterval(
      () => {
        void this.beat();
      },
      Math.max(50, Math.min(2000, Math.floor(expiryMs / 8))),
    );
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    const started = Date.now();
    try {
      await this.claims.heartbeat(this.batchId, this.holder);
      this.lastBeat = Math.max(this.lastBeat, started);
    } catch (error) {
      this.logger.debug('could not renew an upload claim', { batchId: this.batchId, err: String(error) });
    } finally {
      this.beating = false;
    }
  }

  /** Throws when the claim may have expired: stop writing. */
  check(): void {
    if (Date.now() - this.lastBeat > this.expiryMs / 2) {
      throw new DependencyUnavailableError(
        'mongo',
        'The upload could not keep its claim to store events alive; retry it',
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
