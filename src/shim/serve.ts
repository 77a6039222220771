// The hidden `serve` action: the daemon's first steps, kept light. Bind the socket and report
// ready to `start` with node built-ins (and the small config loader, so that a bad config fails
// `start` with its reason), and only then load the daemon's heavy modules (daemon.ts).
import { loadConfig } from '../config';
import type { ShimArgs } from './args';
import { EarlyListener, reportReady } from './early-listener';

export async function serve(args: ShimArgs): Promise<void> {
  const early = new EarlyListener();
  try {
    if (!args.socket) throw new Error('-socket is required for the daemon');
    loadConfig({ env: process.env });
    await early.listen(args.socket);
  } catch (err) {
    reportReady(`error: ${(err as Error)?.message ?? String(err)}`);
    process.exit(1);
  }
  reportReady('ok');
  const { runDaemon } = await import('./daemon');
  await runDaemon(args, early);
}
