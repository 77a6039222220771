// The hidden `serve` action: the daemon's first steps, kept light. Take over the listening socket
// `start` passed as fd 3 (node built-ins only), and only then load the daemon's heavy modules
// (daemon.ts). Nobody waits for us: a failure is logged to the bundle's log fifo and ends the
// process non-zero, which closes the socket, so containerd's first call fails and it runs
// `delete`.
import type { ShimArgs } from './args';
import { EarlyListener, LISTENER_FD, LISTENER_INODE_ENV } from './early-listener';
import { logStartupFailure } from './startup-failure';

export async function serve(args: ShimArgs): Promise<void> {
  const bundle = args.bundle || process.cwd();
  const early = new EarlyListener();
  try {
    if (!args.socket) throw new Error('-socket is required for the daemon');
    const inode = Number(process.env[LISTENER_INODE_ENV]);
    delete process.env[LISTENER_INODE_ENV]; // ours alone, not for anything the daemon runs
    await early.adopt(LISTENER_FD, args.socket, Number.isSafeInteger(inode) && inode > 0 ? inode : undefined);
  } catch (err) {
    logStartupFailure(bundle, { id: args.id, namespace: args.namespace }, err);
    process.exit(1);
  }
  // Until the daemon installs its own handlers, a SIGTERM (containerd giving up, a quick
  // `ctr task kill` of the group) still removes the socket rather than leaving it stale.
  const stopEarly = () => {
    early.removeSocket();
    process.exit(0);
  };
  process.on('SIGTERM', stopEarly);
  process.on('SIGINT', stopEarly);
  const { runDaemon } = await import('./daemon');
  await runDaemon(args, early);
  process.off('SIGTERM', stopEarly);
  process.off('SIGINT', stopEarly);
}
