/**
 * The shape of a GitHub Actions workflow as Airlock generates it (the subset of the workflow
 * syntax it uses: https://docs.github.com/en/actions/reference/workflow-syntax-for-github-actions)
 * and how one is written as YAML: a header comment, blank lines between sections, and the
 * version as a comment after each pinned action.
 */
import { Document, isMap, isPair, isScalar, visit } from 'yaml';
import { pinnedVersion } from './pinned-actions.ts';

/** A permission of the job's GITHUB_TOKEN. */
export type Permission = 'read' | 'write';

/** One step of a job. */
export interface WorkflowStep {
  name: string;
  id?: string;
  if?: string;
  uses?: string;
  with?: Record<string, string | number | boolean>;
  run?: string;
  'working-directory'?: string;
  env?: Record<string, string>;
}

/** One job of a workflow. */
export interface WorkflowJob {
  name: string;
  needs?: string;
  if?: string;
  'runs-on': string;
  environment?: string;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  permissions: Record<string, Permission>;
  'timeout-minutes': number;
  outputs?: Record<string, string>;
  defaults?: { run: { 'working-directory': string } };
  env?: Record<string, string>;
  steps: WorkflowStep[];
}

/** A whole workflow file. */
export interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, Permission>;
  defaults: { run: { shell: string } };
  jobs: Record<string, WorkflowJob>;
}

/** A workflow with no default permissions (each job asks for its own) and bash as the shell. */
export function workflowOf(
  name: string,
  on: Record<string, unknown>,
  jobs: Record<string, WorkflowJob>,
): Workflow {
  return { name, on, permissions: {}, defaults: { run: { shell: 'bash' } }, jobs };
}

/** Splits a line into lines of at most `width` characters, at spaces. */
function wrap(line: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  return [...lines, current];
}

/** Renders a workflow: a header comment, blank lines between sections, version comments on pins. */
export function renderWorkflow(header: string[], workflow: Workflow): string {
  // No YAML anchors: each step spells out its own env.
  const doc = new Document(workflow, { aliasDuplicateObjects: false });
  doc.commentBefore = header
    .flatMap((line) => wrap(line, 98))
    .map((line) => (line ? ` ${line}` : ''))
    .join('\n');
  const root = doc.contents;
  if (isMap(root)) {
    root.items.forEach((pair, i) => {
      if (i > 0 && isScalar(pair.key)) pair.key.spaceBefore = true;
      if (isScalar(pair.key) && pair.key.value === 'jobs' && isMap(pair.value)) {
        pair.value.items.forEach((job, j) => {
          if (j > 0 && isScalar(job.key)) job.key.spaceBefore = true;
        });
      }
    });
  }
  visit(doc, {
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && pair.key.value === 'uses' && isScalar(pair.value)) {
        const version = pinnedVersion(String(pair.value.value));
        if (version) pair.value.comment = ` ${version}`;
      }
    },
  });
  return doc.toString({ lineWidth: 0, blockQuote: 'literal', nullStr: '' });
}
