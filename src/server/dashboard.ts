/**
 * The dashboard: server-rendered pages (Hono's `html` templates, every value escaped) for the
 * pipeline (one column per environment: what serves and since when, the candidate and each
 * gate's state and reason, approve/reject for approvers, promote/roll back for deployers behind
 * a confirmation page naming the release), a release, a run whose steps update
 * live over Server-Sent Events, history and incidents. One stylesheet and one small script,
 * served by the app (the Content-Security-Policy allows nothing else). Readable on a phone:
 * the columns stack below 40 rem.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { streamSSE } from 'hono/streaming';
import type { HtmlEscapedString } from 'hono/utils/html';
import { AirlockError } from '../errors.ts';
import type { GateResult } from '../gates/gate.ts';
import { recordApproval } from '../pipeline/approve.ts';
import { chooseRelease, releaseNamed } from '../pipeline/decide.ts';
import { gatherReachableFacts } from '../pipeline/facts.ts';
import { planDeploy } from '../pipeline/operations.ts';
import { buildPlan } from '../pipeline/plan.ts';
import { statusOf } from './app-status.ts';
import { actingContext, may, refuseAction, SignInLimiter, signIn, signOut } from './auth.ts';
import { promoteAs, rollbackAs } from './deploy-actions.ts';
import type { LiveHub } from './live.ts';
import { type PipelineEnvironment, pipelineView } from './pipeline-view.ts';
import type { ServerEnv } from './server-env.ts';

type Page = HtmlEscapedString | Promise<HtmlEscapedString>;

const CSS = `
:root{font-family:system-ui,sans-serif;color:#1a1a1a;background:#fff;line-height:1.45}
body{margin:0}header{background:#14213d;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;align-items:center}
header a{color:#fff}header .who{margin-left:auto;font-size:.9rem}
main{padding:1rem;max-width:80rem;margin:0 auto}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin:0 0 .5rem}h3{font-size:1rem;margin:1rem 0 .3rem}
.columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.column{border:1px solid #8a8f98;border-radius:.5rem;padding:.8rem}
ul.gates{list-style:none;padding:0;margin:0}ul.gates li{margin:.35rem 0}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-size:.85rem;font-weight:600}
.holds,.succeeded,.ok,.passed,.approved{background:#dff3e6;color:#0b4d25}
.pending,.running,.waiting,.warning{background:#fff1cc;color:#5c3d00}
.fails,.failed,.errored,.refused,.rejected,.interrupted,.open{background:#fde4e6;color:#7d0e1b}
.skipped,.resolved{background:#ececec;color:#333}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #c4c7cc;vertical-align:top}
.scroll{overflow-x:auto}
form.inline{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0}
input[type=text],input[type=password]{padding:.35rem;border:1px solid #555;border-radius:.3rem;min-width:12rem}
button{padding:.35rem .8rem;border-radius:.3rem;border:1px solid #14213d;background:#14213d;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#14213d}
a.button{display:inline-block;padding:.35rem .8rem;border-radius:.3rem;border:1px solid #14213d;color:#14213d;text-decoration:none;margin:.2rem .4rem .2rem 0}
.note{color:#444;font-size:.9rem}.error{background:#fde4e6;color:#7d0e1b;padding:.6rem;border-radius:.3rem}
code{font-size:.88rem;word-break:break-all}
`;

const RUN_JS = `
(function(){
  var root=document.getElementById('live');if(!root)return;
  var body=root.querySelector('tbody');var state=document.getElementById('run-status');
  var es=new EventSource(root.getAttribute('data-source'));
  function cell(t,cls){var td=document.createElement('td');if(cls){var s=document.createElement('span');s.className='badge '+cls;s.textContent=t;td.appendChild(s);}else td.textContent=t;return td;}
  es.addEventListener('run',function(ev){
    var snap=JSON.parse(ev.data);
    if(snap.run&&state){state.textContent=snap.run.status;state.className='badge '+snap.run.status;root.setAttribute('data-run',String(snap.run.id));}
    body.textContent='';
    snap.steps.forEach(function(s){
      var tr=document.createElement('tr');tr.setAttribute('data-step',s.name);tr.setAttribute('data-status',s.status);
      tr.appendChild(cell(String(s.index+1)));tr.appendChild(cell(s.title));tr.appendChild(cell(s.status,s.status));
      tr.appendChild(cell(s.durationMs==null?'':s.durationMs+' ms'));tr.appendChild(cell(s.message||''));
      body.appendChild(tr);
    });
    if(snap.run&&snap.run.status!=='running'&&root.getAttribute('data-follow')!=='1')es.close();
  });
})();
`;

function layout(c: Context<ServerEnv>, title: string, body: Page): Page {
  const user = c.var.user;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Airlock</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><header><strong>Airlock · ${c.var.ctx.config.project}</strong>
<nav aria-label="Main"><a href="/">Pipeline</a> · <a href="/history">History</a> · <a href="/incidents">Incidents</a></nav>
<span class="who">${
    user
      ? html`${user.principal} (${user.role}) <form class="inline" method="post" action="/signout" style="display:inline"><input type="hidden" name="csrf" value="${user.csrf ?? ''}"><button class="secondary" type="submit">Sign out</button></form>`
      : html`<a href="/signin">Sign in</a>`
  }</span></header>
<main>${body}</main><script src="/assets/run.js" defer></script></body></html>`;
}

const badge = (status: string) => html`<span class="badge ${status}">${status}</span>`;
const short = (sha: string | null) => (sha ? sha.slice(0, 7) : '');

/**
 * An environment's last deployment, for its column: kind, release and outcome; an interrupted
 * run (its process died; nobody resumed or replaced it) says so and names the command that
 * finishes it, rather than showing the stored "failed".
 */
