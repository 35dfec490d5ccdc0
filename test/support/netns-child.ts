/**
 * A process run by test/hosts/harness.test.ts to see what simulated hosts leave behind: it makes
 * two hosts, starts a long `sleep` on each, prints the namespaces, bridge port and sleeps' pids as
 * JSON, then exits without cleaning up (`exit`: the 'exit' handler must) or kills itself with
 * SIGKILL (`kill`: the watchdog must).
 */
import { createHosts } from './netns.ts';
import { waitFor } from './wait.ts';

const mode = process.argv[2];
const hosts = createHosts(2);
process.on('exit', () => hosts.destroy());
const sleeps = hosts.hosts.map((host) => hosts.spawn(host, 'sleep', ['600'], { stdio: 'ignore' }).pid);
// Each sleep must be inside its host before the test looks (`ip netns exec` takes a moment).
await waitFor(() => hosts.hosts.every((host, i) => hosts.pids(host).includes(sleeps[i]!)), { what: 'the sleeps to run on their hosts' });
process.stdout.write(`${JSON.stringify({ namespaces: hosts.hosts.map((host) => host.namespace), ports: hosts.hosts.map((host) => host.port), sleeps })}\n`);
if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
process.exit(0);
