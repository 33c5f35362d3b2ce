// Configuration: every setting is read once from the environment (or the
// routes file), validated, typed, and handed to the service that needs it.
// A bad value stops start-up with an error naming the setting.
export { ConfigError, EnvReader, readConfig } from './env.js';
export * from './sections.js';
export { natsConnectOptions, parseNatsUrl, redactNatsUrl } from './nats-url.js';
export type { NatsConnectOptions } from './nats-url.js';
export {
  defaultRoute,
  formatStrategySpec,
  loadRoutes,
  matchRoute,
  parsePolicyDocument,
  parseRouteTable,
  policyDocumentJson,
  RouteSchemaError,
} from './routes.js';
export type { InflightMode, PolicyDocument, Route, RouteTable, SetCookieSharing } from './routes.js';
