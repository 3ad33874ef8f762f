import { AsyncLocalStorage } from 'node:async_hooks';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { propagation, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';

/**
 * The SDK's context manager, which keeps Node's async hooks off until a trace is recorded.
 *
 * OpenTelemetry's own manager (`AsyncLocalStorageContextManager`) enables `AsyncLocalStorage` at
 * the first `context.with`: on Node 20 that runs a hook for every promise the process makes from
 * then on. At sampling 0 the first HTTP request enables it, although nothing it would carry is
 * ever recorded. That was most of the SDK's cost at sampling 0 on the message path (#19).
 *
 * This manager carries a context across `await`s (with `AsyncLocalStorage`) from the first time
 * it enters one that holds a sampled span or baggage: from then on it behaves exactly as
 * OpenTelemetry's. Until then a context is active for the synchronous part of `with` only. What
 * is lost is an unsampled trace's id after its first `await` (a span is not recorded there
 * anyway, and Parley's logs name sampled traces only), and suppression of tracing past an
 * `await` (every instrumentation Parley loads needs a parent span, which an unsampled trace does
 * not record).
 */
export class OnDemandContextManager extends AsyncLocalStorageContextManager {
  private store: AsyncLocalStorage<Context> | undefined;
  private current: Context = ROOT_CONTEXT;

  /** Whether contexts now outlive the synchronous call (async hooks are on). */
  get carriesAcrossAwaits(): boolean {
    return this.store !== undefined;
  }

  override active(): Context {
    return this.store?.getStore() ?? this.current;
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (!this.store && mustCarry(ctx)) this.store = new AsyncLocalStorage<Context>();
    const cb = thisArg == null ? fn : (fn.bind(thisArg) as F);
    if (this.store) return this.store.run(ctx, cb, ...args);
    const outer = this.current;
    this.current = ctx;
    try {
      return cb(...args);
    } finally {
      this.current = outer;
    }
  }

  override disable(): this {
    this.store?.disable();
    this.store = undefined;
    this.current = ROOT_CONTEXT;
    return super.disable();
  }
}

/** A context worth carrying across `await`s: it holds a sampled span or baggage. */
export function mustCarry(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  if (sc && (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) return true;
  return propagation.getBaggage(ctx) !== undefined;
}
