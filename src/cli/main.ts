// Entry of the `micrun` user CLI (dist/micrun.js): dispatches to a subcommand. Subcommands are
// loaded with import() so `micrun version` / `--help` evaluate nothing else (start-up stays light).
// Exit status: 0 ok, 1 the command failed, 2 usage error.
import { version } from '../../package.json';
import { UsageError } from './parse-flags';

const USAGE = `usage: micrun <command> [options]

micrun runs RTOS firmware as containers through MICA's micad (containerd runtime
io.containerd.mica.v2). This CLI helps with the images and the host.

commands:
  image build   package a firmware ELF as an OCI image archive (micrun image build --help)
  install       register the runtime with containerd, link the shim (micrun install --help)
  uninstall     remove what install added
  doctor        check that micad, containerd and the shim work together (micrun doctor --help)
  version       print the version
`;

export interface MainIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIO: MainIO = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
};

export async function main(argv: readonly string[], io: MainIO = processIO): Promise<number> {
  const err = (line: string) => io.stderr(`${line}\n`);
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'version':
      case '--version':
      case '-v':
        io.stdout(`micrun ${version}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return cmd === undefined ? 2 : 0;
      case 'image': {
        const [sub, ...args] = rest;
        if (sub !== 'build') throw new UsageError(sub ? `unknown image command "${sub}"` : 'image needs a command: build');
        const { runImageBuild, IMAGE_BUILD_USAGE } = await import('./image-build');
        return await runSubcommand('micrun image build', IMAGE_BUILD_USAGE, args, io, () => runImageBuild(args, { stderr: err, env: io.env }));
      }
      case 'install':
      case 'uninstall': {
        const { runInstall, INSTALL_USAGE } = await import('./install');
        return await runSubcommand(`micrun ${cmd}`, INSTALL_USAGE, rest, io, () => runInstall(cmd, rest, { stderr: err, env: io.env }));
      }
      case 'doctor': {
        const { runDoctor, DOCTOR_USAGE } = await import('./doctor');
        return await runSubcommand('micrun doctor', DOCTOR_USAGE, rest, io, () => runDoctor(rest, { stderr: err, stdout: io.stdout, env: io.env }));
      }
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`micrun: ${e.message}\n`);
      io.stderr(USAGE);
      return 2;
    }
    err(`micrun: ${(e as Error).message}`);
    return 1;
  }
}

/**
 * Runs one subcommand: `--help` prints its usage; a UsageError prints the message and the
 * usage and exits 2; any other error goes to main's handler (exit 1).
 */
async function runSubcommand(
  name: string,
  usage: string,
  args: readonly string[],
  io: MainIO,
  run: () => number | Promise<number>,
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(usage);
    return 0;
  }
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`${name}: ${e.message}\n\n${usage}`);
    return 2;
  }
}

if (typeof require !== 'undefined' && require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
