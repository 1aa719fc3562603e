export { signToken, verifyToken } from './tokens.js';
export type { SignTokenOptions, VerifyTokenOptions } from './tokens.js';
export { startPeerServer, UNAUTHORIZED_MESSAGE, REGISTRY_UNAVAILABLE_MESSAGE, RATE_LIMITED_MESSAGE } from './peer-server.js';
export type { StartPeerServerOptions, RunningPeerServer } from './peer-server.js';
export { DEFAULT_SERVER_LIMITS } from './limits.js';
export type { ServerLimits, ServerLimitOptions, LimitKind, Rate, MailboxQuota } from './limits.js';
export type { Metrics, Counter, Labels } from './metrics.js';
export { generateVapidKeys, KNOWN_PUSH_HOSTS } from './push/index.js';
export type { PushOptions, PushResult, VapidKeys } from './push/index.js';
