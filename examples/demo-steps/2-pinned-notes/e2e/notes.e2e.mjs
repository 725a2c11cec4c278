// End-to-end suite for the notes service, run against a live environment:
//   BASE_URL=http://127.0.0.1:4100 node e2e/notes.e2e.mjs
// Walks a note through create → read → list → pin → update → delete. Prints one line per step and
// exits 1 with a clear message at the first failure (Airlock's command check reports it).

const baseUrl = process.env.BASE_URL?.replace(/\/+$/, '');
if (!baseUrl) {
  console.error('✗ BASE_URL is not set (e.g. BASE_URL=http://127.0.0.1:4100)');
  process.exit(1);
}

class StepFailure extends Error {}

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    throw new StepFailure(
      `${method} ${path} did not answer: ${error.cause?.code ?? error.message}`,
    );
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON; `expectStatus` shows the raw text.
  }
  return { status: response.status, json, text, label: `${method} ${path}` };
}

function expectStatus(res, status) {
  if (res.status !== status) {
    throw new StepFailure(
      `${res.label} → ${res.status}, expected ${status}: ${res.text.slice(0, 200)}`,
    );
  }
}

function expectEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new StepFailure(
      `${what} was ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`,
    );
  }
}

let current = '';
let createdId = null;

async function step(name, fn) {
  current = name;
  await fn();
  console.log(`✓ ${name}`);
}

const title = `e2e note ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

try {
  await step('health', async () => {
    const res = await call('GET', '/health');
    expectStatus(res, 200);
    expectEqual(res.json?.status, 'ok', 'health status');
  });

  await step('create a note', async () => {
    const res = await call('POST', '/notes', { title, body: 'written by the e2e suite' });
    expectStatus(res, 201);
    expectEqual(typeof res.json?.id, 'number', 'type of the new id');
    expectEqual(res.json.title, title, 'title');
    expectEqual(res.json.body, 'written by the e2e suite', 'body');
    expectEqual(res.json.pinned, false, 'pinned of a new note');
    createdId = res.json.id;
  });

  await step('read it back', async () => {
    const res = await call('GET', `/notes/${createdId}`);
    expectStatus(res, 200);
    expectEqual(res.json.title, title, 'title');
  });

  await step('find it in the list', async () => {
    const res = await call('GET', '/notes');
    expectStatus(res, 200);
    if (!Array.isArray(res.json)) throw new StepFailure('GET /notes did not return an array');
    if (!res.json.some((n) => n.id === createdId)) {
      throw new StepFailure(`GET /notes does not list note ${createdId}`);
    }
  });

  await step('pin it to the top of the list', async () => {
    const res = await call('PUT', `/notes/${createdId}`, { pinned: true });
    expectStatus(res, 200);
    expectEqual(res.json.pinned, true, 'pinned after update');
    const list = await call('GET', '/notes');
    expectStatus(list, 200);
    const firstUnpinned = list.json.findIndex((n) => !n.pinned);
    const position = list.json.findIndex((n) => n.id === createdId);
    if (firstUnpinned !== -1 && position > firstUnpinned) {
      throw new StepFailure(`pinned note ${createdId} is listed after an unpinned one`);
    }
  });

  await step('update it', async () => {
    const res = await call('PUT', `/notes/${createdId}`, { body: 'edited' });
    expectStatus(res, 200);
    expectEqual(res.json.body, 'edited', 'body after update');
    expectEqual(res.json.title, title, 'title after update');
    if (!(res.json.updatedAt >= res.json.createdAt)) {
      throw new StepFailure(
        `updatedAt ${res.json.updatedAt} is before createdAt ${res.json.createdAt}`,
      );
    }
    const again = await call('GET', `/notes/${createdId}`);
    expectEqual(again.json?.body, 'edited', 'body read after update');
  });

  await step('reject bad input', async () => {
    expectStatus(await call('POST', '/notes', { title: '' }), 400);
    expectStatus(await call('POST', '/notes', { title: 'x', pinned: 'yes' }), 400);
    expectStatus(await call('GET', '/notes/999999999'), 404);
  });

  await step('delete it', async () => {
    expectStatus(await call('DELETE', `/notes/${createdId}`), 204);
    expectStatus(await call('GET', `/notes/${createdId}`), 404);
    createdId = null;
  });

  console.log(`e2e: all steps passed against ${baseUrl}`);
} catch (error) {
  const reason = error instanceof StepFailure ? error.message : (error?.stack ?? String(error));
  console.error(`✗ ${current}: ${reason}`);
  if (createdId !== null) await call('DELETE', `/notes/${createdId}`).catch(() => undefined);
  process.exit(1);
}
