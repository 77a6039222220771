// The daemon's registry of containers: one daemon serves a single container or a whole pod
// (pause + app containers). Lookup errors carry the codes containerd branches on. (Not called a
// "sandbox": everywhere else in micrun and containerd a sandbox is a pod.)
import { alreadyExists, notFound } from '../errors';
import type { Container } from './container';

export class ContainerRegistry {
  private readonly containers = new Map<string, Container>();

  add(container: Container): void {
    if (this.containers.has(container.id)) {
      throw alreadyExists(`container ${container.id} already exists in this shim`);
    }
    this.containers.set(container.id, container);
  }

  /** Reserves an id before the slow part of Create so that a concurrent Create fails fast. */
  has(id: string): boolean {
    return this.containers.has(id);
  }

  get(id: string): Container {
    const found = this.containers.get(id);
    if (!found) throw notFound(`container ${id} not found in this shim: container not created`);
    return found;
  }

  find(id: string): Container | undefined {
    return this.containers.get(id);
  }

  remove(id: string): void {
    this.containers.delete(id);
  }

  list(): Container[] {
    return [...this.containers.values()];
  }

  get size(): number {
    return this.containers.size;
  }
}
