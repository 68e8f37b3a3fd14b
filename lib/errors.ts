// Every message users see is made here, in one format:
//   query: expected shape [B, L, 512], got [2, 7, 500]
// TypeError for the wrong kind of thing, RangeError for a wrong value.

/** A short, safe description of any value, for "got ..." in messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an Array(${value.length})`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength})`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

export function typeError(arg: string, expected: string, got: unknown): TypeError {
  return new TypeError(`${arg}: expected ${expected}, got ${describe(got)}`);
}

export function rangeError(arg: string, expected: string, got: string): RangeError {
  return new RangeError(`${arg}: expected ${expected}, got ${got}`);
}

export function shapeError(arg: string, expected: readonly (number | string)[], got: readonly number[]): RangeError {
  return new RangeError(`${arg}: expected shape ${formatShape(expected)}, got ${formatShape(got)}`);
}
