/** enablePush / disablePush against fake browser objects and a fake server link: each outcome code. */
import { expect } from '@esm-bundle/chai';
import { acceptedFromNotification, disablePush, enablePush, type PushServerLink } from '../../src/push/enable-push.js';

const KEY = 'BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function world({ permission = 'granted' as NotificationPermission, asked = 'granted' as NotificationPermission, noPush = false, result = { ok: true } as { ok: boolean; reason?: string } } = {}) {
  const frames: object[] = [];
  let subscription: { endpoint: string; options: { applicationServerKey: ArrayBuffer }; toJSON(): object; unsubscribe(): Promise<boolean> } | null = null;
  const registration = {
    pushManager: {
      getSubscription: async () => subscription,
      subscribe: async ({ applicationServerKey }: { applicationServerKey: string }) => {
        const raw = Uint8Array.from(atob(applicationServerKey.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
        subscription = {
          endpoint: 'https://push.example/1',
          options: { applicationServerKey: raw.buffer },
          toJSON: () => ({ endpoint: 'https://push.example/1', keys: {} }),
          unsubscribe: async () => ((subscription = null), true),
        };
        return subscription;
      },
    },
  } as unknown as ServiceWorkerRegistration;
  const link: PushServerLink = { pushKey: () => (noPush ? undefined : KEY), request: async (frame) => (frames.push(frame), result) };
  const browser = { Notification: { permission, requestPermission: async () => asked } };
  return { registration, link, browser, frames, subscription: () => subscription };
}

describe('enablePush', () => {
  it('subscribes with the server key and sends PUSH-SUBSCRIBE; disablePush undoes both', async () => {
    const w = world({ permission: 'default' });
    expect(await enablePush({ serviceWorker: w.registration }, w.link, w.browser)).to.deep.equal({ enabled: true });
    expect(w.frames).to.deep.equal([{ type: 'PUSH-SUBSCRIBE', payload: { subscription: { endpoint: 'https://push.example/1', keys: {} } } }]);
    expect(await disablePush(w.registration, w.link)).to.equal(true);
    expect(w.frames[1]).to.deep.equal({ type: 'PUSH-UNSUBSCRIBE', payload: { endpoint: 'https://push.example/1' } });
    expect(w.subscription()).to.equal(null);
  });

  it('says why not: denied, unsupported, no push on the server, refused by the server', async () => {
    const denied = world({ permission: 'default', asked: 'denied' });
    expect(await enablePush({ serviceWorker: denied.registration }, denied.link, denied.browser)).to.deep.equal({ error: { code: 'PERMISSION_DENIED' } });
    const plain = world({ noPush: true });
    expect(await enablePush({ serviceWorker: plain.registration }, plain.link, plain.browser)).to.deep.equal({ error: { code: 'SERVER_NO_PUSH' } });
    const insecure = world();
    expect(await enablePush({ serviceWorker: '/peer-invitation-sw.js' }, insecure.link, {})).to.deep.equal({ error: { code: 'UNSUPPORTED' } });
    const full = world({ result: { ok: false, reason: 'too-many' } });
    expect(await enablePush({ serviceWorker: full.registration }, full.link, full.browser)).to.deep.equal({ error: { code: 'REFUSED', reason: 'too-many' } });
    expect(denied.frames.length + plain.frames.length + insecure.frames.length).to.equal(0);
  });

  it('reads the accepted invitation from the URL the service worker opened', () => {
    expect(acceptedFromNotification('https://app.example/call?peerInvitationAccept=alice%3A7')).to.equal('alice:7');
    expect(acceptedFromNotification('https://app.example/call')).to.equal(undefined);
  });
});
