/**
 * What PeerJS imports from `peerjs-js-binarypack`, for the script-tag bundle only
 * (scripts/iife-options.mjs puts this module in its place there). The plugin speaks JSON on
 * every data channel and refuses any other serialization at the offer
 * (transport/peerjs/offer-gate.ts), so the BinaryPack codec (8.7 KiB minified) would only ever
 * decode a hostile peer's frames. A frame that reaches a binary connection before the refusal
 * closes it, as PeerJS's own close message would. The ES module leaves `peerjs` to the app.
 */
export function unpack(): { __peerData: { type: 'close' } } {
  return { __peerData: { type: 'close' } };
}

export function pack(): never {
  throw new Error('peer-invitation: this bundle speaks JSON only; BinaryPack serialization is left out');
}
