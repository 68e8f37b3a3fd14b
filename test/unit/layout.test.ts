import { describe, expect, it } from 'vitest';
import { broadcastStrides, sizeOf, stridesOf } from '../../lib/layout';
import { MAX_ELEMENTS } from '../../lib/limits';

describe('layout', () => {
  it('sizeOf multiplies dimensions and refuses sizes beyond MAX_ELEMENTS', () => {
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([])).toBe(1);
    expect(() => sizeOf([2 ** 21, 2 ** 21], 'query')).toThrow(RangeError);
    expect(() => sizeOf([2 ** 21, 2 ** 21], 'query')).toThrow(/query: expected at most 1099511627776 elements/);
    expect(sizeOf([2 ** 20, 2 ** 20])).toBe(MAX_ELEMENTS);
  });

  it('stridesOf gives row-major element strides', () => {
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(stridesOf([5])).toEqual([1]);
  });

  it.each([
    { shape: [7], target: [2, 3, 5, 7], want: [0, 0, 0, 1] },
    { shape: [5, 7], target: [2, 3, 5, 7], want: [0, 0, 7, 1] },
    { shape: [2, 1, 1, 7], target: [2, 3, 5, 7], want: [7, 0, 0, 1] },
    { shape: [3, 5, 7], target: [2, 3, 5, 7], want: [0, 35, 7, 1] },
    { shape: [2, 3, 5, 7], target: [2, 3, 5, 7], want: [105, 35, 7, 1] },
    { shape: [1, 1, 5, 1], target: [2, 3, 5, 7], want: [0, 0, 1, 0] },
    { shape: [1], target: [2, 3, 5, 7], want: [0, 0, 0, 0] },
    // a size-1 target axis: the stride is irrelevant and reported as 0
    { shape: [1, 1], target: [1, 1, 1, 1], want: [0, 0, 0, 0] },
  ])('broadcastStrides($shape → $target)', ({ shape, target, want }) => {
    expect(broadcastStrides(shape, target)).toEqual(want);
  });

  it.each([
    [[6], [2, 3, 5, 7]],
    [
      [3, 7],
      [2, 3, 5, 7],
    ],
    [
      [1, 2, 3, 5, 7],
      [2, 3, 5, 7],
    ],
  ])('broadcastStrides refuses %j → %j', (shape, target) => {
    expect(broadcastStrides(shape, target)).toBeNull();
  });
});