export function lastDeploymentLine(e: PipelineEnvironment) {
  const d = e.lastDeployment;
  if (!d) return '';
  const interrupted = d.runId !== null && e.interrupted.includes(d.runId);
  return html`<p>Last: ${d.kind} <a href="/releases/${d.releaseId}">${d.releaseId}</a> ${interrupted ? html`${badge('interrupted')} (<code>airlock resume ${e.environment}</code> finishes it)` : badge(d.status)}${d.runId ? html` · <a href="/runs/${d.runId}">run #${d.runId}</a>` : ''}</p>`;
}

function errorPage(c: Context<ServerEnv>, status: number, message: string, hint?: string) {
  c.status(status as 400);
  return c.html(
    layout(
      c,
      'Refused',
      html`<h1>Refused</h1><p class="error" role="alert">${message}</p>${hint ? html`<p class="note">${hint}</p>` : ''}<p><a href="/">Back to the pipeline</a></p>`,
    ),
  );
}

/** The dashboard's routes (pages, forms, live events, assets). */
export function dashboardRoutes(options: {
  hub: LiveHub;
  secureCookies: boolean;
  signal: AbortSignal | undefined;
}): Hono<ServerEnv> {
  const app = new Hono<ServerEnv>();
  const limiter = new SignInLimiter();

  app.get('/assets/app.css', (c) =>
    c.body(CSS, 200, { 'content-type': 'text/css; charset=utf-8' }),
  );
  app.get('/assets/run.js', (c) =>
    c.body(RUN_JS, 200, { 'content-type': 'text/javascript; charset=utf-8' }),
  );

  app.get('/signin', (c) =>
    c.html(
      layout(
        c,
        'Sign in',
        html`<h1>Sign in</h1>
<form method="post" action="/signin" class="inline">
<label for="token">Personal token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button></form>
<p class="note">Ask for a token: <code>airlock token create --principal &lt;name&gt; --role viewer|approver|deployer</code>.</p>`,
      ),
    ),
  );
  app.post('/signin', async (c) => {
    const result = await signIn(c, limiter, options.secureCookies);
    if (!result.ok) return errorPage(c, result.status, result.message);
    return c.redirect('/', 303);
  });
  app.post('/signout', async (c) => {
    const form = await c.req.parseBody();
    const refusal = await refuseAction(
      c,
      'viewer',
      typeof form.csrf === 'string' ? form.csrf : undefined,
    );
    if (refusal) return refusal;
    await signOut(c);
    return c.redirect('/signin', 303);
  });

  // Every page below needs a signed-in person.
  app.use('*', async (c, next) => {
    if (!c.var.user) {
      if (c.req.method === 'GET' && c.req.header('accept')?.includes('text/html'))
        return c.redirect('/signin', 303);
      return c.json(
        { error: { kind: 'user', code: 'UNAUTHENTICATED', message: 'Sign in first.' } },
        401,
      );
    }
    await next();
  });

  app.get('/', async (c) => {
    const view = await pipelineView(c.var.ctx);
    const user = c.var.user;
    const columns = view.environments.map((e) => {
      const plan = e.candidate.plan;
      const approvalGate = plan?.gates.find((g) => g.gate === 'approval');
      return html`<section class="column" aria-labelledby="env-${e.environment}" data-environment="${e.environment}">
<h2 id="env-${e.environment}">${e.environment}${e.protected ? ' (protected)' : ''}</h2>
<h3>Serving</h3>${
        e.serving.length
          ? html`<ul>${e.serving.map(
              (s) =>
                html`<li>${s.service}: <a href="/releases/${s.releaseId}">${s.releaseId}</a> <code>${short(s.commit)}</code> since <time datetime="${s.since}">${s.since.replace('T', ' ').slice(0, 19)}</time></li>`,
            )}</ul>`
          : html`<p class="note">Nothing serves yet.</p>`
      }
${lastDeploymentLine(e)}
${e.lock ? html`<p>Locked by ${e.lock.holder}: “${e.lock.message}”</p>` : ''}
${e.openIncidents ? html`<p><a href="/incidents?environment=${e.environment}">${e.openIncidents} open incident(s)</a></p>` : ''}
<p><a href="/live/${e.environment}">Watch the newest run live</a></p>
${may(user, 'deployer') && e.serving.length ? html`<p><a class="button" href="/confirm/rollback/${e.environment}">Roll back…</a></p>` : ''}
<h3>Candidate</h3>${
        plan
          ? html`<p><a href="/releases/${plan.release.id}">${plan.release.id}</a> <code>${short(plan.release.commit)}</code> ${plan.release.subject} ${plan.blocked ? badge('waiting') : badge('holds')}</p>
<ul class="gates">${plan.gates.map(
              (g) =>
                html`<li data-gate="${g.gate}" data-status="${g.status}">${badge(g.status)} <strong>${g.gate}</strong>: <span class="reason">${g.reason}</span></li>`,
            )}</ul>${
              approvalGate && may(user, 'approver')
                ? html`<form method="post" action="/actions/approve" class="inline" aria-label="Approve or reject ${plan.release.id} for ${e.environment}">
<input type="hidden" name="csrf" value="${user?.csrf ?? ''}"><input type="hidden" name="environment" value="${e.environment}"><input type="hidden" name="release" value="${plan.release.id}">
<label for="comment-${e.environment}">Reason</label><input id="comment-${e.environment}" type="text" name="comment" maxlength="500">
<button type="submit" name="decision" value="approved">Approve</button><button class="secondary" type="submit" name="decision" value="rejected">Reject</button></form>`
                : ''
            }${
              e.previous && !plan.blocked && may(user, 'deployer')
                ? html`<p><a class="button" href="/confirm/promote/${e.environment}?release=${plan.release.id}">Promote ${plan.release.id}…</a></p>`
                : ''
            }`
          : html`<p class="note">${e.candidate.note ?? ''}</p>`
      }
</section>`;
    });
    return c.html(
      layout(c, 'Pipeline', html`<h1>Pipeline</h1><div class="columns">${columns}</div>`),
    );
  });

  app.post('/actions/approve', async (c) => {
    const form = await c.req.parseBody();
    const str = (k: string) => (typeof form[k] === 'string' ? (form[k] as string) : undefined);
    const refusal = await refuseAction(c, 'approver', str('csrf'));
    if (refusal) return refusal;
    const user = c.var.user;
    const decision = str('decision') === 'rejected' ? 'rejected' : 'approved';
    try {
      await recordApproval(actingContext(c), {
        environment: str('environment') ?? '',
        ...(str('release') ? { release: str('release') as string } : {}),
        decision,
        ...(str('comment') ? { comment: (str('comment') as string).slice(0, 500) } : {}),
        proof: {
          kind: 'token',
          tokenId: user?.tokenId ?? '',
          principal: user?.principal ?? '',
          address: c.var.address,
        },
      });
    } catch (error) {
      if (error instanceof AirlockError && error.kind !== 'internal')
        return errorPage(c, statusOf(error.code), error.message, error.hint);
      throw error;
    }
    return c.redirect('/', 303);
  });

  const gateList = (gates: GateResult[]) =>
    html`<ul class="gates">${gates.map(
      (g) =>
        html`<li data-gate="${g.gate}" data-status="${g.status}">${badge(g.status)} <strong>${g.gate}</strong>: <span class="reason">${g.reason}</span></li>`,
    )}</ul>`;
  const refusedBy = (c: Context<ServerEnv>, error: unknown) => {
    if (!(error instanceof AirlockError) || error.kind === 'internal') throw error;
    const gates = (error.details.gates as GateResult[] | undefined) ?? [];
    c.status(statusOf(error.code));
    return c.html(
      layout(
        c,
        'Refused',
        html`<h1>Refused</h1><p class="error" role="alert">${error.message}</p>${error.hint ? html`<p class="note">${error.hint}</p>` : ''}${gates.length ? gateList(gates) : ''}<p><a href="/">Back to the pipeline</a></p>`,
      ),
    );
  };

  // Promote and roll back: a confirmation page naming the release, then a CSRF-checked form.
  app.get('/confirm/promote/:environment', async (c) => {
    const refusal = await refuseAction(c, 'deployer', c.var.user?.csrf ?? undefined);
    if (refusal) return refusal;
    const environment = c.req.param('environment');
    const release = c.req.query('release') ?? '';
    try {
      const plan = await planDeploy(c.var.ctx, environment, { release });
      const user = c.var.user;
      return c.html(
        layout(
          c,
          `Promote ${plan.release.id} to ${environment}`,
          html`<h1>Promote ${plan.release.id} to ${environment}?</h1>
<p><a href="/releases/${plan.release.id}">${plan.release.id}</a> <code>${short(plan.release.commit)}</code> ${plan.release.subject} replaces ${plan.current ?? 'nothing'} on ${environment}.</p>
${gateList(plan.gates)}${plan.warnings.map((w) => html`<p class="note">${w}</p>`)}${
  plan.blocked
    ? html`<p class="error" role="alert">The gate does not hold: nothing can be promoted yet.</p>`
    : html`<form method="post" action="/actions/promote" class="inline">
<input type="hidden" name="csrf" value="${user?.csrf ?? ''}"><input type="hidden" name="environment" value="${environment}"><input type="hidden" name="release" value="${plan.release.id}">
<button type="submit">Promote ${plan.release.id} to ${environment}</button> <a href="/">Cancel</a></form>`
}`,
        ),
      );
    } catch (error) {
      return refusedBy(c, error);
    }
  });
  app.get('/confirm/rollback/:environment', async (c) => {
    const refusal = await refuseAction(c, 'deployer', c.var.user?.csrf ?? undefined);
    if (refusal) return refusal;
    const environment = c.req.param('environment');
    try {
      const choice = await chooseRelease(
        c.var.ctx,
        { verb: 'rollback', environment },
        { build: false },
      );
      const user = c.var.user;
      const target = choice.release;
      // What `airlock rollback` warns about first (a schema ahead of the target): read only.
      const { warnings } = buildPlan(
        await gatherReachableFacts(c.var.ctx, 'rollback', choice.env, target),
      );
      return c.html(
        layout(
          c,
          `Roll ${environment} back`,
          html`<h1>Roll ${environment} back to ${target.id}?</h1>
<p>${environment} serves ${(await c.var.ctx.store.getServing(environment)).map((s) => `${s.service}: ${s.releaseId}`).join(', ')}; it will serve <a href="/releases/${target.id}">${target.id}</a> <code>${short(target.commit)}</code> ${target.subject} again.</p>${warnings.length ? html`<ul class="warnings">${warnings.map((w) => html`<li>${badge('warning')} ${w}</li>`)}</ul>` : ''}
<form method="post" action="/actions/rollback" class="inline">
<input type="hidden" name="csrf" value="${user?.csrf ?? ''}"><input type="hidden" name="environment" value="${environment}"><input type="hidden" name="release" value="${target.id}">
<button type="submit">Roll ${environment} back to ${target.id}</button> <a href="/">Cancel</a></form>`,
        ),
      );
    } catch (error) {
      return refusedBy(c, error);
    }
  });
  for (const action of ['promote', 'rollback'] as const) {
    app.post(`/actions/${action}`, async (c) => {
      const form = await c.req.parseBody();
      const str = (k: string) => (typeof form[k] === 'string' ? (form[k] as string) : '');
      const refusal = await refuseAction(c, 'deployer', str('csrf') || undefined);
      if (refusal) return refusal;
      try {
        const outcome =
          action === 'promote'
            ? await promoteAs(c, str('environment'), { release: str('release') })
            : await rollbackAs(c, str('environment'), str('release'));
        return c.redirect(`/runs/${outcome.runId}`, 303);
      } catch (error) {
        return refusedBy(c, error);
      }
    });
  }

  app.get('/releases/:release', async (c) => {
    const ctx = c.var.ctx;
    const release = await releaseNamed(ctx, c.req.param('release'));
    const [deployments, approvals] = await Promise.all([
      ctx.store.listDeployments({ releaseId: release.id, limit: 200 }),
      Promise.all(ctx.config.pipeline.map((e) => ctx.store.listApprovals(e, release.id))),
    ]);
    const checks = await Promise.all(deployments.map((d) => ctx.store.listCheckResults(d.id)));
    return c.html(
      layout(
        c,
        `Release ${release.id}`,
        html`<h1>Release ${release.id}</h1>
<p>${release.subject}</p>
<table><tbody>
<tr><th scope="row">Commit</th><td><code>${release.commit}</code>${release.dirty ? ' (dirty)' : ''}</td></tr>
<tr><th scope="row">Release digest</th><td><code>sha256:${release.digest}</code></td></tr>
<tr><th scope="row">Built</th><td>${release.createdAt} by ${release.createdBy} in ${release.buildMs} ms</td></tr>
</tbody></table>
<h2>Services</h2><div class="scroll" tabindex="0" role="region" aria-label="Scrollable table"><table><thead><tr><th scope="col">Service</th><th scope="col">Artifact digest</th><th scope="col">Migrations</th></tr></thead><tbody>
${Object.entries(release.services).map(
  ([name, a]) =>
    html`<tr><td>${name}</td><td><code>sha256:${a.digest}</code></td><td>${a.migrations.map((m) => `${m.version}_${m.name}`).join(', ') || '–'}</td></tr>`,
)}</tbody></table></div>
<h2>Deployments and checks</h2><div class="scroll" tabindex="0" role="region" aria-label="Scrollable table"><table><thead><tr><th scope="col">Environment</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Checks</th><th scope="col">Run</th></tr></thead><tbody>
${deployments.map(
  (d, i) =>
    html`<tr><td>${d.environment}</td><td>${d.kind}</td><td>${badge(d.status)}</td><td>${(checks[i] ?? []).map((r) => html`${badge(r.status)} ${r.service} ${r.name} `)}</td><td>${d.runId ? html`<a href="/runs/${d.runId}">#${d.runId}</a>` : ''}</td></tr>`,
)}</tbody></table></div>
<h2>Approvals</h2>${
          approvals.flat().length
            ? html`<div class="scroll" tabindex="0" role="region" aria-label="Scrollable table"><table><thead><tr><th scope="col">Environment</th><th scope="col">Decision</th><th scope="col">By</th><th scope="col">Identity</th><th scope="col">Evidence</th><th scope="col">Reason</th></tr></thead><tbody>
${approvals
  .flat()
  .map(
    (a) =>
      html`<tr><td>${a.environment}</td><td>${badge(a.decision)}</td><td>${a.actor}</td><td>${a.identity}</td><td>${
        a.evidence?.kind === 'ssh'
          ? html`key <code>${a.evidence.fingerprint}</code>`
          : a.evidence?.kind === 'oidc'
            ? html`OIDC ${a.evidence.issuer}`
            : a.evidence?.kind === 'token'
              ? html`token ${a.evidence.tokenId} from ${a.evidence.address}`
              : '–'
      }</td><td>${a.comment ?? ''}</td></tr>`,
  )}</tbody></table></div>`
            : html`<p class="note">No approvals yet.</p>`
        }`,
      ),
    );
  });

  const runPage = (c: Context<ServerEnv>, title: string, source: string, follow: boolean) =>
    c.html(
      layout(
        c,
        title,
        html`<h1>${title} <span id="run-status" class="badge" aria-live="polite"></span></h1>
<div class="scroll" tabindex="0" role="region" aria-label="Scrollable table"><table id="live" data-source="${source}" data-follow="${follow ? '1' : '0'}"><thead><tr><th scope="col">#</th><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Time</th><th scope="col">Message</th></tr></thead><tbody></tbody></table></div>
<p class="note">Steps update live as the run writes them.</p>`,
      ),
    );

  app.get('/runs/:run{[0-9]+}', async (c) =>
    runPage(c, `Run #${c.req.param('run')}`, `/events/run/${c.req.param('run')}`, false),
  );
  app.get('/live/:environment', async (c) => {
    const env = c.req.param('environment');
    if (!c.var.ctx.config.environments[env])
      return errorPage(c, 404, `There is no environment ${env}.`);
    return runPage(
      c,
      `Newest run on ${env}`,
      `/events/environment/${encodeURIComponent(env)}`,
      true,
    );
  });

  const events = (c: Context<ServerEnv>, key: string) =>
    streamSSE(c, async (stream) => {
      let id = 0;
      const queue: string[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = options.hub.subscribe(key, (json) => {
        queue.push(json);
        wake?.();
      });
      const stop = () => wake?.();
      options.signal?.addEventListener('abort', stop);
      stream.onAbort(stop);
      try {
        while (!stream.aborted && !stream.closed && !options.signal?.aborted) {
          const next = queue.shift();
          if (next !== undefined) {
            await stream.writeSSE({ event: 'run', data: next, id: String(++id) });
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 15_000);
          });
          wake = null;
          if (queue.length === 0) await stream.write(': keep-alive\n\n');
        }
      } finally {
        unsubscribe();
        options.signal?.removeEventListener('abort', stop);
      }
    });
  app.get('/events/run/:run{[0-9]+}', (c) => events(c, `run:${c.req.param('run')}`));
  app.get('/events/environment/:environment', (c) => {
    const env = c.req.param('environment');
    if (!c.var.ctx.config.environments[env])
      return c.json(
        {
          error: {
            kind: 'user',
            code: 'UNKNOWN_ENVIRONMENT',
            message: `There is no environment ${env}.`,
          },
        },
        404,
      );
    return events(c, `env:${env}`);
  });

  app.get('/history', async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query('limit')) || 50, 1), 500);
    const before = Number(c.req.query('before')) || undefined;
    const environment = c.req.query('environment') || undefined;
    const events = await c.var.ctx.store.listAudit({
      limit: limit + 1,
      ...(environment ? { environment } : {}),
      ...(before ? { beforeId: before } : {}),
    });
    const page = events.slice(0, limit);
    const next = events.length > limit ? page.at(-1)?.id : undefined;
    return c.html(
      layout(
        c,
        'History',
        html`<h1>History</h1><div class="scroll" tabindex="0" role="region" aria-label="Scrollable table"><table><thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Environment</th><th scope="col">Event</th><th scope="col">Release</th><th scope="col">Actor</th><th scope="col">Result</th></tr></thead><tbody>
${page.map(
  (e) =>
    html`<tr><td>${e.id}</td><td>${e.at.replace('T', ' ').slice(0, 19)}</td><td>${e.environment ?? ''}</td><td>${e.action}</td><td>${e.releaseId ? html`<a href="/releases/${e.releaseId}">${e.releaseId}</a>` : ''}</td><td>${e.actor}</td><td>${badge(e.result)}</td></tr>`,
)}</tbody></table></div>
${next ? html`<p><a href="/history?before=${next}&limit=${limit}${environment ? `&environment=${encodeURIComponent(environment)}` : ''}">Older events</a></p>` : ''}`,
      ),
    );
  });

  app.get('/incidents', async (c) => {
    const environment = c.req.query('environment') || undefined;
    const incidents = await c.var.ctx.store.listIncidents({
      ...(environment ? { environment } : {}),
      limit: 200,
    });
    return c.html(
      layout(
        c,
        'Incidents',
        html`<h1>Incidents</h1>${
          incidents.length
            ? html`<div class="scroll" tabindex="0" role="region" aria-label="Scrollable table"><table><thead><tr><th scope="col">#</th><th scope="col">Environment</th><th scope="col">Status</th><th scope="col">Since</th><th scope="col">Failing</th><th scope="col">Release</th></tr></thead><tbody>
${incidents.map(
  (i) =>
    html`<tr><td>${i.id}</td><td>${i.environment}</td><td>${badge(i.status)}</td><td>${i.startedAt}</td><td>${i.failing.map((f) => `${f.service} ${f.check}: ${f.message}`).join('; ')}</td><td>${i.releaseId ?? ''}</td></tr>`,
)}</tbody></table></div>`
            : html`<p class="note">No incidents: the monitor has seen every environment healthy (or has not run: <code>airlock monitor</code>).</p>`
        }`,
      ),
    );
  });

  return app;
}
