import { Socket } from 'node:net';
import pg from 'pg';
import { quoteIdent } from './names';

/** Reconnection waits grow from the first to the last, doubling. */
const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5000;

export interface ListenerEvents {
  /** A NOTIFY on the channel, with its payload. */
  notified(payload: string): void;
  /** Subscribed again after the connection was lost: notifications may have been missed meanwhile. */
  resubscribed(): void;
}

/**
 * One dedicated connection (not from the pool: a pooled one would be handed to other work) that
 * LISTENs on a channel. When it drops it reconnects with capped backoff and subscribes again. Once
 * subscribed its socket is unref'd, and so are its timers and background reconnections: listening
 * never keeps the process alive (the first subscription does, while open() waits for it, and so does
 * stop(), while close() waits for it).
 */
export class Listener {
  private client: pg.Client | null = null;
  /** The current client's socket (unref'd once subscribed). */
  private socket: Socket | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private checking = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly events: ListenerEvents,
  ) {}

  /** The first subscription. Resolves either way: a failure is retried in the background. */
  start(): Promise<void> {
    return this.connect(false);
  }

  /**
   * Asks the connection to answer (after the change counter moved without a notification): a
   * connection that died silently, with no error to tell, is replaced.
   */
  check(timeoutMs: number): void {
    const client = this.client;
    if (!client || this.checking) return;
    this.checking = true;
    const timer = setTimeout(() => this.lost(client), timeoutMs);
    timer.unref();
    client
      .query('SELECT 1')
      .catch(() => this.lost(client))
      .finally(() => {
        clearTimeout(timer);
        this.checking = false;
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const { client, socket } = this;
    this.client = null;
    this.socket = null;
    if (!client || !socket) return;
    // Someone awaits this (close()): until the server has answered the goodbye, the socket must hold
    // the process, or it exits in the middle (status 0, and what follows close() never runs). A
    // server that does not answer is waited for no longer than a connection attempt.
    socket.ref();
    const timer = setTimeout(() => socket.destroy(), this.config.connectionTimeoutMillis ?? LAST_RETRY_MS);
    await client.end().catch(() => undefined);
    clearTimeout(timer);
  }

  /** `again`: a reconnection, after which the missed notifications are made up for by one `resubscribed`. */
  private async connect(again: boolean): Promise<void> {
    const socket = new Socket();
    // A reconnection runs in the background: nothing waits for it, so it keeps no process alive.
    if (again) socket.unref();
    const client = new pg.Client({ ...this.config, stream: () => socket });
    this.client = client;
    this.socket = socket;
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (this.client === client && message.channel === this.channel) this.events.notified(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch {
      this.lost(client);
      return;
    }
    if (this.client !== client) return;
    socket.unref();
    this.failures = 0;
    if (again) this.events.resubscribed();
  }

  /** Drops `client` (once, however many events report it) and schedules the next attempt. */
  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.socket = null;
    client.end().catch(() => undefined);
    if (this.stopped) return;
    const delay = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => void this.connect(true), delay);
    this.retryTimer.unref();
  }
}
