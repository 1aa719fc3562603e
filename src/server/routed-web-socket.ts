/**
 * The WebSocket class of every client socket: its incoming messages pass through `route` (once
 * its id registered) before PeerServer sees them, and a send that leaves more than
 * `maxBufferedBytes` unsent (a client that stopped reading) closes it.
 */
import WebSocket, { type RawData } from 'ws';

export class RoutedWebSocket extends WebSocket {
  route: ((data: RawData, deliver: () => void) => void) | undefined;
  maxBufferedBytes = Infinity;
  /** Told once, as a slow reader is closed. */
  onSlowReader: (() => void) | undefined;

  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === 'message' && this.route) {
      this.route(args[0] as RawData, () => super.emit(event, ...args));
      return true;
    }
    return super.emit(event, ...args);
  }

  override send(data: unknown, options?: unknown, callback?: unknown): void {
    (super.send as (...args: unknown[]) => void)(data, options, callback);
    if (this.bufferedAmount <= this.maxBufferedBytes || this.readyState !== WebSocket.OPEN) return;
    this.onSlowReader?.();
    this.terminate();
  }
}
