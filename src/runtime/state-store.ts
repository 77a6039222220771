// Persisted per-container state: `<state_dir>/containers/<id>/state.json`, written atomically
// (temp file + fsync + rename + directory fsync) before the daemon replies to Create/Start/Kill,
// so that a crash at any point leaves either the old or the new record, never a torn one. The
// `delete` one-shot reads it to clean up after a daemon that died. Leaf module: node built-ins only.
import { promises as fs, constants } from 'node:fs';
import path from 'node:path';
import { Code, CodedError, fsError, invalidArgument } from '../errors';
import type { ContainerRecord } from './container';

export interface StateStore {
  save(record: ContainerRecord): Promise<void>;
  load(id: string): Promise<ContainerRecord | undefined>;
  /** Removes the container's whole directory (state and staged firmware). */
  remove(id: string): Promise<void>;
  list(): Promise<string[]>;
}

/** containerd's identifier rule (pkg/identifiers): what every container and sandbox id obeys. */
const ID_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const ID_MAX_LENGTH = 76;

/**
 * `<stateDir>/containers/<id>`: the one place a container id becomes a path. The id comes from
 * the caller of Create (or `delete`'s argv), so it is checked here: `..`, `/`, NUL or an over-long
 * id would name a directory outside the state dir, which Create's undo and `delete` remove
 * recursively. Throws InvalidArgument; nothing outside `<stateDir>/containers` is ever named.
 */
export function containerDir(stateDir: string, id: string): string {
  if (id.length > ID_MAX_LENGTH || !ID_PATTERN.test(id)) {
    throw invalidArgument(
      `container id ${JSON.stringify(id.length > ID_MAX_LENGTH ? id.slice(0, ID_MAX_LENGTH) + '…' : id)} is not valid: ` +
        `ids are 1–${ID_MAX_LENGTH} letters and digits, separated by single ".", "_" or "-"`,
    );
  }
  return path.join(stateDir, 'containers', id);
}

export class FileStateStore implements StateStore {
  /** The save in progress per id: saves of one container are applied in call order (see save()). */
  private readonly saving = new Map<string, Promise<void>>();

  constructor(private readonly stateDir: string) {}

  /**
   * Writes the record atomically. Saves of one container are queued, so the last call's record
   * is the one left on disk (two concurrent renames could otherwise land in either order).
   */
  save(record: ContainerRecord): Promise<void> {
    let dir: string;
    try {
      dir = containerDir(this.stateDir, record.id);
    } catch (err) {
      return Promise.reject(err);
    }
    const previous = this.saving.get(record.id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.write(dir, record));
    this.saving.set(record.id, next);
    const forget = () => {
      if (this.saving.get(record.id) === next) this.saving.delete(record.id);
    };
    next.then(forget, forget);
    return next;
  }

  async load(id: string): Promise<ContainerRecord | undefined> {
    const file = path.join(containerDir(this.stateDir, id), 'state.json');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(`read the state of container ${id} from ${file}`, err);
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (err) {
      throw new CodedError(Code.DataLoss, `the state of container ${id} in ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  async remove(id: string): Promise<void> {
    const dir = containerDir(this.stateDir, id);
    await fs.rm(dir, { recursive: true, force: true }).catch((err: unknown) => {
      throw fsError(`remove the state of container ${id} in ${dir}`, err);
    });
  }

  async list(): Promise<string[]> {
    const dir = path.join(this.stateDir, 'containers');
    try {
      return await fs.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(`list container states in ${dir}`, err);
    }
  }

  private async write(dir: string, record: ContainerRecord): Promise<void> {
    const target = path.join(dir, 'state.json');
    const temp = path.join(dir, `.state.json.${process.pid}.${Math.random().toString(36).slice(2)}`);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await handle.writeFile(JSON.stringify(record, null, 1));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, target);
      await syncDir(dir);
    } catch (err) {
      // A failed write (ENOSPC on the tmpfs, EACCES…) leaves no temp file behind.
      await fs.rm(temp, { force: true }).catch(() => {});
      throw fsError(`save the state of container ${record.id} in ${dir}`, err);
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
