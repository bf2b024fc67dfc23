import { nextStartAfter } from '../../../src/workers/projectionWorker';

/** When a projector's next catch-up may start, from when its last one started and ended. */
describe('projector run pacing', () => {
  it('keeps 300 ms between the starts of quick catch-ups', () => {
    expect(nextStartAfter(1_000, 1_050)).toBe(1_300);
    expect(nextStartAfter(1_000, 1_150)).toBe(1_300);
  });

  it('rests as long as a slow catch-up took', () => {
    expect(nextStartAfter(1_000, 1_400)).toBe(1_800);
  });

  it('rests at most half a second, so a backlog is not held back long', () => {
    expect(nextStartAfter(1_000, 1_800)).toBe(2_300);
    expect(nextStartAfter(0, 5_000)).toBe(5_500);
  });
});
