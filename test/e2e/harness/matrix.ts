// The containerd version matrix of the e2e suites: a describe block per build of
// containerdBuilds() (1.6, 1.7, 2.x), with the version in its title so a failure names the
// version. Each block starts its own stack in its own beforeAll: builds never share a containerd,
// and they run one after another, never concurrently.
//
// MICRUN_E2E_CONTAINERD narrows the matrix while working on one version: a comma-separated list
// of version prefixes (`2`, `1.7,2.1`). Unset, every build of the manifest runs.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { containerdBuilds, type ContainerdBuild } from './containerd-builds';
import { startMicrunStack, type MicrunStack, type MicrunStackOptions } from './micrun-stack';
import { stopChild } from './processes';

export function matrixBuilds(only = process.env.MICRUN_E2E_CONTAINERD): ContainerdBuild[] {
  const builds = containerdBuilds();
  if (!only?.trim()) return builds;
  const prefixes = only.split(',').map((p) => p.trim()).filter(Boolean);
  const chosen = builds.filter((b) => prefixes.some((p) => b.version === p || b.version.startsWith(`${p}.`)));
  if (chosen.length === 0) {
    throw new Error(`MICRUN_E2E_CONTAINERD=${only} matches none of ${builds.map((b) => b.version).join(', ')}`);
  }
  return chosen;
}

/** `describe(`${title} (containerd <version>)`)` once per build of the matrix. */
export function describeEachContainerd(title: string, body: (build: ContainerdBuild) => void): void {
  for (const build of matrixBuilds()) describe(`${title} (containerd ${build.version})`, () => body(build));
}

/** True on `major.minor` and newer: for the few expectations that differ between versions. */
export function atLeast(build: ContainerdBuild, major: number, minor = 0): boolean {
  return build.major > major || (build.major === major && build.minor >= minor);
}

export interface BuildStackOptions {
  /** What to start besides containerd (its `build` is set here, stateDir is `<buildDir>/state`). */
  stack: Omit<MicrunStackOptions, 'stateDir'>;
  /** Called once the stack runs, with this build's own dir below the file's work dir. */
  started(stack: MicrunStack, buildDir: string): void;
  /** Clients of this build's containerd (ctr, script) the tests started: stopped before it goes. */
  clients?: ChildProcess[];
}

/**
 * The usual fixture of a describeEachContainerd block: a MicrunStack on this build with its own
 * dir `<work>/<version>` (state, fifos, logs of one build never meet another's), started before
 * the block's tests and destroyed after them.
 */
export function useBuildStack(build: ContainerdBuild, work: string, opts: BuildStackOptions): void {
  let stack: MicrunStack | undefined;
  beforeAll(async () => {
    const buildDir = path.join(work, build.version);
    stack = await startMicrunStack({
      ...opts.stack,
      stateDir: path.join(buildDir, 'state'),
      containerd: { ...opts.stack.containerd, build },
    });
    opts.started(stack, buildDir);
  });
  afterAll(async () => {
    try {
      for (const child of opts.clients?.splice(0) ?? []) await stopChild(child, 2_000);
    } finally {
      await stack?.destroy();
    }
  });
}
