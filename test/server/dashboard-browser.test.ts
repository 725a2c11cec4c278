/**
 * The dashboard in a real Chromium (playwright-core, Debian's /usr/bin/chromium) against a real
 * `airlock serve` on 127.0.0.1 over the notes example: one browser and one project for every
 * case. The pipeline shows both environments and each waiting gate's reason; a deployment
 * started from the CLI shows each step's transition within 500 ms (measured); an approver
 * approves and `airlock plan` sees it; the deployer cannot approve their own release; a viewer
 * gets no buttons and the API refuses; a forged form is refused; axe-core finds no serious or
 * critical violation on any page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Session } from '../../src/cli/session.ts';
import { candidateFor } from '../../src/server/pipeline-view.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import type { TestProject } from '../helpers/project.ts';
import { type ServerFixture, serverProject } from './server-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`skipping the dashboard browser tests: they need Chromium at ${CHROMIUM}`);

let project: TestProject;
let session: Session;
let server: RunningServer;
let browser: Browser;
let tokens: ServerFixture['tokens'];

beforeAll(async () => {
  if (!haveChromium) return;
  ({ project, session, tokens } = await serverProject());
  server = await startServer({ ctx: session.ctx, port: 0, host: '127.0.0.1', pollMs: 100 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close(1000);
  await project?.cleanup();
});

async function signedIn(token: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/signin`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
  return { context, page };
}

/** axe-core's serious and critical violations on the page (its source injected). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is the injected global
    const result = await (globalThis as any).axe.run();
    return result.violations as Array<{
      id: string;
      impact: string;
      help: string;
      nodes: unknown[];
    }>;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} ×${v.nodes.length}`);
}

// In the order written: the viewer sees r1 waiting for approval, the CLI deploys r2, bob
// approves it, alice (who deployed it) cannot.
describe.skipIf(!haveChromium)('the dashboard in Chromium', { shuffle: false }, () => {
  test('a viewer sees both environments and each waiting gate’s reason, no action buttons, and the API refuses them; axe finds no serious violation on any page', async () => {
    const { context, page } = await signedIn(tokens.viewer);
    try {
      expect(
        await page
          .locator('section.column')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-environment'))),
      ).toEqual(['staging', 'production']);
      expect(await page.locator('section.column h2').allTextContents()).toEqual([
        'staging',
        'production (protected)',
      ]);
      const { plan } = await candidateFor(session.ctx, 'production');
      const waiting = plan?.gates.filter((g) => g.status !== 'holds') ?? [];
      expect(waiting.length).toBeGreaterThan(0);
      for (const g of waiting)
        expect(
          await page
            .locator(`[data-environment=production] [data-gate=${g.gate}] .reason`)
            .textContent(),
        ).toBe(g.reason);
      expect(await page.locator('form[action="/actions/approve"]').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      const api = await fetch(`${server.url}/api/approvals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.viewer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ environment: 'production', decision: 'approved' }),
      });
      expect(api.status).toBe(403);

      const pages = ['/', '/releases/r1', '/history', '/incidents', '/live/staging'];
      const [run] = await session.ctx.store.listRuns({ environment: 'staging', limit: 1 });
      pages.push(`/runs/${run?.id}`);
      for (const p of pages) {
        await page.goto(`${server.url}${p}`);
        expect(await axeViolations(page), p).toEqual([]);
      }
      await page.goto(`${server.url}/signin`);
      expect(await axeViolations(page), '/signin').toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('a deployment started from the CLI shows in the page, each step within 500 ms of its transition', async () => {
    const { context, page } = await signedIn(tokens.viewer);
    try {
      await page.goto(`${server.url}/live/staging`);
      await page.waitForSelector('#live tbody tr');
      const before = await page.getAttribute('#live', 'data-run');
      // Record when each (step, status) first shows, by the wall clock the store uses too.
      await page.evaluate(`(() => {
        const seen = (globalThis.seen = {});
        const record = () => {
          const run = document.getElementById('live').getAttribute('data-run');
          for (const tr of document.querySelectorAll('#live tbody tr')) {
            const key = run + '|' + tr.getAttribute('data-step') + '|' + tr.getAttribute('data-status');
            if (!(key in seen)) seen[key] = Date.now();
          }
        };
        new MutationObserver(record).observe(document.getElementById('live'), {
          subtree: true, childList: true, attributes: true,
        });
      })()`);
      project.commit('2-pinned-notes');
      const cli = await project.cli(['--as', 'alice', 'deploy', 'staging', '--json']);
      expect(cli.code, cli.stderr).toBe(0);
      const [run] = await session.ctx.store.listRuns({ environment: 'staging', limit: 1 });
      expect(String(run?.id)).not.toBe(before);
      const steps = await session.ctx.store.listSteps(run?.id ?? 0);
      await expect
        .poll(() => page.getAttribute('#live tbody tr:last-child', 'data-status'))
        .toBe(steps.at(-1)?.status);
      const seen = await page.evaluate(
        () => (globalThis as unknown as { seen: Record<string, number> }).seen,
      );
      const lags: Array<{ step: string; status: string; lagMs: number }> = [];
      for (const s of steps) {
        if (!s.finishedAt) continue;
        const shown = seen[`${run?.id}|${s.name}|${s.status}`];
        expect(shown, `${s.name} ${s.status} never shown`).toBeDefined();
        lags.push({
          step: s.name,
          status: s.status,
          lagMs: (shown ?? 0) - Date.parse(s.finishedAt),
        });
        const running = seen[`${run?.id}|${s.name}|running`];
        if (running !== undefined && s.startedAt)
          lags.push({ step: s.name, status: 'running', lagMs: running - Date.parse(s.startedAt) });
      }
      console.log(
        `step transition → page (ms): ${lags.map((l) => `${l.step}:${l.status} ${l.lagMs}`).join(', ')}`,
      );
      expect(lags.length).toBeGreaterThanOrEqual(steps.filter((s) => s.finishedAt).length);
      expect(Math.max(...lags.map((l) => l.lagMs))).toBeLessThan(500);
    } finally {
      await context.close();
    }
  });

  test('an approver approves in the page and `airlock plan` shows it; a forged form without the CSRF token is refused', async () => {
    const { context, page } = await signedIn(tokens.approver);
    try {
      const release = await page.getAttribute(
        '[data-environment=production] input[name=release]',
        'value',
      );
      expect(release).toMatch(/^r\d+$/);
      const forged = await page.request.post(`${server.url}/actions/approve`, {
        form: { environment: 'production', release: release ?? '', decision: 'approved' },
      });
      expect(forged.status()).toBe(403);
      await page.fill('#comment-production', 'checked on staging');
      await Promise.all([
        page.waitForURL(`${server.url}/`),
        page.click('[data-environment=production] button[value=approved]'),
      ]);
      const plan = await project.cli(['plan', 'production', '--release', release ?? '', '--json']);
      const gate = JSON.parse(plan.stdout).plan.gates.find(
        (g: { gate: string }) => g.gate === 'approval',
      );
      expect(gate.status).toBe('holds');
      expect(gate.reason).toContain('bob');
    } finally {
      await context.close();
    }
  });

  test('the deployer’s token cannot approve its own release', async () => {
    const { context, page } = await signedIn(tokens.deployer);
    try {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/actions/approve')),
        page.click('[data-environment=production] button[value=approved]'),
      ]);
      expect(response.status()).toBe(403);
      await expect
        .poll(() => page.locator('[role=alert]').textContent())
        .toContain('prevent self-review');
    } finally {
      await context.close();
    }
  });
});
