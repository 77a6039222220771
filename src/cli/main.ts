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
  doctor        check that micad, containerd and the shim are in place
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
        const { runImageBuild, IMAGE_BUILD_USAGE } = await import('./image-build');
        if (sub === 'build' && (args.includes('--help') || args.includes('-h'))) {
          io.stdout(IMAGE_BUILD_USAGE);
          return 0;
        }
        if (sub !== 'build') throw new UsageError(sub ? `unknown image command "${sub}"` : 'image needs a command: build');
        try {
          return runImageBuild(args, { stderr: err, env: io.env });
        } catch (e) {
          if (e instanceof UsageError) {
            err(`micrun image build: ${e.message}\n`);
            io.stderr(IMAGE_BUILD_USAGE);
            return 2;
          }
          throw e;
        }
      }
      case 'doctor': {
        if (rest.length > 0) throw new UsageError(`doctor takes no arguments`);
        const { runDoctor } = await import('./doctor');
        return runDoctor({ stderr: err, env: io.env });
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

if (typeof require !== 'undefined' && require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
