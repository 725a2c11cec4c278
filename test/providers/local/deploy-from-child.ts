// Run by runtime-daemon.test.ts as a separate process (a CLI stand-in):
//   node deploy-from-child.ts <home> <deployment JSON>
// Deploys through the local runtime daemon, printing each progress line, so the test can kill
// this process with SIGKILL in the middle of the deploy.
import { LocalRuntimeClient } from '../../../src/providers/local/runtime-client.ts';

const [home, deploymentJson] = process.argv.slice(2);
if (!home || !deploymentJson) {
  process.stderr.write('usage: node deploy-from-child.ts <home> <deployment JSON>\n');
  process.exit(2);
}
const client = new LocalRuntimeClient({ home });
await client.deploy(JSON.parse(deploymentJson), {
  onProgress: (message) => process.stdout.write(`${message}\n`),
});
process.stdout.write('done\n');
