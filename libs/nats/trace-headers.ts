import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Context, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';

const setter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  get: (carrier, key) => carrier?.get(key) || undefined,
  keys: (carrier) => (carrier ? [...carrier.keys()] : []),
};

/** W3C trace context of `ctx` (default: the active one) as NATS headers; undefined without a span. */
export function traceHeaders(ctx: Context = context.active()): MsgHdrs | undefined {
  if (!trace.getSpanContext(ctx)) return undefined;
  const carrier = natsHeaders();
  propagation.inject(ctx, carrier, setter);
  return carrier;
}

/** The trace context carried by a message's headers (ROOT when it has none). */
export function contextFromHeaders(headers: MsgHdrs | undefined): Context {
  if (!headers) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, getter);
}
