import { ReadModelMemory } from '../../../src/projections/readModelMemory';

const doc = (id: string, lastPosition = 1) => ({ _id: id, lastPosition });

/** A memory after one page of `series_v1` (positions 1-3) that wrote document `a`. */
function afterOnePage(): ReadModelMemory {
  const memory = new ReadModelMemory(1000);
  memory.startPage('series_v1', 1);
  memory.remember(doc('a', 3), 10);
  memory.endPage(4);
  return memory;
}

describe('ReadModelMemory', () => {
  it('keeps what was written while pages follow one another', () => {
    const memory = afterOnePage();
    memory.startPage('series_v1', 4);
    expect(memory.recall('a')).toEqual(doc('a', 3));
  });

  it.each([
    ['a page does not start where the last one ended', 'series_v1', 9],
    ['the page is for another collection (a rebuilt version)', 'series_v2', 4],
  ])('forgets everything when %s', (_case, collection, first) => {
    const memory = afterOnePage();
    memory.startPage(collection, first);
    expect(memory.recall('a')).toBeUndefined();
  });

  it('forgets a page begun again without having ended (tried again after a failure)', () => {
    const memory = afterOnePage();
    memory.startPage('series_v1', 4);
    memory.remember(doc('b', 5), 10);
    memory.startPage('series_v1', 4);
    expect(memory.recall('a')).toBeUndefined();
    expect(memory.recall('b')).toBeUndefined();
  });

  it('drops the least recently written beyond its byte budget, and never keeps a document bigger than it', () => {
    const memory = new ReadModelMemory(100);
    memory.startPage('series_v1', 1);
    memory.remember(doc('a'), 40);
    memory.remember(doc('b'), 40);
    memory.remember(doc('a', 2), 40);
    memory.remember(doc('c'), 40);
    expect(memory.recall('b')).toBeUndefined();
    expect(memory.recall('a')).toEqual(doc('a', 2));
    expect(memory.recall('c')).toEqual(doc('c'));
    memory.remember(doc('huge'), 101);
    expect(memory.recall('huge')).toBeUndefined();
    memory.drop('a');
    expect(memory.recall('a')).toBeUndefined();
  });

  describe('begun on a collection its writer created empty', () => {
    function begunEmpty(): ReadModelMemory {
      const memory = new ReadModelMemory(100);
      memory.startEmpty('series_v2', 1);
      memory.startPage('series_v2', 1);
      memory.remember(doc('a', 3), 40);
      memory.endPage(4);
      memory.startPage('series_v2', 4);
      return memory;
    }

    it('knows which documents are not there, while pages follow one another', () => {
      const memory = begunEmpty();
      expect(memory.recall('a')).toEqual(doc('a', 3));
      expect(memory.recall('b')).toBeNull();
    });

    it.each([
      [
        'it let a document go beyond its budget',
        (m: ReadModelMemory) => {
          m.remember(doc('b'), 80);
        },
      ],
      [
        'it was told to forget a document',
        (m: ReadModelMemory) => {
          m.drop('a');
        },
      ],
      [
        'a document was bigger than its budget',
        (m: ReadModelMemory) => {
          m.remember(doc('huge'), 101);
        },
      ],
      [
        'a page did not follow',
        (m: ReadModelMemory) => {
          m.startPage('series_v2', 9);
        },
      ],
    ])('no longer knows what is absent once %s', (_case, change) => {
      const memory = begunEmpty();
      change(memory);
      expect(memory.recall('never-written')).toBeUndefined();
    });
  });
});
