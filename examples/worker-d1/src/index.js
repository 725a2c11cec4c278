// A small Worker with a D1 database: /health, /version (the release Airlock deployed, from the
// vars it binds) and /notes, backed by the DB binding of the environment it runs in.

const json = (body, status = 200) => Response.json(body, { status });

export default {
  async fetch(request, env) {
    const url = new URL(request.url);

    if (url.pathname === '/health') {
      // Healthy only when the database answers (and the migrations created its table).
      await env.DB.prepare('SELECT 1 FROM notes LIMIT 1').all();
      return new Response('ok');
    }

    if (url.pathname === '/version') {
      return json({
        release: env.AIRLOCK_RELEASE ?? null,
        commit: env.AIRLOCK_COMMIT ?? null,
        digest: env.AIRLOCK_DIGEST ?? null,
        environment: env.AIRLOCK_ENV ?? null,
        title: env.NOTES_TITLE ?? null,
      });
    }

    if (url.pathname === '/notes' && request.method === 'GET') {
      const { results } = await env.DB.prepare(
        'SELECT id, title, created_at FROM notes ORDER BY id',
      ).all();
      return json(results);
    }

    if (url.pathname === '/notes' && request.method === 'POST') {
      const { title } = await request.json().catch(() => ({}));
      if (typeof title !== 'string' || title.trim() === '')
        return json({ error: 'title is required' }, 400);
      const note = await env.DB.prepare(
        'INSERT INTO notes (title) VALUES (?) RETURNING id, title, created_at',
      )
        .bind(title.trim())
        .first();
      return json(note, 201);
    }

    return json({ error: 'not found' }, 404);
  },
};
