/** Injection token of the service's pino logger. */
export const LOGGER = Symbol('LOGGER');
/** Injection token of the service's readiness check (see Readiness). */
export const READINESS = Symbol('READINESS');
/** Injection token of the events stream's retention (CommonConfig.events). */
export const EVENTS_RETENTION = Symbol('EVENTS_RETENTION');
