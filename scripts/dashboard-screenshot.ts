/**
 * Makes docs/dashboard.png: the notes example with r1 on staging waiting for approval into
 * production, served by `airlock serve` and photographed by Chromium (playwright-core).
 * Usage: node scripts/dashboard-screenshot.ts (needs /usr/bin/chromium).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { deploy } from '../src/pipeline/operations.ts';
import { startServer } from '../src/server/serve.ts';
import { createToken } from '../src/server/tokens.ts';
import { exampleProject } from '../test/helpers/project.ts';

const root = path.resolve(import.meta.dirname, '..');
process.env.AIRLOCK_HOME ??= mkdtempSync(path.join(os.tmpdir(), 'airlock-shot-home-'));
const project = await exampleProject();
try {
  const keys = mkdtempSync(path.join(os.tmpdir(), 'airlock-keys-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'k')]);
  const key = readFileSync(path.join(keys, 'k.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  rmSync(keys, { recursive: true, force: true });
  project.commitFiles({ '.approvals/allowed_signers': `bob ${key}\nalice ${key}\n` }, 'signers');
  const { ctx } = await project.session('alice');
  await deploy(ctx, 'staging', {});
  const { token } = await createToken(ctx, { principal: 'bob', role: 'approver', ttlMs: 600_000 });
  const server = await startServer({ ctx, port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    await page.goto(`${server.url}/signin`);
    await page.fill('#token', token);
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
    await page.screenshot({ path: path.join(root, 'docs/dashboard.png'), fullPage: true });
  } finally {
    await browser.close();
    await server.close(500);
  }
} finally {
  await project.cleanup();
}
process.stderr.write('wrote docs/dashboard.png\n');
