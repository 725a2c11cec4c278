/**
 * The notes example as a project CI can deploy (the tests of `airlock ci init`): the command
 * provider, with a describe command, instead of the local one, which a thrown-away runner
 * cannot host.
 */
import type { parseDocument } from 'yaml';

/** Edits the notes example's airlock.yaml to deploy both environments with commands. */
export function deployWithCommands(doc: ReturnType<typeof parseDocument>): void {
  doc.deleteIn(['services', 'notes', 'run']);
  doc.setIn(['services', 'notes', 'command'], {
    deploy: './scripts/deploy.sh',
    describe: './scripts/describe.sh',
  });
  for (const env of ['staging', 'production']) {
    doc.setIn(['environments', env, 'provider'], 'command');
    doc.deleteIn(['environments', env, 'services', 'notes', 'port']);
    doc.deleteIn(['environments', env, 'services', 'notes', 'keepWarmMs']);
  }
}
