/**
 * Awaits `pending` while a timer keeps the process alive. ccgate's PostgreSQL registry unrefs its
 * sockets, and close() waits on them: a process with nothing else left to do would exit in the middle
 * of the close (the listening connection ended, the pool never), or skip what follows it.
 */
export async function holdOpen<T>(pending: Promise<T>): Promise<T> {
  const hold = setInterval(() => undefined, 1000);
  try {
    return await pending;
  } finally {
    clearInterval(hold);
  }
}
