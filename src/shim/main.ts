// containerd-shim-mica-v2 entry: parse argv, run one action. Each action is loaded with
// import() so that `start` (run for every container) evaluates none of the daemon's modules.
import { parseArgs, usage, UsageError } from './args';
import { version } from '../../package.json';

function main(argv: readonly string[]): void {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`containerd-shim-mica-v2: ${err.message}\n${usage(process.argv[1] ?? 'shim')}`);
    process.exit(2);
  }
  const fail = (err: unknown) => {
    process.stderr.write(`containerd-shim-mica-v2 ${args.action}: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  };
  switch (args.action) {
    case 'version':
      process.stdout.write(`containerd-shim-mica-v2 ${version}\n`);
      return;
    case 'start':
      Promise.all([import('./start'), import('./start-options')])
        .then(([m, o]) => m.runStart(args, process.env, o.decodeStartOptions(o.readStdin())))
        .then((bootstrap) => process.stdout.write(bootstrap, () => process.exit(0)), fail);
      return;
    case 'delete':
      import('./delete')
        .then((m) => m.runDelete(args))
        .then((bytes) => process.stdout.write(bytes, () => process.exit(0)), fail);
      return;
    case 'info':
      Promise.all([import('./info'), import('./start-options')])
        .then(([m, o]) => m.runtimeInfo(version, o.readStdin()))
        .then((bytes) => process.stdout.write(bytes, () => process.exit(0)), fail);
      return;
    case 'serve':
      import('./serve').then((m) => m.serve(args)).catch(fail);
      return;
  }
}

main(process.argv.slice(2));
