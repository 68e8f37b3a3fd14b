// Just enough of Vitest's API (describe, it, it.each, it.fails, describe.each, expect and
// the matchers our suites use) to run unmodified test files, transpiled to CommonJS, in a
// plain Node.js — for the emulated arm64 run, where Vitest itself is too heavy (and
// Debian's Node 18 too old for it).
//   node vitest-lite.cjs [--grep-out REGEX] file.test.js ...
'use strict';
const util = require('node:util');

const tests = [];
const prefix = [];

function format(title, row, index) {
  const args = Array.isArray(row) ? row : [row];
  let i = 0;
  let out = title.replace(/%[sdifjo#%]/g, (f) => {
    if (f === '%%') return '%';
    if (f === '%#') return String(index);
    const v = args[i++];
    return f === '%s' ? String(v) : f === '%j' || f === '%o' ? JSON.stringify(v) : String(Number(v));
  });
  if (row && typeof row === 'object' && !Array.isArray(row)) {
    out = out.replace(/\$([\w.]+)/g, (_m, p) => {
      let v = row;
      for (const k of p.split('.')) v = v == null ? undefined : v[k];
      return typeof v === 'string' ? v : util.inspect(v, { depth: 0 });
    });
  }
  return out;
}
const eachOf = (register) => (table) => (title, fn) => {
  for (const [i, row] of table.entries()) register(format(title, row, i), () => (Array.isArray(row) ? fn(...row) : fn(row)));
};

function describe(title, fn) {
  prefix.push(title);
  try {
    fn();
  } finally {
    prefix.pop();
  }
}
describe.each = eachOf(describe);
function it(title, fn) {
  tests.push({ name: [...prefix, title].join(' > '), fn });
}
it.each = eachOf(it);
it.fails = (title, fn) => tests.push({ name: [...prefix, title].join(' > '), fn, fails: true });
const test = it;

// ---- expect -----------------------------------------------------------------------------
const isAsymmetric = (v) => v != null && typeof v.asymmetricMatch === 'function';
const tag = (v) => Object.prototype.toString.call(v);

function equals(a, b) {
  if (isAsymmetric(b)) return b.asymmetricMatch(a);
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (tag(a) !== tag(b)) return false;
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equals(a[i], b[i])) return false;
    return true;
  }
  const keys = (o) => Object.keys(o).filter((k) => o[k] !== undefined);
  const ka = keys(a);
  const kb = keys(b);
  return ka.length === kb.length && kb.every((k) => Object.hasOwn(a, k) && equals(a[k], b[k]));
}

const show = (v) => util.inspect(v, { depth: 3, maxArrayLength: 20, breakLength: Infinity });

function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return { err };
  }
  return null;
}

function matchesError(err, expected) {
  if (expected === undefined) return true;
  const message = err && err.message !== undefined ? String(err.message) : String(err);
  if (typeof expected === 'string') return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  if (typeof expected === 'function') return err instanceof expected;
  if (expected instanceof Error) return message === expected.message;
  throw new Error(`toThrow(${show(expected)}): unsupported`);
}

