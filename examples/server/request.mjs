// Reading and checking a request's input: JSON { "x": number[][] } or raw little-endian
// float32 with an `x-shape: T,E` header. Every rejection is an HttpError whose message
// tells the client what was expected and what it sent.
import os from 'node:os';

export class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

// The raw body is copied byte for byte into a Float32Array, which has the host's byte
// order. Every platform the package ships for is little-endian; a big-endian host would
// need a DataView pass here.
if (os.endianness() !== 'LE') throw new Error('the binary request format assumes a little-endian host');

/**
 * Reads the body up to `limit` bytes. Beyond it: 413, and the rest is not read (the
 * server answers with Connection: close, so the socket is dropped, not drained).
 */
export function readBody(req, limit) {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new HttpError(413, `body too large: ${declared} bytes, the limit is ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new HttpError(413, `body too large: more than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Which input format a Content-Type names: 'json', 'binary', or an HttpError (415). */
export function inputFormat(contentType) {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/octet-stream') return 'binary';
  throw new HttpError(
    415,
    `content-type: expected application/json or application/octet-stream, got ${contentType ? JSON.stringify(contentType) : 'none'}`,
  );
}

function checkLength(T, maxTokens) {
  if (T < 1) throw new HttpError(400, 'x: expected at least 1 row (T >= 1), got 0');
  if (T > maxTokens) throw new HttpError(400, `x: expected at most ${maxTokens} rows (T <= ${maxTokens}), got ${T}`);
}

/**
 * The `x-shape: T,E` header of a binary request, checked before the body is read so a
 * wrong request costs no upload. Returns T.
 */
export function binaryShape(header, E, maxTokens) {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(header ?? '');
  if (!m) throw new HttpError(400, `x-shape: expected "T,${E}" (two integers), got ${header ? JSON.stringify(header) : 'none'}`);
  const T = Number(m[1]);
  const features = Number(m[2]);
  if (features !== E) throw new HttpError(400, `x-shape: expected T,${E} (feature size ${E}), got ${T},${features}`);
  checkLength(T, maxTokens);
  return T;
}

/** Float32 rows from a binary body of T·E little-endian float32 values. */
export function parseBinary(body, T, E) {
  const expected = T * E * 4;
  if (body.length !== expected) {
    throw new HttpError(400, `body: expected ${expected} bytes (${T}·${E} float32), got ${body.length}`);
  }
  // A copy: the body may sit at any offset of Node's buffer pool, and the batcher keeps x.
  const x = new Float32Array(T * E);
  new Uint8Array(x.buffer).set(body);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new HttpError(400, `x[${Math.floor(i / E)}][${i % E}]: expected a finite number, got ${x[i]}`);
    }
  }
  return x;
}

/** Float32 rows from a JSON body { "x": [[...E numbers], ...T rows] }. Returns { x, T }. */
export function parseJson(body, E, maxTokens) {
  let doc;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body: not valid JSON (${err.message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new HttpError(400, 'body: expected a JSON object { "x": [[number, ...], ...] }');
  }
  const rows = doc.x;
  if (!Array.isArray(rows)) throw new HttpError(400, `x: expected an array of T rows of ${E} numbers, got ${kind(rows)}`);
  const T = rows.length;
  checkLength(T, maxTokens);
  const x = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    const row = rows[t];
    if (!Array.isArray(row) || row.length !== E) {
      throw new HttpError(
        400,
        `x[${t}]: expected ${E} numbers (feature size ${E}), got ${Array.isArray(row) ? `${row.length}` : kind(row)}`,
      );
    }
    for (let e = 0; e < E; e++) {
      const v = row[e];
      // Checked after rounding to float32: 1e39 is a finite double but an infinite float32.
      x[t * E + e] = v;
      if (typeof v !== 'number' || !Number.isFinite(x[t * E + e])) {
        throw new HttpError(400, `x[${t}][${e}]: expected a finite number (float32), got ${JSON.stringify(v) ?? kind(v)}`);
      }
    }
  }
  return { x, T };
}

function kind(v) {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
