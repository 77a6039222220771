// The shim daemon, wired by hand top to bottom: config → logger → micad client → event
// publisher → runtime (with the one exit path) → Task service → ttrpc server takes the socket over.
// One daemon serves one container or a whole pod. It stops on SIGTERM/SIGINT (leaving running
// instances to micad; their state is on disk for `delete`) or on Shutdown once it serves nothing.
import { readFileSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config';
import { createMicaClient } from '../mica/client';
import { ContainerRegistry } from '../runtime/container-registry';
import { Runtime } from '../runtime/runtime';
import { sweepOrphans } from '../runtime/orphan-sweep';
import { FileStateStore } from '../runtime/state-store';
import { enableTracing, tracingEnabled, type Tracing } from '../telemetry';
import { createFollowingShimLogger, createShimLogger, type Logger } from '../telemetry/logger';
import { TtrpcServer } from '../ttrpc';
import type { ShimArgs } from './args';
import type { EarlyListener } from './early-listener';
import { TaskIO } from './io';
import { EventPublisher } from './publisher';
import { createSandboxService, SANDBOX_SERVICE } from './sandbox-service';
import { installCrashPolicy } from './crash-policy';
import { daemonLogOptions } from './daemon-log';
import { createDaemonStop } from './daemon-stop';
import { watchUnusedDaemon } from './unused-daemon';
import { logStartupFailure } from './startup-failure';
import { createTaskService, exitHandler, TASK_SERVICE, TASK_SERVICE_V3, type TaskIOHandle } from './task-service';

/** How long a daemon may go without a connection or a container before it ends. */
const UNUSED_DAEMON_GRACE_MS = 10_000;

/** Wires and starts serving on the socket `start` bound and `serve` (serve.ts) adopted. */
export async function runDaemon(args: ShimArgs, early: EarlyListener): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadConfig({ env: process.env });
    const bundle = args.bundle || process.cwd();
    const logOptions = daemonLogOptions(bundle, args.namespace, args.debug ? 'debug' : config.runtime.log_level);
    // A namespace's daemon outlives the container that started it: its log follows the newest
    // live container's fifo (the one containerd still reads). A pod's daemon keeps its sandbox's.
    const following = config.shim.grouping === 'namespace' ? createFollowingShimLogger(logOptions) : undefined;
    logger = following?.logger ?? createShimLogger(logOptions);
    const log = logger;
    adjustOomScore(log);

    const server = new TtrpcServer({
      onError: (err, ctx) => log.error({ err, method: ctx ? `${ctx.service}/${ctx.method}` : undefined }, 'ttrpc call failed'),
      onDisconnect: (remaining) => {
        if (remaining === 0) endIfUnusedSoon('its last client disconnected');
      },
    });
    let mica = createMicaClient({ socketDir: config.mica.socket_dir, timeoutMs: config.mica.timeout_ms });
    // Spans only when an OTLP endpoint is configured; otherwise no OpenTelemetry code is loaded.
    let tracing: Tracing | undefined;
    if (tracingEnabled(process.env, config)) {
      tracing = await enableTracing({
        server,
        mica,
        serviceName: 'containerd-shim-mica-v2',
        attributes: { namespace: args.namespace },
        logger: log,
        endpoint: config.telemetry.otlp_endpoint,
      });
      mica = tracing.mica; // wrapped client: child spans per micad call
    }
    const publisher = new EventPublisher({
      ttrpcAddress: process.env.TTRPC_ADDRESS || `${args.address}.ttrpc`,
      namespace: args.namespace,
      logger: log,
    });
    // Leftovers of tasks nobody will delete (their daemon died and containerd's `delete` failed or
    // was killed): cleaned off the critical path, never touching what this daemon serves — a
    // second after the daemon starts, again when a daemon that waited idle (shim.when_empty) gets
    // a container, and at a Shutdown that leaves it empty (so a node keeps sweeping with no timer).
    const sweep = () => sweepOrphans({ store, mica, log, isServed: (id) => runtime.containers.find(id) !== undefined });
    const sweepSoon = () => setTimeout(() => void sweep(), 1_000).unref();
    // The start-up sweep covers a fresh daemon's first container; only a daemon that was emptied
    // and waited sweeps again when it gets one.
    let emptied = false;
    const ios = new TaskIORegistry((size, grew) => {
      const newest = runtime.containers.list().at(-1);
      if (newest) following?.follow(path.join(newest.record.bundle, 'log'));
      if (grew && size === 1 && emptied) sweepSoon();
      if (size === 0) emptied = true;
    });
    const store = new FileStateStore(config.runtime.state_dir);
    const runtime = new Runtime({
      mica,
      store,
      containers: new ContainerRegistry(),
      namespace: args.namespace,
      stateDir: config.runtime.state_dir,
      pid: process.pid,
      pedestal: config.mica.pedestal,
      maxFirmwareBytes: config.runtime.max_firmware_mib * 1024 * 1024,
      resources: {
        memoryMiB: config.resources.default_memory_mib,
        vcpus: config.resources.default_vcpus,
        maxVcpus: config.resources.max_vcpus,
      },
      log,
      onExit: exitHandler(ios, publisher),
    });

    const daemonStop = createDaemonStop({
      isIdle: () => runtime.isIdle(),
      unlinkSocket: () => early.removeSocket(),
      stopServing: () => server.close(2_000),
      release: async () => {
        runtime.close();
        await tracing?.shutdown();
        await publisher.close().catch(() => {});
        log.flush?.();
      },
      exit: (code) => setTimeout(() => process.exit(code), 50).unref(),
      log,
    });
    const stop = (why: string) => daemonStop.now(why);
    // containerd sends Shutdown after every delete; this runs only once nothing is left. A
    // namespace's daemon may stay for the namespace's next container (shim.when_empty): idle,
    // it has no timer and takes no CPU, and `start` (or the launcher) finds it live.
    const waits = config.shim.grouping === 'namespace' && config.shim.when_empty === 'wait';
    // A waiting daemon must not keep a config that was edited since it loaded it (configuration
    // applies to daemons started afterwards): a change of the file ends it once it serves nothing.
    let configChanged = false;
    if (waits) {
      watchConfigFile(config.source ?? (process.env.MICRUN_CONFIG || DEFAULT_CONFIG_PATH), () => {
        configChanged = true;
        daemonStop.ifIdle('config file changed while waiting');
      });
    }
    const whenEmpty = (why: string) => {
      if (waits && !configChanged) {
        log.info({ why }, 'no container left: waiting for the next container of the namespace');
        return;
      }
      daemonStop.ifIdle(why);
    };
    // No container and no client: it ends like an emptied daemon (a namespace daemon told to wait
    // keeps waiting). See unused-daemon.ts.
    const endIfUnusedSoon = watchUnusedDaemon({
      graceMs: UNUSED_DAEMON_GRACE_MS,
      containerCount: () => runtime.containers.size,
      creating: () => runtime.isCreating(),
      connectionCount: () => early.connectionCount(),
      onUnused: whenEmpty,
    });
    const tasks = createTaskService({
      runtime,
      ios,
      events: publisher,
      shimPid: process.pid,
      openIO: (stdio, containerId) => TaskIO.open(stdio, { containerId, namespace: args.namespace, logger: log }),
      requestShutdown: () => void sweep().finally(() => whenEmpty('Shutdown: no container left')),
    });
    // One set of handlers under both names: `start`'s bootstrap form (config shim.bootstrap)
    // decides which one containerd calls, and 2.x falls back from v3 to v2 on Unimplemented.
    server.register(TASK_SERVICE, tasks);
    server.register(TASK_SERVICE_V3, tasks);
    server.register(
      SANDBOX_SERVICE,
      createSandboxService({ runtime, shimPid: process.pid, requestShutdown: () => whenEmpty('ShutdownSandbox: no container left') }),
    );
    await early.handOver((listener) => server.listenHandle(listener));
    sweepSoon();
    // A daemon whose socket path was taken over before anyone connected (racing starts over a
    // stale socket) can never be dialled: it ends instead of idling forever.
    setTimeout(async () => {
      if (early.ownsSocket() || runtime.containers.size > 0 || (await early.connectionCount()) > 0) return;
      void stop('socket path taken over by another daemon of this group before anyone connected');
    }, 1_000).unref();

    endIfUnusedSoon('nobody connected since its start');

    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGPIPE', () => {});
    installCrashPolicy(process, { log, removeSocket: () => early.removeSocket(), exit: (code) => process.exit(code) });
    log.info({ socket: args.socket }, 'shim daemon serving');
  } catch (err) {
    // Nobody waits for us (`start` has exited): the log fifo is the only place to say why.
    if (logger) logger.error({ err, id: args.id }, 'shim daemon failed to start');
    else logStartupFailure(args.bundle || process.cwd(), { id: args.id, namespace: args.namespace }, err);
    logger?.flush?.();
    early.removeSocket();
    setTimeout(() => process.exit(1), 50);
  }
}

