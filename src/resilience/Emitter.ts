/**
 * A minimal typed event emitter. Emitting with no listener costs one field read, so policies guard every emit with
 * `if (emitter.active)` and compute nothing (durations, payload objects) when nobody listens.
 */

/** Removes the listener it was returned for. Calling it twice is harmless. */
export type Disposer = () => void;

export type Listener<E> = (event: E) => void;

export class Emitter<E> {
  /** Copy-on-write: a listener added or removed during an emit does not disturb that emit. */
  private listeners: readonly Listener<E>[] = [];
  /** True when at least one listener is subscribed. */
  active = false;

  on(listener: Listener<E>): Disposer {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    // Wrap so the same function subscribed twice gets two independent disposers.
    const entry: Listener<E> = (event) => listener(event);
    this.listeners = [...this.listeners, entry];
    this.active = true;
    return () => {
      const next = this.listeners.filter((l) => l !== entry);
      if (next.length === this.listeners.length) return;
      this.listeners = next;
      this.active = next.length > 0;
    };
  }

  /** Calls every listener; a throwing listener is reported as a process warning and never breaks the call. */
  emit(event: E): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        process.emitWarning(`agentex: event listener threw: ${err instanceof Error ? err.message : String(err)}`, {
          code: 'AGENTEX_LISTENER_ERROR',
        });
      }
    }
  }

  clear(): void {
    this.listeners = [];
    this.active = false;
  }
}
