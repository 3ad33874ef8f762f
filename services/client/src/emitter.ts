/** A small typed event emitter: `on` returns the function that unsubscribes. */
type Handler = (...args: never[]) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly handlers = new Map<keyof E, Set<Handler>>();

  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn as unknown as Handler);
    return () => this.off(event, fn);
  }

  once<K extends keyof E>(event: K, fn: (...args: E[K]) => void): () => void {
    const off = this.on(event, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  off<K extends keyof E>(event: K, fn: (...args: E[K]) => void): void {
    this.handlers.get(event)?.delete(fn as unknown as Handler);
  }

  /** Calls each handler; one that throws does not stop the others (reported on `onError`). */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) {
      try {
        (fn as unknown as (...a: E[K]) => void)(...args);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  protected onHandlerError(err: unknown): void {
    setTimeout(() => {
      throw err;
    });
  }
}
