// Persisted per-container state: `<state_dir>/containers/<id>/state.json`, written atomically
// (temp file + fsync + rename + directory fsync) before the daemon replies to Create/Start/Kill,
// so that a crash at any point leaves either the old or the new record, never a torn one. The
// `delete` one-shot reads it to clean up after a daemon that died. Leaf module: node built-ins only.
import { promises as fs, constants } from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../errors';
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
  constructor(private readonly stateDir: string) {}

  async save(record: ContainerRecord): Promise<void> {
    const dir = containerDir(this.stateDir, record.id);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const target = path.join(dir, 'state.json');
    const temp = path.join(dir, `.state.json.${process.pid}.${Math.random().toString(36).slice(2)}`);
    const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(JSON.stringify(record, null, 1));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    const dirHandle = await fs.open(dir, constants.O_RDONLY);
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  async load(id: string): Promise<ContainerRecord | undefined> {
    let text: string;
    try {
      text = await fs.readFile(path.join(containerDir(this.stateDir, id), 'state.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  async remove(id: string): Promise<void> {
    await fs.rm(containerDir(this.stateDir, id), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    try {
      return await fs.readdir(path.join(this.stateDir, 'containers'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
