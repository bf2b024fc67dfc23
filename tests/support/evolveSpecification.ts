/**
 * Given / when / then for the pure evolve functions of the read models, in the style of Emmett's
 * DeciderSpecification: `given` a history of records, `when` one more record arrives, `then` the
 * state is this one (or `thenUnchanged`). An evolve function answers null for "nothing to apply",
 * which leaves the state as it was, exactly as the projector folds the log.
 */
export function evolveSpecification<State, Record>(
  evolve: (state: State | null, record: Record) => State | null,
) {
  const fold = (records: readonly Record[]): State | null =>
    records.reduce<State | null>((state, record) => evolve(state, record) ?? state, null);
  return {
    given(...history: Record[]) {
      return {
        when(record: Record) {
          const before = fold(history);
          const after = evolve(before, record) ?? before;
          return {
            then(expected: State | null): void {
              expect(after).toEqual(expected);
            },
            thenUnchanged(): void {
              expect(after).toEqual(before);
            },
            /** For a state that depends on the record's time: checks the fields named. */
            thenMatches(expected: Partial<State>): void {
              expect(after).toMatchObject(expected);
            },
          };
        },
      };
    },
  };
}
