export { signToken, verifyToken } from './tokens.js';
export type { SignTokenOptions, VerifyTokenOptions } from './tokens.js';
export { startPeerServer, UNAUTHORIZED_MESSAGE, REGISTRY_UNAVAILABLE_MESSAGE } from './peer-server.js';
export type { StartPeerServerOptions, RunningPeerServer } from './peer-server.js';
export { turnCredentials } from './turn.js';
export type { TurnCredentials, TurnCredentialsOptions } from './turn.js';
export type { TurnOptions } from './server-info.js';