/** Calls `onChange` when `file` is written, replaced or removed (inotify on its directory: no CPU while nothing happens). */
function watchConfigFile(file: string, onChange: () => void): void {
  try {
    const watcher = watch(path.dirname(file), (_event, name) => {
      if (name === path.basename(file)) onChange();
    });
    watcher.on('error', () => {});
    watcher.unref();
  } catch {
    // no such directory: no file to change
  }
}

/** The containers' IO by id; a container added (Create) or removed runs `onChange` after it. */
class TaskIORegistry extends Map<string, TaskIOHandle> {
  constructor(private readonly onChange: (size: number, grew: boolean) => void) {
    super();
  }

  override set(id: string, io: TaskIOHandle): this {
    const grew = !this.has(id);
    super.set(id, io);
    this.onChange(this.size, grew);
    return this;
  }

  override delete(id: string): boolean {
    const had = super.delete(id);
    if (had) this.onChange(this.size, false);
    return had;
  }
}

/** containerd's OOM score + 1 (inherited through `start`), so the OOM killer takes us first. */
function adjustOomScore(log: Logger): void {
  try {
    const current = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
    writeFileSync('/proc/self/oom_score_adj', String(Math.min(1000, current + 1)));
  } catch (err) {
    log.debug({ err: String(err) }, 'cannot adjust oom_score_adj (needs privilege); continuing');
  }
}
