// Waits for raw sockets to become readable without blocking Node's event loop.
//
// Decision (docs/lab-notes.md lists both options as working): the sockets are non-blocking and one
// `poll()` over all of them runs as a koffi async call on a libuv worker thread; when it
// returns, the readable sockets are drained with non-blocking `recvfrom` on the main thread.
// A blocking `recvfrom` per socket as an async call would hold one of libuv's four worker
// threads per socket for ever and could not be interrupted on shutdown (closing an fd does not
// wake a blocked recvfrom on Linux). Here one worker thread serves every socket, and an eventfd
// in the poll set wakes it at once when a socket is added or removed, so stop() is prompt.
// Sockets are closed only after the in-flight poll has returned, never under it.
import { libc, EFD_NONBLOCK, EFD_CLOEXEC, POLLIN, closeFd, sysFail, errno, EINTR } from './libc';

const POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }

type Handler = () => void;

export class Poller {
  private handlers = new Map<number, Handler>();
  private toClose: number[] = [];
  private wakeFd: number;
  private inFlight = false;
  private closed = false;
  private finished: Promise<void>;
  private markFinished!: () => void;

  constructor() {
    this.wakeFd = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number;
    if (this.wakeFd < 0) sysFail('eventfd');
    this.finished = new Promise<void>((r) => { this.markFinished = r; });
  }

  /** Calls `onReadable` (on the main thread) whenever `fd` has data; it must drain the socket. */
  add(fd: number, onReadable: Handler): void {
    this.handlers.set(fd, onReadable);
    this.kick();
  }

  /** Stops watching `fd` and closes it once no poll is using it. */
  removeAndClose(fd: number): void {
    this.handlers.delete(fd);
    this.toClose.push(fd);
    if (this.inFlight) this.wake();
    else this.flushCloses();
  }

  /**
   * Ends the loop; the libuv thread is released once its poll returns, and the promise resolves
   * then. A worker thread that polls must wait for it before it ends: a poll that completes into
   * a terminated thread aborts the process.
   */
  close(): Promise<void> {
    if (this.closed) return this.finished;
    this.closed = true;
    for (const fd of this.handlers.keys()) this.toClose.push(fd);
    this.handlers.clear();
    if (this.inFlight) this.wake();
    else this.finish();
    return this.finished;
  }

  private finish(): void {
    this.flushCloses();
    if (this.wakeFd >= 0) { closeFd(this.wakeFd); this.wakeFd = -1; }
    this.markFinished();
  }

  private flushCloses(): void {
    for (const fd of this.toClose.splice(0)) closeFd(fd);
  }

  private wake(): void {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    libc().write(this.wakeFd, one, 8);
  }

  private kick(): void {
    if (this.inFlight) { this.wake(); return; }
    this.loop();
  }

  private loop(): void {
    if (this.closed) { this.finish(); return; }
    if (this.handlers.size === 0) return; // idle: nothing keeps the event loop alive
    const fds = [this.wakeFd, ...this.handlers.keys()];
    const set = Buffer.alloc(fds.length * POLLFD_SIZE);
    fds.forEach((fd, i) => { set.writeInt32LE(fd, i * POLLFD_SIZE); set.writeInt16LE(POLLIN, i * POLLFD_SIZE + 4); });
    this.inFlight = true;
    libc().poll.async(set, fds.length, -1, (err: unknown, n: number) => {
      this.inFlight = false;
      if (err) throw err;
      if (n < 0 && errno() !== EINTR) sysFail('poll');
      const drain = Buffer.alloc(8);
      for (let i = 0; i < fds.length; i++) {
        const revents = set.readInt16LE(i * POLLFD_SIZE + 6);
        if (!revents) continue;
        if (i === 0) { libc().read(this.wakeFd, drain, 8); continue; }
        const h = this.handlers.get(fds[i]);
        if (h) {
          try { h(); } catch (e) { process.nextTick(() => { throw e; }); }
        }
      }
      this.flushCloses();
      this.loop();
    });
  }
}

let shared: Poller | null = null;
/** One poller per process: one worker thread for every VRRP socket. */
export function sharedPoller(): Poller {
  if (!shared) shared = new Poller();
  return shared;
}

/** Closes the shared poller (if one was made) and waits until no poll is in flight. */
export function closeSharedPoller(): Promise<void> {
  const p = shared;
  shared = null;
  return p ? p.close() : Promise.resolve();
}