const MATCHERS = {
  toBe: (a, e) => [Object.is(a, e), `expected ${show(a)} to be ${show(e)}`],
  toEqual: (a, e) => [equals(a, e), `expected ${show(a)} to equal ${show(e)}`],
  toBeNull: (a) => [a === null, `expected ${show(a)} to be null`],
  toBeUndefined: (a) => [a === undefined, `expected ${show(a)} to be undefined`],
  toBeDefined: (a) => [a !== undefined, `expected ${show(a)} to be defined`],
  toBeTruthy: (a) => [!!a, `expected ${show(a)} to be truthy`],
  toBeFalsy: (a) => [!a, `expected ${show(a)} to be falsy`],
  toBeNaN: (a) => [Number.isNaN(a), `expected ${show(a)} to be NaN`],
  toBeLessThan: (a, e) => [a < e, `expected ${show(a)} to be < ${show(e)}`],
  toBeLessThanOrEqual: (a, e) => [a <= e, `expected ${show(a)} to be <= ${show(e)}`],
  toBeGreaterThan: (a, e) => [a > e, `expected ${show(a)} to be > ${show(e)}`],
  toBeGreaterThanOrEqual: (a, e) => [a >= e, `expected ${show(a)} to be >= ${show(e)}`],
  toBeInstanceOf: (a, e) => [a instanceof e, `expected ${show(a)} to be an instance of ${e?.name}`],
  toMatch: (a, e) => [
    typeof e === 'string' ? String(a).includes(e) : e.test(String(a)),
    `expected ${show(a)} to match ${show(e)}`,
  ],
  toContain: (a, e) => [
    a != null && (typeof a === 'string' ? a.includes(e) : Array.from(a).includes(e)),
    `expected ${show(a)} to contain ${show(e)}`,
  ],
  toHaveLength: (a, e) => [a != null && a.length === e, `expected length ${a?.length} to be ${e}`],
  toHaveProperty: (a, key, ...value) => {
    const has = a != null && key in Object(a);
    const ok = has && (value.length === 0 || equals(a[key], value[0]));
    return [ok, `expected ${show(a)} to have property ${key}${value.length ? ` = ${show(value[0])}` : ''}`];
  },
  toThrow: (fn, e) => {
    const t = thrown(fn);
    return [
      !!t && matchesError(t.err, e),
      t ? `expected the error ${show(t.err)} to match ${show(e)}` : 'expected a throw, got none',
    ];
  },
};
MATCHERS.toThrowError = MATCHERS.toThrow;

class AssertionError extends Error {}

function expect(actual, message) {
  const build = (negate) => {
    const out = {};
    for (const [name, m] of Object.entries(MATCHERS)) {
      out[name] = (...args) => {
        const [pass, text] = m(actual, ...args);
        if (pass === negate) throw new AssertionError(`${message ? `${message}: ` : ''}${negate ? 'NOT: ' : ''}${text}`);
      };
    }
    return out;
  };
  const chain = build(false);
  chain.not = build(true);
  chain.rejects = {
    toThrow: async (e) => {
      try {
        await actual;
      } catch (err) {
        if (!matchesError(err, e)) throw new AssertionError(`rejected with ${show(err)}, expected ${show(e)}`);
        return;
      }
      throw new AssertionError('expected a rejection');
    },
  };
  return chain;
}
expect.closeTo = (expected, digits = 2) => ({
  asymmetricMatch: (a) => typeof a === 'number' && Math.abs(a - expected) < 10 ** -digits / 2,
  [util.inspect.custom]: () => `closeTo(${expected}, ${digits})`,
});

const unsupported = (name) => () => {
  throw new Error(`vitest-lite: ${name} is not supported; keep such files out of the emulated run`);
};
module.exports = { describe, it, test, expect, beforeAll: unsupported('beforeAll'), afterAll: unsupported('afterAll') };

// ---- runner -----------------------------------------------------------------------------
async function main() {
  const args = process.argv.slice(2);
  const gi = args.indexOf('--grep-out');
  const skip = gi >= 0 ? new RegExp(args.splice(gi, 2)[1]) : null;
  const started = Date.now();
  let passed = 0;
  let skipped = 0;
  const failed = [];
  for (const file of args) {
    tests.length = 0;
    require(require('node:path').resolve(file));
    for (const t of tests) {
      if (skip?.test(t.name)) {
        skipped++;
        continue;
      }
      let err = null;
      try {
        await t.fn();
      } catch (e) {
        err = e;
      }
      if (t.fails) err = err ? null : new AssertionError('expected to fail (it.fails), but passed');
      if (err)
        failed.push(
          `${file} > ${t.name}\n    ${String(err?.stack ? err.stack : err)
            .split('\n')
            .slice(0, 4)
            .join('\n    ')}`,
        );
      else passed++;
    }
  }
  for (const f of failed) console.log(`✗ ${f}`);
  console.log(`${passed} passed, ${failed.length} failed, ${skipped} skipped (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(failed.length ? 1 : 0);
}
if (require.main === module) main();
