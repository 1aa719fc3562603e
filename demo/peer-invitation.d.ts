// The demo imports 'peer-invitation' as an app would. This types that import from
// the sources, so `tsc` passes before `npm run build` writes dist/types (CI
// type-checks first); at run time the specifier resolves to dist/peer-invitation.js.
declare module 'peer-invitation' {
  type Library = typeof import('../src/index.js');
  export const createSignalingPlugin: Library['createSignalingPlugin'];
  export type SignalingPlugin = import('../src/index.js').SignalingPlugin;
  export type PeerServerOptions = import('../src/index.js').PeerServerOptions;
  export type ConnectionState = import('../src/index.js').ConnectionState;
  export type InviteeState = import('../src/index.js').InviteeState;
  export type InvitationError = import('../src/index.js').InvitationError;
  export type InvitationReceivedEvent = import('../src/index.js').InvitationReceivedEvent;
  export type CallUser = import('../src/index.js').CallUser;
}
