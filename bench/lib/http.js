'use strict';

const { randomUUID } = require('node:crypto');
const { Pool } = require('undici');

function pool(origin, connections) {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    // generous: a slow answer is a latency to report, not an error
    headersTimeout: 180_000,
    bodyTimeout: 180_000,
    connectTimeout: 30_000,
  });
}

/**
 * One request. Resolves (never rejects) with {status, ms, body, code}: status 0 for a
 * network error; body is the parsed JSON when there is one.
 */
async function send(
  client,
  { method = 'GET', path, authorization, body, idempotencyKey = false, recorder },
) {
  const headers = { accept: 'application/json' };
  if (authorization) headers.authorization = authorization;
  let payload;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  if (idempotencyKey)
    headers['idempotency-key'] = idempotencyKey === true ? randomUUID() : idempotencyKey;
  const t0 = performance.now();
  let status = 0;
  let parsed;
  let code;
  try {
    const res = await client.request({ method, path, headers, body: payload });
    status = res.statusCode;
    const text = await res.body.text();
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (status >= 400) code = parsed && typeof parsed === 'object' ? parsed.code : undefined;
  } catch (error) {
    code = error.code ?? error.name;
    parsed = { error: error.message };
  }
  const ms = performance.now() - t0;
  recorder?.record(ms, status, code, parsed?.message ?? parsed?.error);
  return { status, ms, body: parsed, code, doneAt: performance.now() };
}

/** Opens up to `n` keep-alive connections before a timed burst, so the burst measures requests, not handshakes. */
async function warm(client, n) {
  await Promise.all(Array.from({ length: n }, () => send(client, { path: '/health/live' })));
}

/** Runs `worker(i)` in `concurrency` loops until it returns false or `until()` says stop. */
async function loops(concurrency, worker) {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (await worker(lane)) {
        // the worker does the work
      }
    }),
  );
}

module.exports = { pool, send, warm, loops };
