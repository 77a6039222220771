// Task events to containerd: ttrpc `containerd.services.events.ttrpc.v1.Events/Forward` on
// TTRPC_ADDRESS, as every v2 shim does. `publish` never blocks or throws: events go into one
// bounded FIFO drained by a single worker, which is what keeps them in order per container
// (create → start → exit → delete). A failed Forward is retried with backoff on a fresh
// connection (containerd may be restarting), then logged and dropped.
import type { Logger } from 'pino';
import { containerd, toAny, toTimestamp, type MessageType } from '../proto';
import { TtrpcClient } from '../ttrpc';
import type { EventSink, TaskEventType } from './task-service';

const E = containerd.events;
/** Topic and message type per event, the one table both are read from. */
const EVENTS: Record<TaskEventType, { topic: string; type: MessageType<object> }> = {
  TaskCreate: { topic: '/tasks/create', type: E.TaskCreate as MessageType<object> },
  TaskStart: { topic: '/tasks/start', type: E.TaskStart as MessageType<object> },
  TaskExit: { topic: '/tasks/exit', type: E.TaskExit as MessageType<object> },
  TaskDelete: { topic: '/tasks/delete', type: E.TaskDelete as MessageType<object> },
  TaskPaused: { topic: '/tasks/paused', type: E.TaskPaused as MessageType<object> },
  TaskResumed: { topic: '/tasks/resumed', type: E.TaskResumed as MessageType<object> },
};

const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const ForwardRequest = containerd.services.events.ttrpc.v1.ForwardRequest;

export interface PublisherOptions {
  /** containerd's ttrpc socket (TTRPC_ADDRESS); a `unix://` prefix is accepted. */
  ttrpcAddress: string;
  namespace: string;
  logger: Logger;
  /** Per-Forward timeout (containerd's own shims use 5 s). */
  forwardTimeoutMs?: number;
  /** Attempts per event before it is dropped. */
  maxAttempts?: number;
  /** Backoff unit: attempt n waits n × this. */
  retryDelayMs?: number;
  /** Queue bound; beyond it the oldest event is dropped (and logged). */
  maxQueued?: number;
}

interface Queued {
  type: TaskEventType;
  request: Uint8Array;
}

export class EventPublisher implements EventSink {
  private readonly queue: Queued[] = [];
  private client: TtrpcClient | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly address: string;
  private readonly opts: Required<Omit<PublisherOptions, 'logger'>>;
  private readonly log: Logger;

  constructor(options: PublisherOptions) {
    this.address = options.ttrpcAddress.replace(/^unix:\/\//, '');
    this.log = options.logger;
    this.opts = {
      ttrpcAddress: this.address,
      namespace: options.namespace,
      forwardTimeoutMs: options.forwardTimeoutMs ?? 5_000,
      maxAttempts: options.maxAttempts ?? 5,
      retryDelayMs: options.retryDelayMs ?? 1_000,
      maxQueued: options.maxQueued ?? 2_048,
    };
  }

  publish(type: TaskEventType, event: object): void {
    if (this.closed) {
      this.log.warn({ type }, 'event after publisher close dropped');
      return;
    }
    const { topic, type: messageType } = EVENTS[type];
    // Encoded now, stamped now: the envelope time is when it happened, not when it got through.
    const request = ForwardRequest.encode({
      envelope: {
        timestamp: toTimestamp(new Date()),
        namespace: this.opts.namespace,
        topic,
        event: toAny(`containerd.events.${type}`, messageType, event),
      },
    }).finish();
    if (this.queue.length >= this.opts.maxQueued) {
      const dropped = this.queue.shift();
      this.log.error({ type: dropped?.type }, 'event queue full: oldest event dropped');
    }
    this.queue.push({ type, request });
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Stops accepting events and waits (at most `timeoutMs`) for the queue to drain. */
  async close(timeoutMs = 3_000): Promise<void> {
    this.closed = true;
    if (this.draining) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.draining, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    if (this.queue.length) this.log.warn({ pending: this.queue.length }, 'events not delivered before close');
    this.queue.length = 0;
    this.client?.close();
    this.client = undefined;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const item = this.queue[0]!;
      await this.deliver(item);
      // deliver() never throws; the head is done (sent or dropped) unless close() cleared it.
      if (this.queue[0] === item) this.queue.shift();
    }
  }

  private async deliver(item: Queued): Promise<void> {
    for (let attempt = 1; attempt <= this.opts.maxAttempts; attempt++) {
      try {
        const client = await this.connect();
        await client.call(EVENTS_SERVICE, 'Forward', item.request, {
          timeoutMs: this.opts.forwardTimeoutMs,
          metadata: { 'containerd-namespace-ttrpc': this.opts.namespace },
        });
        return;
      } catch (err) {
        this.client?.close();
        this.client = undefined;
        if (attempt === this.opts.maxAttempts || (this.closed && !this.queue.length)) {
          this.log.error({ err: String(err), type: item.type, attempts: attempt }, 'event dropped: containerd did not take it');
          return;
        }
        this.log.warn({ err: String(err), type: item.type, attempt }, 'event forward failed; retrying');
        await sleep(this.opts.retryDelayMs * attempt);
      }
    }
  }

  private async connect(): Promise<TtrpcClient> {
    if (this.client) return this.client;
    const client = await TtrpcClient.connect(this.address, { timeoutMs: this.opts.forwardTimeoutMs });
    client.onClose(() => {
      if (this.client === client) this.client = undefined;
    });
    this.client = client;
    return client;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
